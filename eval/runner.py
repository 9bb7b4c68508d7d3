"""Runs eval sets against a question-answering back end and turns the answers into figures.

The back end is either the pipeline in this process or a running server; everything past
`Backend` is the same code for both, so the two are measured alike.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Protocol, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from eval.metrics import (
    LANGUAGES,
    QUESTION_TYPES,
    RETRIEVAL_K,
    AnswerRow,
    InjectionRow,
    RetrievalRow,
    breakdown,
    score_answer,
    score_injection,
    score_retrieval,
    summarise_answers,
    summarise_injection,
    summarise_retrieval,
)
from ragqa.errors import Busy, ConfigError, RagqaError
from ragqa.types import RETRIEVAL_MODES, Language, RetrievalMode

if TYPE_CHECKING:
    from ragqa.config import Settings

EVAL_DIR = Path(__file__).parent
DEFAULT_SET = EVAL_DIR / "sets" / "default.jsonl"
DEFAULT_INJECTION_SET = EVAL_DIR / "sets" / "injection.jsonl"
DEFAULT_THRESHOLDS = EVAL_DIR / "thresholds.toml"

T = TypeVar("T")

# --- eval sets ------------------------------------------------------------------------------


class Turn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    role: Literal["user", "assistant"]
    content: str


class EvalItem(BaseModel):
    """One question of an eval set (format: eval/FORMAT.md)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)
    question: str = Field(min_length=1)
    language: Language
    type: Literal["fact", "list", "multi_doc", "followup", "unanswerable"]
    history: list[Turn] = []
    gold_docs: list[str]
    answer_facts: list[list[str]]
    note: str = ""

    @model_validator(mode="after")
    def _gold_fits_type(self) -> EvalItem:
        answerable = self.type != "unanswerable"
        if answerable and not (self.gold_docs and self.answer_facts):
            raise ValueError(f"a {self.type!r} question needs gold_docs and answer_facts")
        if answerable and not all(self.answer_facts):
            raise ValueError("every answer_facts group needs at least one alternative")
        if not answerable and (self.gold_docs or self.answer_facts):
            raise ValueError("an unanswerable question has no gold_docs and no answer_facts")
        if self.type == "followup" and not self.history:
            raise ValueError("a followup question needs its history")
        return self


class InjectionItem(BaseModel):
    """A question asked while an instruction is planted in a document or in the question."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)
    kind: Literal["document", "question"]
    question: str = Field(min_length=1)
    language: Language
    doc_id: str = ""
    doc_text: str = ""
    gold_docs: list[str] = []
    answer_facts: list[list[str]] = []
    forbidden: list[str] = Field(min_length=1)
    history: list[Turn] = []
    note: str = ""

    @model_validator(mode="after")
    def _document_kind_has_document(self) -> InjectionItem:
        if self.kind == "document" and not (self.doc_id and self.doc_text):
            raise ValueError("a 'document' injection needs doc_id and doc_text")
        return self


Item = TypeVar("Item", EvalItem, InjectionItem)


def load_items(path: Path, item_type: type[Item]) -> list[Item]:
    """Read a JSON-lines eval set; errors name the file, the line and what is wrong."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the eval set ({error.strerror})") from error
    items: list[Item] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = item_type.model_validate(json.loads(line))
        except json.JSONDecodeError as error:
            raise ConfigError(f"{path}:{number}: not a JSON object ({error.msg})") from error
        except ValidationError as error:
            raise ConfigError(f"{path}:{number}: {error}") from error
        if item.id in seen:
            raise ConfigError(f"{path}:{number}: id {item.id!r} appears twice")
        seen.add(item.id)
        items.append(item)
    if not items:
        raise ConfigError(f"{path}: the eval set holds no questions")
    return items


def check_gold_docs(items: Iterable[EvalItem | InjectionItem], doc_ids: Iterable[str]) -> None:
    """Refuse a set whose gold documents are not in the collection (they could never be hit)."""
    known = set(doc_ids)
    unknown = sorted({(i.id, d) for i in items for d in i.gold_docs if d not in known})
    if unknown:
        listed = ", ".join(f"{item_id}: {doc}" for item_id, doc in unknown)
        raise ConfigError(
            f"gold documents not in the collection: {listed} "
            f"(collection holds: {', '.join(sorted(known))})"
        )


