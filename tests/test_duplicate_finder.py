"""DuplicateFinder (bands in sorted numpy arrays) finds exactly what datasketch's MinHashLSH
with a dict of sketches found (``bench.duplicate_finder.LshFinder``, the finder it replaced), on
sketches with planted near-duplicates around the threshold, through removals and replacements,
with levels small enough that every lookup meets all three (buffer, recent, main)."""
from __future__ import annotations

import numpy as np
import pytest

from bench.duplicate_finder import LshFinder, planted_sketches
from indexer.text.near_duplicates import DuplicateFinder, SketchParams, lsh_shape, similarity

PARAMS = SketchParams()


def both(stored, **levels):
    return LshFinder(PARAMS, stored), DuplicateFinder(PARAMS, stored, **levels)


def assert_same(old, new, queries):
    for article_id, values in queries:
        assert new.matches(values, exclude=article_id) == old.matches(values, exclude=article_id)


def test_the_bands_are_datasketchs():
    assert lsh_shape(PARAMS.threshold, PARAMS.num_perm) == (25, 5)
    assert lsh_shape(0.8, 64) != (25, 5)


def test_one_equal_band_is_a_candidate_and_four_rows_of_five_in_every_band_are_not():
    base = np.arange(1, 129, dtype=np.uint32)
    every_band_but_one_row = base.copy()
    every_band_but_one_row[0:125:5] += 1000           # 103 of 128 equal, no band equal
    one_band = every_band_but_one_row.copy()
    one_band[0] = base[0]                             # 104 of 128 equal, band 0 equal
    old, new = both([("base", base)])
    for values in (every_band_but_one_row, one_band):
        assert new.matches(values) == old.matches(values)
    assert new.matches(every_band_but_one_row) == []
    assert new.matches(one_band) == [("base", round(104 / 128, 4))]


@pytest.mark.parametrize("levels", [{"buffer": 16, "recent": 128}, {"buffer": 64, "recent": 512}, {}])
def test_the_same_matches_as_datasketch_through_removals_and_replacements(levels):
    sketches = planted_sketches(3000, PARAMS.num_perm, seed=3)
    rng = np.random.default_rng(5)
    stored = [(f"a{i}", sketches[i]) for i in range(2000)]
    # The load meets an id twice and empty sketches too, as add() may.
    stored += [("a7", sketches[2500]), ("a8", np.empty(0, dtype=np.uint32)), ("a9", sketches[9])]
    old, new = both(stored, **levels)
    assert len(new) == len(old.sketches)
    queries = [(f"q{i}", sketches[i]) for i in range(2000, 3000)]
    assert_same(old, new, queries)
    # The planted copies lie around the threshold: LSH proposes some under it, some pass just above.
    proposed = [similarity(v, old.sketches[k]) for _, v in queries for k in old.lsh.query(old._minhash(v))]
    assert sum(s < PARAMS.threshold for s in proposed) > 20 and sum(0.5 <= s < 0.55 for s in proposed) > 10

    for step in range(600):
        article_id, action, other = f"a{rng.integers(0, 2300)}", rng.integers(0, 3), rng.integers(0, 3000)
        for finder in (old, new):
            if action == 0:
                finder.remove(article_id)
            elif action == 1:   # replaced by another article's sketch: a planted copy moves
                finder.add(article_id, sketches[other])
            else:
                finder.add(article_id, np.empty(0, dtype=np.uint32))
        if step % 50 == 0:
            assert_same(old, new, queries[:100])
    assert len(new) == len(old.sketches)
    assert_same(old, new, [(f"a{i}", sketches[i]) for i in range(0, 3000, 3)])


def test_a_wrong_length_is_refused():
    finder = DuplicateFinder(PARAMS, [("a", planted_sketches(1)[0])])
    with pytest.raises(ValueError):
        finder.matches(np.zeros(64, dtype=np.uint32))
    with pytest.raises(ValueError):
        finder.add("b", np.zeros(64, dtype=np.uint32))


def test_memory_per_article():
    """The finder's arrays take under 1 KiB an article (512 bytes of sketch, 25 bands x 12 bytes);
    datasketch's took 9.5 KiB of resident memory (bench.duplicate_finder)."""
    n = 20000
    sketches = planted_sketches(n, PARAMS.num_perm)
    finder = DuplicateFinder(PARAMS, ((f"a{i}", sketches[i]) for i in range(n)))
    assert finder.nbytes / n < 1024


def test_keys_that_collide_add_no_match(monkeypatch):
    """A band key is a hash: with one that collides often (a band's first value mod 4), the
    candidates grow but the matches stay MinHashLSH's, which compares bands value for value."""
    import indexer.text.near_duplicates as near_duplicates
    monkeypatch.setattr(near_duplicates, "band_keys",
                        lambda s, bands, rows: (s[:, :bands * rows:rows] % 4).astype(np.uint64))
    sketches = planted_sketches(1200, PARAMS.num_perm, seed=11)
    # Similar enough to pass, yet no band equal: every band's first row changed.
    unbanded = sketches[:200].copy()
    unbanded[:, 0:125:5] += np.uint32(4)
    old, new = both([(f"a{i}", sketches[i]) for i in range(1000)], buffer=32, recent=256)
    queries = [(f"q{i}", v) for i, v in enumerate(list(sketches[1000:]) + list(unbanded))]
    assert_same(old, new, queries)
    proposed = [new.index.lookup(near_duplicates.band_keys(v[None], 25, 5)[0]) for v in unbanded]
    assert all(len(p) for p in proposed) and all(new.matches(v) == [] for v in unbanded)
