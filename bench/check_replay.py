"""`python -m bench.check_replay --check NAME RUN/eval.json ...`: what one of the answer
checks changes in the answers of saved `ragqa eval` runs, without a model call.

Each row's raw model text is checked again (`service.answer.postprocess`) over the passages
it read (`passage_ids`, sentences cut from a chunk rebuilt from the document), once with the
check switched off and once with it on: each answer that changes, whether it was right, wrong
or refused before and after, and the totals. A row is skipped when the replay without the
check does not give its saved answer (a retold answer) or the passages rebuilt do not hold the
facts it read as the run found (a run of another index). Writes
bench/results/<check's report name>[-<set>]-DATE.txt.

Checks: `people` (a sentence about the person the question names cites a passage naming
them, `service.named_subject.people_uncited`), `examples` (a sentence states nothing only
the worked examples say, `service.answer_guard.copies_example`), `restated` (a sentence says
more than the question did), `editions` (a sentence numbering editions names one the
question asks about, `index.editions.other_edition`), `invented` (a sentence names only
people the question or the passages read name, `service.named_subject.people_invented`),
`unsupported` (a sentence about the person asked about tells them no proper name in Latin
letters that a passage naming them does not state, `service.named_subject.names_unsupported`)
and `roles` (a sentence gives someone only titles a passage read gives them,
`service.stated_roles.roles_unsupported`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any
from unittest import mock

import typer

from bench.components import chunks_by_id
from bench.report import DEFAULT_SET, Runs, RunsSet, answer_rows, save_dated, shown_path
from bench.respelling import right
from eval.items import EvalItem, load_items
from eval.metrics import missing_fact_groups, read_text
from index.backend import SearchView
from index.documents import Chunk
from index.store import IndexStore
from ragqa.config import Settings
from service import answer_guard, claims
from service.answer import CitedAnswer, postprocess
from service.passages import Passage, SearchHit, to_passages


@dataclass(frozen=True)
class _Check:
    title: str
    report: str  # bench/results/<report>-DATE.txt
    module: Any
    attribute: str
    off: Any  # what the check's function is replaced by to switch it off


class CheckName(StrEnum):
    people = "people"
    examples = "examples"
    restated = "restated"
    editions = "editions"
    invented = "invented"
    unsupported = "unsupported"
    roles = "roles"


CHECKS = {
    CheckName.invented: _Check(
        "Sentences naming someone no passage read names",
        "invented_people",
        claims,
        "people_invented",
        lambda *_: [],
    ),
    CheckName.unsupported: _Check(
        "Sentences telling the person asked about a name no passage naming them states",
        "unsupported_names",
        claims,
        "names_unsupported",
        lambda *_: [],
    ),
    CheckName.roles: _Check(
        "Sentences giving someone a title no passage read gives them",
        "stated_roles",
        claims,
        "roles_unsupported",
        lambda *_: [],
    ),
    CheckName.people: _Check(
        "Sentences about the asked-for person",
        "named_citations",
        claims,
        "people_uncited",
        lambda *_: [],
    ),
    CheckName.examples: _Check(
        "Sentences that state what only the worked examples say",
        "example_copies",
        answer_guard,
        "copies_example",
        lambda *_: False,
    ),
    CheckName.restated: _Check(
        "Sentences that only say back the question",
        "restated_questions",
        claims,
        "_restates_question",
        lambda *_: False,
    ),
    CheckName.editions: _Check(
        "Sentences about another edition than the one asked about",
        "other_editions",
        claims,
        "other_edition",
        lambda *_: False,
    ),
}


def read_passages(
    row: dict[str, Any], chunks: dict[str, Chunk], view: SearchView
) -> list[Passage] | None:
    """The passages a saved row read, rebuilt from this index; None when they are not all in
    it (a run of another index), [] when the row read none."""
    try:
        hits = [SearchHit(read_chunk(c, chunks, view), 0.0) for c in row.get("passage_ids") or []]
    except (KeyError, ValueError):
        return None
    return to_passages(hits, view)


def read_chunk(chunk_id: str, chunks: dict[str, Chunk], view: SearchView) -> Chunk:
    """A chunk of the index, or a sentence run cut from one (`id#n:start-end`)."""
    if chunk_id in chunks:
        return chunks[chunk_id]
    parent, _, span = chunk_id.rpartition(":")
    start, end = (int(x) for x in span.split("-"))
    source = chunks[parent]
    if not source.start <= start < end <= source.end:  # cut from a chunk of another index
        raise ValueError(chunk_id)
    text = view.document_text(source.doc_id)[start:end]
    return Chunk(chunk_id, source.doc_id, source.n, text, start, end, title=source.title)


def _state(row: dict[str, Any], cited: CitedAnswer, facts: list[list[str]]) -> str:
    if cited.refused:
        return "refused"
    return "right" if right(row, cited.answer, facts) else "wrong"


def main(
    runs: Runs,
    questions: RunsSet = DEFAULT_SET,
    check: Annotated[CheckName, typer.Option(help="The answer check to replay.")] = (
        CheckName.people
    ),
) -> None:
    """Check every answer of the runs without and with the check; print what changed."""
    replayed = CHECKS[check]
    facts = {item.id: item.answer_facts for item in load_items(questions, EvalItem)}
    view = IndexStore.open(Settings().index_dir.resolve(), expected=None).snapshot
    chunks = chunks_by_id(view)
    shown = " ".join(str(shown_path(run)) for run in runs)
    command = f"python -m bench.check_replay --check {check.value} --set {shown_path(questions)}"
    report = [f"# {replayed.title} (`{command} {shown}`)"]
    moves: Counter[str] = Counter()
    answers = skipped = 0
    for run in runs:
        for row in answer_rows(run):
            passages = read_passages(row, chunks, view)
            if not row.get("model_text") or not passages:  # None: a run of another index
                continue
            answers += 1
            args = (row["model_text"], passages, row["language"], row["question"])
            with mock.patch.object(replayed.module, replayed.attribute, replayed.off):
                off = postprocess(*args)
            on = postprocess(*args)
            wanted = facts.get(str(row["id"]), [])
            held = not missing_fact_groups(read_text(passages), wanted) if wanted else None
            if off.answer != row["answer"] or held != row.get("facts_in_read", held):
                skipped += 1
                continue
            if off.answer == on.answer:
                continue
            move = f"{_state(row, off, wanted)} -> {_state(row, on, wanted)}"
            moves[move] += 1
            report += [
                f"- {shown_path(run)} {row['id']}: {move}",
                f"  before: {off.answer!r}",
                f"  after:  {on.answer!r}",
            ]
    report += [
        "",
        f"answers replayed: {answers}; not as saved (skipped): {skipped}; "
        f"changed: {sum(moves.values())}",
    ]
    report += [f"{move}: {count}" for move, count in sorted(moves.items())]
    other_set = "" if questions == DEFAULT_SET else f"-{questions.stem}"
    save_dated(f"{replayed.report}{other_set}", "\n".join(report))
    typer.echo("\n".join(report[-len(moves) - 2 :]))


if __name__ == "__main__":
    typer.run(main)
