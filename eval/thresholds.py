"""The threshold check of an evaluation run: every figure that misses its limit, by name.

The limits live in `eval/thresholds.toml`; `ragqa eval` fails the run when this finds any.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

DEFAULT_THRESHOLDS = Path(__file__).parent / "thresholds.toml"
_THRESHOLD_KEY = re.compile(r"(?P<figure>.+?)(?P<bound>_max)?(?:_by_(?P<breakdown>[a-z]+))?")


def check_thresholds(summary: Mapping[str, Any], thresholds: Mapping[str, Any]) -> list[str]:
    """Every threshold the summary misses, each naming the figure, its value and the limit.

    Keys are `<figure>` (a minimum), `<figure>_max` (a maximum), and either followed by
    `_by_language` / `_by_type` / ... holding a table of per-group limits. A section of the
    thresholds that this run did not evaluate (absent from the summary) is skipped; a figure
    or group that does not exist in an evaluated section is a failure, so a typo cannot pass.
    """
    failures: list[str] = []
    for section, limits in thresholds.items():
        if section not in summary:
            continue
        for key, limit in limits.items():
            match = _THRESHOLD_KEY.fullmatch(key)
            assert match is not None  # the pattern matches every non-empty key
            figure, is_max, by = match["figure"], bool(match["bound"]), match["breakdown"]
            if by is None:
                failures += _check_figure(
                    summary[section], f"{section}.{key}", figure, limit, is_max
                )
                continue
            groups = summary[section].get(f"by_{by}")
            if groups is None or not isinstance(limit, Mapping):
                failures.append(
                    f"{section}.{key}: no breakdown 'by_{by}' in the summary (a table of "
                    f"per-group limits is expected; breakdowns: "
                    f"{', '.join(k for k in summary[section] if k.startswith('by_'))})"
                )
                continue
            for group, group_limit in limit.items():
                name = f"{section}.{key}.{group}"
                if group not in groups:
                    failures.append(
                        f"{name}: no questions of {by} {group!r} in this run "
                        f"(present: {', '.join(groups) or 'none'})"
                    )
                    continue
                failures += _check_figure(
                    {"overall": groups[group]}, name, figure, group_limit, is_max
                )
    return failures


def _check_figure(
    section: Mapping[str, Any], name: str, figure: str, limit: float, is_max: bool
) -> list[str]:
    overall = section.get("overall", {})
    if figure not in overall:
        known = ", ".join(k for k, v in overall.items() if isinstance(v, int | float))
        return [f"{name}: unknown figure {figure!r} (figures: {known})"]
    value = overall[figure]
    if value is None:
        return [f"{name}: not measured in this run (no questions it applies to)"]
    if is_max and value > limit:
        return [f"{name}: {value:.4g} is above the maximum {limit:.4g}"]
    if not is_max and value < limit:
        return [f"{name}: {value:.4g} is below the minimum {limit:.4g}"]
    return []
