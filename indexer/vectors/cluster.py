"""Encoding on a Ray cluster: ``baheth embed --cluster ADDRESS`` and ``baheth index --cluster ADDRESS``.

The baheth process stays the index's only writer (it holds the writer lock). It reads the texts
to encode from the store (each passage and its sentences), sends them in slices to encoder
workers on the cluster (Ray actors: one per GPU, or one per CPU core on a cluster without
GPUs), each of which loads the model once from the packages installed on its node, and writes
every slice's vectors into the embedding cache as they come back. The cache is the sink: once
it holds every text, ``embedding.fill_missing`` (or the encoder switch) writes the vectors to the
store exactly as a local run does, encoding nothing.

Failures: a worker that dies loses only the slices it was given and had not returned; they go
to the other workers, and a replacement worker is asked of the cluster. When every worker is
lost and none comes back, the run stops with one line; what reached the cache is kept, and the
same command resumes from there (the cache is checked before anything is sent).

Ray is an optional extra (``baheth[cluster]``), imported only when a cluster is asked for.
"""
from __future__ import annotations

import logging
import re
import socket
import sys
from collections import deque
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from indexer.report import progress_bar
from indexer.vectors.cache import EmbeddingCache, cache_key
from indexer.vectors.encoders import BUILTIN, EncoderError, EncoderSpec
from indexer.vectors.loading import load_encoder

# Texts per remote call: a lost worker costs at most IN_FLIGHT of these to encode again.
SLICE_TEXTS = 64
# Calls queued on each worker, so that it starts the next slice without waiting for the driver.
IN_FLIGHT = 2
CONNECT_SECONDS = 10.0
# Replacements asked for, per worker the run started with, before a run that keeps losing them gives up.
REPLACEMENTS_PER_WORKER = 2
INSTALL = "pip install 'baheth[cluster]'"

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
Slice = tuple[list, list[str]]   # (what the sink needs to place the vectors, the texts)


class ClusterError(EncoderError):
    """The cluster cannot be reached or cannot encode; the message says what is kept."""


@dataclass(frozen=True)
class ClusterSettings:
    """Where to encode. ``workers``: encoder workers to start (default: one per GPU of the cluster
    for a sentence-transformers model, else one per CPU). ``start_seconds``: how long to wait for a
    worker to load the model, at the start, or for a replacement once every worker is lost."""

    address: str
    workers: int | None = None
    start_seconds: float = 300.0


class EncoderWorker:
    """One model on one cluster node (a Ray actor). A model that cannot load is reported by
    ``describe`` as the loader's one-line message, not as a dead actor's traceback."""

    def __init__(self, name: str, spec: EncoderSpec | None, options: dict):
        self.problem = ""
        try:
            self.encoder = load_encoder(name, spec=spec, **options)
        except EncoderError as exc:
            self.encoder, self.problem = None, str(exc)

    def describe(self) -> tuple[EncoderSpec | None, int | None, str]:
        """(spec, max_tokens, problem), the problem followed by the node's host name."""
        if self.encoder is None:
            return None, None, f"{self.problem} (on {socket.gethostname()})"
        return self.encoder.spec, getattr(self.encoder, "max_tokens", None), ""

    def encode(self, texts: Sequence[str], side: str) -> np.ndarray:
        if side == "query":
            return self.encoder.encode_queries(texts)
        return self.encoder.encode_passages(texts)

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        return self.encoder.token_counts(texts)


