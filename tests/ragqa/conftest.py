"""Fixtures for ragqa tests: the real model cache, provisioned once per machine."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragqa.config import Settings
from ragqa.models.resolve import ensure_models


@pytest.fixture(scope="session")
def provisioned_models() -> dict[str, Path]:
    """The configured default models in the real cache, fetched once per machine."""
    return ensure_models(Settings(), progress=False)
