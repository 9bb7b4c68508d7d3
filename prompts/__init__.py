"""Prompt templates, kept as files so they can be read and changed without touching code.

Each `*.md` file is a `str.format` template; its placeholders are listed in README.md.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


@cache
def template(name: str) -> str:
    """The text of `prompts/<name>.md`, trailing newline removed."""
    try:
        return resources.files(__name__).joinpath(f"{name}.md").read_text("utf-8").rstrip("\n")
    except FileNotFoundError as e:
        names = sorted(
            p.name.removesuffix(".md")
            for p in resources.files(__name__).iterdir()
            if p.name.endswith(".md") and p.name != "README.md"
        )
        raise KeyError(f"no prompt template {name!r}; templates: {', '.join(names)}") from e


def resource(filename: str) -> str:
    """The text of any file in prompts/ (e.g. `examples.json`)."""
    return resources.files(__name__).joinpath(filename).read_text("utf-8")


@cache
def table(name: str) -> dict[str, str]:
    """A language-keyed table such as `refusals` or `languages` from `prompts/<name>.json`."""
    data = json.loads(resource(f"{name}.json"))
    return {str(k): str(v) for k, v in data.items()}


@cache
def examples() -> tuple[dict[str, Any], ...]:
    """The worked examples of `prompts/examples.json` (question, passages, answer, evidence):
    shown to the model before each question, and what its answers must not copy."""
    return tuple(json.loads(resource("examples.json")))


def render(name: str, **values: str) -> str:
    """Fill a template; a missing placeholder is an error, not a silent blank."""
    return template(name).format(**values)
