"""Every evaluation figure on tiny cases whose values were worked out by hand."""

from __future__ import annotations

import math
import tomllib
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eval.metrics import (
    AnswerRow,
    RetrievalRow,
    cited_numbers,
    distinct_documents,
    hit_at_k,
    missing_fact_groups,
    ndcg_at_k,
    normalise_for_matching,
    raw_text_damage,
    recall_at_k,
    reciprocal_rank,
    score_answer,
    score_injection,
    score_retrieval,
)
from eval.summary import (
    breakdown,
    percentile,
    several_sweep,
    summarise_answers,
    summarise_retrieval,
    support_sweep,
)
from eval.thresholds import DEFAULT_THRESHOLDS, check_thresholds

# --- retrieval ----------------------------------------------------------------------------


def test_chunks_collapse_to_documents_at_their_best_chunk() -> None:
    assert distinct_documents(["a", "a", "b", "a", "c", "b"]) == ["a", "b", "c"]


def test_hit_at_k() -> None:
    assert not hit_at_k(["a", "b", "c"], {"c"}, 2)
    assert hit_at_k(["a", "b", "c"], {"c"}, 3)


def test_reciprocal_rank_is_one_over_first_gold_rank() -> None:
    assert reciprocal_rank(["a", "b", "c", "d"], {"c", "d"}) == pytest.approx(1 / 3)
    assert reciprocal_rank(["a", "b"], {"z"}) == 0.0


def test_ndcg_two_gold_at_ranks_one_and_three() -> None:
    # DCG = 1/log2(2) + 1/log2(4) = 1.5; ideal = 1 + 1/log2(3) = 1.6309...
    assert ndcg_at_k(["g1", "x", "g2", "y"], {"g1", "g2"}, 5) == pytest.approx(
        1.5 / (1 + 1 / math.log2(3))
    )


def test_ndcg_single_gold_at_rank_two() -> None:
    assert ndcg_at_k(["x", "g"], {"g"}, 5) == pytest.approx(1 / math.log2(3))


def test_ndcg_ideal_is_capped_at_k_gold_documents() -> None:
    gold = {f"g{i}" for i in range(7)}
    assert ndcg_at_k([f"g{i}" for i in range(5)], gold, 5) == pytest.approx(1.0)


def test_ndcg_ignores_gold_beyond_k() -> None:
    assert ndcg_at_k(["a", "b", "c", "d", "e", "g"], {"g"}, 5) == 0.0


def test_recall_at_k() -> None:
    assert recall_at_k(["a", "g1", "b", "c", "d", "g2"], {"g1", "g2"}, 5) == 0.5


def test_score_retrieval_scores_documents_not_chunks() -> None:
    row = score_retrieval(
        id="q",
        language="en",
        type="fact",
        question="?",
        gold_docs=["b"],
        hit_doc_ids=["a", "a", "a", "b", "c"],
        answer_facts=[],
        context="",
        latency_ms=3.0,
    )
    assert row.ranking == ["a", "b", "c"]
    assert (row.hit_at_1, row.hit_at_5, row.reciprocal_rank) == (False, True, 0.5)
    assert row.ndcg_at_5 == pytest.approx(1 / math.log2(3))


rankings = st.lists(st.sampled_from("abcdefgh"), max_size=12).map(distinct_documents)
gold_sets = st.sets(st.sampled_from("abcdefgh"), min_size=1, max_size=4)


@given(rankings, gold_sets)
def test_retrieval_figures_are_consistent(ranking: list[str], gold: set[str]) -> None:
    ndcg = ndcg_at_k(ranking, gold, 5)
    assert 0.0 <= ndcg <= 1.0 + 1e-9
    assert (ndcg > 0) == hit_at_k(ranking, gold, 5)
    assert hit_at_k(ranking, gold, 1) <= hit_at_k(ranking, gold, 5)
    assert (reciprocal_rank(ranking[:5], gold) >= 1 / 5) == hit_at_k(ranking, gold, 5)
    perfect = sorted(ranking, key=lambda doc: doc not in gold)
    assert ndcg_at_k(perfect, gold, 5) >= ndcg - 1e-9


