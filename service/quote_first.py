"""Quote first: the model copies the passage text that states the answer, then answers.

A small model picks well among given options and reads a short text better than four long
ones. So before it writes the answer it names its evidence, one line `Evidence [n]: <clauses>`
or `Evidence: none`, and only then `Answer in <language>: ...`. On llama.cpp a grammar makes
the evidence a run of whole clauses of one passage sentence, copied exactly, so it is never
invented, its offsets in the document are exact, and the answer is written right after the
text it rests on. "none" is a refusal the model chose among the options.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import prompts
from index.chunking import split_sentences
from service import answer_guard
from service.generation.base import ChatMessage, Generator
from service.language import Language
from service.passages import Citation, Passage

NONE_LINE = "Evidence: none"
MAX_QUOTES = 1
# Tokens the evidence line may take: a run of two long clauses.
_EVIDENCE_TOKENS = 200
# A clause ends after one of these marks (and the spaces after it). Unlike the chunker's clause
# breaks (index/chunking.py), an enumeration comma (、) does not end one, so a person's title
# and name stay together in one quotable piece.
_CLAUSE_END = re.compile(r"[，,；;：:。！？!?]\s*")
# Clauses an evidence line copies at most: enough for a fact, short to decode.
_RUN = 2
_ANSWER = re.compile(r"Answer[^:\n]*:")
_EVIDENCE_LINE = re.compile(r"Evidence \[(\d+)\]: (.*)")


def clauses(sentence: str) -> list[str]:
    """`sentence` cut after each clause mark; the pieces joined give it back exactly."""
    pieces, start = [], 0
    for match in _CLAUSE_END.finditer(sentence):
        if match.end() > start:
            pieces.append(sentence[start : match.end()])
            start = match.end()
    if start < len(sentence):
        pieces.append(sentence[start:])
    return pieces


def evidence_sentences(passage: Passage) -> list[list[str]]:
    """The passage's sentences as the model reads them (one line each), cut into clauses: an
    evidence line copies a run of consecutive clauses of one of them."""
    text = answer_guard.kept_text(passage)
    sentences: list[list[str]] = []
    for start, end in split_sentences(text):
        for line in text[start:end].split("\n"):
            if line.strip():
                sentences.append(clauses(line.strip()))
    return sentences


def _literal(text: str) -> str:
    """`text` as a GBNF string literal."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\r", "\\r").replace("\t", "\\t") + '"'


def grammar(passages: Sequence[Passage]) -> str:
    """A llama.cpp grammar (GBNF) of the evidence line: a run of up to `_RUN` whole clauses
    of one sentence of the passage it names, or "none"."""
    names: list[str] = []
    rules: list[str] = []
    for p in passages:
        runs = [
            _run(pieces[c : c + _RUN])
            for pieces in evidence_sentences(p)
            for c in range(len(pieces))
        ]
        if runs:
            names.append(f"p{p.n}")
            rules.append(f"p{p.n} ::= {_literal(f'Evidence [{p.n}]: ')} ( {' | '.join(runs)} )")
    if not rules:
        return f"root ::= {_literal(NONE_LINE)}\n"
    head = f"root ::= {_literal(NONE_LINE)} | q\nq ::= {' | '.join(names)}"
    return "\n".join([head, *rules]) + "\n"


def _run(pieces: Sequence[str]) -> str:
    """The first clause, optionally followed by the next ones in order: `"a" ( "b" )?`."""
    if len(pieces) == 1:
        return _literal(pieces[0])
    return f"{_literal(pieces[0])} ( {_run(pieces[1:])} )?"


@dataclass(frozen=True, slots=True)
class Quote:
    """An evidence line: the passage it names and the text it copied."""

    n: int
    text: str


def _split(head: str) -> tuple[str, str]:
    """The reply's evidence, and what follows its answer tag."""
    match = _ANSWER.search(head)
    if match is None:
        return head, ""
    return head[: match.start()], head[match.end() :]


