"""The near-duplicate finder's memory and speed, against the datasketch-based finder it replaced.

    python -m bench.duplicate_finder --articles 50000 --queries 2000

Each finder runs in its own child process, one after the other: it loads ``--articles`` synthetic
sketches (as a writer's open loads the stored ones: a fresh array per article), then looks up
``--queries`` sketches and adds them one by one (as indexing does). Memory is the growth of the
child's peak resident set (``ru_maxrss``) over the load, per article; times are wall and CPU
seconds (CPU is less sensitive to other load on a shared machine). Both children answer the same
queries, and the parent checks that their matches are identical.

The sketches (``planted_sketches``, seeded): random 32-bit values, and every fifth one a copy of
an earlier sketch with a share of its values redrawn, from 0.3 to 0.7, so that the copies'
similarities lie around the threshold (0.5) and many pass through LSH without passing it.
"""
from __future__ import annotations

import hashlib
import json
import os
import resource
import subprocess
import sys
import time
from typing import Iterable, Iterator

import click
import numpy as np
from datasketch import MinHash, MinHashLSH

from indexer.text.near_duplicates import SCHEME, DuplicateFinder, SketchParams, _permutations, similarity

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


def run_child(name: str, articles: int, queries: int) -> dict:
    params = SketchParams()
    sketches = planted_sketches(articles + queries, params.num_perm)
    stored = (("a%d" % i, sketches[i].copy()) for i in range(articles))   # fresh arrays, as the store yields
    finder_class = FINDERS[name]
    before, (wall, cpu) = _maxrss(), _clocks()
    finder = finder_class(params, stored)
    loaded, (wall_load, cpu_load) = _maxrss(), _clocks()
    digest = hashlib.sha256()
    for i in range(articles, articles + queries):
        digest.update(repr(finder.matches(sketches[i])).encode())
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
            "matches_sha256": digest.hexdigest()[:16]}


def _maxrss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss   # KiB on Linux


def _clocks() -> tuple[float, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return time.perf_counter(), usage.ru_utime + usage.ru_stime


def children(articles: int, queries: int) -> Iterator[dict]:
    for name in FINDERS:
        out = subprocess.run([sys.executable, "-m", "bench.duplicate_finder", "--child", name,
                              "--articles", str(articles), "--queries", str(queries)],
                             cwd=ROOT, check=True, capture_output=True, text=True).stdout
        yield json.loads(out)


@click.command()
@click.option("--articles", type=click.IntRange(1), default=50000, show_default=True, help="Sketches loaded.")
@click.option("--queries", type=click.IntRange(1), default=2000, show_default=True,
              help="Sketches looked up, then added.")
@click.option("--child", type=click.Choice(list(FINDERS)), default=None, hidden=True)
def main(articles, queries, child):
    if child:
        click.echo(json.dumps(run_child(child, articles, queries)))
        return
    click.echo(f"load average before: {' '.join('%.2f' % x for x in os.getloadavg())}")
    rows = list(children(articles, queries))
    click.echo(f"{'finder':<12} {'KiB/article':>11} {'load s (cpu)':>14} {'query s (cpu)':>14} {'add s (cpu)':>13}")
    for r in rows:
        click.echo(f"{r['finder']:<12} {r['kib_per_article']:>11} {'%s (%s)' % tuple(r['load_s']):>14} "
                   f"{'%s (%s)' % tuple(r['query_s']):>14} {'%s (%s)' % tuple(r['add_s']):>13}")
    old, new = rows
    click.echo(f"memory ratio {old['kib_per_article'] / new['kib_per_article']:.1f}x; "
               f"band-index structure {new['nbytes_per_article']} bytes/article (nbytes); "
               f"same matches: {old['matches_sha256'] == new['matches_sha256']}")
    click.echo(f"load average after: {' '.join('%.2f' % x for x in os.getloadavg())}")


if __name__ == "__main__":  # pragma: no cover
    main()
