"""bench.agreement's pure parts: the key terms of an answer and when two answers agree."""

from __future__ import annotations

from bench.agreement import agree, key_terms


def row(answer: str, refused: bool = False) -> dict[str, object]:
    return {"answer": answer, "refused": refused}


def test_key_terms_are_character_pairs_numbers_and_capitalised_words_without_markers() -> None:
    assert key_terms("易群书记[1]于2024年讲话 Yi Qun [2]") == {
        "易群", "群书", "书记", "2024", "年讲", "讲话", "yi", "qun",
    }  # fmt: skip
    assert key_terms("[1][2]") == set()


def test_answers_agree_when_the_smaller_set_of_terms_is_shared_enough() -> None:
    a = row("The meeting was chaired by Tian Rong [1].")
    same = row("Tian Rong chaired the meeting [2].")
    other = row("Professor Li Lin chaired it [1].")
    assert agree(a, same, 0.85)
    assert not agree(a, other, 0.5)


def test_a_refusal_or_an_answer_without_terms_never_agrees() -> None:
    a = row("Tian Rong [1].")
    assert not agree(a, row("Tian Rong [1].", refused=True), 0.0)
    assert not agree(row("[1]"), row("[1]"), 0.0)
