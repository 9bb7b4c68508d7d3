"""bench.lead: the lead is judged with and without the focus tests, over the real store."""

from __future__ import annotations

from pathlib import Path

from bench.lead import lead_holds
from eval.items import EvalItem
from tests.service.conftest import build_fake_answerer, make_settings


def test_who_chaired_is_held_with_the_focus_and_not_without_it(tmp_path: Path) -> None:
    """Retrieval finds the Taiyuan report's passage saying who chaired the forum; only the
    focus puts that sentence first (with the fake embedder, another of its sentences scores
    higher)."""
    answerer = build_fake_answerer(make_settings(tmp_path))
    item = EvalItem(
        id="t1",
        question="太原那屆分子影像精準診療協同創新高峰論壇的會議主持人是誰？",
        language="zh-Hant",
        type="fact",
        gold_docs=["000_09db86074c66971f.txt"],
        answer_facts=[["王宏伟", "王宏偉"]],
    )
    assert lead_holds(answerer, item) == (True, False)
