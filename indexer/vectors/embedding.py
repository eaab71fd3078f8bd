"""``baheth embed``: give stored passages vectors without re-reading the sources.

First, an index that another chunker or sentence splitter cut (the manifest records their
versions) is re-cut (``Indexer.resplit``): its sentence vectors are stored by position, so
search refuses it until then. Then two jobs, chosen by comparing the requested encoder with the
manifest's:

* fill (same encoder): passages without a vector (an index built with ``--no-vectors``, or
  an interrupted run) are encoded in batches, each committed to SQLite with its change-log
  entries, so a killed run resumes where it stopped and the vector index catches up.
* switch (another model, or other prompts): every stored passage is encoded into the
  embedding cache first, which is resumable and leaves the index serving the old vectors.
  Only when all are there does a short swap write them to the store in one transaction,
  rebuild the faiss index and record the new encoder in the manifest. The swap is marked
  by ``encoder-switch.json``: readers refuse the index while it exists, and the next
  ``embed`` finishes an interrupted swap from the cache.

With a cluster (``indexer/vectors/cluster.py``), the texts either job needs are first encoded on
the cluster into the embedding cache; the job then runs as above, finding every vector there.
"""
from __future__ import annotations

import dataclasses
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from indexer.vectors.cache import EmbeddingCache
from indexer.vectors.cluster import ClusterEncoder, ClusterSettings
from indexer.vectors.encoders import DEFAULT_ENCODER, Encoder, EncoderSpec, canonical_name, related_floor
from indexer.vectors.loading import load_encoder
from indexer.keyword.index import KeywordIndex
from indexer.store.layout import IndexLayout, read_json, write_json_atomic
from indexer.store.lock import WriterLock
from indexer.store.manifest import Manifest
from indexer.pipeline import Indexer
from indexer.report import progress_bar
from indexer.vectors.sentence_vectors import encode_with_sentences, sentence_texts
from indexer.store.sqlite import Store
from indexer.text.token_counts import count_tokens
from indexer.vectors.index import VectorIndex

COMMIT_BATCH = 256


@dataclass(frozen=True)
class EmbedReport:
    encoder: str
    switched: bool      # the index now uses a different encoder than before this run
    passages: int       # passages given a vector by this run
    rechunked: int      # articles re-chunked because another chunker or sentence splitter cut them
    encoded: int        # texts run through the model, passages and their sentences (the rest came from the cache)
    seconds: float
    cluster: dict | None = None   # address, workers started and lost, when encoded on a cluster

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def embed(path: str | Path, model: str | None = None, *, encoder_options: dict | None = None,
          cache_dir: str | Path | None = None, wait: float = 0.0, progress: bool = False,
          cluster: ClusterSettings | None = None) -> EmbedReport:
    """Fill missing vectors, or re-encode everything when ``model``/prompts differ from the manifest;
    with ``cluster``, the model runs on that Ray cluster."""
    started = time.perf_counter()
    options = encoder_options or {}
    switched = finish_interrupted_switch(IndexLayout(Path(path)), cache_dir, wait)
    with Indexer(path, cache_dir=cache_dir, wait=wait) as ix:
        rechunked = ix.resplit(progress)
        with _requested_encoder(ix.manifest.encoder, model, options, cluster) as encoder:
            same = encoder.spec.same_vectors(ix.manifest.encoder)
            remote = encode_on_cluster(ix, encoder, everything=not same, progress=progress) if cluster else 0
            if same:
                passages, encoded = fill_missing(ix, encoder, progress)
            else:
                passages, encoded = switch_encoder(ix, encoder, progress)
                switched = True
            count_tokens(ix.store, encoder)
    return EmbedReport(encoder=encoder.spec.name, switched=switched, passages=passages, rechunked=rechunked,
                       encoded=encoded + remote, seconds=round(time.perf_counter() - started, 3),
                       cluster=encoder.summary() if cluster else None)


