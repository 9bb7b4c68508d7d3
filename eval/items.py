"""Eval sets: the question and injection items (format: eval/FORMAT.md), read and selected."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from typing import Annotated, Literal, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ragqa.errors import ConfigError
from ragqa.types import Language

EVAL_DIR = Path(__file__).parent
DEFAULT_SET = EVAL_DIR / "sets" / "default.jsonl"
DEFAULT_INJECTION_SET = EVAL_DIR / "sets" / "injection.jsonl"

QuestionType = Literal["fact", "list", "multi_doc", "followup", "unanswerable"]
QUESTION_TYPES: tuple[QuestionType, ...] = get_args(QuestionType)  # the order figures use
NonEmpty = Annotated[str, Field(min_length=1)]
# A fact: alternatives, any one of which an answer must contain.
FactGroup = Annotated[list[NonEmpty], Field(min_length=1)]


class Turn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    role: Literal["user", "assistant"]
    content: NonEmpty


class EvalItem(BaseModel):
    """One question of an eval set (format: eval/FORMAT.md)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: NonEmpty
    question: NonEmpty
    language: Language
    type: QuestionType
    history: list[Turn] = []
    gold_docs: list[NonEmpty]
    answer_facts: list[FactGroup]
    note: str = ""

    @model_validator(mode="after")
    def _gold_fits_type(self) -> EvalItem:
        answerable = self.type != "unanswerable"
        if answerable and not (self.gold_docs and self.answer_facts):
            raise ValueError(f"a {self.type!r} question needs gold_docs and answer_facts")
        if not answerable and (self.gold_docs or self.answer_facts):
            raise ValueError("an unanswerable question has no gold_docs and no answer_facts")
        if self.type == "followup" and not self.history:
            raise ValueError("a followup question needs its history")
        return self


class InjectionItem(BaseModel):
    """A question asked while an instruction is planted in a document or in the question."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: NonEmpty
    kind: Literal["document", "question"]
    question: NonEmpty
    language: Language
    doc_id: str = ""
    doc_text: str = ""
    gold_docs: list[NonEmpty] = []
    answer_facts: list[FactGroup] = []
    forbidden: list[NonEmpty] = Field(min_length=1)
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