def collection_doc_ids(collection_dir: Path) -> list[str]:
    """Document ids of a collection folder: file paths relative to it, with `/`."""
    return sorted(
        p.relative_to(collection_dir).as_posix()
        for p in collection_dir.rglob("*")
        if p.is_file() and not p.name.startswith(".")
    )


def select_items(
    items: Sequence[Item], ids: Collection[str] | None, limit: int | None
) -> list[Item]:
    """The items whose id is in `ids` (all when None), in set order, then the first `limit`."""
    selected = [i for i in items if ids is None or i.id in ids]
    return selected[:limit] if limit is not None else selected


def parse_subset(value: str) -> list[str]:
    """A subset is a file of ids (one a line, `#` comments) or a comma-separated list."""
    path = Path(value)
    if path.is_file():
        lines = path.read_text(encoding="utf-8").splitlines()
        return [line.split("#", 1)[0].strip() for line in lines if line.split("#", 1)[0].strip()]
    return [part.strip() for part in value.split(",") if part.strip()]


# --- back ends ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Answer:
    """What the runner needs of an answer, whichever back end produced it."""

    text: str
    refused: bool
    citation_docs: dict[int, str]  # citation number -> document id
    timings: dict[str, float]
    prompt_tokens: int
    completion_tokens: int
    error: str = ""  # why no answer came (timeout, server error); the answer is then empty


class Found(NamedTuple):
    """A passage a search returned."""

    doc_id: str
    text: str


class Backend(Protocol):
    """A question-answering service, in this process or behind a URL."""

    description: str

    def search(
        self,
        query: str,
        *,
        top_k: int,
        mode: RetrievalMode,
        cross_lingual: bool | None,
        history: Sequence[Mapping[str, str]],
    ) -> list[Found]:
        """The returned passages, best first."""
        ...

    def ask(self, question: str, *, history: Sequence[Mapping[str, str]]) -> Answer: ...

    def with_documents(self, documents: Mapping[str, str]) -> AbstractContextManager[Backend]:
        """The same service with these extra documents (id -> text) indexed, until exit."""
        ...


class _Hit(Protocol):
    @property
    def doc_id(self) -> str: ...

    @property
    def text(self) -> str: ...


class _Citation(Protocol):
    @property
    def n(self) -> int: ...

    @property
    def doc_id(self) -> str: ...


class _AskResult(Protocol):
    @property
    def answer(self) -> str: ...

    @property
    def refused(self) -> bool: ...

    @property
    def citations(self) -> Sequence[_Citation]: ...

    @property
    def timings(self) -> Mapping[str, float]: ...

    @property
    def prompt_tokens(self) -> int: ...

    @property
    def completion_tokens(self) -> int: ...


class Pipeline(Protocol):
    """The part of `service.pipeline.RagPipeline` the runner uses."""

    def search(
        self,
        query: str,
        top_k: int = ...,
        *,
        mode: RetrievalMode = ...,
        cross_lingual: bool | None = ...,
        history: Sequence[dict[str, str]] | None = ...,
    ) -> Sequence[_Hit]: ...

    def ask(self, question: str, *, history: Sequence[dict[str, str]] = ...) -> _AskResult: ...


def _sharing_models(pipeline: Pipeline, settings: Settings) -> Pipeline:
    """A RagPipeline over the collection and index `settings` name, with `pipeline`'s models:
    loading them again would take minutes and hold them twice in memory. The two share their
    model contexts, so they must not answer at the same time (the runner asks one at a time)."""
    from index.pipeline import open_or_build
    from service.pipeline import RagPipeline

    if not isinstance(pipeline, RagPipeline):
        raise TypeError(f"cannot share the models of a {type(pipeline).__name__}; pass `reopen`")
    return RagPipeline(
        settings,
        embedder=pipeline.embedder,
        store=open_or_build(settings, pipeline.embedder),
        generators=pipeline.generators,
        translator=pipeline.translator,
    )


