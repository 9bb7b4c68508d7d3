"""The manifest written beside every index generation: what built it, and what it holds.

Opening an index compares the manifest with the configuration (`check_compatible`), so an index
built with another embedder, chunking or tokenizer is refused with the fix instead of returning
silently wrong results.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ragqa import __version__
from ragqa.errors import IndexMismatch, IndexStoreError

FORMAT_VERSION = 1
MANIFEST_FILE = "manifest.json"
REBUILD_HINT = "rebuild the index with `ragqa index build`"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EmbedderInfo(_Frozen):
    model_id: str
    fingerprint: str
    dimension: int


class ChunkingInfo(_Frozen):
    chunk_size: int
    chunk_overlap: int
    token_counter: str  # whose tokenizer measured chunk_size: the embedder's


class LexicalInfo(_Frozen):
    tokenizer: str
    t2s: bool
    bm25_method: str
    k1: float
    b: float


class DocumentEntry(_Frozen):
    """One indexed document, as the manifest lists it and as `IndexSnapshot.documents` serves it."""

    doc_id: str
    content_hash: str
    title: str
    date: str
    source: str
    url: str
    language: str
    n_chunks: int


class ManifestExpectation(_Frozen):
    """What the configuration says an index must have been built with."""

    format_version: int = FORMAT_VERSION
    embedder: EmbedderInfo
    chunking: ChunkingInfo
    lexical: LexicalInfo


class Manifest(_Frozen):
    format_version: int
    ragqa_version: str
    created_at: datetime  # when this generation was written
    build_seconds: float | None  # duration of the last full build, carried across updates
    embedder: EmbedderInfo
    faiss_factory: str
    chunking: ChunkingInfo
    lexical: LexicalInfo
    n_documents: int
    n_chunks: int
    documents: list[DocumentEntry]
    files: dict[str, str] = Field(
        default_factory=dict, description="SHA-256 of every other file of the generation."
    )

    @classmethod
    def new(
        cls,
        expected: ManifestExpectation,
        *,
        faiss_factory: str,
        documents: list[DocumentEntry],
        build_seconds: float | None,
        files: dict[str, str],
    ) -> Manifest:
        return cls(
            format_version=expected.format_version,
            ragqa_version=__version__,
            created_at=datetime.now(UTC),
            build_seconds=build_seconds,
            embedder=expected.embedder,
            faiss_factory=faiss_factory,
            chunking=expected.chunking,
            lexical=expected.lexical,
            n_documents=len(documents),
            n_chunks=sum(entry.n_chunks for entry in documents),
            documents=documents,
            files=files,
        )


def _compared_fields(info: ManifestExpectation | Manifest) -> dict[str, Any]:
    """The settings an index depends on, by the name a mismatch message shows.

    The embedder's id (a path) may move; its fingerprint and dimension are what must agree.
    """
    return {
        "format_version": info.format_version,
        "embedder fingerprint": f"{info.embedder.fingerprint} ({info.embedder.model_id})",
        "embedder dimension": info.embedder.dimension,
        "chunk_size": info.chunking.chunk_size,
        "chunk_overlap": info.chunking.chunk_overlap,
        "lexical tokenizer": info.lexical.tokenizer,
        "lexical t2s": info.lexical.t2s,
        "bm25 method": info.lexical.bm25_method,
        "bm25 k1": info.lexical.k1,
        "bm25 b": info.lexical.b,
    }


def check_compatible(
    manifest: Manifest, expected: ManifestExpectation, *, where: Path | str
) -> None:
    """Raise IndexMismatch naming each field whose configured and stored values differ."""
    configured, stored = _compared_fields(expected), _compared_fields(manifest)
    if manifest.embedder.fingerprint == expected.embedder.fingerprint:
        configured["embedder fingerprint"] = stored["embedder fingerprint"]
    differences = [
        f"{name}: configured {configured[name]!r}, stored {stored[name]!r}"
        for name in configured
        if configured[name] != stored[name]
    ]
    if differences:
        raise IndexMismatch(
            f"{where}: the index was built with other settings ({'; '.join(differences)}); "
            f"{REBUILD_HINT}"
        )


def read_manifest(path: Path) -> Manifest:
    """Parse a manifest; a missing, truncated or invalid file raises IndexStoreError naming it."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise IndexStoreError(f"{path}: cannot read the manifest ({exc}); {REBUILD_HINT}") from exc
    try:
        return Manifest.model_validate_json(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'file'}: {error['msg']}"
            for error in exc.errors()[:5]
        )
        raise IndexStoreError(f"{path}: not a valid manifest ({problems}); {REBUILD_HINT}") from exc


def manifest_json(manifest: Manifest) -> bytes:
    return manifest.model_dump_json(indent=2).encode("utf-8")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