def parse_evidence(text: str) -> list[Quote]:
    """The evidence lines of a reply's head, at most `MAX_QUOTES`."""
    quotes = []
    for line in text.splitlines():
        match = _EVIDENCE_LINE.match(line.strip())
        if match and match.group(2).strip():
            quotes.append(Quote(int(match.group(1)), match.group(2).strip()))
    return quotes[:MAX_QUOTES]


def reply_head(quotes: Sequence[Quote], language: Language) -> str:
    """The reply up to the answer: evidence lines, then the answer tag. Worked examples and
    real replies are written alike."""
    lines = [f"Evidence [{q.n}]: {q.text}" for q in quotes] or [NONE_LINE]
    tag = f"Answer in {prompts.table('languages')[language].split(' (')[0]}:"
    return "\n".join([*lines, tag])


@dataclass(slots=True)
class QuoteFirst:
    """One quote-first reply: `stream` yields the answer's text; the evidence, whether the
    model chose "none", and the whole reply are kept."""

    passages: Sequence[Passage]
    language: Language
    quotes: list[Quote] = field(default_factory=list)
    none: bool = False
    raw: list[str] = field(default_factory=list)
    evidence_ms: float = 0.0

    def stream(
        self,
        generator: Generator,
        messages: list[ChatMessage],
        *,
        max_tokens: int,
        temperature: float,
        stop: threading.Event,
    ) -> Iterator[str]:
        """The evidence line, constrained by the grammar; then, unless the model said none,
        the answer, continuing the assistant turn after the evidence."""
        started = time.perf_counter()
        head, tagged = "", False
        written = generator.stream(
            messages,
            max_tokens=_EVIDENCE_TOKENS,
            temperature=0.0,
            stop=stop,
            grammar=grammar(self.passages),
        )
        for piece in written:
            self.raw.append(piece)
            head += piece
            if _ANSWER.search(head):  # a back end without grammars writes it all at once
                tagged = True
                break
        evidence, answer = _split(head)
        self.quotes = parse_evidence(evidence)
        self.evidence_ms = round((time.perf_counter() - started) * 1000, 1)
        if not self.quotes or stop.is_set():
            self.none = not self.quotes
            close = getattr(written, "close", None)
            if close is not None:
                close()
            return
        if tagged:  # the answer follows in the same reply
            yield from self._answer(written, answer)
            return
        prefix = reply_head(self.quotes, self.language)
        self.raw.append(prefix[len(evidence.rstrip()) :])
        turn: ChatMessage = {"role": "assistant", "content": prefix}
        yield from self._answer(
            generator.stream(
                [*messages, turn], max_tokens=max_tokens, temperature=temperature, stop=stop
            )
        )

    def _answer(self, pieces: Iterator[str], said: str = "") -> Iterator[str]:
        """The answer's text (`said` is its start, already read), up to any evidence line of
        a second round."""
        sent = 0
        for piece in itertools.chain([""], pieces):
            if piece:
                self.raw.append(piece)
            said = (said + piece).lstrip(" ")
            cut = said.find("\nEvidence")
            if cut >= 0:
                if cut > sent:
                    yield said[sent:cut]
                return
            line = said.rfind("\n")  # a line that may yet become an evidence line waits
            safe = line if line >= 0 and "\nEvidence".startswith(said[line:]) else len(said)
            if safe > sent:
                yield said[sent:safe]
                sent = safe
        if len(said) > sent:
            yield said[sent:]


def quoted_citations(citations: Sequence[Citation], quotes: Sequence[Quote]) -> list[Citation]:
    """Citations whose passage the model quoted point at the quoted text, with its exact
    offsets in the document, instead of the sentence a word match picked; a passage read in
    translation keeps the match (its quote must be the original's)."""
    by_n = {q.n: q for q in reversed(quotes)}
    cited = []
    for c in citations:
        quote = by_n.get(c.passage.n)
        at = c.passage.text.find(quote.text) if quote and c.passage.reading is None else -1
        if quote is None or at < 0:
            cited.append(c)
            continue
        start = c.passage.start + at
        end = start + len(quote.text)
        cited.append(Citation(n=c.n, passage=c.passage, quote=quote.text, start=start, end=end))
    return cited