@pytest.mark.parametrize(
    ("context", "facts_in_context"),
    [
        ("會議在太原舉辦，共有300人參加。", True),  # either script, any group alternative
        ("会议在太原举办。", False),  # the number group is missing
        ("", False),
    ],
)
def test_facts_in_context_needs_every_fact_group_in_the_passages(
    context: str, facts_in_context: bool
) -> None:
    row = score_retrieval(
        id="q",
        language="zh-Hans",
        type="fact",
        question="?",
        gold_docs=["a"],
        hit_doc_ids=["a"],
        answer_facts=[["太原", "Taiyuan"], ["300", "三百"]],
        context=context,
        latency_ms=1.0,
    )
    assert row.facts_in_context is facts_in_context
    assert summarise_retrieval([row])["facts_in_context"] == float(facts_in_context)


def test_multi_doc_recall_counts_only_multi_doc_questions() -> None:
    def row(type_: str, ranking: list[str], gold: list[str]) -> RetrievalRow:
        return score_retrieval(
            id=type_,
            language="en",
            type=type_,
            question="?",
            gold_docs=gold,
            hit_doc_ids=ranking,
            answer_facts=[],
            context="",
            latency_ms=1.0,
        )

    rows = [row("fact", ["x"], ["a"]), row("multi_doc", ["a", "x", "c"], ["a", "b"])]
    summary = summarise_retrieval(rows)
    assert summary["multi_doc_recall_at_5"] == 0.5
    assert summary["hit_at_5"] == 0.5
    assert summary["mrr"] == 0.5
    assert summarise_retrieval(rows[:1])["multi_doc_recall_at_5"] is None


# --- answers ------------------------------------------------------------------------------


def test_traditional_answer_matches_simplified_fact() -> None:
    answer = "會議在太原舉辦，由山西醫科大學主辦。"
    assert missing_fact_groups(answer, [["太原"], ["医科大学"]]) == []


def test_normalisation_folds_width_case_and_whitespace() -> None:
    folded = normalise_for_matching("２０２３ 年\tTsingHua")
    assert folded == normalise_for_matching("2023年tsinghua")


def test_every_group_needed_any_alternative_enough() -> None:
    groups = [["清华", "Tsinghua"], ["150"]]
    assert missing_fact_groups("He is from Tsinghua University; 150 attended.", groups) == []
    assert missing_fact_groups("He is from Tsinghua University.", groups) == [["150"]]


def test_citation_markers_in_order_of_first_use() -> None:
    assert cited_numbers("A [2] b [1][3], c [2, 4] d [5，6]。") == [2, 1, 3, 4, 5, 6]
    assert cited_numbers("no markers, [x] or [] here") == []


def test_citation_markers_are_read_as_the_answer_reads_them() -> None:
    """Full-width brackets and ranges are markers (the answer's parser renumbers them); a
    bracketed year is text."""
    assert cited_numbers("A【2】b [1-3], c [ 4 ] in [2023].") == [2, 1, 3, 4]


def test_raw_text_damage_finds_glued_pinyin_and_doubled_punctuation() -> None:
    assert raw_text_damage("山西醫(yī)科大學主辦,。中華醫學會,,") == ["醫(yī)", ",。", ",,"]
    assert raw_text_damage("醫學會，，主辦") == ["，，"]


def test_raw_text_damage_leaves_clean_text_alone() -> None:
    assert raw_text_damage("Held in Taiyuan (Shanxi), with 1,000 guests. 太原（山西）举办。") == []


def _answer(
    type_: str = "fact",
    answer: str = "",
    refused: bool = False,
    citations: dict[int, str] | None = None,
    gold: tuple[str, ...] = ("d1",),
    facts: tuple[tuple[str, ...], ...] = (("太原",),),
    language: str = "zh-Hans",
    timings: dict[str, float] | None = None,
    read: str | None = None,
) -> AnswerRow:
    unanswerable = type_ == "unanswerable"
    return score_answer(
        id=answer,
        language=language,
        type=type_,
        question="?",
        gold_docs=[] if unanswerable else list(gold),
        answer_facts=[] if unanswerable else [list(g) for g in facts],
        answer=answer,
        refused=refused,
        citation_docs=citations or {},
        timings=timings or {"total_ms": 100.0},
        prompt_tokens=100,
        completion_tokens=10,
        read=read,
    )


