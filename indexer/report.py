"""What an indexing run reports: counts, errors, seconds per stage, and its progress bar."""
from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field


@dataclass
class IndexReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    passages: int = 0
    encoded: int = 0   # texts run through the model: passages and their sentences
    dates_converted: int = 0   # dates read in another unambiguous form and stored as ISO 8601
    interrupted: bool = False  # Ctrl-C: the counts are what was committed before it
    cluster: dict | None = None   # address, workers started and lost, when encoded on a cluster
    errors: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    def to_dict(self) -> dict:
        return {"added": self.added, "updated": self.updated, "unchanged": self.unchanged,
                "failed": self.failed, "passages": self.passages, "encoded": self.encoded,
                "dates_converted": self.dates_converted, "interrupted": self.interrupted, "cluster": self.cluster,
                "errors": self.errors, "seconds": {k: round(v, 4) for k, v in self.seconds.items()}}


class Stopwatch:
    """Adds the seconds spent inside ``with`` to ``seconds[stage]``."""

    def __init__(self, seconds: dict[str, float], stage: str):
        self.seconds, self.stage = seconds, stage

    def __enter__(self):
        self.t0 = time.perf_counter()

    def __exit__(self, *exc):
        self.seconds[self.stage] += time.perf_counter() - self.t0


def progress_bar(enabled: bool, total: int | None = None, unit: str = " articles"):
    from tqdm import tqdm
    # disable=None lets tqdm turn itself off when stderr is not a terminal.
    return tqdm(total=total, unit=unit, disable=None if enabled else True, dynamic_ncols=True)
