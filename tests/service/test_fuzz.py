"""Schema-based fuzzing: requests generated from the app's own OpenAPI document, valid and
invalid, against the real app over the fake-model answerer; no response may be a 5xx.

Bounded: a few dozen examples per operation, so the run takes about a minute.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

from service.app import create_app
from tests.service.conftest import build_fake_answerer, make_settings

AUTH = {"Authorization": "Bearer test-key"}
EXAMPLES_PER_OPERATION = 40

# The schema is read when the module is collected (schemathesis parametrizes at import);
# the models load in the fixture below, so collecting stays cheap.
_WORKDIR = Path(tempfile.mkdtemp(prefix="ragqa-fuzz-"))
app = create_app(make_settings(_WORKDIR), answerer_factory=build_fake_answerer)
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.fixture(scope="module", autouse=True)
def loaded_app() -> Iterator[None]:
    """Run the app's lifespan (index and fake models loaded) for the whole module."""
    try:
        with TestClient(app):
            yield
    finally:
        shutil.rmtree(_WORKDIR, ignore_errors=True)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,  # the same cases every run: a failure reproduces
)
def test_no_generated_request_gets_a_server_error(case: Any) -> None:
    case.call_and_validate(headers=AUTH, checks=[schemathesis.checks.not_a_server_error])
