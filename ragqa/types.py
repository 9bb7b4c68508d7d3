"""The domain vocabulary that `index`, `service` and `eval` share, each piece defined once.

It sits at the bottom of the import layers (beside `config` and `errors`) and imports none of
the project's packages, so every layer can use it: a retrieval mode, a language, or a citation
marker means the same thing to the index, the answering service and the evaluation.
"""

from __future__ import annotations

import re
from typing import Literal

RetrievalMode = Literal["dense", "lexical", "hybrid"]
"""How passages are retrieved: by embedding, by BM25 over folded tokens, or both fused."""
RETRIEVAL_MODES: tuple[RetrievalMode, ...] = ("dense", "lexical", "hybrid")

# The order the model reads its passages in (service/passages.py `reading_order`).
PassageOrder = Literal["ranked", "best_last", "document"]

Language = Literal["zh-Hans", "zh-Hant", "en"]
"""The language of a question and of its answer, with the script for Chinese: an answer is
written in its question's script, and eval sets and figures are grouped by it."""
LANGUAGES: tuple[Language, ...] = ("zh-Hans", "zh-Hant", "en")

TextLanguage = Literal["zh", "en"]
"""Whether a text is mostly Chinese (in either script) or English: a document's language in the
index, and the languages cross-lingual retrieval translates a question into."""

# --- citation markers -------------------------------------------------------------------------
# An answer cites passage n with `[n]`. Models also write `【n】`, `[1, 2]`, `[1，2]`, `[1、2]`
# and ranges `[1-3]`/`[1–3]`, with spaces inside; all of these are markers. A number has at
# most three digits, so a bracketed year (`[2023]`) is text, not a marker.
_NUMBER = r"\d{1,3}"
_SEPARATOR = r"\s*[,，、\-–]\s*"

CITATION_MARKER = re.compile(rf"[\[【]\s*({_NUMBER}(?:{_SEPARATOR}{_NUMBER})*)\s*[\]】]")
"""One marker; group 1 is what stands between its brackets (read it with `marker_numbers`)."""


def marker_numbers(group: str) -> list[int]:
    """The passage numbers a marker's inside names: `1, 3-4` -> [1, 3, 4].

    A range is expanded only when short, as a prompt numbers at most 20 passages; a longer or
    reversed range stands for its two ends.
    """
    numbers: list[int] = []
    for part in re.split(r"\s*[,，、]\s*", group):
        bounds = re.split(r"\s*[\-–]\s*", part)
        if len(bounds) == 2 and bounds[0].isdigit() and bounds[1].isdigit():
            low, high = int(bounds[0]), int(bounds[1])
            numbers.extend(range(low, high + 1) if 0 < high - low < 20 else [low, high])
        elif part.isdigit():
            numbers.append(int(part))
    return numbers