class ClusterEncoder:
    """An ``Encoder`` whose model runs on a Ray cluster's workers; use it as a context manager
    (closing stops the workers and disconnects)."""

    def __init__(self, settings: ClusterSettings, name: str, spec: EncoderSpec | None = None,
                 options: dict | None = None):
        self.settings = settings
        self.lost = 0
        self._ray, self._owned = _connect(settings.address)
        self._workers: dict[int, object] = {}
        self._starting: dict[object, tuple[int, object]] = {}   # describe() ref -> (id, actor)
        self._started = 0
        self.spec: EncoderSpec | None = None
        self.max_tokens: int | None = None
        try:
            self._plan(name, spec, options or {})
            self._first_ready()
        except BaseException:
            self.close()
            raise

    # -- workers -------------------------------------------------------------------
    def _plan(self, name: str, spec: EncoderSpec | None, options: dict) -> None:
        total = self._ray.cluster_resources()
        gpus, cpus = int(total.get("GPU", 0)), int(total.get("CPU", 0))
        if gpus and name not in BUILTIN and options.get("device") != "cpu":
            count, resources = gpus, {"num_gpus": 1, "num_cpus": 1}
        elif cpus:
            threads = options.get("threads", 1) if name in BUILTIN else 1
            count, resources = cpus // threads, {"num_cpus": threads}
            options = {**options, "threads": threads} if name in BUILTIN else options
        else:
            raise ClusterError(f"the Ray cluster at {self.settings.address} has no CPU or GPU to run encoders on")
        self._size = self.settings.workers or max(count, 1)
        actor = self._ray.remote(EncoderWorker).options(max_restarts=0, max_task_retries=0, **resources)
        self._new_worker = lambda: actor.remote(name, spec, options)
        for _ in range(self._size):
            self._start_worker()

    def _start_worker(self) -> None:
        handle = self._new_worker()
        self._starting[handle.describe.remote()] = (self._started, handle)
        self._started += 1

    def _first_ready(self) -> None:
        while not self._workers:
            if not self._starting:
                raise ClusterError(f"every encoder worker died while loading the model on the Ray cluster at"
                                   f" {self.settings.address} (out of memory? the Ray logs of its nodes say)")
            ready, _ = self._ray.wait(list(self._starting), num_returns=1, timeout=self.settings.start_seconds)
            if not ready:
                raise ClusterError(f"no encoder worker started on the Ray cluster at {self.settings.address} within"
                                   f" {self.settings.start_seconds:.0f}s ({self._resources()}); every node needs"
                                   " baheth and the model installed")
            self._join(ready[0])

    def _join(self, ref) -> None:
        """A started worker reported: it joins the pool, or its problem stops the run."""
        wid, handle = self._starting.pop(ref)
        try:
            spec, max_tokens, problem = self._ray.get(ref)
        except self._ray.exceptions.RayActorError as exc:
            if not exc.actor_init_failed:   # its node went away, or its process was killed, while it started
                self._lose(wid, handle)
                return
            raise ClusterError(f"an encoder worker cannot start on the Ray cluster at {self.settings.address}:"
                               f" {_last_line(exc)} (every node needs baheth and the model: {INSTALL})") from None
        if problem:
            raise ClusterError(f"an encoder worker on the cluster cannot load the model: {problem}")
        if self.spec is None:
            self.spec, self.max_tokens = spec, max_tokens
        elif not spec.same_vectors(self.spec):
            raise ClusterError(f"the cluster's workers compute different vectors ({spec.runtime or spec.name}"
                               f" {spec.weights[:12]} against {self.spec.runtime or self.spec.name}"
                               f" {self.spec.weights[:12]}): install the same baheth and model on every node")
        self._workers[wid] = handle

    def _lose(self, wid: int, handle) -> None:
        """A worker died or became unreachable (its node went away, its process was killed): it is
        let go for good, and a replacement asked for, which joins when the cluster has room for it."""
        self._workers.pop(wid, None)
        self._ray.kill(handle)
        self.lost += 1
        if self._started < self._size * (1 + REPLACEMENTS_PER_WORKER):
            self._start_worker()

    def _resources(self) -> str:
        total = self._ray.cluster_resources()
        return f"it has {int(total.get('CPU', 0))} CPUs and {int(total.get('GPU', 0))} GPUs"

    def summary(self) -> dict:
        """What the run's report says of the cluster: its address, workers asked for, workers lost."""
        return {"address": self.settings.address, "workers": self._size, "lost": self.lost}

    def close(self) -> None:
        for _, handle in [*self._workers.items(), *self._starting.values()]:
            self._ray.kill(handle)
        self._workers, self._starting = {}, {}
        if self._owned:
            self._ray.shutdown()

    def __enter__(self) -> "ClusterEncoder":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- the Encoder verbs ---------------------------------------------------------
    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, "passage")

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, "query")

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        counts: list[int] = [0] * len(texts)

        def place(start: list, found: list[int]) -> None:
            counts[start[0]:start[0] + len(found)] = found
        self._map(_slices(texts), lambda worker, part: worker.token_counts.remote(part), place)
        return counts

    def _encode(self, texts: Sequence[str], side: str) -> np.ndarray:
        out = np.empty((len(texts), self.spec.dim), dtype=np.float32)

        def place(start: list, vectors: np.ndarray) -> None:
            out[start[0]:start[0] + len(vectors)] = vectors
        self._map(_slices(texts), _encoding(side), place)
        return out

    # -- the cache as the sink -----------------------------------------------------
    def fill_cache(self, cache: EmbeddingCache, texts: Iterable[str], progress: bool = False) -> int:
        """Encode every text of ``texts`` that ``cache`` lacks (under the passage prompt, as
        ``encode_with_sentences`` looks them up), writing each slice to the cache as it returns;
        returns the texts encoded."""
        written, sent = 0, set()

        def sink(keys: list, vectors: np.ndarray) -> None:
            nonlocal written
            cache.put_many(keys, vectors)
            sent.difference_update(keys)
            written += len(keys)
            bar.update(len(keys))
        with progress_bar(progress, None, " texts encoded on the cluster") as bar:
            self._map(self._missing_slices(cache, texts, sent), _encoding("passage"), sink, lambda: written)
        return written

    def _missing_slices(self, cache: EmbeddingCache, texts: Iterable[str], sent: set[bytes]) -> Iterator[Slice]:
        """Slices of the texts that neither the cache nor a slice in flight (``sent``) holds."""
        prompt = self.spec.passage_prompt
        keys, batch = [], []
        iterator = iter(texts)
        while chunk := [t for _, t in zip(range(SLICE_TEXTS * 8), iterator)]:
            wanted = {cache_key(self.spec, prompt, t): t for t in chunk}
            for key in cache.get_many(list(wanted)).keys() | (wanted.keys() & sent):
                wanted.pop(key)
            for key, text in wanted.items():
                sent.add(key)
                keys.append(key)
                batch.append(text)
                if len(batch) == SLICE_TEXTS:
                    yield keys, batch
                    keys, batch = [], []
        if batch:
            yield keys, batch

    # -- scheduling ----------------------------------------------------------------
    def _map(self, slices: Iterator[Slice], call: Callable, sink: Callable[[list, object], None],
             done: Callable[[], int] = lambda: 0) -> None:
        """``call(worker, texts)`` for every slice on some worker, handing each result to ``sink``
        as it arrives; the slices of a worker that dies are sent again to the others."""
        ray = self._ray
        retry: deque[Slice] = deque()
        running: dict[object, tuple[int, Slice]] = {}
        source = iter(slices)
        while True:
            self._dispatch(running, retry, source, call)
            if not running and not retry and not self._refill(source, retry):
                return
            waiting = [*running, *self._starting]
            if not waiting:
                raise self._all_lost(done())
            ready, _ = ray.wait(waiting, num_returns=1, timeout=None if running else self.settings.start_seconds)
            if not ready:
                raise self._all_lost(done())
            ref = ready[0]
            if ref in self._starting:
                self._join(ref)
                continue
            wid, job = running.pop(ref)
            try:
                vectors = ray.get(ref)
            except ray.exceptions.RayActorError:
                if wid in self._workers:
                    self._lose(wid, self._workers[wid])
                retry.append(job)
                continue
            except ray.exceptions.ObjectLostError:   # returned, but its node died before the driver read it
                retry.append(job)
                continue
            except ray.exceptions.RayTaskError as exc:
                raise ClusterError(f"encoding failed on a worker of the Ray cluster at {self.settings.address}:"
                                   f" {_last_line(exc)}") from None
            sink(job[0], vectors)

    def _dispatch(self, running: dict, retry: deque, source: Iterator[Slice], call: Callable) -> None:
        """Keep IN_FLIGHT slices queued on every live worker, lost slices first."""
        for wid, handle in list(self._workers.items()):
            load = sum(1 for owner, _ in running.values() if owner == wid)
            for _ in range(IN_FLIGHT - load):
                if not retry and not self._refill(source, retry):
                    return
                job = retry.popleft()
                running[call(handle, job[1])] = (wid, job)

    @staticmethod
    def _refill(source: Iterator[Slice], retry: deque) -> bool:
        job = next(source, None)
        if job is not None:
            retry.append(job)
        return job is not None

    def _all_lost(self, done: int) -> ClusterError:
        return ClusterError(f"every encoder worker on the Ray cluster at {self.settings.address} was lost"
                            f" ({self.lost} lost, none restarted within {self.settings.start_seconds:.0f}s);"
                            f" the {done} texts encoded by this run are in the embedding cache:"
                            " run the same command again to encode the rest")


