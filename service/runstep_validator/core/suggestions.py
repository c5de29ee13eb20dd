"""What a near miss probably meant: the allowed value (or known member name) one or two edits away from what was
given, or differing only in case.

Only error paths call this; the candidates of each place in a schema are prepared once (`NearMisses`) and kept by
the engine with the place they belong to. A suggestion is always one of the schema's own words, so that it may be
quoted even when reports quote nothing of the payload.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import msgspec

SHORT: Final = 4  # a value this short is suggested only one edit away: two edits would make "ab" of "xy"


def _distance(given: str, value: str, limit: int) -> int:
    """The optimal-string-alignment distance (insertions, deletions, substitutions and swaps of neighbours)
    between two case-folded strings, or `limit + 1` as soon as it is certain to exceed `limit`."""
    if abs(len(given) - len(value)) > limit:
        return limit + 1
    cols = len(value)
    before: list[int] = []
    previous = list(range(cols + 1))
    for i in range(1, len(given) + 1):
        current = [i] + [0] * cols
        for j in range(1, cols + 1):
            same = given[i - 1] == value[j - 1]
            cost = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (not same))
            if i > 1 and j > 1 and not same and given[i - 1] == value[j - 2] and given[i - 2] == value[j - 1]:
                cost = min(cost, before[j - 2] + 1)
            current[j] = cost
        if min(current) > limit:
            return limit + 1
        before, previous = previous, current
    return previous[cols]


def _fold(text: str) -> str:
    # Character by character, so that folding never changes the length ("ß".upper() is "SS").
    return "".join(char.lower() if len(char.lower()) == 1 else char for char in text)


class NearMisses:
    """The string values allowed at one place of a schema, ready to say which one a near miss meant."""

    __slots__ = ("_longest", "_shortest", "_values")

    def __init__(self, values: Iterable[object]) -> None:
        strings = [value for value in dict.fromkeys(values) if isinstance(value, str)]
        self._values = tuple((value, _fold(value)) for value in strings)
        # A string further than two characters in length from every value is no near miss: it is not even read.
        self._shortest = min((len(value) for value in strings), default=0) - 2
        self._longest = max((len(value) for value in strings), default=0) + 2

    def meant(self, given: object) -> str | None:
        """The one allowed value nearest to `given` within its reach (one edit for short values, two for longer
        ones, none but case for a single character), or None: when nothing is that near, when two values are
        equally near, and when `given` is itself allowed."""
        if not isinstance(given, str) or not self._shortest <= len(given) <= self._longest:
            return None
        folded_given = _fold(given)
        best: str | None = None
        best_distance = 3
        tied = False
        for value, folded in self._values:
            if value == given:
                return None
            limit = 0 if len(value) <= 1 else 1 if len(value) <= SHORT else 2
            distance = _distance(folded_given, folded, limit)
            if distance > limit:
                continue
            if distance < best_distance:
                best, best_distance, tied = value, distance, False
            elif distance == best_distance:
                tied = True
        return None if tied else best


def quoted(word: str) -> str:
    """A word of the schema as a message quotes it: as JSON, whole (it is the schema's, not the payload's)."""
    return msgspec.json.encode(word).decode()


def did_you_mean(suggestion: str) -> str:
    """The words a message ends with."""
    return f"did you mean {quoted(suggestion)}?"
