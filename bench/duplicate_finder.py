"""The near-duplicate finder's memory and speed, against the datasketch-based finder it replaced.

    python -m bench.duplicate_finder --articles 50000 --queries 2000
    python -m bench.duplicate_finder --news --articles 2400 --queries 500

Each finder runs in its own child process, one after the other: it loads ``--articles`` synthetic
sketches (as a writer's open loads the stored ones: a fresh array per article), then looks up
``--queries`` sketches and adds them one by one (as indexing does). Memory is the growth of the
child's peak resident set (``ru_maxrss``) over the load, per article; times are wall and CPU
seconds (CPU is less sensitive to other load on a shared machine). Both children answer the same
queries, and the parent checks that their matches are identical.

The sketches (``planted_sketches``, seeded): random 32-bit values, and every fifth one a copy of
an earlier sketch with a share of its values redrawn, from 0.3 to 0.7, so that the copies'
similarities lie around the threshold (0.5) and many pass through LSH without passing it.
With ``--news``, the sketches of real articles instead: ``bench.duplicates``' slice (2,967 articles
of papers that reprint one agency's copy, 342 near-duplicate pairs) in a seeded order, less the
bodies under ``min_words`` (no sketch); ``--articles`` plus ``--queries`` must fit in it.
"""
from __future__ import annotations

import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterable, Iterator

import click
import numpy as np
from datasketch import MinHash, MinHashLSH

from bench.data import SHARED
from indexer.text.near_duplicates import SCHEME, DuplicateFinder, SketchParams, _permutations, similarity, sketch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class LshFinder:
    """The finder as it was before ``BandIndex``: datasketch's MinHashLSH and a dict of sketches.
    Kept as the reference the tests compare ``DuplicateFinder`` with, and as this benchmark's peer."""

    def __init__(self, params: SketchParams, sketches: Iterable[tuple[str, np.ndarray]] = ()):
        self.params = params
        self.lsh = MinHashLSH(threshold=params.threshold, num_perm=params.num_perm)
        self.sketches: dict[str, np.ndarray] = {}
        for article_id, values in sketches:
            self.add(article_id, values)

    def add(self, article_id: str, values: np.ndarray) -> None:
        self.remove(article_id)
        if not len(values):
            return
        self.lsh.insert(article_id, self._minhash(values))
        self.sketches[article_id] = values

    def remove(self, article_id: str) -> None:
        if self.sketches.pop(article_id, None) is not None:
            self.lsh.remove(article_id)

    def matches(self, values: np.ndarray, exclude: str = "") -> list[tuple[str, float]]:
        found = []
        for other in self.lsh.query(self._minhash(values)) if len(values) else ():
            score = similarity(values, self.sketches[other])
            if other != exclude and score >= self.params.threshold:
                found.append((other, round(score, 4)))
        return sorted(found, key=lambda m: (-m[1], m[0]))

    def _minhash(self, values: np.ndarray) -> MinHash:
        return MinHash(num_perm=self.params.num_perm, hashvalues=values.astype(np.uint64), scheme=SCHEME,
                       permutations=_permutations(self.params.num_perm))


FINDERS = {"datasketch": LshFinder, "band-index": DuplicateFinder}


def planted_sketches(n: int, num_perm: int = 128, seed: int = 0, every: int = 5) -> np.ndarray:
    """(n, num_perm) uint32 sketches; every ``every``-th one copies an earlier one with a share of
    its values (drawn from 0.3 to 0.7) redrawn."""
    rng = np.random.default_rng(seed)
    sketches = rng.integers(0, 2**32, size=(n, num_perm), dtype=np.uint32)
    for i in range(every, n, every):
        redrawn = rng.random(num_perm) < rng.uniform(0.3, 0.7)
        sketches[i] = np.where(redrawn, sketches[i], sketches[rng.integers(0, i)])
    return sketches


def news_sketches(params: SketchParams) -> np.ndarray:
    from bench.duplicates import sample_articles
    found = [sketch(a.body, params) for a in sample_articles(SHARED)]
    return np.random.default_rng(7).permutation(np.stack([v for v in found if len(v)]))