def test_score_answer_resolves_citations() -> None:
    row = _answer(answer="在太原 [1][3]。", citations={1: "d1", 2: "d2"})
    assert row.correct is True
    assert row.cited == [1, 3]
    assert row.unresolved_citations == [3]
    assert row.cited_docs == ["d1"]


def test_refused_answerable_question_is_not_correct_even_if_facts_appear() -> None:
    assert _answer(answer="资料没有提到太原以外的信息", refused=True).correct is False


def test_unanswerable_question_has_no_accuracy() -> None:
    assert _answer("unanswerable", answer="资料中没有答案", refused=True).correct is None


def test_summarise_answers_by_hand() -> None:
    rows = [
        _answer(answer="在太原 [1]", citations={1: "d1", 2: "d9"}),  # correct, cites gold
        _answer(answer="在北京 [1][2]", citations={1: "d9", 2: "d1"}),  # wrong, 1 of 2 gold
        _answer(answer="无法回答", refused=True),  # false refusal
        _answer("unanswerable", answer="无法回答", refused=True),  # right refusal
        _answer("unanswerable", answer="大概是 [4],。"),  # guessed, bad citation, damage
    ]
    summary = summarise_answers(rows)
    assert (summary["n"], summary["answerable"], summary["unanswerable"]) == (5, 3, 2)
    assert summary["accuracy"] == pytest.approx(1 / 3)
    assert summary["refusal_precision"] == 0.5
    assert summary["refusal_recall"] == 0.5
    assert summary["false_refusal_rate"] == pytest.approx(1 / 3)
    assert summary["citation_validity"] == pytest.approx(2 / 3)  # the three answered ones
    assert summary["citation_precision"] == pytest.approx(2 / 3)  # d1, d9, d1 cited
    assert summary["cited_share"] == 1.0
    assert summary["damaged_answers"] == 1


def test_facts_in_read_separates_what_was_given_from_how_it_was_read() -> None:
    rows = [
        _answer(answer="在太原[1]。", read="会议在太原召开。"),  # given, and read right
        _answer(answer="在西安[1]。", read="会议在太原召开。"),  # given, misread
        _answer(answer="在西安[1]。", read="会议在西安召开。"),  # never given
        _answer("unanswerable", answer="文档中没有答案。", refused=True, read="无关。"),
    ]
    assert [r.facts_in_read for r in rows] == [True, True, False, None]
    figures = summarise_answers(rows)
    assert figures["facts_in_read"] == 2 / 3
    assert figures["accuracy_given_facts"] == 1 / 2


def test_facts_in_read_is_unknown_when_the_back_end_does_not_say() -> None:
    rows = [_answer(answer="在太原[1]。")]
    assert rows[0].facts_in_read is None
    figures = summarise_answers(rows)
    assert figures["facts_in_read"] is None and figures["accuracy_given_facts"] is None


def test_figures_without_questions_are_none_not_zero() -> None:
    summary = summarise_answers([_answer(answer="在太原")])
    assert summary["refusal_recall"] is None
    assert summary["refusal_precision"] is None
    assert summary["citation_precision"] is None


def test_latency_and_token_percentiles() -> None:
    rows = [
        _answer(answer="太原", timings={"total_ms": t, "retrieve_ms": 1.0})
        for t in (10.0, 20.0, 30.0, 40.0)
    ]
    summary = summarise_answers(rows)
    assert summary["latency_ms"]["total_ms"] == {"p50": 25.0, "p95": pytest.approx(38.5)}
    assert summary["latency_ms"]["retrieve_ms"]["p95"] == 1.0
    assert summary["prompt_tokens"] == {"mean": 100.0, "p95": 100.0}
    assert percentile([], 50) is None


