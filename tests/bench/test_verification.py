"""bench.verification's pure parts: reading eval rows and the separation figure."""

from __future__ import annotations

import math

from bench.verification import _auc, _field


def test_auc_is_the_share_of_right_wrong_pairs_ranked_right_ties_half() -> None:
    assert _auc([0.9, 0.8], [0.1, 0.2]) == 1.0
    assert _auc([0.1], [0.9]) == 0.0
    assert _auc([0.5, 0.9], [0.5]) == 0.75
    assert math.isnan(_auc([], [0.3]))


def test_fields_are_read_whether_written_as_json_or_as_python_repr() -> None:
    row: dict[str, object] = {"cited": "[1, 3]", "ids": ["a#0"], "question": "[sic] x"}
    assert _field(row, "cited") == [1, 3]
    assert _field(row, "ids") == ["a#0"]
    assert _field(row, "question") == "[sic] x"
