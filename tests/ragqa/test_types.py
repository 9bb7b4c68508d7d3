"""The shared citation-marker grammar."""

from __future__ import annotations

import pytest

from ragqa.types import CITATION_MARKER, marker_numbers


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("[1]", [[1]]),
        ("[1][2]", [[1], [2]]),
        ("[1, 3]", [[1, 3]]),
        ("[1，2、3]", [[1, 2, 3]]),
        ("【2】", [[2]]),
        ("[ 2 - 4 ]", [[2, 3, 4]]),
        ("[1–3]", [[1, 2, 3]]),
        ("[3-1]", [[3, 1]]),
        ("[1-40]", [[1, 40]]),
        ("in [2023], [x] or []", []),
    ],
)
def test_marker_numbers(text: str, numbers: list[list[int]]) -> None:
    assert [marker_numbers(m.group(1)) for m in CITATION_MARKER.finditer(text)] == numbers
