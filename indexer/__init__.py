"""Indexing: read articles, split them into passages, analyze and encode them, and store
them in an index folder (SQLite + Whoosh + faiss)."""
from indexer.text.articles import Article, ReadError, read_paths
from indexer.pipeline import Indexer
from indexer.report import IndexReport

__all__ = ["Article", "ReadError", "read_paths", "Indexer", "IndexReport"]
