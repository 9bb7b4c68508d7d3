"""The question-answering back ends an evaluation runs against.

Either the answerer in this process or a running server, behind one `Backend` protocol, so
that everything the runner does past it is the same code for both and the two are measured
alike.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol
from urllib.parse import quote

import httpx

from eval.metrics import read_text
from ragqa.errors import Busy, ConfigError, RagqaError
from ragqa.types import RetrievalMode

if TYPE_CHECKING:
    from ragqa.config import Settings


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
    # In-process only: what the model wrote before the checks, and the chunks it was given,
    # so a dropped or refused answer can be explained without asking again.
    model_text: str = ""
    passage_ids: tuple[str, ...] = ()
    read: str | None = None  # the titles and passages the model was given, as one text
    support: float | None = None  # the model's judgement that the passages answer it
    several: float | None = None  # its judgement that the question concerns several events


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


class _Given(Protocol):
    @property
    def chunk_id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def text(self) -> str: ...


class _AskResult(Protocol):
    @property
    def answer(self) -> str: ...

    @property
    def raw_answer(self) -> str: ...

    @property
    def support(self) -> float | None: ...

    @property
    def several(self) -> float | None: ...

    @property
    def passages(self) -> Sequence[_Given]: ...

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


class AnswersInProcess(Protocol):
    """The part of `service.answering.Answerer` the runner uses."""

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


def _sharing_models(answerer: AnswersInProcess, settings: Settings) -> AnswersInProcess:
    """`service.compose.with_other_index`: the same models over another collection and index
    (the runner asks one question at a time, so the two never answer at once)."""
    from service.answering import Answerer
    from service.compose import with_other_index

    if not isinstance(answerer, Answerer):
        raise TypeError(f"cannot share the models of a {type(answerer).__name__}; pass `reopen`")
    return with_other_index(answerer, settings)


class InProcessBackend:
    """The answerer in this process. Extra documents go into a temporary copy of the
    collection with its own index, so the configured index is never touched; `reopen` gives
    the answerer over that copy."""

    def __init__(
        self,
        answerer: AnswersInProcess,
        settings: Settings,
        *,
        reopen: Callable[[AnswersInProcess, Settings], AnswersInProcess] = _sharing_models,
    ) -> None:
        self.answerer = answerer
        self.settings = settings
        self.reopen = reopen
        self.description = (
            f"in-process answerer over {settings.collection_dir} "
            f"(embedder {settings.embedder}, generator {settings.generator})"
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> InProcessBackend:
        from service.compose import build_answerer

        return cls(build_answerer(settings), settings)

    def search(
        self,
        query: str,
        *,
        top_k: int,
        mode: RetrievalMode,
        cross_lingual: bool | None,
        history: Sequence[Mapping[str, str]],
    ) -> list[Found]:
        hits = self.answerer.search(
            query,
            top_k,
            mode=mode,
            cross_lingual=cross_lingual,
            history=[dict(turn) for turn in history] or None,
        )
        return [Found(hit.doc_id, hit.text) for hit in hits]

    def ask(self, question: str, *, history: Sequence[Mapping[str, str]]) -> Answer:
        result = self.answerer.ask(question, history=[dict(turn) for turn in history])
        return Answer(
            text=result.answer,
            refused=result.refused,
            citation_docs={c.n: c.doc_id for c in result.citations},
            timings=dict(result.timings),
            prompt_tokens=result.prompt_tokens,
            completion_tokens=result.completion_tokens,
            model_text=result.raw_answer,
            passage_ids=tuple(p.chunk_id for p in result.passages),
            read=read_text(result.passages),
            support=result.support,
            several=result.several,
        )

    @contextmanager
    def with_documents(self, documents: Mapping[str, str]) -> Iterator[InProcessBackend]:
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
            planted = self.reopen(self.answerer, settings)
            yield InProcessBackend(planted, settings, reopen=self.reopen)


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
