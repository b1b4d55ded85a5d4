"""What a notification rule is, and what makes one valid."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from enum import StrEnum

MIN_STAGE = 1
MAX_STAGE = 1000


class Trigger(StrEnum):
    """What a rule watches. Later triggers (hours remaining, days before the end …) go here."""

    PERCENT_CONSUMED = "percent_consumed"


def stages_problem(stages: Sequence[int]) -> str | None:
    """Why these percent stages are not acceptable, or None when they are."""
    if not stages:
        return "give at least one stage"
    out_of_range = [s for s in stages if not MIN_STAGE <= s <= MAX_STAGE]
    if out_of_range:
        return f"each stage must be between {MIN_STAGE} and {MAX_STAGE}: {out_of_range}"
    if any(b <= a for a, b in itertools.pairwise(stages)):
        return "stages must be strictly increasing"
    return None
