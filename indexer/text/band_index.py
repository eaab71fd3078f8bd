"""The LSH bands of every sketch, as sorted numpy arrays: what ``MinHashLSH`` keeps in a Python
dict per band, at a few bytes an article instead of kilobytes.

Each band (``rows`` consecutive MinHash values) is hashed to one uint64 with a fixed
mixing function, so keys are the same in every process (no Python ``hash``, no seed). Per band a
sorted key array and a parallel int32 array of slots (the caller's row numbers) answer a lookup
with ``searchsorted``; new entries wait in a small buffer that is scanned whole, then in a smaller
sorted level, so that the large arrays are copied rarely (``BandIndex``). A removed slot's entries
become -1 and go at the next merge of their level.

A key is a hash, so two different bands may share one: the caller confirms a candidate against
its sketch (``DuplicateFinder`` checks that a band is equal value for value).
"""
from __future__ import annotations

import numpy as np

# splitmix64's finalizer and increment (Steele, Lea, Flood 2014): a bijection on 64 bits that
# spreads every input bit over the output.
_MIX1, _MIX2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_SEED = np.uint64(0x9E3779B97F4A7C15)


def _mix(z: np.ndarray) -> np.ndarray:
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


def band_keys(sketches: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(n, bands) uint64 keys of an (n, num_perm) sketch matrix; values past bands * rows are in no band.
    Each value is salted by its row (the order matters) and mixed, and a band's are summed."""
    values = sketches[:, :bands * rows].reshape(len(sketches), bands, rows).astype(np.uint64)
    mixed = _mix(values + np.arange(1, rows + 1, dtype=np.uint64) * _SEED)
    keys = mixed[:, :, 0].copy()
    for row in range(1, rows):   # not .sum(axis=2): a reduction over a short last axis is slow
        keys += mixed[:, :, row]
    return keys


class SortedBands:
    """Per band, sorted keys and their slots (-1 where removed)."""

    def __init__(self, bands: int):
        self.keys = [np.empty(0, dtype=np.uint64) for _ in range(bands)]
        self.slots = [np.empty(0, dtype=np.int32) for _ in range(bands)]
        self.removed = 0

    def __len__(self) -> int:
        return max(map(len, self.slots))

    @property
    def nbytes(self) -> int:
        return sum(k.nbytes + s.nbytes for k, s in zip(self.keys, self.slots))

    def lookup(self, keys: np.ndarray, found: list[np.ndarray]) -> None:
        if not any(map(len, self.keys)):   # an empty level (cheaper than a search a band)
            return
        for band, key in enumerate(keys):
            column = self.keys[band]
            lo = column.searchsorted(key)
            if lo < len(column) and column[lo] == key:
                found.append(self.slots[band][lo:column.searchsorted(key, "right")])

    def remove(self, slot: int, keys: np.ndarray) -> None:
        for band, key in enumerate(keys):
            column = self.keys[band]
            hits = self.slots[band][column.searchsorted(key):column.searchsorted(key, "right")]
            self.removed += int(np.count_nonzero(hits == slot))
            hits[hits == slot] = -1

    def merge(self, keys: list[np.ndarray], slots: list[np.ndarray]) -> None:
        """Insert each band's ``keys`` and ``slots`` (any order; -1 slots are left out) and drop the
        removed entries. One band at a time, so the copy made is a band's size, not the whole's."""
        for band, column in enumerate(self.keys):
            owners = self.slots[band]
            if self.removed:
                live = owners >= 0
                column, owners = column[live], owners[live]
            live = slots[band] >= 0
            new, new_slots = keys[band][live], slots[band][live]
            order = np.argsort(new, kind="stable")
            at = np.searchsorted(column, new[order])
            self.keys[band] = np.insert(column, at, new[order])
            self.slots[band] = np.insert(owners, at, new_slots[order])
        self.removed = 0

    def clear(self) -> None:
        self.__init__(len(self.keys))


class BandIndex:
    """Slots by band key, in three levels: a buffer of new entries scanned whole by each lookup,
    merged every ``buffer`` entries into ``recent`` (sorted), merged every ``recent_size`` into
    ``main``. Each merge copies the level it merges into, so the large copy of ``main`` comes once
    every ``recent_size`` additions and a lookup scans at most ``buffer`` rows."""

    def __init__(self, bands: int, buffer: int = 1024, recent_size: int = 65536):
        self.bands = bands
        self.main, self.recent = SortedBands(bands), SortedBands(bands)
        self.recent_size = recent_size
        self.new_keys = np.empty((buffer, bands), dtype=np.uint64)
        self.new_slots = np.empty(buffer, dtype=np.int32)
        self.pending = 0

    @property
    def nbytes(self) -> int:
        return self.main.nbytes + self.recent.nbytes + self.new_keys.nbytes + self.new_slots.nbytes

    def add(self, slots: np.ndarray, keys: np.ndarray) -> None:
        """Index ``slots`` under their (n, bands) ``keys``."""
        start = 0
        while start < len(slots):
            take = min(len(slots) - start, len(self.new_slots) - self.pending)
            self.new_keys[self.pending:self.pending + take] = keys[start:start + take]
            self.new_slots[self.pending:self.pending + take] = slots[start:start + take]
            self.pending += take
            start += take
            if self.pending == len(self.new_slots):
                self._merge()

    def remove(self, slot: int, keys: np.ndarray) -> None:
        """Drop ``slot``'s entries; ``keys`` are the ones it was added under."""
        self.main.remove(slot, keys)
        self.recent.remove(slot, keys)
        buffered = self.new_slots[:self.pending]
        buffered[buffered == slot] = -1

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        """The slots sharing at least one band key with ``keys`` (bands,), each once."""
        found: list[np.ndarray] = []
        self.main.lookup(keys, found)
        self.recent.lookup(keys, found)
        if self.pending:
            found.append(self.new_slots[:self.pending][(self.new_keys[:self.pending] == keys).any(axis=1)])
        slots = np.unique(np.concatenate(found)) if found else np.empty(0, dtype=np.int32)
        return slots[slots >= 0]

    def _merge(self) -> None:
        slots = self.new_slots[:self.pending]
        self.recent.merge([self.new_keys[:self.pending, band] for band in range(self.bands)], [slots] * self.bands)
        self.pending = 0
        if len(self.recent) >= self.recent_size:
            self.main.merge(self.recent.keys, self.recent.slots)
            self.recent.clear()