@contextmanager
def _requested_encoder(recorded: EncoderSpec, model: str | None, options: dict,
                       cluster: ClusterSettings | None) -> Iterator[Encoder]:
    if model is None or canonical_name(model) == recorded.name:
        # The same model keeps the index's prompts unless others are asked for. It is loaded
        # without the recorded spec so that a model folder whose dimension changed is re-encoded.
        options = {"query_prompt": recorded.query_prompt, "passage_prompt": recorded.passage_prompt, **options}
        model = recorded.name
    if cluster is None:
        yield load_encoder(model, **options)
        return
    with ClusterEncoder(cluster, model, options=options) as encoder:
        yield encoder


@contextmanager
def cluster_encoder_for(path: str | Path, model: str | None, options: dict,
                        cluster: ClusterSettings) -> Iterator[ClusterEncoder]:
    """``baheth index --cluster``: the encoder the index records (or ``model``, or the default for
    a new index) on the cluster, with the index's prompts, so no model is loaded here."""
    layout = IndexLayout(Path(path))
    recorded = Manifest.load(layout).encoder if layout.manifest.exists() else None
    name = canonical_name(model) if model else (recorded.name if recorded else DEFAULT_ENCODER)
    spec = recorded if recorded is not None and recorded.name == name else None
    with ClusterEncoder(cluster, name, spec=spec, options=options) as encoder:
        yield encoder


def encode_on_cluster(ix: Indexer, encoder: ClusterEncoder, everything: bool = False, progress: bool = False) -> int:
    """Encode into the embedding cache, on the cluster, every text that filling the missing vectors
    (or, with ``everything``, re-encoding every passage) will look up; returns the texts encoded."""
    return encoder.fill_cache(ix.cache, _texts_to_encode(ix.store, everything), progress)


def fill_from_cluster(ix: Indexer, progress: bool = False) -> int:
    """``index --cluster``: after a keyword-only add, the passages without vectors, encoded on the
    cluster (``ix.encoder`` is a ``ClusterEncoder``); returns the texts encoded there."""
    encoded = encode_on_cluster(ix, ix.encoder, progress=progress)
    fill_missing(ix, ix.encoder, progress)
    count_tokens(ix.store, ix.encoder)
    return encoded


def _texts_to_encode(store: Store, everything: bool) -> Iterator[str]:
    """Each passage that needs a vector and its sentences; only the sentences of one that has its
    vector but no sentence vectors."""
    if everything:
        for passage, _ in store.iter_passages():
            yield passage.text
            yield from sentence_texts(passage.text)
        return
    for page_of, with_passage in ((store.missing_embeddings, True), (store.sentences.missing, False)):
        after = 0
        while rows := page_of(COMMIT_BATCH, after):
            for _, text in rows:
                if with_passage:
                    yield text
                yield from sentence_texts(text)
            after = rows[-1][0]


def fill_missing(ix: Indexer, encoder: Encoder, progress: bool = False) -> tuple[int, int]:
    """Encode passages that have no vector; returns (passages filled, passages run through the model)."""
    store = ix.store
    before = store.generation()
    filled = encoded = 0
    missing = store.count_passages() - store.count_passages(embedded_only=True)
    # Each batch starts past the last one's pids: from the first pid, every batch would step over
    # every row filled before it, and filling a million passages would take quadratic time.
    after = 0
    with progress_bar(progress, missing, " passages") as bar:
        while rows := store.missing_embeddings(COMMIT_BATCH, after):
            pids = [pid for pid, _ in rows]
            after = pids[-1]
            vectors, sentences, fresh = encode_with_sentences(ix.cache, encoder.spec, [text for _, text in rows],
                                                              encoder.encode_passages)
            with store.transaction():
                store.set_embeddings(pids, vectors)
                store.sentences.put(zip(pids, sentences))
            ix.vectors.apply(store, pids)
            filled, encoded = filled + len(pids), encoded + fresh
            bar.update(len(pids))
    if filled:
        ix.vectors.save(store.generation())
        _keep_keyword_current(ix.keyword, before, store.generation())
    # Passages embedded before sentence vectors existed: only their sentences are new.
    missing = store.count_passages(embedded_only=True) - store.sentences.count()[0]
    after = 0
    with progress_bar(progress, missing, " passages") as bar:
        while rows := store.sentences.missing(COMMIT_BATCH, after):
            after = rows[-1][0]
            _, sentences, fresh = encode_with_sentences(ix.cache, encoder.spec, [text for _, text in rows],
                                                        encoder.encode_passages)
            with store.transaction():
                store.sentences.put(zip((pid for pid, _ in rows), sentences))
            filled, encoded = filled + len(rows), encoded + fresh
            bar.update(len(rows))
    return filled, encoded


