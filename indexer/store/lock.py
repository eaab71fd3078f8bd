"""One writer at a time: an advisory lock file that names the process holding it."""
from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path


class IndexLocked(Exception):
    pass


class WriterLock:
    def __init__(self, path: Path, wait: float = 0.0):
        self.path = path
        self.wait = wait
        self._fd: int | None = None

    def acquire(self) -> "WriterLock":
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
                    os.close(fd)
                    raise IndexLocked(f"index is locked by PID {holder} (another baheth process is writing);"
                                      " wait for it or pass --wait SECONDS") from None
                time.sleep(0.1)
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
        except OSError:
            pass  # a full disk: the lock holds without its PID note, and `check` can still say so
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
