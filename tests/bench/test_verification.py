"""bench.verification's pure parts: reading eval rows."""

from __future__ import annotations

from bench.verification import _field


def test_fields_are_read_whether_written_as_json_or_as_python_repr() -> None:
    row: dict[str, object] = {"cited": "[1, 3]", "ids": ["a#0"], "question": "[sic] x"}
    assert _field(row, "cited") == [1, 3]
    assert _field(row, "ids") == ["a#0"]
    assert _field(row, "question") == "[sic] x"
