"""`python -m bench.support_cache [--ids h037,k040,...]`: how far the support judgement of the
same question moves with the engine's prompt cache.

llama.cpp reuses the cached prefix of an earlier prompt, and a prompt computed in another batch
split gives slightly different probabilities, so a question judged near `support_threshold`
may be answered in one run and refused in the next. Each question is answered twice in one
process with the prompt cache on (as served), then twice in a fresh process with
`cache_prompt` off, and the supports are printed side by side. Writes
bench/results/support_cache-DATE.txt.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from typing import Annotated, Any

import typer

from bench.lead import SETS
from bench.report import REPO, save_dated, shown_path
from eval.items import EvalItem, load_items


def _questions() -> dict[str, str]:
    """Every question of the three sets (bench.lead's), by id."""
    return {item.id: item.question for path in SETS for item in load_items(path, EvalItem)}


def judge(ids: list[str], cache: bool) -> list[tuple[str, float | None, bool]]:
    """Each question answered twice, in order, by one answerer: (id, support, refused)."""
    from ragqa.config import Settings
    from service.compose import build_answerer
    from service.generation import openai_chat

    if not cache:
        body = openai_chat.OpenAIChatGenerator._body

        def uncached(self: openai_chat.OpenAIChatGenerator, *args: object, **kw: object) -> dict:
            sent = body(self, *args, **kw)  # type: ignore[arg-type]
            sent["cache_prompt"] = False
            return sent

        openai_chat.OpenAIChatGenerator._body = uncached  # type: ignore[method-assign]
    questions = _questions()
    answerer = build_answerer(Settings())
    try:
        return [
            (qid, (r := answerer.ask(questions[qid])).support, r.refused)
            for _ in range(2)
            for qid in ids
        ]
    finally:
        answerer.close()


def table(ids: list[str], runs: dict[str, list[list[Any]]]) -> str:
    """The report: per question, its supports with the cache on and off, first and second
    time asked (`runs[mode]` holds every question once, then every question again)."""
    lines = [
        f"# Support of one question as the prompt cache changes, measured {date.today()} "
        "(`python -m bench.support_cache`)",
        "",
        "| question | cache on, 1st | cache on, 2nd | cache off, 1st | cache off, 2nd |",
        "|---|---|---|---|---|",
    ]
    n = len(ids)
    for k, qid in enumerate(ids):
        cells = [
            f"{s:.4f}{' refused' if refused else ''}" if s is not None else "none"
            for mode in ("cache", "nocache")
            for _, s, refused in (runs[mode][k], runs[mode][k + n])
        ]
        lines.append(f"| {qid} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(
    ids: Annotated[str, typer.Option(help="Question ids of the three sets, comma-separated.")] = (
        "h037,k040,q026,q092,q103"
    ),
    one: Annotated[str, typer.Option(hidden=True)] = "",
) -> None:
    """Print and write the supports with the cache on and off, each run in its own process."""
    chosen = [i.strip() for i in ids.split(",") if i.strip()]
    if one:  # a child process: one configuration, printed as JSON
        print(json.dumps(judge(chosen, cache=one == "cache")))
        return
    runs = {}
    for mode in ("cache", "nocache"):
        done = subprocess.run(
            [sys.executable, "-m", "bench.support_cache", "--ids", ids, "--one", mode],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        )
        runs[mode] = json.loads(done.stdout.strip().splitlines()[-1])
    text = table(chosen, runs)
    print(text)
    print(f"written to {shown_path(save_dated('support_cache', text))}")


if __name__ == "__main__":
    typer.run(main)
