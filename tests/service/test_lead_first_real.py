"""`lead_first` with the real default models: a question quoting an award is answered from
the one sentence listing that award's winners, read alone, and cites it."""

from __future__ import annotations

import pytest

from service.answering import Answerer
from service.language import to_simplified

pytestmark = pytest.mark.slow


def test_a_quoted_award_is_answered_from_its_winners_sentence_alone(
    real_answerer: Answerer, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = real_answerer.settings.model_copy(update={"lead_first": True})
    monkeypatch.setattr(real_answerer, "settings", settings)
    result = real_answerer.ask(
        "在太原举办的分子影像高峰论坛上，SPECT病例大赛的“精准定量奖”由哪些医院获得？"
    )
    print(f"\n-> {result.answer} (support {result.support}, {result.timings})")
    assert "lead_first_ms" in result.timings, result.timings  # not read again from the rest
    assert not result.refused and "郑州大学" in to_simplified(result.answer)
    lead = result.passages[0]
    assert "精准定量奖" in to_simplified(lead.text)
    assert result.citations and result.citations[0].passage == lead
