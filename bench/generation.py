"""Section 3: time to first token and decode speed of /v1/ask vs llama.cpp alone, the KV-cache
effect, and answer accuracy against context size.

The server streams answers (SSE) from the real pipeline. llama.cpp alone is a second
`llama_cpp.Llama` over the same GGUF with the same settings (n_ctx, n_threads, n_batch, greedy),
fed the very prompt tokens the server built (same passages, same chat template). Both sides see
the same sequence of prompts, so their KV caches hold the same prefixes: the first prompt after
a reset is cold, later ones share the system prompt with the previous one, and a repeated
question shares its whole prompt.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from httpx_sse import connect_sse

from bench.process import serve_process
from bench.report import Section, Table, Target, median, ratio
from eval.metrics import summarise_answers
from eval.runner import EvalItem, PipelineBackend, evaluate_answers
from index.embedder import Embedder
from index.pipeline import build_index, expectation_for
from index.store import IndexStore
from ragqa.config import Settings
from service.answer import Passage, build_messages
from service.generation import Generator
from service.language import detect_language
from service.pipeline import LlmTranslator, RagPipeline

TTFT_TARGET = 1.1
DECODE_TARGET = 0.9


@dataclass(frozen=True)
class GenerationOptions:
    questions: int  # questions timed against llama.cpp alone
    rounds: int
    max_tokens: int  # answer length limit of the timed runs
    sweep: tuple[tuple[int, int], ...]  # (chunk_size, context_k) configurations
    sweep_questions: int


FULL = GenerationOptions(
    questions=3,
    rounds=2,
    max_tokens=64,
    sweep=((160, 2), (160, 3), (160, 4), (160, 6), (120, 4), (240, 4)),
    sweep_questions=4,
)
QUICK = GenerationOptions(
    questions=2, rounds=1, max_tokens=12, sweep=((160, 2), (240, 2)), sweep_questions=1
)


@dataclass
class Timed:
    """One answer: which cache state it met, and what it cost."""

    question: str
    cache: str  # "cold", "warm prefix" or "repeat"
    prompt_tokens: int
    ttft_ms: float  # the generator's own: prompt ready -> first piece
    decode_tps: float  # pieces per second after the first
    e2e_ttft_ms: float = float("nan")  # client: request sent -> first token event
    stages: dict[str, float] = field(default_factory=dict)


def _decode_rate(pieces: int, ttft_s: float, total_s: float) -> float:
    return (pieces - 1) / (total_s - ttft_s) if pieces > 1 and total_s > ttft_s else float("nan")


def ask_streaming(client: httpx.Client, question: str, max_tokens: int) -> dict[str, Any]:
    """POST /v1/ask with stream on; the passages, first-token time and the done payload."""
    body = {"question": question, "stream": True, "max_tokens": max_tokens}
    started = time.perf_counter()
    first_token = float("nan")
    passages: list[dict[str, Any]] = []
    done: dict[str, Any] = {}
    with connect_sse(client, "POST", "/v1/ask", json=body) as source:
        source.response.raise_for_status()
        for event in source.iter_sse():
            if event.event == "passages":
                passages = json.loads(event.data)["passages"]
            elif event.event == "token" and math.isnan(first_token):
                first_token = (time.perf_counter() - started) * 1000
            elif event.event == "done":
                done = json.loads(event.data)
            elif event.event == "error":
                raise RuntimeError(f"/v1/ask failed: {event.data}")
    return {"passages": passages, "e2e_ttft_ms": first_token, "done": done}


class DirectLlama:
    """llama.cpp alone: the GGUF loaded as the product loads it, prompts fed as tokens."""

    def __init__(self, model_path: str, settings: Settings) -> None:
        from llama_cpp import Llama
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self.llama = Llama(
            model_path=model_path,
            n_ctx=settings.n_ctx,
            n_threads=settings.n_threads,
            n_threads_batch=settings.n_threads,
            n_batch=512,
            seed=0,
            verbose=False,
        )
        vocab = self.llama._model
        self.formatter = Jinja2ChatFormatter(
            template=self.llama.metadata["tokenizer.chat_template"],
            eos_token=vocab.token_get_text(self.llama.token_eos()),
            bos_token=vocab.token_get_text(self.llama.token_bos()),
        )

    def prompt(
        self, question: str, passages: Sequence[dict[str, Any]]
    ) -> tuple[list[int], list[str]]:
        """The server's prompt for these passages, as tokens (and the template's stops)."""
        messages = build_messages(
            question, [Passage(**p) for p in passages], detect_language(question)
        )
        rendered = self.formatter(messages=list(messages))  # type: ignore[arg-type]
        tokens = self.llama.tokenize(rendered.prompt.encode("utf-8"), add_bos=False, special=True)
        stops = rendered.stop if isinstance(rendered.stop, list) else [rendered.stop or ""]
        return tokens, [s for s in stops if s]

    def complete(self, tokens: list[int], stops: list[str], max_tokens: int) -> tuple[float, float]:
        """(ms to the first piece, pieces per second after it), greedy."""
        started = time.perf_counter()
        first = 0.0
        pieces = 0
        for chunk in self.llama.create_completion(
            tokens, max_tokens=max_tokens, temperature=0.0, top_k=1, stop=stops, stream=True
        ):
            if chunk["choices"][0]["text"]:  # type: ignore[index]
                pieces += 1
                if pieces == 1:
                    first = time.perf_counter() - started
        total = time.perf_counter() - started
        return first * 1000, _decode_rate(pieces, first, total)


def _cache_state(n: int, questions: int, first_cold: bool) -> str:
    """What the n-th prompt of a pass meets in the KV cache: each question once, then the last
    one again."""
    if n == questions:
        return "repeat"
    return "cold" if n == 0 and first_cold else "warm prefix"


def _server_pass(
    client: httpx.Client, questions: Sequence[str], max_tokens: int, first_cold: bool
) -> tuple[list[Timed], dict[str, list[dict[str, Any]]]]:
    timed: list[Timed] = []
    passages: dict[str, list[dict[str, Any]]] = {}
    for n, question in enumerate([*questions, questions[-1]]):
        answer = ask_streaming(client, question, max_tokens)
        done = answer["done"]
        timings = done["timings"]
        passages[question] = answer["passages"]
        pieces = done["usage"]["completion_tokens"]
        cache = _cache_state(n, len(questions), first_cold)
        timed.append(
            Timed(
                question=question,
                cache=cache,
                prompt_tokens=done["usage"]["prompt_tokens"],
                ttft_ms=timings.get("ttft_ms", float("nan")),
                decode_tps=_decode_rate(
                    pieces, timings.get("ttft_ms", 0) / 1000, timings.get("generate_ms", 0) / 1000
                ),
                e2e_ttft_ms=answer["e2e_ttft_ms"],
                stages=timings,
            )
        )
    return timed, passages


def _direct_pass(
    direct: DirectLlama,
    questions: Sequence[str],
    passages: dict[str, list[dict[str, Any]]],
    max_tokens: int,
    first_cold: bool,
) -> tuple[list[Timed], int]:
    """The same prompts in the same order as the server's pass, so that each meets the same
    cache state on both sides (reset only where the server's is cold); and the shared prefix."""
    if first_cold:
        direct.llama.reset()
    timed = []
    previous: list[int] = []
    prefix = 0
    for n, question in enumerate([*questions, questions[-1]]):
        tokens, stops = direct.prompt(question, passages[question])
        if 0 < n < len(questions):
            prefix = next(
                (i for i, (a, b) in enumerate(zip(tokens, previous, strict=False)) if a != b), 0
            )
        previous = tokens
        ttft, rate = direct.complete(tokens, stops, max_tokens)
        cache = _cache_state(n, len(questions), first_cold)
        timed.append(Timed(question, cache, len(tokens), ttft, rate))
    return timed, prefix


def _cache_table(server: list[Timed], direct: list[Timed]) -> Table:
    table = Table(
        "Time to first token and decode: /v1/ask (streaming) vs llama.cpp alone, same prompts",
        [
            "KV cache",
            "answers",
            "prompt tokens",
            "server TTFT ms (generator)",
            "llama.cpp TTFT ms",
            "TTFT ratio",
            "server TTFT ms (end to end)",
            "server decode tok/s",
            "llama.cpp decode tok/s",
            "decode ratio",
        ],
    )
    for cache in ("cold", "warm prefix", "repeat"):
        s = [t for t in server if t.cache == cache]
        d = [t for t in direct if t.cache == cache]
        if not s or not d:
            continue
        s_ttft, d_ttft = median([t.ttft_ms for t in s]), median([t.ttft_ms for t in d])
        s_tps, d_tps = median([t.decode_tps for t in s]), median([t.decode_tps for t in d])
        table.rows.append(
            [
                cache,
                f"{len(s)} / {len(d)}",
                median([t.prompt_tokens for t in d]),
                s_ttft,
                d_ttft,
                ratio(s_ttft, d_ttft),
                median([t.e2e_ttft_ms for t in s]),
                s_tps,
                d_tps,
                ratio(s_tps, d_tps),
            ]
        )
    return table


def _stage_table(server: list[Timed]) -> Table:
    """Server-side stages of the timed answers, to show what precedes the first token."""
    stages = (
        "translate_ms",
        "embed_ms",
        "dense_ms",
        "lexical_ms",
        "retrieve_ms",
        "ttft_ms",
        "generate_ms",
        "total_ms",
    )
    table = Table("Server stages of /v1/ask (median ms)", ["KV cache", *stages])
    for cache in ("cold", "warm prefix", "repeat"):
        rows = [t.stages for t in server if t.cache == cache]
        if rows:
            table.rows.append([cache, *(median([r[s] for r in rows if s in r]) for s in stages)])
    return table


@dataclass(frozen=True)
class Models:
    """Loaded once per section: the embedder, one generator context and the translator."""

    embedder: Embedder
    generator: Generator
    translator: LlmTranslator
    model_path: str


def pipeline_for(settings: Settings, models: Models, index_dir: Path) -> RagPipeline:
    """The pipeline over the index at `index_dir` (built from the collection if missing)."""
    settings = settings.model_copy(update={"index_dir": index_dir})
    if not IndexStore.exists(index_dir):
        build_index(settings, models.embedder, progress=False)
    store = IndexStore.open(index_dir, expected=expectation_for(settings, models.embedder))
    return RagPipeline(
        settings,
        embedder=models.embedder,
        store=store,
        generators=[models.generator],
        translator=models.translator,
    )


def sweep(
    settings: Settings,
    models: Models,
    items: Sequence[EvalItem],
    work: Path,
    configs: Sequence[tuple[int, int]],
) -> Table:
    """Accuracy against chunk size and passages per prompt, through the eval runner."""
    table = Table(
        "Answer accuracy against context size (eval runner, CI subset)",
        [
            "chunk size",
            "context_k",
            "answerable",
            "accuracy",
            "mean prompt tokens",
            "mean total s",
            "accuracy per second",
        ],
    )
    for chunk_size, context_k in configs:
        config = settings.model_copy(update={"chunk_size": chunk_size, "context_k": context_k})
        pipeline = pipeline_for(config, models, work / f"index-{chunk_size}")
        for item in items:  # translations cached first, so every configuration pays alike
            pipeline.retrieve(item.question, context_k)
        rows = evaluate_answers(PipelineBackend(pipeline, config), items)
        summary = summarise_answers(rows)
        mean_seconds = sum(r.timings["total_ms"] for r in rows) / len(rows) / 1000
        accuracy = summary["accuracy"]
        table.rows.append(
            [
                chunk_size,
                context_k,
                summary["answerable"],
                accuracy,
                summary["prompt_tokens"]["mean"],
                mean_seconds,
                ratio(accuracy, mean_seconds) if accuracy is not None else None,
            ]
        )
    return table


def run_generation(
    section: Section,
    settings: Settings,
    models: Models,
    timed_items: Sequence[EvalItem],
    sweep_items: Sequence[EvalItem],
    options: GenerationOptions,
) -> Section:
    questions = [item.question for item in timed_items]
    server: list[Timed] = []
    direct_rows: list[Timed] = []
    with tempfile.TemporaryDirectory(prefix="ragqa-bench-gen-") as tmp:
        work = Path(tmp)
        index_dir = work / f"index-{settings.chunk_size}"
        pipeline_for(settings, models, index_dir)  # built here, served by the server process
        direct = DirectLlama(models.model_path, settings)
        prefix = 0
        timeout = settings.generation_timeout_s + 30
        # No preamble prefilled at start: the first prompt meets a cold cache on both sides.
        served = settings.model_copy(update={"index_dir": index_dir, "warm_prompt_cache": False})
        with (
            serve_process(served) as process,
            httpx.Client(base_url=process.base, timeout=timeout) as client,
        ):
            for round_ in range(options.rounds):
                s, passages = _server_pass(client, questions, options.max_tokens, round_ == 0)
                d, prefix = _direct_pass(
                    direct, questions, passages, options.max_tokens, round_ == 0
                )
                server += s
                direct_rows += d
        del direct
        section.tables += [_cache_table(server, direct_rows), _stage_table(server)]
        section.tables.append(sweep(settings, models, sweep_items, work, options.sweep))
    section.targets += _targets(server, direct_rows)
    section.notes += [
        f"Timed answers: {len(questions)} questions of the CI subset, {options.rounds} round(s), "
        f"max_tokens {options.max_tokens}, greedy; each round asks them in order and then the "
        "last one again ('repeat'). Both sides see the same sequence of prompts from one cold "
        "start, so every prompt meets the same cache state on both (the first is cold, a later "
        "one shares the system prompt with the one before, a repeat shares everything). "
        f"Consecutive prompts share a {prefix}-token prefix (system prompt and template).",
        "The server is `ragqa serve` in a process of its own (bench/process.py), as in "
        "production, except that it does not prefill the preamble at start "
        "(RAGQA_WARM_PROMPT_CACHE=false), so that its first prompt is cold as llama.cpp "
        "alone's is; the measuring process waits on its socket while it generates, and "
        "llama.cpp alone runs while the server is idle.",
        "Server TTFT (generator) is the pipeline's own ttft_ms (prompt tokenised -> first "
        "piece); end to end is the client's time from sending the request to the first token "
        "event, which adds query translation (cross-lingual, cached per question), retrieval "
        "and HTTP. Decode is pieces per second after the first piece (llama-cpp-python yields "
        "one piece per token, except multi-byte characters split across tokens).",
        f"Sweep: {len(sweep_items)} CI-subset question(s) per configuration through "
        "eval.runner.evaluate_answers (scored by eval.metrics); translations are cached before "
        "each configuration so none pays them; accuracy per second = accuracy / mean total s.",
    ]
    return section


def _targets(server: list[Timed], direct: list[Timed]) -> list[Target]:
    s = [t for t in server if t.cache == "warm prefix"]
    d = [t for t in direct if t.cache == "warm prefix"]
    if not s or not d:
        return []
    ttft = ratio(median([t.ttft_ms for t in s]), median([t.ttft_ms for t in d]))
    decode = ratio(median([t.decode_tps for t in s]), median([t.decode_tps for t in d]))
    return [
        Target(
            "TTFT /v1/ask vs llama.cpp alone (warm prefix)",
            f"<= {TTFT_TARGET:g}x",
            f"{ttft:.2f}x",
            ttft <= TTFT_TARGET,
            "" if ttft <= TTFT_TARGET else "see the stage table",
        ),
        Target(
            "decode /v1/ask vs llama.cpp alone",
            f">= {DECODE_TARGET:g}x",
            f"{decode:.2f}x",
            decode >= DECODE_TARGET,
            "",
        ),
    ]