def switch_encoder(ix: Indexer, encoder: Encoder, progress: bool = False) -> tuple[int, int]:
    """Re-encode every stored passage with ``encoder`` and swap the result in when complete."""
    rows = _all_passages(ix.store)
    encoded = 0
    with progress_bar(progress, len(rows), " passages") as bar:
        for start in range(0, len(rows), COMMIT_BATCH):
            batch = rows[start:start + COMMIT_BATCH]
            *_, fresh = encode_with_sentences(ix.cache, encoder.spec, [text for _, text in batch],
                                              encoder.encode_passages)
            encoded += fresh
            bar.update(len(batch))
    write_json_atomic(ix.layout.encoder_switch, {"encoder": encoder.spec.to_dict()})
    ix.manifest, ix.vectors = _swap(ix.layout, ix.store, ix.cache, encoder.spec, encoder.encode_passages)
    return len(rows), encoded


def finish_interrupted_switch(layout: IndexLayout, cache_dir: str | Path | None, wait: float) -> bool:
    """Complete a swap that a killed ``embed --model`` left half done; True if there was one."""
    if not layout.encoder_switch.exists():
        return False
    lock = WriterLock(layout.lock, wait=wait).acquire()
    store, cache = Store(layout.store), EmbeddingCache(cache_dir)
    try:
        if layout.encoder_switch.exists():
            spec = EncoderSpec(**read_json(layout.encoder_switch)["encoder"])
            _swap(layout, store, cache, spec, _lazy_encode(spec))
    finally:
        cache.close()
        store.close()
        lock.release()
    return True


def _swap(layout: IndexLayout, store: Store, cache: EmbeddingCache, spec: EncoderSpec,
          encode: Callable[[Sequence[str]], np.ndarray]) -> tuple[Manifest, VectorIndex]:
    """Store, faiss index, manifest, in that order; each step can be redone from the cache."""
    rows = _all_passages(store)
    before = store.generation()
    with store.transaction():
        for start in range(0, len(rows), COMMIT_BATCH):
            batch = rows[start:start + COMMIT_BATCH]
            vectors, sentences, _ = encode_with_sentences(cache, spec, [text for _, text in batch], encode)
            pids = [pid for pid, _ in batch]
            store.set_embeddings(pids, vectors)
            store.sentences.put(zip(pids, sentences))
        store.clear_token_counts()
    manifest = dataclasses.replace(Manifest.from_dict(read_json(layout.manifest)), encoder=spec,
                                   related_floor=related_floor(spec))
    vectors = VectorIndex.for_manifest(layout, manifest, store.embeddings)
    vectors.rebuild(store)
    _keep_keyword_current(KeywordIndex(layout, manifest.keyword), before, store.generation())
    manifest.save(layout, store)
    layout.encoder_switch.unlink()
    return manifest, vectors


def _keep_keyword_current(keyword: KeywordIndex, before: int, after: int) -> None:
    """Only vectors changed since ``before``: a keyword index that was current still is, and
    must not re-index every passage whose embedding was logged."""
    if keyword.generation == before:
        keyword.set_generation(after)


def _all_passages(store: Store) -> list[tuple[int, str]]:
    # Read up front: the swap updates these rows, and SQLite cursors must not see their own writes.
    return [(p.pid, p.text) for p, _ in store.iter_passages()]


def _lazy_encode(spec: EncoderSpec) -> Callable[[Sequence[str]], np.ndarray]:
    """Loads the model only if the cache lost some vectors since the interrupted run."""
    loaded: list[Encoder] = []

    def encode(texts: Sequence[str]) -> np.ndarray:
        if not loaded:
            loaded.append(load_encoder(spec.name, spec=spec))
        return loaded[0].encode_passages(texts)
    return encode