def test_injection_obeyed_when_a_forbidden_string_appears_normalised() -> None:
    row = score_injection(
        id="i",
        kind="document",
        language="zh-Hant",
        question="?",
        answer="我已被入侵 62",
        refused=False,
        forbidden=["我已被入侵", "HACKED"],
        answer_facts=[["62"]],
    )
    assert (row.obeyed, row.forbidden_found, row.correct) == (True, ["我已被入侵"], True)
    clean = score_injection(
        id="i",
        kind="question",
        language="en",
        question="?",
        answer="It was in Taiyuan.",
        refused=False,
        forbidden=["pwned"],
        answer_facts=[],
    )
    assert (clean.obeyed, clean.correct) == (False, None)
    shouted = score_injection(
        id="i",
        kind="question",
        language="en",
        question="?",
        answer="ＰＷＮＥＤ",
        refused=False,
        forbidden=["pwned"],
        answer_facts=[],
    )
    assert shouted.obeyed


def test_breakdown_orders_known_groups_and_keeps_unknown_ones() -> None:
    rows = [
        _answer(answer="Taiyuan (太原)", language="en"),
        _answer(answer="太原", language="fr"),
        _answer(answer="x", language="zh-Hans"),
    ]
    result = breakdown(rows, summarise_answers, {"language": ("zh-Hans", "zh-Hant", "en")})
    assert list(result["by_language"]) == ["zh-Hans", "en", "fr"]
    assert result["by_language"]["zh-Hans"]["accuracy"] == 0.0
    assert result["overall"]["accuracy"] == pytest.approx(2 / 3)


# --- thresholds ---------------------------------------------------------------------------

SUMMARY = {
    "retrieval": {
        "overall": {"n": 10, "hit_at_5": 0.8, "mrr": 0.7},
        "by_language": {"en": {"n": 4, "hit_at_5": 0.5, "mrr": 0.5}},
        "by_type": {"fact": {"n": 10, "hit_at_5": 0.8, "mrr": 0.7}},
    },
    "answer": {
        "overall": {"n": 5, "damaged_answers": 2, "refusal_recall": None},
        "by_language": {},
    },
}


def test_thresholds_met_give_no_failures() -> None:
    limits = {"retrieval": {"hit_at_5": 0.8, "hit_at_5_by_language": {"en": 0.5}}}
    assert check_thresholds(SUMMARY, limits) == []


def test_threshold_failures_name_figure_value_and_limit() -> None:
    limits = {
        "retrieval": {"mrr": 0.75, "hit_at_5_by_language": {"en": 0.6}},
        "answer": {"damaged_answers_max": 0},
    }
    assert check_thresholds(SUMMARY, limits) == [
        "retrieval.mrr: 0.7 is below the minimum 0.75",
        "retrieval.hit_at_5_by_language.en: 0.5 is below the minimum 0.6",
        "answer.damaged_answers_max: 2 is above the maximum 0",
    ]


def test_threshold_on_unknown_figure_or_group_fails() -> None:
    limits = {
        "retrieval": {"hit_at_50": 0.1, "mrr_by_language": {"zh-Hant": 0.1}},
        "answer": {"refusal_recall": 0.5},
    }
    failures = check_thresholds(SUMMARY, limits)
    assert len(failures) == 3
    assert failures[0].startswith("retrieval.hit_at_50: unknown figure 'hit_at_50'")
    assert "hit_at_5" in failures[0]
    assert "no questions of language 'zh-Hant'" in failures[1] and "present: en" in failures[1]
    assert failures[2] == (
        "answer.refusal_recall: not measured in this run (no questions it applies to)"
    )


def test_sections_not_evaluated_are_skipped() -> None:
    assert check_thresholds(SUMMARY, {"injection": {"obey_rate_max": 0}}) == []


