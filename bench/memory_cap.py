"""Run a benchmark child in a memory cgroup capped at N MiB, from a cold page cache.

Whether a search process "fits in 2 GB" is not its RSS: most of that is pages of the index's
files that it maps, which the kernel drops under pressure and reads again. The honest test is
to run it where it cannot have more: a memory cgroup counts the process's own memory and the
page cache it brings in, and reclaims that cache at the limit. Pages already cached before the
child started are charged to whoever read them first, so the index's files are first evicted
from the page cache (``posix_fadvise(DONTNEED)``, no root needed); the cgroup itself needs root
and cgroup v1's memory controller or cgroup v2.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

V1 = Path("/sys/fs/cgroup/memory")
V2 = Path("/sys/fs/cgroup")


class CapUnavailable(RuntimeError):
    pass


def evict(folder: Path) -> int:
    """Drop the clean cached pages of every file under ``folder``; returns the bytes advised."""
    advised = 0
    for path in folder.rglob("*"):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                advised += os.fstat(fd).st_size
            finally:
                os.close(fd)
    return advised


def _group(mib: int) -> tuple[Path, str, str]:
    """A new cgroup limited to ``mib``: (folder, its peak-usage file, its limit-hit counter)."""
    name = f"baheth-bench-{os.getpid()}"
    try:
        if (V1 / "memory.limit_in_bytes").exists():
            group = V1 / name
            group.mkdir()
            (group / "memory.limit_in_bytes").write_text(str(mib << 20))
            return group, "memory.max_usage_in_bytes", "memory.failcnt"
        if (V2 / "cgroup.controllers").exists() and "memory" in (V2 / "cgroup.controllers").read_text():
            group = V2 / name
            group.mkdir()
            (group / "memory.max").write_text(str(mib << 20))
            return group, "memory.peak", "memory.events"
    except OSError as exc:
        raise CapUnavailable(f"cannot create a memory cgroup here ({exc}); it needs root") from None
    raise CapUnavailable("no memory cgroup controller here (cgroup v1 memory or cgroup v2)")


def run_capped(args: list[str], mib: int, index: Path) -> tuple[str, dict]:
    """``python -m <args>`` in a fresh cgroup of ``mib`` MiB after evicting ``index``'s files:
    (its standard output, the cgroup's figures: limit, peak usage, limit hits)."""
    evicted = evict(index)
    group, peak_file, hits_file = _group(mib)
    try:
        procs = str(group / "cgroup.procs")
        out = subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True,
                             preexec_fn=lambda: Path(procs).write_text(str(os.getpid())))
        peak = int((group / peak_file).read_text())
        hits = (group / hits_file).read_text().strip()
    finally:
        group.rmdir()
    if out.returncode:
        last = (out.stderr.strip().splitlines() or [f"exit status {out.returncode}"])[-1]
        raise RuntimeError(f"the capped child failed: {last}")
    return out.stdout, {"cap_mib": mib, "cgroup_peak_mib": round(peak / 2**20), "limit_hits": hits,
                        "evicted_mib": round(evicted / 2**20)}
