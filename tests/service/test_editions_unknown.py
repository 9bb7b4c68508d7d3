"""A question about an edition of an event that the documents found never number is refused
before the model is asked (index.editions, applied in service.answering)."""

from __future__ import annotations

from pathlib import Path

from service.answering import Answerer
from tests.fakes import FakeGenerator
from tests.service.conftest import build_fake_answerer, make_settings


def test_a_question_about_an_edition_the_documents_never_number_is_refused_unread(
    tmp_path: Path,
) -> None:
    """The model is not asked; the same question about the edition reported is."""
    answerer: Answerer = build_fake_answerer(make_settings(tmp_path))
    fake = answerer.generators[0]
    assert isinstance(fake, FakeGenerator)
    forum = "届全国分子影像精准诊疗协同创新高峰论坛是什么时候举办的？"
    result = answerer.ask(f"第三{forum}")
    assert result.refused and not fake.calls
    assert not answerer.ask(f"第二{forum}").refused and fake.calls