def run_child(name: str, articles: int, queries: int, source: str | None) -> dict:
    params = SketchParams()
    sketches = np.load(source) if source else planted_sketches(articles + queries, params.num_perm)
    stored = (("a%d" % i, sketches[i].copy()) for i in range(articles))   # fresh arrays, as the store yields
    finder_class = FINDERS[name]
    before, (wall, cpu) = _maxrss(), _clocks()
    finder = finder_class(params, stored)
    loaded, (wall_load, cpu_load) = _maxrss(), _clocks()
    digest, matched = hashlib.sha256(), 0
    for i in range(articles, articles + queries):
        found = finder.matches(sketches[i])
        digest.update(repr(found).encode())
        matched += bool(found)
    wall_query, cpu_query = _clocks()
    for i in range(articles, articles + queries):
        finder.add("a%d" % i, sketches[i].copy())
    wall_add, cpu_add = _clocks()
    return {"finder": name, "articles": articles, "queries": queries,
            "kib_per_article": round((loaded - before) / articles, 2),
            "load_s": [round(wall_load - wall, 2), round(cpu_load - cpu, 2)],
            "query_s": [round(wall_query - wall_load, 2), round(cpu_query - cpu_load, 2)],
            "add_s": [round(wall_add - wall_query, 2), round(cpu_add - cpu_query, 2)],
            "nbytes_per_article": round(finder.nbytes / articles) if hasattr(finder, "nbytes") else None,
            "queries_matched": matched, "matches_sha256": digest.hexdigest()[:16]}


def _maxrss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss   # KiB on Linux


def _clocks() -> tuple[float, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return time.perf_counter(), usage.ru_utime + usage.ru_stime


def children(names: tuple[str, ...], articles: int, queries: int, source: str | None) -> Iterator[dict]:
    for name in names:
        out = subprocess.run([sys.executable, "-m", "bench.duplicate_finder", "--child", name,
                              "--articles", str(articles), "--queries", str(queries)]
                             + (["--sketches", source] if source else []),
                             cwd=ROOT, check=True, capture_output=True, text=True).stdout
        yield json.loads(out)


@click.command()
@click.option("--articles", type=click.IntRange(1), default=50000, show_default=True, help="Sketches loaded.")
@click.option("--queries", type=click.IntRange(1), default=2000, show_default=True,
              help="Sketches looked up, then added.")
@click.option("--finder", "names", type=click.Choice(list(FINDERS)), multiple=True, default=list(FINDERS),
              show_default=True, help="Which to run (datasketch needs 9.5 KiB an article: 9.5 GB at a million).")
@click.option("--news", is_flag=True, help="Real articles' sketches (bench.duplicates' slice), not synthetic ones.")
@click.option("--child", type=click.Choice(list(FINDERS)), default=None, hidden=True)
@click.option("--sketches", "source", type=click.Path(dir_okay=False), default=None, hidden=True)
def main(articles, queries, names, news, child, source):
    if child:
        click.echo(json.dumps(run_child(child, articles, queries, source)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        if news:
            source = str(Path(tmp) / "news.npy")
            np.save(source, news_sketches(SketchParams()))
            if articles + queries > len(np.load(source)):
                raise click.UsageError(f"the slice has {len(np.load(source))} sketches")
        click.echo(f"load average before: {' '.join('%.2f' % x for x in os.getloadavg())}")
        rows = list(children(names, articles, queries, source))
    click.echo(f"{'finder':<12} {'KiB/article':>11} {'load s (cpu)':>14} {'query s (cpu)':>14} {'add s (cpu)':>13}")
    for r in rows:
        click.echo(f"{r['finder']:<12} {r['kib_per_article']:>11} {'%s (%s)' % tuple(r['load_s']):>14} "
                   f"{'%s (%s)' % tuple(r['query_s']):>14} {'%s (%s)' % tuple(r['add_s']):>13}")
    if len(rows) == 2:
        old, new = rows
        if new["kib_per_article"] > 0:   # a few thousand articles may not raise the peak at all
            click.echo(f"memory ratio {old['kib_per_article'] / new['kib_per_article']:.1f}x")
        click.echo(f"band-index structure {new['nbytes_per_article']} bytes/article (nbytes); queries with a match: "
                   f"{old['queries_matched']}; same matches: {old['matches_sha256'] == new['matches_sha256']}")
    click.echo(f"load average after: {' '.join('%.2f' % x for x in os.getloadavg())}")


if __name__ == "__main__":  # pragma: no cover
    main()
