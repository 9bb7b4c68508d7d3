"""`ragqa ask`: checked like the API before anything loads, answered once, here or by a server.

Validation runs through the real command with typer's runner; `--url` asks a real uvicorn
server on loopback that runs the real app over the fake-model answerer.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from ragqa.cli import app
from ragqa.config import Settings
from service.answering import Answerer
from service.app import create_app
from service.cli_ask import Progress, answer_by_server, checked_question
from service.loopback import free_port, serve
from tests.service.conftest import build_fake_answerer, make_settings

QUESTION = "第二屆分子影像高峰論壇在哪裡舉辦？"
runner = CliRunner()


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No .env or RAGQA_* of the machine; loading models here fails the test loudly."""
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("RAGQA_")]:
        monkeypatch.delenv(name)

    def no_models(settings: Settings) -> Answerer:
        raise AssertionError("ragqa ask loaded the models")

    monkeypatch.setattr("service.compose.build_answerer", no_models)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = make_settings(tmp_path_factory.mktemp("cli-server"), max_question_chars=40)
    with serve(create_app(settings, answerer_factory=build_fake_answerer)) as base:
        yield base


@pytest.mark.parametrize(
    ("question", "reason"),
    [
        ("", "question must not be empty or whitespace"),
        (" \n\t ", "question must not be empty or whitespace"),
        ("where\x00", "question must not contain control characters"),
        ("问" * 2001, "question is 2001 characters; the limit is 2000"),
    ],
)
def test_a_bad_question_is_refused_at_once_with_exit_code_2(question: str, reason: str) -> None:
    result = runner.invoke(app, ["ask", question])
    assert result.exit_code == 2, result.output
    assert reason in result.stderr
    assert result.stdout == ""


def test_the_length_limit_is_the_configured_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGQA_MAX_QUESTION_CHARS", "5")
    result = runner.invoke(app, ["ask", "abcdef"])
    assert result.exit_code == 2
    assert "question is 6 characters; the limit is 5" in result.stderr


def test_the_answer_is_printed_once_with_its_sources_and_no_timings(server: str) -> None:
    result = runner.invoke(app, ["ask", "--url", server, QUESTION])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    answer, sources = lines[0], lines[1:]
    assert "[1]" in answer
    assert result.stdout.count(answer) == 1
    assert sources and sources[0].startswith("[1] ")
    assert "_ms" not in result.output  # timings only with --verbose


def test_verbose_adds_the_timings_on_stderr(server: str) -> None:
    result = runner.invoke(app, ["ask", "--verbose", "--url", server, QUESTION])
    assert result.exit_code == 0, result.output
    assert "timings:" in result.stderr and "total_ms" in result.stderr
    assert "total_ms" not in result.stdout


def test_the_servers_own_limit_is_reported_as_bad_input(server: str) -> None:
    result = runner.invoke(app, ["ask", "--url", server, "x" * 41])
    assert result.exit_code == 2, result.output
    assert "41 characters; the limit is 40" in result.stderr


def test_a_server_that_is_not_there_is_named_with_exit_code_1() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = runner.invoke(app, ["ask", "--url", url, QUESTION])
    assert result.exit_code == 1
    assert f"cannot reach {url}" in result.stderr


def test_without_url_the_models_load_here_and_the_answer_is_printed_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(tmp_path / "local")
    for name in ("collection_dir", "index_dir"):
        monkeypatch.setenv(f"RAGQA_{name.upper()}", str(getattr(settings, name)))
    monkeypatch.setenv("RAGQA_MIN_DENSE_SCORE", "0")
    monkeypatch.setenv("RAGQA_CHUNK_SIZE", str(settings.chunk_size))
    monkeypatch.setattr("service.compose.build_answerer", build_fake_answerer)
    result = runner.invoke(app, ["ask", QUESTION])
    assert result.exit_code == 0, result.output
    answer = result.stdout.splitlines()[0]
    assert "[1]" in answer and result.output.count(answer) == 1


def test_on_a_terminal_a_spinner_names_each_step(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TERM", "xterm-256color")  # rich shows only the last frame when "dumb"
    screen = io.StringIO()
    terminal = Console(file=screen, force_terminal=True, width=100)
    with Progress(terminal, verbose=False) as progress:
        answer_by_server(server, checked_question(QUESTION, None, None), progress, 30)
    shown = screen.getvalue()
    assert f"Asking {server}" in shown and "Writing the answer" in shown
    assert progress.tokens > 0


def test_off_a_terminal_steps_are_shown_only_when_verbose(server: str) -> None:
    for verbose in (False, True):
        log = io.StringIO()
        with Progress(Console(file=log), verbose=verbose) as progress:
            answer_by_server(server, checked_question(QUESTION, None, None), progress, 30)
        assert ("Writing the answer" in log.getvalue()) is verbose
