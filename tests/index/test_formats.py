"""The format registry: one `register_format` call adds a suffix and its reader everywhere."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from index import loaders
from index.decoding import decode_text
from index.documents import DocumentMeta
from index.ingest import build_index
from index.store import IndexStore
from ragqa.config import Settings
from ragqa.errors import UnsupportedDocumentType

SUFFIX = ".ragqatab"  # a suffix no real format uses, registered only inside these tests


def _read_table(data: bytes, name: str) -> tuple[str, DocumentMeta]:
    """Tab-separated rows as sentences: the first row is the title."""
    rows = [line.split("\t") for line in decode_text(data, name).splitlines() if line]
    title = " ".join(rows[0])
    return "\n".join(", ".join(row) + "." for row in rows[1:]), DocumentMeta(title=title)


@pytest.fixture
def table_format() -> Iterator[loaders.DocumentFormat]:
    registered = loaders.register_format("table", (SUFFIX,), _read_table)
    try:
        yield registered
    finally:
        loaders.unregister_format("table")
    assert SUFFIX not in loaders.SUPPORTED_SUFFIXES


def test_the_built_in_formats_and_suffixes_are_registered() -> None:
    assert set(loaders.FORMATS) == {"text", "markdown", "html", "pdf", "docx"}
    assert loaders.SUPPORTED_SUFFIXES == (
        ".docx", ".htm", ".html", ".markdown", ".md", ".pdf", ".text", ".txt",
    )  # fmt: skip
    assert ", ".join(loaders.SUPPORTED_SUFFIXES) == loaders.SUPPORTED_TYPES


def test_a_registered_format_is_a_supported_suffix(table_format: loaders.DocumentFormat) -> None:
    assert SUFFIX in loaders.SUPPORTED_SUFFIXES
    assert SUFFIX in loaders.SUPPORTED_TYPES.split(", ")
    assert loaders.KIND_BY_SUFFIX[SUFFIX] == "table"


def test_a_file_of_a_registered_format_is_indexed_by_the_normal_build(
    tmp_path: Path, fake_embedder, table_format: loaders.DocumentFormat
) -> None:
    collection = tmp_path / "collection"
    collection.mkdir()
    (collection / "stations.ragqatab").write_text(
        "Solar stations\nNevada\t40000 homes\nArizona\t25000 homes\n", encoding="utf-8"
    )
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        collection_dir=collection,
        index_dir=tmp_path / "index",
        chunk_size=48,
    )

    report = build_index(settings, fake_embedder, progress=False)

    assert report.failures == ()
    snapshot = IndexStore.open(settings.index_dir, expected=None).snapshot
    assert list(snapshot.documents) == ["stations.ragqatab"]
    text = " ".join(snapshot.chunk(i).text for i in snapshot.chunk_ids())
    assert "Nevada, 40000 homes." in text
    assert "\t" not in text


def test_an_unregistered_suffix_is_refused_with_the_registered_list(
    table_format: loaders.DocumentFormat,
) -> None:
    with pytest.raises(UnsupportedDocumentType) as raised:
        loaders.load_bytes(b"a,b\n1,2\n", doc_id="rows.csv", filename="rows.csv")
    assert raised.value.reason.endswith(f"supported types: {loaders.SUPPORTED_TYPES}")
    assert SUFFIX in raised.value.reason


def test_a_suffix_or_kind_is_registered_once(table_format: loaders.DocumentFormat) -> None:
    with pytest.raises(ValueError, match="already registered"):
        loaders.register_format("csv", (".csv", ".TXT"), _read_table)
    with pytest.raises(ValueError, match="already registered"):
        loaders.register_format("table", (".tab2",), _read_table)
    with pytest.raises(ValueError, match="suffixes must look like"):
        loaders.register_format("csv", ("csv",), _read_table)
    assert ".csv" not in loaders.KIND_BY_SUFFIX