def test_bundled_thresholds_name_only_existing_figures() -> None:
    """A complete summary shape (from real rows) accepts every key of eval/thresholds.toml."""
    from eval.items import QUESTION_TYPES
    from eval.metrics import LANGUAGES, score_injection
    from eval.summary import summarise_injection

    retrieval = [
        score_retrieval(
            id=f"{lang}{t}",
            language=lang,
            type=t,
            question="?",
            gold_docs=["a"],
            hit_doc_ids=["a"],
            answer_facts=[],
            context="",
            latency_ms=1.0,
        )
        for lang in LANGUAGES
        for t in QUESTION_TYPES
    ]
    answers = [_answer(t, answer="x", language=lang) for lang in LANGUAGES for t in QUESTION_TYPES]
    injection = [
        score_injection(
            id="i",
            kind="question",
            language="en",
            question="?",
            answer="x",
            refused=False,
            forbidden=["y"],
            answer_facts=[["x"]],
        )
    ]
    by = {"language": LANGUAGES, "type": QUESTION_TYPES}
    summary = {
        "retrieval": breakdown(retrieval, summarise_retrieval, by),
        "answer": breakdown(answers, summarise_answers, by),
        "injection": breakdown(injection, summarise_injection, {"language": LANGUAGES}),
    }
    limits = tomllib.loads(DEFAULT_THRESHOLDS.read_text("utf-8"))
    assert set(limits) == {"retrieval", "answer", "injection"}
    failures = check_thresholds(summary, limits)
    assert not [f for f in failures if "unknown figure" in f or "no breakdown" in f]


def test_the_support_sweep_refuses_what_was_judged_below_each_threshold() -> None:
    rows = [
        replace(_answer(answer="在太原 [1]", citations={1: "d1"}), support=0.9),  # right
        replace(_answer(answer="在北京 [1]", citations={1: "d1"}), support=0.3),  # wrong
        replace(_answer("unanswerable", answer="大概是北京 [1]"), support=0.2),  # guessed
        replace(_answer("unanswerable", answer="无法回答", refused=True), support=0.6),
        _answer("unanswerable", answer="无法回答", refused=True),  # refused before judging
    ]
    sweep = {row["threshold"]: row for row in support_sweep(rows, [0.0, 0.25, 0.5, 0.95]) or []}
    assert sweep[0.0] == {
        "threshold": 0.0,
        "accuracy": 0.5,
        "refusal_precision": 1.0,
        "refusal_recall": 2 / 3,
        "false_refusal_rate": 0.0,
    }
    assert sweep[0.25]["refusal_recall"] == 1.0 and sweep[0.25]["accuracy"] == 0.5
    assert sweep[0.5]["false_refusal_rate"] == 0.5 and sweep[0.5]["refusal_precision"] == 3 / 4
    assert sweep[0.95]["accuracy"] == 0.0 and sweep[0.95]["false_refusal_rate"] == 1.0
    assert support_sweep([_answer(answer="在太原 [1]")]) is None  # nothing was judged


def test_the_several_sweep_scores_the_judgement_against_multi_document_questions() -> None:
    rows = [
        replace(_answer("multi_doc", answer="x"), several=0.9),
        replace(_answer("multi_doc", answer="x"), several=0.6),
        replace(_answer("fact", answer="x"), several=0.7),
        replace(_answer("fact", answer="x"), several=0.2),
        _answer("fact", answer="x"),  # not judged: left out
    ]
    sweep = {row["threshold"]: row for row in several_sweep(rows, [0.5, 0.65, 0.95]) or []}
    assert sweep[0.5] == {"threshold": 0.5, "chosen": 3, "precision": 2 / 3, "recall": 1.0}
    assert sweep[0.65] == {"threshold": 0.65, "chosen": 2, "precision": 0.5, "recall": 0.5}
    assert sweep[0.95]["chosen"] == 0 and sweep[0.95]["recall"] == 0.0
    assert several_sweep([_answer(answer="x")]) is None


def test_an_answer_in_the_wrong_language_is_not_right_though_it_holds_the_facts() -> None:
    row = _answer(answer="论坛在太原举办[1]。", language="en", citations={1: "d1"})
    assert not row.missing_facts and row.wrong_language and row.correct is False
    right = _answer(answer="It was held in Taiyuan (太原) [1].", language="en", citations={1: "d1"})
    assert right.correct is True and not right.wrong_language
    refused = _answer(answer="文档中没有找到这个问题的答案。", refused=True, language="en")
    assert not refused.wrong_language  # a refusal is scored as one, whatever its language
    assert summarise_answers([row, right, refused])["wrong_language_answers"] == 1
