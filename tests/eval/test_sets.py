"""Guards for the bundled evaluation sets: schema, coverage, and facts that really are in the text.

The sets are hand-written; these checks keep a typo or an invented fact from silently turning
into a question that no correct system can pass (see eval/FORMAT.md for the format).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from functools import cache
from pathlib import Path

import opencc
import pytest

from eval.items import EvalItem, InjectionItem, Item, load_items
from ragqa.errors import ConfigError
from ragqa.types import Language

REPO_ROOT = Path(__file__).resolve().parents[2]
CORPUS_DIR = REPO_ROOT / "corpus"
DEFAULT_SET = REPO_ROOT / "eval" / "sets" / "default.jsonl"
INJECTION_SET = REPO_ROOT / "eval" / "sets" / "injection.jsonl"
QA_HELDOUT_SETS = [
    REPO_ROOT / "eval" / "sets" / name for name in ("heldout.jsonl", "heldout2.jsonl")
]
INJECTION_HELDOUT_SET = REPO_ROOT / "eval" / "sets" / "injection_heldout.jsonl"
INJECTION_CI_SUBSET = REPO_ROOT / "eval" / "sets" / "injection_ci_subset.txt"

_T2S = opencc.OpenCC("t2s")
_GLUED_PINYIN = re.compile(r"\([a-zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜü]+\)")
_WHITESPACE = re.compile(r"\s+")
_CJK = re.compile(r"[\u4e00-\u9fff]")


def normalise(text: str) -> str:
    """Compare across scripts, widths, case, spacing and the glued pinyin of damaged files."""
    folded = unicodedata.normalize("NFKC", _T2S.convert(text)).lower()
    return _WHITESPACE.sub("", _GLUED_PINYIN.sub("", folded))


def _parse(path: Path, item_type: type[Item]) -> list[Item]:
    """The set read as `ragqa eval` reads it: a bad line fails with its file and number."""
    try:
        return load_items(path, item_type)
    except ConfigError as error:
        pytest.fail(str(error))


@cache
def default_items() -> tuple[EvalItem, ...]:
    return tuple(_parse(DEFAULT_SET, EvalItem))


@cache
def heldout_items() -> tuple[EvalItem, ...]:
    """Questions written from the documents without reading the default set (the second set
    without reading the first either), never tuned on."""
    return tuple(item for path in QA_HELDOUT_SETS for item in _parse(path, EvalItem))


QA_SETS = {"default": default_items, "heldout": heldout_items}


@cache
def injection_items() -> tuple[InjectionItem, ...]:
    """The tuned set and the held-out set: both follow the same rules."""
    return (*tuned_injection_items(), *heldout_injection_items())


@cache
def tuned_injection_items() -> tuple[InjectionItem, ...]:
    return tuple(_parse(INJECTION_SET, InjectionItem))


@cache
def heldout_injection_items() -> tuple[InjectionItem, ...]:
    return tuple(_parse(INJECTION_HELDOUT_SET, InjectionItem))


@cache
def corpus_texts() -> dict[str, str]:
    """Normalised text of every bundled document, keyed by document id."""
    return {
        path.name: normalise(path.read_text(encoding="utf-8"))
        for path in sorted(CORPUS_DIR.glob("*.txt"))
    }


def document_script(doc_id: str) -> Language:
    """The script a document is written in, read from its text rather than hard-coded."""
    raw = (CORPUS_DIR / doc_id).read_text(encoding="utf-8")
    han = _CJK.findall(raw)
    if len(han) < len(raw) / 10:
        return "en"
    changed = sum(1 for char in han if _T2S.convert(char) != char)
    return "zh-Hant" if changed > len(han) / 20 else "zh-Hans"


def question_script(text: str) -> Language:
    if not _CJK.search(text):
        return "en"
    return "zh-Hans" if _T2S.convert(text) == text else "zh-Hant"


def is_answerable(item: EvalItem) -> bool:
    return item.type != "unanswerable"


def ungrounded_groups(facts: list[list[str]], texts: list[str]) -> list[list[str]]:
    """Fact groups none of whose alternatives occurs in any of the given (normalised) texts."""
    return [
        group
        for group in facts
        if not any(normalise(alternative) in text for alternative in group for text in texts)
    ]


# --- both sets ------------------------------------------------------------------------------


def test_ids_are_unique_across_each_set() -> None:
    for name, ids in (
        ("default", [item.id for item in default_items()]),
        ("heldout", [item.id for item in heldout_items()]),
        ("question sets", [item.id for item in (*default_items(), *heldout_items())]),
        ("injection", [item.id for item in injection_items()]),
    ):
        duplicates = [key for key, count in Counter(ids).items() if count > 1]
        assert not duplicates, f"{name}.jsonl has duplicate ids: {duplicates}"


def test_gold_docs_are_documents_of_the_bundled_collection() -> None:
    known = set(corpus_texts())
    qa_items = (*default_items(), *heldout_items())
    gold = [(item.id, doc) for item in qa_items for doc in item.gold_docs]
    gold += [
        (item.id, doc)
        for item in injection_items()
        if item.kind == "question"
        for doc in item.gold_docs
    ]
    unknown = [(item_id, doc) for item_id, doc in gold if doc not in known]
    assert not unknown, f"unknown gold_docs {unknown}; valid ids: {sorted(known)}"


def test_language_label_matches_the_script_of_the_question() -> None:
    questions = [
        (item.id, item.language, item.question) for item in (*default_items(), *heldout_items())
    ]
    questions += [(item.id, item.language, item.question) for item in injection_items()]
    wrong = [
        (item_id, label, question_script(text))
        for item_id, label, text in questions
        if question_script(text) != label
    ]
    assert not wrong, f"(id, label, detected script): {wrong}"


# --- question sets (default and held out) ---------------------------------------------------


@pytest.mark.parametrize("name", QA_SETS)
def test_answerable_items_have_gold_docs_and_facts_and_unanswerable_have_neither(name: str) -> None:
    for item in QA_SETS[name]():
        if is_answerable(item):
            assert item.gold_docs and item.answer_facts, f"{item.id} lacks gold_docs or facts"
        else:
            assert item.gold_docs == [] and item.answer_facts == [], f"{item.id} has an answer"


@pytest.mark.parametrize("name", QA_SETS)
def test_history_only_on_followups_and_ends_with_an_assistant_answer(name: str) -> None:
    for item in QA_SETS[name]():
        roles = [turn.role for turn in item.history]
        if item.type == "followup":
            assert len(roles) >= 2, f"{item.id}: a followup needs an earlier exchange"
            assert roles[::2] == ["user"] * len(roles[::2]), f"{item.id}: turns must alternate"
            assert roles[1::2] == ["assistant"] * len(roles[1::2]), f"{item.id}: alternate"
            assert roles[-1] == "assistant", f"{item.id}: history must end with the answer"
        else:
            assert not roles, f"{item.id}: only followups carry history"


@pytest.mark.parametrize("name", QA_SETS)
def test_multi_doc_items_need_several_documents(name: str) -> None:
    for item in QA_SETS[name]():
        if item.type == "multi_doc":
            assert len(set(item.gold_docs)) >= 2, f"{item.id} names fewer than 2 documents"


@pytest.mark.parametrize("name", QA_SETS)
def test_every_fact_group_occurs_in_a_gold_document(name: str) -> None:
    texts = corpus_texts()
    missing = {
        item.id: groups
        for item in QA_SETS[name]()
        if (groups := ungrounded_groups(item.answer_facts, [texts[d] for d in item.gold_docs]))
    }
    assert not missing, f"fact groups found in no gold document: {missing}"


@pytest.mark.parametrize("name", QA_SETS)
def test_every_gold_document_is_needed_for_multi_doc_items(name: str) -> None:
    """Each listed document must hold at least one fact group, or it is not really gold."""
    texts = corpus_texts()
    for item in QA_SETS[name]():
        if item.type != "multi_doc":
            continue
        for doc in item.gold_docs:
            assert len(ungrounded_groups(item.answer_facts, [texts[doc]])) < len(
                item.answer_facts
            ), f"{item.id}: no fact group comes from {doc}"


def test_default_set_meets_the_coverage_minimums() -> None:
    items = default_items()
    answerable = [item for item in items if is_answerable(item)]
    languages = Counter(item.language for item in items)
    types = Counter(item.type for item in items)
    per_doc = Counter(doc for item in answerable for doc in item.gold_docs)
    scripts = {doc: document_script(doc) for doc in corpus_texts()}

    def count(question_language: set[str], doc_scripts: set[str]) -> int:
        return sum(
            1
            for item in answerable
            if item.language in question_language
            and any(scripts[doc] in doc_scripts for doc in item.gold_docs)
        )

    assert len(items) >= 72
    assert {doc: per_doc[doc] for doc in scripts if per_doc[doc] < 10} == {}
    assert languages["zh-Hans"] >= 20 and languages["zh-Hant"] >= 15 and languages["en"] >= 20
    assert types["list"] >= 6 and types["multi_doc"] >= 6
    assert types["followup"] >= 8 and types["unanswerable"] >= 14
    assert count({"en"}, {"zh-Hans", "zh-Hant"}) >= 8
    assert count({"zh-Hans", "zh-Hant"}, {"en"}) >= 6
    assert count({"zh-Hant"}, {"zh-Hans"}) >= 1 and count({"zh-Hans"}, {"zh-Hant"}) >= 1
    unanswerable_languages = {item.language for item in items if not is_answerable(item)}
    assert unanswerable_languages == {"zh-Hans", "zh-Hant", "en"}


# --- injection set --------------------------------------------------------------------------


def test_injection_set_mixes_kinds_and_languages() -> None:
    for items, minimum in ((tuned_injection_items(), 60), (heldout_injection_items(), 12)):
        assert len(items) >= minimum
        assert {item.kind for item in items} == {"document", "question"}
        assert {item.language for item in items} == {"zh-Hans", "zh-Hant", "en"}
    ids = [item.id for item in injection_items()]
    assert len(ids) == len(set(ids)), "ids must be unique across the tuned and held-out sets"
    texts: dict[str, str] = {}
    for item in injection_items():
        if item.kind == "document":
            assert re.fullmatch(r"inj_(?:\d{3}|[a-z]+)\.txt", item.doc_id), item.doc_id
            assert not item.gold_docs, f"{item.id}: a planted document's question has no gold"
            text = texts.setdefault(item.doc_id, item.doc_text)
            assert text == item.doc_text, f"{item.id}: {item.doc_id} planted with another text"
    assert not set(texts) & set(corpus_texts()), "injected doc_ids collide with the corpus"


def test_injection_ci_subset_names_items_of_the_tuned_set() -> None:
    ids = [line.split("#")[0].strip() for line in INJECTION_CI_SUBSET.read_text().splitlines()]
    ids = [i for i in ids if i]
    assert 8 <= len(ids) <= 12
    assert set(ids) <= {item.id for item in tuned_injection_items()}


def test_injected_documents_hold_the_fact_and_the_injection() -> None:
    for item in injection_items():
        if item.kind != "document":
            continue
        text = normalise(item.doc_text)
        assert not ungrounded_groups(item.answer_facts, [text]), f"{item.id}: fact not in text"
        assert any(normalise(word) in text for word in item.forbidden), (
            f"{item.id}: the document never asks for any forbidden string {item.forbidden}"
        )


def test_injected_questions_are_grounded_when_they_ask_something_real() -> None:
    texts = corpus_texts()
    for item in injection_items():
        if item.kind == "question":
            assert bool(item.gold_docs) == bool(item.answer_facts), f"{item.id}: docs xor facts"
            gold = [texts[doc] for doc in item.gold_docs]
            assert not ungrounded_groups(item.answer_facts, gold), f"{item.id}: fact not in docs"


def test_a_faithful_answer_cannot_contain_a_forbidden_string() -> None:
    """Forbidden strings must not be part of the real answer or of the documents it quotes."""
    texts = corpus_texts()
    for item in injection_items():
        alternatives = [normalise(a) for group in item.answer_facts for a in group]
        gold_docs = item.gold_docs if item.kind == "question" else []
        quotable = [texts[doc] for doc in gold_docs]
        for word in map(normalise, item.forbidden):
            assert not any(word in a for a in alternatives), f"{item.id}: {word} in a fact"
            assert not any(word in text for text in quotable), f"{item.id}: {word} in a doc"
