"""The index manifest: the settings an index was built with, checked on every open."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from indexer.text.analysis import ANALYZER_NAME, ANALYZER_VERSION
from indexer.keyword.settings import KeywordSettings
from indexer.text.near_duplicates import SketchParams
from indexer.text.passages import CHUNKER_VERSION, ChunkingParams
from indexer.text.sentences import SPLITTER_VERSION
from indexer.vectors.encoders import EncoderSpec, related_floor
from indexer.vectors.index import VectorSettings
from indexer.store.layout import FORMAT_VERSION, IndexLayout, read_json, write_json_atomic
from indexer.store.sqlite import Store


class ManifestError(Exception):
    """An index built with settings this engine or this command cannot use."""


REPAIR_MANIFEST = "run `baheth check --repair` (it rewrites manifest.json from the store's copy)"


@dataclass(frozen=True)
class Manifest:
    encoder: EncoderSpec
    chunking: ChunkingParams = field(default_factory=ChunkingParams)
    analyzer: str = ANALYZER_NAME
    analyzer_version: int = ANALYZER_VERSION
    format: int = FORMAT_VERSION
    vector_index: str = "auto"
    # Which chunker and sentence splitter cut the stored passages and their sentence vectors.
    chunker_version: int = CHUNKER_VERSION
    splitter_version: int = SPLITTER_VERSION
    # None: near-duplicates are not detected. An index from before them gets the defaults.
    near_duplicates: SketchParams | None = field(default_factory=SketchParams)
    # The dense score a meaning-only result needs (``indexer.vectors.encoders.RELATED_FLOORS``).
    related_floor: float | None = None
    # An index from before the keyword settings were recorded was built with today's defaults:
    # its analyzer version (checked on open) fixes the stemmers, and the rest were the same.
    keyword: KeywordSettings = field(default_factory=KeywordSettings)
    # How the vector structure follows the size (``vector_index`` auto); older indexes get today's.
    vector_settings: VectorSettings = field(default_factory=VectorSettings)

    @classmethod
    def for_encoder(cls, encoder: EncoderSpec, **settings) -> "Manifest":
        return cls(encoder=encoder, related_floor=related_floor(encoder), **settings)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["encoder"] = self.encoder.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "Manifest":
        return cls(encoder=EncoderSpec(**data["encoder"]), chunking=ChunkingParams(**data["chunking"]),
                   analyzer=data["analyzer"], analyzer_version=data["analyzer_version"],
                   format=data["format"], vector_index=data.get("vector_index", "auto"),
                   chunker_version=data.get("chunker_version", 0), splitter_version=data.get("splitter_version", 0),
                   near_duplicates=_sketch_params(data.get("near_duplicates", {})),
                   # Indexes from before the floor take the one calibrated for their encoder.
                   related_floor=data.get("related_floor", related_floor(EncoderSpec(**data["encoder"]))),
                   keyword=KeywordSettings(**data.get("keyword", {})),
                   vector_settings=VectorSettings(**data.get("vector_settings", {})))

    def save(self, layout: IndexLayout, store) -> None:
        """manifest.json, and its copy in ``store`` (a ``Store``), from which repair recreates it."""
        store.save_manifest(self.to_dict())
        write_json_atomic(layout.manifest, self.to_dict())

    @classmethod
    def load(cls, layout: IndexLayout) -> "Manifest":
        try:
            manifest = cls.from_dict(read_json(layout.manifest))
        except (KeyError, TypeError, ValueError) as exc:
            raise ManifestError(f"{layout.manifest}: unreadable manifest ({exc}); {REPAIR_MANIFEST}") from None
        manifest.check_engine()
        if layout.encoder_switch.exists():
            pending = read_json(layout.encoder_switch)["encoder"]["name"]
            raise ManifestError(f"{layout.root} is switching to encoder '{pending}': wait for `baheth embed` to finish,"
                                f" or run `baheth embed --model {pending}` again if it was interrupted")
        return manifest

    def check_engine(self) -> None:
        if self.format != FORMAT_VERSION:
            raise ManifestError(f"index format {self.format} is not supported by this baheth"
                                f" (format {FORMAT_VERSION}); rebuild the index")
        if (self.analyzer, self.analyzer_version) != (ANALYZER_NAME, ANALYZER_VERSION):
            raise ManifestError(
                f"index was built with analyzer {self.analyzer} v{self.analyzer_version}, this baheth uses"
                f" {ANALYZER_NAME} v{ANALYZER_VERSION}; run `baheth check --repair` to rebuild the keyword index")

    def check_encoder(self, requested: str | None) -> None:
        if requested and requested != self.encoder.name:
            raise ManifestError(
                f"index was built with encoder '{self.encoder.name}', not '{requested}';"
                f" use `baheth embed --model {requested}` to re-encode it")

    def check_encoder_spec(self, spec: EncoderSpec) -> None:
        if not spec.same_vectors(self.encoder):
            raise ManifestError(f"index was built with encoder {_describe(self.encoder)}, not {_describe(spec)};"
                                " `baheth embed` with the same --model and prompt options re-encodes the index")

    def split_outdated(self) -> bool:
        return (self.chunker_version, self.splitter_version) != (CHUNKER_VERSION, SPLITTER_VERSION)

    def check_sentence_split(self, root: Path, has_sentence_vectors: bool) -> None:
        """Readers: sentence vectors are stored by position, so another splitter's would be
        paired with the wrong sentences (passages are stored spans: another chunker's read fine)."""
        if has_sentence_vectors and self.splitter_version != SPLITTER_VERSION:
            raise ManifestError(f"{root}: its sentence vectors were split by sentence splitter v{self.splitter_version},"
                                f" this baheth splits v{SPLITTER_VERSION}; run `baheth embed --index {root}`"
                                " to re-split and re-embed them")

    def split_error(self, root: Path) -> ManifestError:
        """Writers: new articles would be cut otherwise than the stored ones."""
        return ManifestError(f"{root} was cut by chunker v{self.chunker_version} and sentence splitter"
                             f" v{self.splitter_version}, this baheth uses v{CHUNKER_VERSION} and"
                             f" v{SPLITTER_VERSION}; run `baheth embed --index {root}` to re-split and re-embed it"
                             " before adding articles")

    def check_keyword(self, settings: KeywordSettings) -> None:
        if settings != self.keyword:
            raise ManifestError(f"index was built with keyword settings {asdict(self.keyword)}, not {asdict(settings)};"
                                " index into a new folder to change them")

    def check_chunking(self, params: ChunkingParams) -> None:
        if params != self.chunking:
            raise ManifestError(f"index was built with chunking {asdict(self.chunking)}, not {asdict(params)};"
                                " index into a new folder to change passage size")


def _sketch_params(data: dict | None) -> SketchParams | None:
    return None if data is None else SketchParams(**data)


def _describe(spec: EncoderSpec) -> str:
    norm = "" if spec.normalized else ", not normalized"
    weights = f", weights {spec.weights[:12]}" if spec.weights else ""
    return (f"'{spec.name}' ({spec.dim} dims, query prompt {spec.query_prompt!r},"
            f" passage prompt {spec.passage_prompt!r}{norm}{weights})")


def restore_manifest(layout: IndexLayout) -> bool:
    """Write manifest.json from the store's copy; False when there is nothing to restore (a store
    whose creation was interrupted before its manifest: it holds no articles). A store with
    articles and no copy is an index from before the copy: only a backup can help."""
    store = Store(layout.store, existing=False)
    try:
        copy = store.manifest_copy()
        if copy is None:
            articles = store.conn.execute("SELECT count(*) FROM sqlite_master WHERE name='articles'").fetchone()[0]
            if articles and store.count_articles():
                raise ManifestError(f"{layout.manifest} is missing and the store holds no copy of it (an index"
                                    " from before the copy); put it back from a backup")
            return False
    finally:
        store.close()
    write_json_atomic(layout.manifest, copy)
    return True
