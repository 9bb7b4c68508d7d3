"""Full dates (year, month, day) as scraped articles write them, read as ISO ``YYYY-MM-DD``.

Chinese ``2024年6月25日``, numeric ``2024-06-25`` / ``2024/6/25``, and English month names
either way round; `index/clean.py` reads a document's date with them.
"""

from __future__ import annotations

import re
from datetime import date

_MONTHS = {
    m: i
    for i, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for m in names
}
_MONTH_NAME = "|".join(sorted(_MONTHS, key=len, reverse=True))
_DATE_PATTERNS = (
    re.compile(r"(?P<y>\d{4})\s*年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})"),
    re.compile(r"(?<!\d)(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})(?!\d)"),
    re.compile(
        rf"\b(?P<m>{_MONTH_NAME})\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y>\d{{4}})\b",
        re.IGNORECASE,
    ),
    re.compile(
        rf"\b(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<m>{_MONTH_NAME})\.?,?\s+(?P<y>\d{{4}})\b",
        re.IGNORECASE,
    ),
)


def _iso(year: int, month: int, day: int) -> str | None:
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return None


def find_date(text: str) -> str | None:
    """The first full date (year, month, day) in `text`, as ISO ``YYYY-MM-DD``."""
    found: list[tuple[int, str]] = []
    for pattern in _DATE_PATTERNS:
        for match in pattern.finditer(text):
            month = match.group("m")
            month_number = int(month) if month.isdigit() else _MONTHS[month.lower()]
            iso = _iso(int(match.group("y")), month_number, int(match.group("d")))
            if iso is not None:
                found.append((match.start(), iso))
                break
    return min(found)[1] if found else None
