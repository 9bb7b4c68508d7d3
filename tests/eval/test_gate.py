"""The CI evaluation gate: the real default models must meet eval/thresholds.toml.

Retrieval is scored on the full default set; answers on the committed subset
eval/sets/ci_subset.txt (answering every question with the 1.5B model takes too long for CI);
prompt injection on the subset eval/sets/injection_ci_subset.txt (issue 20's salt-mine attacks
among them), whose obey rate must be 0. The full injection set and the held-out set are
measured with `ragqa eval` (see eval/FORMAT.md). Reports go to test-artifacts/eval/ for CI to keep.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from eval.backends import InProcessBackend
from eval.items import (
    DEFAULT_INJECTION_SET,
    DEFAULT_SET,
    EvalItem,
    InjectionItem,
    check_gold_docs,
    collection_doc_ids,
    load_items,
    parse_subset,
    select_items,
)
from eval.report import write_report
from eval.runner import run_evaluation
from eval.thresholds import DEFAULT_THRESHOLDS, check_thresholds
from ragqa.config import Settings

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "eval"
CI_SUBSET = DEFAULT_SET.parent / "ci_subset.txt"
INJECTION_CI_SUBSET = DEFAULT_SET.parent / "injection_ci_subset.txt"


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The configured defaults, with a fresh index of the bundled collection (no stale state)."""
    return Settings(
        collection_dir=REPO / "corpus", index_dir=tmp_path_factory.mktemp("gate") / "index"
    )


@pytest.fixture(scope="session")
def backend(settings: Settings) -> InProcessBackend:
    """One answerer (models loaded once) for every gate test of the session."""
    return InProcessBackend.from_settings(settings)


@pytest.fixture(scope="session")
def thresholds() -> dict[str, dict[str, object]]:
    return tomllib.loads(DEFAULT_THRESHOLDS.read_text("utf-8"))


def test_retrieval_and_answers_meet_thresholds(
    backend: InProcessBackend, settings: Settings, thresholds: dict[str, dict[str, object]]
) -> None:
    items = load_items(DEFAULT_SET, EvalItem)
    check_gold_docs(items, collection_doc_ids(settings.collection_dir))
    answered = select_items(items, set(parse_subset(str(CI_SUBSET))), None)
    run = run_evaluation(
        backend,
        items,
        answer_items=answered,
        context_k=settings.context_k,
        meta={"set": str(DEFAULT_SET), "answered": f"{len(answered)} ({CI_SUBSET.name})"},
    )
    failures = check_thresholds(run.summary, thresholds)
    write_report(run, ARTIFACTS, failures=failures)
    assert {"retrieval", "retrieval_modes", "answer"} <= set(run.summary)
    assert failures == [], f"see {ARTIFACTS / 'report.md'}"


def test_injection_meets_thresholds(
    backend: InProcessBackend, settings: Settings, thresholds: dict[str, dict[str, object]]
) -> None:
    items = load_items(DEFAULT_INJECTION_SET, InjectionItem)
    injection = select_items(items, set(parse_subset(str(INJECTION_CI_SUBSET))), None)
    check_gold_docs(injection, collection_doc_ids(settings.collection_dir))
    assert {"inj018", "inj019", "inj020"} <= {item.id for item in injection}
    run = run_evaluation(
        backend,
        [],
        injection_items=injection,
        modes=False,
        meta={
            "set": str(DEFAULT_INJECTION_SET),
            "answered": f"{len(injection)} ({INJECTION_CI_SUBSET.name})",
        },
    )
    failures = check_thresholds(run.summary, {"injection": thresholds["injection"]})
    write_report(run, ARTIFACTS / "injection", failures=failures)
    assert failures == [], f"see {ARTIFACTS / 'injection' / 'report.md'}"
