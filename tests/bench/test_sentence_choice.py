"""The sentence-choice bench's pure parts."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.sentence_choice import REPO, _shown, auc


def test_auc_counts_pairs_ranked_right_and_ties_as_half() -> None:
    assert auc([0.9, 0.8], [0.1, 0.2]) == 1.0
    assert auc([0.1], [0.9]) == 0.0
    assert auc([0.5], [0.5, 0.1]) == pytest.approx(0.75)


def test_the_set_is_shown_relative_to_the_repository_when_inside_it() -> None:
    assert _shown(REPO / "eval" / "sets" / "default.jsonl") == Path("eval/sets/default.jsonl")
    assert _shown(Path("/elsewhere/set.jsonl")) == Path("/elsewhere/set.jsonl")
