"""The official `openai` Python client against ragqa's chat completions, over real HTTP.

The OpenAI SDK is the compatibility check: it parses ragqa's JSON and SSE with its own code,
and `references` arrives as an extra field beside the standard ones.
"""

from __future__ import annotations

import pytest
from openai import OpenAI

pytestmark = pytest.mark.slow

DOCUMENT = "004_c1c1280c1642610c.txt"


@pytest.fixture(scope="module")
def openai_client(live_server: str) -> OpenAI:
    return OpenAI(base_url=f"{live_server}/v1", api_key="unused", max_retries=0, timeout=600)


def test_openai_client_gets_a_cited_answer(openai_client: OpenAI) -> None:
    question = "Who gave the opening speech at the 2023 nuclear medicine conference in Shanxi?"
    completion = openai_client.chat.completions.create(
        model="ragqa", messages=[{"role": "user", "content": question}], max_tokens=128
    )
    content = completion.choices[0].message.content or ""
    print(f"\n{question}\n-> {content}")
    assert completion.object == "chat.completion"
    assert completion.choices[0].finish_reason == "stop"
    assert "xie jun" in content.lower()
    assert completion.usage is not None and completion.usage.completion_tokens > 0
    # The engine's KV-cache reuse, in OpenAI's own field (at least the preamble, prefilled
    # at start or by an earlier answer).
    details = completion.usage.prompt_tokens_details
    assert details is not None and 0 < (details.cached_tokens or 0) < completion.usage.prompt_tokens
    references = (completion.model_extra or {})["references"]
    assert references and {r["doc_id"] for r in references} == {DOCUMENT}
    assert all(f"[{r['n']}]" in content for r in references)


def test_openai_client_streams_a_cited_answer(openai_client: OpenAI) -> None:
    question = "David Cardwell, who sent a welcome speech, is vice-president of which university?"
    chunks = list(
        openai_client.chat.completions.create(
            model="ragqa",
            messages=[{"role": "user", "content": question}],
            max_tokens=128,
            stream=True,
        )
    )
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    print(f"\n{question}\n-> {content}")
    assert len(chunks) > 2 and all(c.object == "chat.completion.chunk" for c in chunks)
    assert "cambridge" in content.lower()
    final = chunks[-1]
    assert final.choices[0].finish_reason == "stop"
    references = (final.model_extra or {})["references"]
    assert references and {r["doc_id"] for r in references} == {DOCUMENT}
    assert all(f"[{r['n']}]" in content for r in references)  # raw passage numbers
