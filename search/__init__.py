"""Searching an index: keyword, dense and hybrid retrieval, fusion, and question answering."""
from indexer.store.sqlite import Filters
from search.engine import Engine
from search.results import ArticleHit, PassageHit, SearchResults, StoredArticle

__all__ = ["Engine", "Filters", "ArticleHit", "PassageHit", "SearchResults", "StoredArticle"]
