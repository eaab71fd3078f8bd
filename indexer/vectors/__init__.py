"""The dense side: encoders, the embedding cache, sentence vectors and the faiss index."""
