"""Writing one cited answer from the passages a question was given: the model's judgement
of them first, then the answer streamed a checked sentence at a time, then its citations.

`Answerer` (service/answering.py) decides what is read; this writes from it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Generator as EventStream
from collections.abc import Sequence
from functools import partial

from ragqa.config import Settings
from ragqa.errors import GenerationTimeout
from ragqa.types import Language
from service.answer import build_messages, postprocess
from service.answer_language import Translate
from service.answer_stream import SentenceGate
from service.ask_events import AskEvent, AskResult, DoneEvent, TokenEvent, refusal_events
from service.generation import Generator
from service.generation.base import close_stream, yes_probability
from service.passages import Passage
from service.quote_first import QuoteFirst, quoted_citations


class AnswerWriter:
    """Judges passages and writes the answer from them with a borrowed generator; holds no
    generator itself, so one writer serves every request thread."""

    def __init__(self, settings: Settings, translate: Translate | None) -> None:
        self.settings = settings
        # A sentence the model wrote in another language than the question's is translated.
        self.translate = translate

    def write(
        self,
        generator: Generator,
        question: str,
        passages: list[Passage],
        language: Language,
        limits: tuple[int | None, float | None, float],
        stop: threading.Event,
        timings: dict[str, float],
        started: float,
        several: float | None,
        gloss: tuple[str, str] | None = None,
        threshold: float | None = None,
    ) -> EventStream[AskEvent, None, None]:
        """One answer from all the passages: judged (refused below `threshold`, by default
        `support_threshold`), then streamed a checked sentence at a time, then cited."""
        max_tokens, temperature, deadline = limits
        judged = time.perf_counter()
        support = self.judge(generator, question, passages, language, "support", stop, gloss)
        if support is not None:
            timings["support_ms"] = round((time.perf_counter() - judged) * 1000, 1)
        if stop.is_set():  # the client left during the judgement
            return
        if threshold is None:
            threshold = self.settings.support_threshold or 0
        if support is not None and support < threshold:
            # Judged unanswered by the passages: no answer is written.
            yield from refusal_events(question, language, passages, timings, started, support)
            return
        quoting = self.settings.quote_first
        task = "quote" if quoting else "question"
        messages = build_messages(
            question,
            passages,
            language,
            task=task,
            quoting=quoting,
            gloss=gloss,
            read_simplified=self.settings.read_simplified,
        )
        pieces: list[str] = []
        # Text leaves a sentence at a time, each checked like the final answer.
        gate = SentenceGate(passages, language, question, self.translate)
        sent = False
        gen_started = time.perf_counter()
        reply = QuoteFirst(passages, language) if quoting else None
        write = generator.stream if reply is None else partial(reply.stream, generator)
        stream = write(
            messages,
            max_tokens=max_tokens or self.settings.max_tokens,
            temperature=self.settings.temperature if temperature is None else temperature,
            stop=stop,
        )
        for piece in stream:
            if not pieces:
                timings["ttft_ms"] = round((time.perf_counter() - gen_started) * 1000, 1)
            pieces.append(piece)
            checked = gate.feed(piece)
            if checked:
                sent = True
                yield TokenEvent(checked)
            if gate.looped:  # more of the same would follow: stop the model here
                close_stream(stream)
                break
            if time.perf_counter() > deadline:
                stop.set()
                raise GenerationTimeout(
                    f"answer took longer than {self.settings.generation_timeout_s:g} s"
                )
        timings["generate_ms"] = round((time.perf_counter() - gen_started) * 1000, 1)
        if reply is not None:
            timings["evidence_ms"] = reply.evidence_ms
            if reply.none:  # the model chose "no passage states it"
                yield from refusal_events(question, language, passages, timings, started, support)
                return
        last = gate.finish()
        if gate.retell_ms is not None:
            timings["retell_ms"] = gate.retell_ms
        # What the model wrote, each sentence in the question's language (as it came when it
        # repeated its prompt: the check on the whole reply refuses it).
        written = "".join(pieces) if gate.leaked else gate.written
        cited = postprocess(written, passages, language, question)
        citations = (
            cited.citations if reply is None else quoted_citations(cited.citations, reply.quotes)
        )
        raw = pieces if reply is None else reply.raw
        rest = cited.answer if cited.refused and not sent else "" if cited.refused else last
        if rest:
            yield TokenEvent(rest)
        timings["total_ms"] = round((time.perf_counter() - started) * 1000, 1)
        yield DoneEvent(
            AskResult(
                question=question,
                language=language,
                answer=cited.answer,
                refused=cited.refused,
                citations=citations,
                passages=passages,
                timings=timings,
                prompt_tokens=generator.count_tokens(messages),
                completion_tokens=len(raw),
                cached_tokens=generator.cached_tokens(),
                raw_answer="".join(raw),
                support=support,
                several=several,
            )
        )

    def write_alone(
        self,
        generator: Generator,
        question: str,
        passages: list[Passage],
        language: Language,
        limits: tuple[int | None, float | None, float],
        stop: threading.Event,
        timings: dict[str, float],
        started: float,
        several: float | None,
        gloss: tuple[str, str] | None = None,
    ) -> EventStream[AskEvent, None, AskResult | None]:
        """The answer from `passages` alone (the leading sentences), streamed as `write` does
        but a checked piece behind, and judged by `lead_support_threshold`. Returns its result,
        or None where it was refused before any of it was shown, so the caller can answer from
        more passages with nothing to take back."""
        threshold = max(self.settings.lead_support_threshold, self.settings.support_threshold or 0)
        events = self.write(
            generator, question, passages, language, limits, stop, timings, started, several,
            gloss, threshold,
        )  # fmt: skip
        shown = False
        held: TokenEvent | None = None  # a refusal comes as a last piece, then the result
        for event in events:
            if isinstance(event, DoneEvent):
                if event.result.refused and not shown:
                    return None
                if held is not None:
                    yield held
                return event.result
            if isinstance(event, TokenEvent):
                if held is not None:
                    shown = True
                    yield held
                held = event
        return None

    def judge(
        self,
        generator: Generator,
        question: str,
        passages: Sequence[Passage],
        language: Language,
        task: str,
        stop: threading.Event,
        gloss: tuple[str, str] | None = None,
    ) -> float | None:
        """The model's probability of "yes" to the `task` prompt over the passages (`support`:
        do they answer the question; `several`: does it ask about several events), when the
        setting for it is set and the back end can say. Every prompt over the same passages
        starts alike, so the engine's prompt cache carries the passages from one to the next."""
        setting = {
            "support": self.settings.support_threshold,
            "several": self.settings.per_document_threshold,
        }[task]
        if setting is None:
            return None
        messages = build_messages(
            question,
            passages,
            language,
            task=task,
            quoting=self.settings.quote_first,
            gloss=gloss,
            read_simplified=self.settings.read_simplified,
        )
        return yes_probability(generator, messages, stop)
