"""Whoosh's pickles, loaded with only the classes a baheth keyword index holds.

Why: Whoosh keeps its table of contents (the schema and the segment list), each compound
segment's file directory and its postings blocks as pickles, and a pickle can name any callable
(``os.system``). Whoever can write to an index folder would run code as everyone who searches it.
Here every pickle Whoosh reads from the index goes through an unpickler that refuses any global
outside ``ALLOWED``: the schema's field, format and analyzer classes (``make_schema``), the
segment and codec classes, and the containers they use. ``tests/test_security.py`` loads a TOC
whose object reduces to ``os.system``.
"""
from __future__ import annotations

import io
import pickle

from whoosh import index as whoosh_index
from whoosh.codec import whoosh3
from whoosh.fields import ensure_schema
from whoosh.filedb import structfile
from whoosh.system import _FLOAT_SIZE, _INT_SIZE, _LONG_SIZE

# (module, name) of every global a TOC, a segment directory or a postings block of an index built
# by ``indexer.keyword.index.make_schema`` refers to (found by recording an unpickler's lookups).
ALLOWED = frozenset({
    ("whoosh.fields", "Schema"), ("whoosh.fields", "ID"), ("whoosh.fields", "TEXT"),
    ("whoosh.formats", "Existence"), ("whoosh.formats", "Frequency"), ("whoosh.formats", "Positions"),
    ("whoosh.analysis.tokenizers", "IDTokenizer"),
    ("indexer.keyword.fields", "ArabicText"),
    ("indexer.text.analysis", "ArabicAnalyzer"), ("indexer.text.analysis", "ArabicTokenizer"),
    ("indexer.text.analysis", "ArabicNormalizeFilter"), ("indexer.text.analysis", "ArabicStopFilter"),
    ("indexer.text.analysis", "ArabicStemFilter"),
    ("whoosh.codec.whoosh3", "W3Codec"), ("whoosh.codec.whoosh3", "W3Segment"),
    ("collections", "defaultdict"), ("builtins", "int"), ("builtins", "set"), ("builtins", "frozenset"),
    ("_codecs", "encode"),   # how protocol 2 pickles bytes (postings values)
    ("array", "array"), ("array", "_array_reconstructor"),
})


class UnsafePickle(pickle.UnpicklingError):
    """A pickle in the index names a class a keyword index never holds."""


class _Restricted(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in ALLOWED:
            raise UnsafePickle(f"refused to load {module}.{name}, which a keyword index never holds")
        return super().find_class(module, name)


def load(file) -> object:
    return _Restricted(file).load()


def loads(data: bytes) -> object:
    return _Restricted(io.BytesIO(data)).load()


def read_toc(storage, indexname: str, schema=None) -> whoosh_index.TOC:
    """``whoosh.index.TOC.read`` for the current TOC format only, unpickling with ``loads``."""
    gen = whoosh_index.TOC._latest_generation(storage, indexname)
    if gen < 0:
        raise whoosh_index.EmptyIndexError(f"index {indexname!r} does not exist in {storage}")
    name = whoosh_index.TOC._filename(indexname, gen)
    stream = storage.open_file(name)
    try:
        sizes = (stream.read_varint(), stream.read_varint(), stream.read_varint(), stream.read_int())
        if sizes != (_INT_SIZE, _LONG_SIZE, _FLOAT_SIZE, -12345):
            raise whoosh_index.IndexError(f"{name}: not a table of contents this machine can read")
        version = stream.read_int()
        release = (stream.read_varint(), stream.read_varint(), stream.read_varint())
        if version != whoosh_index._CURRENT_TOC_VERSION:
            raise whoosh_index.IndexVersionError(f"{name}: table of contents format {version}", version)
        if schema:
            stream.skip_string()
        else:
            schema = loads(stream.read_string())
        schema = ensure_schema(schema)
        if stream.read_int() != gen:
            raise whoosh_index.IndexError(f"{name}: names another generation")
        stream.read_int()  # unused by Whoosh
        segments = load(stream.file)
    finally:
        stream.close()
    if not isinstance(segments, list) or not all(isinstance(s, whoosh3.W3Segment) for s in segments):
        raise whoosh_index.IndexError(f"{name}: the segment list is not a list of segments")
    return whoosh_index.TOC(schema, segments, gen, version=version, release=release)


class SafeFileIndex(whoosh_index.FileIndex):
    """A Whoosh ``FileIndex`` that reads its TOC with ``read_toc``."""

    def __init__(self, storage, schema=None, indexname=whoosh_index._DEF_INDEX_NAME):
        self.storage = storage
        self._schema = ensure_schema(schema) if schema else None
        self.indexname = indexname
        read_toc(storage, indexname, self._schema)

    def _read_toc(self):
        return read_toc(self.storage, self.indexname, self._schema)


# Whoosh reads segment directories and postings-block headers through StructFile.read_pickle
# (module global ``load_pickle``) and postings blocks through whoosh3's module global ``loads``.
structfile.load_pickle = load
whoosh3.loads = loads
