"""Streamed answers, released a checked sentence at a time.

Both `/v1/ask` and `/v1/chat/completions` stream what `Answerer.ask_events` yields; the
answerer passes the model's pieces through a `SentenceGate`, so no text leaves before
`check_claims` (and the answer guard in it) has seen its whole sentence, and no sentence in
another language than the question's leaves untranslated (`service.answer_language`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from index.chunking import split_sentences
from service import answer_guard
from service.answer_language import Translate, needs_retelling, retell_text
from service.claims import check_claims
from service.language import Language
from service.passages import Passage


class SentenceGate:
    """Streamed answer text released a whole sentence at a time, each sentence checked by
    `check_claims` first: a sentence that fails a check never reaches the client."""

    def __init__(
        self,
        passages: Sequence[Passage],
        language: Language,
        question: str,
        translate: Translate | None = None,
    ) -> None:
        self.passages = list(passages)
        self.language = language
        self.question = question
        self.translate = translate  # None: sentences are sent in the language they came in
        self.pending = ""
        self.said = ""  # everything the model wrote so far, sent or not
        self.written = ""  # the same, each sentence in the question's language
        self.held = ""  # sentences kept back until they are translated at the end
        self.retell_ms: float | None = None  # how long translating them took
        self.leaked = False
        self.looped = False  # the model began to repeat itself: the rest is not read

    def _check(self, text: str) -> str:
        # Once the model has repeated its prompt, nothing more of this answer is sent.
        self.said += text
        self.leaked = self.leaked or answer_guard.leaks_prompt(self.said)
        if self.leaked:
            self.written += text
            return ""
        # A sentence in another language is held, with all after it, and translated once the
        # model is done: the translator never runs beside the answer's own generation.
        if self.held or (self.translate is not None and needs_retelling(text, self.language)):
            self.held += text
            return ""
        self.written += text
        return check_claims(text, self.passages, self.language, self.question)

    def feed(self, piece: str) -> str:
        """The checked sentences that `piece` completes ('' while a sentence is open); once
        the text loops, its second copy is cut and nothing more is taken."""
        if self.looped:
            return ""
        self.pending += piece
        start = answer_guard.repeat_start(self.said + self.pending)
        if start is not None:
            self.looped = True
            self.pending = self.pending[: max(0, start - len(self.said))]
            return ""
        spans = split_sentences(self.pending)
        # A sentence is whole once the next one has begun with something other than markers.
        if len(spans) > 1 and not self.pending[spans[-1][0] :].lstrip().startswith(("[", "【")):
            cut = spans[-1][0]
            whole, self.pending = self.pending[:cut], self.pending[cut:]
            return self._check(whole)
        return ""

    def finish(self) -> str:
        """The last sentence, and any held back, translated and checked."""
        whole, self.pending = self.pending, ""
        out = self._check(whole) if whole.strip() else ""
        if self.held and self.translate is not None and not self.leaked:
            started = time.perf_counter()
            text, self.held = retell_text(self.held, self.language, self.translate), ""
            self.retell_ms = round((time.perf_counter() - started) * 1000, 1)
            self.written += text
            out = check_claims(text, self.passages, self.language, self.question)
        return out