class PipelineBackend:
    """The pipeline in this process. Extra documents go into a temporary copy of the
    collection with its own index, so the configured index is never touched; `reopen` gives
    the pipeline over that copy."""

    def __init__(
        self,
        pipeline: Pipeline,
        settings: Settings,
        *,
        reopen: Callable[[Pipeline, Settings], Pipeline] = _sharing_models,
    ) -> None:
        self.pipeline = pipeline
        self.settings = settings
        self.reopen = reopen
        self.description = (
            f"in-process pipeline over {settings.collection_dir} "
            f"(embedder {settings.embedder}, generator {settings.generator})"
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> PipelineBackend:
        from service.pipeline import RagPipeline

        return cls(RagPipeline.from_settings(settings), settings)

    def search(
        self,
        query: str,
        *,
        top_k: int,
        mode: RetrievalMode,
        cross_lingual: bool | None,
        history: Sequence[Mapping[str, str]],
    ) -> list[Found]:
        hits = self.pipeline.search(
            query,
            top_k,
            mode=mode,
            cross_lingual=cross_lingual,
            history=[dict(turn) for turn in history] or None,
        )
        return [Found(hit.doc_id, hit.text) for hit in hits]

    def ask(self, question: str, *, history: Sequence[Mapping[str, str]]) -> Answer:
        result = self.pipeline.ask(question, history=[dict(turn) for turn in history])
        return Answer(
            text=result.answer,
            refused=result.refused,
            citation_docs={c.n: c.doc_id for c in result.citations},
            timings=dict(result.timings),
            prompt_tokens=result.prompt_tokens,
            completion_tokens=result.completion_tokens,
        )

    @contextmanager
    def with_documents(self, documents: Mapping[str, str]) -> Iterator[PipelineBackend]:
        with tempfile.TemporaryDirectory(prefix="ragqa-eval-") as tmp:
            collection = Path(tmp) / "collection"
            shutil.copytree(self.settings.collection_dir, collection)
            for doc_id, text in documents.items():
                path = collection / doc_id
                if path.exists():
                    raise ConfigError(
                        f"injection document {doc_id!r} would replace a document of "
                        f"{self.settings.collection_dir}; give it another doc_id"
                    )
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
            settings = self.settings.model_copy(
                update={"collection_dir": collection, "index_dir": Path(tmp) / "index"}
            )
            planted = self.reopen(self.pipeline, settings)
            yield PipelineBackend(planted, settings, reopen=self.reopen)


class HttpBackend:
    """A running ragqa server. 503/429 answers are retried after their Retry-After."""

    def __init__(
        self, client: httpx.Client, *, api_key: str | None = None, max_retries: int = 5
    ) -> None:
        self.client = client
        self.api_key = api_key
        self.max_retries = max_retries
        self.description = f"server at {client.base_url}"

    @classmethod
    def connect(cls, url: str, *, api_key: str | None, timeout_s: float) -> HttpBackend:
        return cls(httpx.Client(base_url=url, timeout=timeout_s), api_key=api_key)

    def _call(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        for _ in range(self.max_retries + 1):
            try:
                response = self.client.request(method, path, json=body, headers=headers)
            except httpx.HTTPError as error:
                raise RagqaError(f"{method} {self.client.base_url}{path}: {error}") from error
            if response.status_code not in (429, 503):
                break
            time.sleep(float(response.headers.get("Retry-After", "5")))
        else:
            raise Busy(int(response.headers.get("Retry-After", "5")))
        if response.is_error:
            raise RagqaError(
                f"{method} {self.client.base_url}{path} answered {response.status_code}: "
                f"{response.text[:300]}"
            )
        return response.json() if response.content else None

    def search(
        self,
        query: str,
        *,
        top_k: int,
        mode: RetrievalMode,
        cross_lingual: bool | None,
        history: Sequence[Mapping[str, str]],
    ) -> list[Found]:
        # Unset: translate, as /v1/ask retrieves by default (search only translates when asked).
        xl = True if cross_lingual is None else cross_lingual
        body: dict[str, Any] = {"query": query, "top_k": top_k, "mode": mode, "cross_lingual": xl}
        if history:
            body["history"] = [dict(turn) for turn in history]
        results = self._call("POST", "/v1/search", body)["results"]
        return [Found(hit["doc_id"], hit["text"]) for hit in results]

    def ask(self, question: str, *, history: Sequence[Mapping[str, str]]) -> Answer:
        body: dict[str, Any] = {"question": question}
        if history:
            body["history"] = [dict(turn) for turn in history]
        data = self._call("POST", "/v1/ask", body)
        usage = data.get("usage") or {}
        return Answer(
            text=data["answer"],
            refused=bool(data["refused"]),
            citation_docs={int(c["n"]): c["doc_id"] for c in data.get("citations", [])},
            timings={k: float(v) for k, v in (data.get("timings") or {}).items()},
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
        )

    @contextmanager
    def with_documents(self, documents: Mapping[str, str]) -> Iterator[HttpBackend]:
        uploaded: list[str] = []
        try:
            for doc_id, text in documents.items():
                self._call("POST", "/v1/documents", {"doc_id": doc_id, "text": text})
                uploaded.append(doc_id)
            yield self
        finally:
            for doc_id in uploaded:
                self._call("DELETE", f"/v1/documents/{quote(doc_id, safe='')}")


# --- running --------------------------------------------------------------------------------


class Track(Protocol):
    """Progress display: iterates the items while showing `description` (rich's `track`)."""

    def __call__(self, items: Sequence[T], description: str) -> Iterable[T]: ...


def no_progress(items: Sequence[T], description: str) -> Iterable[T]:
    return items


def _history(item: EvalItem | InjectionItem) -> list[dict[str, str]]:
    return [turn.model_dump() for turn in item.history]


def retrieval_row(
    item: EvalItem, search: Callable[[EvalItem], Sequence[Found]], *, context_k: int
) -> RetrievalRow:
    """Score the passages `search` gives for `item`, timed around the search alone, so that
    any engine (bench.peer's too) is measured as ragqa is. Documents are ranked from the first
    RETRIEVAL_K passages; the answer facts are looked for in the first `context_k`, the
    passages an answer is written from."""
    started = time.perf_counter()
    found = search(item)
    latency_ms = (time.perf_counter() - started) * 1000
    return score_retrieval(
        id=item.id,
        language=item.language,
        type=item.type,
        question=item.question,
        gold_docs=item.gold_docs,
        hit_doc_ids=[f.doc_id for f in found[:RETRIEVAL_K]],
        answer_facts=item.answer_facts,
        context="\n".join(f.text for f in found[:context_k]),
        latency_ms=latency_ms,
    )


def evaluate_retrieval(
    backend: Backend,
    items: Sequence[EvalItem],
    *,
    mode: RetrievalMode = "hybrid",
    cross_lingual: bool | None = None,
    context_k: int = RETRIEVAL_K,
    track: Track = no_progress,
) -> list[RetrievalRow]:
    """Search every answerable question (follow-ups with their history) and score the ranking
    and whether the first `context_k` passages hold the answer."""

    def search(item: EvalItem) -> list[Found]:
        return backend.search(
            item.question,
            top_k=max(RETRIEVAL_K, context_k),
            mode=mode,
            cross_lingual=cross_lingual,
            history=_history(item),
        )

    scored = [item for item in items if item.gold_docs]
    label = f"retrieval {mode}" + ("" if cross_lingual is None else f" xl={cross_lingual}")
    return [retrieval_row(item, search, context_k=context_k) for item in track(scored, label)]


def ask_or_record(backend: Backend, item: EvalItem | InjectionItem) -> Answer:
    """Ask; a question that fails (time limit, server error) is kept as an empty answer with
    its error, so one slow answer does not throw away an hour of evaluation."""
    try:
        return backend.ask(item.question, history=_history(item))
    except ConfigError:
        raise
    except RagqaError as error:
        return Answer("", False, {}, {}, 0, 0, error=f"{type(error).__name__}: {error}")


def answer_row(item: EvalItem, answer: Answer) -> AnswerRow:
    """Score `answer` to `item`, whoever gave it (bench.peer scores LlamaIndex's here too)."""
    return score_answer(
        id=item.id,
        language=item.language,
        type=item.type,
        question=item.question,
        gold_docs=item.gold_docs,
        answer_facts=item.answer_facts,
        answer=answer.text,
        refused=answer.refused,
        citation_docs=answer.citation_docs,
        timings=answer.timings,
        prompt_tokens=answer.prompt_tokens,
        completion_tokens=answer.completion_tokens,
        error=answer.error,
    )


def evaluate_answers(
    backend: Backend, items: Sequence[EvalItem], *, track: Track = no_progress
) -> list[AnswerRow]:
    return [answer_row(item, ask_or_record(backend, item)) for item in track(items, "answers")]


def evaluate_injection(
    backend: Backend, items: Sequence[InjectionItem], *, track: Track = no_progress
) -> list[InjectionRow]:
    """Ask every injection question; planted documents are all indexed together, once."""

    def ask_all(target: Backend, batch: Sequence[InjectionItem], label: str) -> list[InjectionRow]:
        rows = []
        for item in track(batch, label):
            answer = ask_or_record(target, item)
            rows.append(
                score_injection(
                    id=item.id,
                    kind=item.kind,
                    language=item.language,
                    question=item.question,
                    answer=answer.text,
                    refused=answer.refused,
                    forbidden=item.forbidden,
                    answer_facts=item.answer_facts,
                    error=answer.error,
                )
            )
        return rows

    in_question = [i for i in items if i.kind == "question"]
    in_document = [i for i in items if i.kind == "document"]
    rows = ask_all(backend, in_question, "injection (question)") if in_question else []
    if in_document:
        with backend.with_documents({i.doc_id: i.doc_text for i in in_document}) as planted:
            rows += ask_all(planted, in_document, "injection (document)")
    order = {item.id: n for n, item in enumerate(items)}
    return sorted(rows, key=lambda row: order[row.id])


def compare_modes(
    backend: Backend,
    items: Sequence[EvalItem],
    *,
    context_k: int = RETRIEVAL_K,
    track: Track = no_progress,
) -> list[dict[str, Any]]:
    """Retrieval figures for each mode with cross-lingual expansion on and off."""
    comparison = []
    for mode in RETRIEVAL_MODES:
        for cross_lingual in (False, True):
            rows = evaluate_retrieval(
                backend,
                items,
                mode=mode,
                cross_lingual=cross_lingual,
                context_k=context_k,
                track=track,
            )
            figures = breakdown(rows, summarise_retrieval, {"language": LANGUAGES})
            comparison.append({"mode": mode, "cross_lingual": cross_lingual, **figures})
    return comparison


@dataclass(slots=True)
class EvalRun:
    """Everything one evaluation produced: per-question rows, the summary, and what was run."""

    meta: dict[str, Any]
    retrieval: list[RetrievalRow] = field(default_factory=list)
    answers: list[AnswerRow] = field(default_factory=list)
    injection: list[InjectionRow] = field(default_factory=list)
    modes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def summary(self) -> dict[str, Any]:
        """Figures by section; a section this run did not evaluate is absent."""
        by = {"language": LANGUAGES, "type": QUESTION_TYPES}
        summary: dict[str, Any] = {}
        if self.retrieval:
            summary["retrieval"] = breakdown(self.retrieval, summarise_retrieval, by)
        if self.modes:
            summary["retrieval_modes"] = self.modes
        if self.answers:
            summary["answer"] = breakdown(self.answers, summarise_answers, by)
        if self.injection:
            summary["injection"] = breakdown(
                self.injection,
                summarise_injection,
                {"language": LANGUAGES, "kind": ("document", "question")},
            )
        return summary

    def to_json(self) -> dict[str, Any]:
        return {
            "meta": self.meta,
            "summary": self.summary,
            "rows": {
                "retrieval": [asdict(r) for r in self.retrieval],
                "answer": [asdict(r) for r in self.answers],
                "injection": [asdict(r) for r in self.injection],
            },
        }


def run_evaluation(
    backend: Backend,
    items: Sequence[EvalItem],
    *,
    answer_items: Sequence[EvalItem] = (),
    injection_items: Sequence[InjectionItem] = (),
    modes: bool = True,
    context_k: int = RETRIEVAL_K,
    track: Track = no_progress,
    meta: Mapping[str, Any] | None = None,
) -> EvalRun:
    """Retrieval over `items` (and the mode comparison), answers for `answer_items`,
    injection attempts for `injection_items`. `context_k` is how many passages the answers
    are written from (the service's RAGQA_CONTEXT_K)."""
    started = time.time()
    run = EvalRun(meta={"backend": backend.description, "context_k": context_k, **(meta or {})})
    run.retrieval = evaluate_retrieval(backend, items, context_k=context_k, track=track)
    if modes:
        run.modes = compare_modes(backend, items, context_k=context_k, track=track)
    if answer_items:
        run.answers = evaluate_answers(backend, answer_items, track=track)
    if injection_items:
        run.injection = evaluate_injection(backend, injection_items, track=track)
    run.meta["started"] = time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started))
    run.meta["duration_s"] = round(time.time() - started, 1)
    return run
