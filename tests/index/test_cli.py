"""`ragqa index ...`: results on stdout, clear one-line errors with exit code 1."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from index.cli import app
from index.documents import Document
from index.generations import CURRENT_FILE, GENERATIONS_DIR
from index.manifest import ManifestExpectation
from index.store import IndexStore
from index.translations import (
    TRANSLATIONS_FILE,
    TranslationCache,
    chunk_sentences,
)

CORPUS = Path(__file__).resolve().parents[2] / "corpus"


def run(index_dir: Path, *args: str, **env: str) -> Result:
    return CliRunner().invoke(app, list(args), env={"RAGQA_INDEX_DIR": str(index_dir), **env})


def assert_clean_failure(result: Result, *fragments: str) -> None:
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.stderr


def stat_value(output: str, label: str) -> str:
    match = re.search(rf"^{label}\s+(.*)$", output, re.MULTILINE)
    assert match, f"no {label!r} line in:\n{output}"
    return match.group(1)


@pytest.fixture
def built(index_dir: Path, expectation: ManifestExpectation, fake_embedder, sample_docs) -> Path:
    IndexStore.build(index_dir, sample_docs, fake_embedder, expected=expectation)
    return index_dir


def test_stats_describes_the_live_index(built: Path, sample_docs: list[Document]) -> None:
    result = run(built, "stats")

    assert result.exit_code == 0, result.output
    assert stat_value(result.stdout, "documents") == str(len(sample_docs))
    assert stat_value(result.stdout, "languages") == "en, zh"
    assert stat_value(result.stdout, "search index") == "IDMap2,Flat"
    assert stat_value(result.stdout, "embedder").startswith("fake-embedder (64-d")
    assert re.fullmatch(r"\d+\.\d s", stat_value(result.stdout, "last full build"))


def test_remove_drops_documents_and_stats_shows_it(built: Path) -> None:
    result = run(built, "remove", "en/solar.txt", "zh/hospital.txt")

    assert result.exit_code == 0, result.output
    assert "Removed 2 documents" in result.stdout
    assert stat_value(run(built, "stats").stdout, "documents") == "1"


def test_removing_an_unknown_document_fails_cleanly_and_changes_nothing(built: Path) -> None:
    before = (built / CURRENT_FILE).read_text()

    result = run(built, "remove", "en/solar.txt", "missing.txt")

    assert_clean_failure(result, "no document with id 'missing.txt'")
    assert (built / CURRENT_FILE).read_text() == before


def test_stats_without_an_index_says_how_to_build_one(tmp_path: Path) -> None:
    result = run(tmp_path / "none", "stats")

    assert_clean_failure(result, str(tmp_path / "none"), "ragqa index build")


def test_a_damaged_index_file_is_named(built: Path) -> None:
    live = built / GENERATIONS_DIR / (built / CURRENT_FILE).read_text().strip()
    (live / "manifest.json").write_text("{not json", encoding="utf-8")

    assert_clean_failure(run(built, "stats"), str(live / "manifest.json"), "not a valid manifest")


def test_invalid_settings_are_named(tmp_path: Path) -> None:
    result = run(tmp_path, "stats", RAGQA_CHUNK_SIZE="5")

    assert_clean_failure(result, "RAGQA_CHUNK_SIZE")


@pytest.mark.slow
def test_build_add_and_stats_with_the_real_embedder(tmp_path: Path, real_embedder) -> None:
    """The command line end to end; the bundled corpus builds well under a minute."""
    index_dir = tmp_path / "index"
    built = run(index_dir, "build", str(CORPUS))
    assert built.exit_code == 0, built.output
    assert "Indexed 5 documents" in built.stdout

    extra = tmp_path / "extra.txt"
    extra.write_text("西安交通大学举办了新的医工结合论坛。", encoding="utf-8")
    added = run(index_dir, "add", str(extra), str(tmp_path / "missing.txt"))
    assert added.exit_code == 0, added.output
    assert "Added 1" in added.stdout and "missing.txt: no such file or folder" in added.stderr

    stats = run(index_dir, "stats")
    print(f"\n{stats.stdout}")
    assert stat_value(stats.stdout, "documents") == "6"
    assert float(stat_value(stats.stdout, "last full build").removesuffix(" s")) < 60


def test_stats_shows_how_much_of_the_bilingual_side_is_translated(
    built: Path, expectation: ManifestExpectation
) -> None:
    assert stat_value(run(built, "stats").stdout, "bilingual").startswith("off")
    on = {"RAGQA_BILINGUAL_MAX_CHUNKS": "1000"}
    before = stat_value(run(built, "stats", **on).stdout, "bilingual")
    wanted = int(before.split(" of ")[1].split()[0])
    assert before.startswith("0 of ") and wanted > 0

    snapshot = IndexStore.open(built, expected=expectation).snapshot
    first = snapshot.chunk(int(snapshot.chunk_ids()[0]))
    target = "en" if snapshot.documents[first.doc_id].language == "zh" else "zh"
    cache = TranslationCache(built / TRANSLATIONS_FILE, translator="a-model:a-prompt")
    for sentence in chunk_sentences(first):
        cache.put(sentence, target, "译文" if target == "zh" else "translated")
    cache.close()
    after = stat_value(run(built, "stats", **on).stdout, "bilingual")
    assert after.startswith(f"1 of {wanted} chunk translations made")
    limited = stat_value(run(built, "stats", RAGQA_BILINGUAL_MAX_CHUNKS="1").stdout, "bilingual")
    assert "over RAGQA_BILINGUAL_MAX_CHUNKS=1" in limited