def _slices(texts: Sequence[str]) -> Iterator[Slice]:
    return (([i], list(texts[i:i + SLICE_TEXTS])) for i in range(0, len(texts), SLICE_TEXTS))


def _encoding(side: str) -> Callable:
    return lambda worker, texts: worker.encode.remote(texts, side)


def _last_line(exc: Exception) -> str:
    """The line of a Ray error that names the cause (the last, under Ray's traceback), uncoloured."""
    lines = [line.strip() for line in _ANSI.sub("", str(exc)).splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__


def _connect(address: str):
    """(the ray module, whether this call started the connection); one line for whatever fails."""
    try:
        import ray
    except ImportError:
        raise ClusterError(f"--cluster needs Ray: {INSTALL}") from None
    if ray.is_initialized():
        return ray, False
    _check_reachable(address)
    try:
        ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False)
        _errors_to_stderr(ray)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ClusterError(f"cannot connect to the Ray cluster at {address}: {reason}") from None
    return ray, True


def _errors_to_stderr(ray) -> None:
    """Ray's driver prints the cluster's error messages (a node marked dead, ...) to stdout, where
    they would break `--json`, each with pages of a log; they go to stderr instead, one line each. The function is private to
    Ray (checked to exist; without it Ray's own printing stays)."""
    worker = getattr(ray, "_private", None) and getattr(ray._private, "worker", None)
    if worker is None or not hasattr(worker, "print_to_stdstream"):
        return

    def to_stderr(data, ignore_prefix=False):
        for message in data.get("lines", []):
            lines = [line.strip() for line in _ANSI.sub("", message).splitlines() if line.strip()]
            if lines:   # what happened; the rest is the raylet's log
                print(f"ray: {lines[0]}", file=sys.stderr, flush=True)
    worker.print_to_stdstream = to_stderr


def _check_reachable(address: str) -> None:
    """Ray waits minutes for an address that does not answer; a plain connection says at once."""
    if address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ClusterError(f"--cluster {address}: give the head node's host:port (as `ray start --head` prints"
                           " it, for example 10.0.0.5:6379), or auto for a cluster started on this machine")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_SECONDS).close()
    except OSError as exc:
        raise ClusterError(f"cannot reach the Ray cluster at {address}: {exc.strerror or exc}"
                           " (is `ray start --head` running there, and the port open?)") from None
