"""The OpenAI surface as OpenAI clients use it: the model list, the model name, `refused`.

The official `openai` client talks real HTTP to a loopback server running the real app over
the fake-model answerer, so its own parsing (not ours) checks the shapes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from openai import OpenAI

from service.answer import refusal
from service.app import create_app
from service.loopback import serve
from tests.fakes import FakeGenerator
from tests.service.conftest import app_with_generators, build_fake_answerer, make_settings

QUESTION = "第二屆分子影像高峰論壇在哪裡舉辦？"
OFF_TOPIC = "What is the capital of France?"


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = make_settings(tmp_path_factory.mktemp("openai"))
    with serve(create_app(settings, answerer_factory=build_fake_answerer)) as base:
        yield base


@pytest.fixture(scope="module")
def openai_client(base_url: str) -> OpenAI:
    return OpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0, timeout=60)


@pytest.fixture
def refusing_client(tmp_path: Path) -> Iterator[OpenAI]:
    """A server whose model says the documents do not hold the answer."""
    app = app_with_generators(make_settings(tmp_path), FakeGenerator(lambda _: refusal("en")))
    with serve(app) as base:
        yield OpenAI(base_url=f"{base}/v1", api_key="unused", max_retries=0, timeout=60)


def test_the_model_list_names_one_model_ragqa(base_url: str, openai_client: OpenAI) -> None:
    models = list(openai_client.models.list())
    assert [m.id for m in models] == ["ragqa"]
    assert models[0].object == "model" and models[0].owned_by == "ragqa"
    assert models[0].created > 0
    raw = httpx.get(f"{base_url}/v1/models").json()
    assert raw["object"] == "list" and len(raw["data"]) == 1


def test_a_completion_names_the_model_ragqa_and_says_it_did_not_refuse(
    openai_client: OpenAI,
) -> None:
    completion = openai_client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": QUESTION}]
    )
    assert completion.model == "ragqa"
    extra = completion.model_extra or {}
    assert extra["refused"] is False
    assert extra["references"] and "[1]" in (completion.choices[0].message.content or "")


def test_a_streamed_completion_names_ragqa_in_every_chunk_and_refused_in_the_last(
    openai_client: OpenAI,
) -> None:
    chunks = list(
        openai_client.chat.completions.create(
            model="ragqa", messages=[{"role": "user", "content": QUESTION}], stream=True
        )
    )
    assert {c.model for c in chunks} == {"ragqa"}
    final = chunks[-1]
    assert final.choices[0].finish_reason == "stop"
    extra = final.model_extra or {}
    assert extra["refused"] is False and extra["references"]
    assert all("refused" not in (c.model_extra or {}) for c in chunks[:-1])


def test_a_refusal_is_flagged_whole_and_streamed(refusing_client: OpenAI) -> None:
    messages = [{"role": "user", "content": OFF_TOPIC}]
    whole = refusing_client.chat.completions.create(model="ragqa", messages=messages)  # type: ignore[arg-type]
    assert (whole.model_extra or {})["refused"] is True
    assert whole.choices[0].message.content == refusal("en")
    assert (whole.model_extra or {})["references"] == []
    chunks = list(
        refusing_client.chat.completions.create(model="ragqa", messages=messages, stream=True)  # type: ignore[arg-type]
    )
    final = chunks[-1].model_extra or {}
    assert final["refused"] is True and final["references"] == []
