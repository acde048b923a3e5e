"""The 22 gym gestures of the paper, and the mapping of common spellings onto them."""

from __future__ import annotations

import re

from ..core.errors import InputError

CLASS_NAMES: tuple[str, ...] = (
    "barbell biceps curl",
    "bench press",
    "chest fly machine",
    "deadlift",
    "decline bench press",
    "hammer curl",
    "hip thrust",
    "incline bench press",
    "lat pulldown",
    "lateral raises",
    "leg extension",
    "leg raises",
    "plank",
    "pull up",
    "push up",
    "romanian deadlift",
    "russian twist",
    "shoulder press",
    "squat",
    "t bar row",
    "tricep dips",
    "tricep pushdown",
)

# Spellings seen in the public Workout/Exercises Video collection and in everyday use that do not
# reduce to a canonical name by the normalization in `_normalize` alone.
_ALIASES = {
    "barbell bicep curl": "barbell biceps curl",
    "biceps curl": "barbell biceps curl",
    "bicep curl": "barbell biceps curl",
    "lateral raise": "lateral raises",
    "leg raise": "leg raises",
    "pullup": "pull up",
    "chin up": "pull up",
    "pushup": "push up",
    "press up": "push up",
    "squats": "squat",
    "tbar row": "t bar row",
    "tricep dip": "tricep dips",
    "tricep pushdowns": "tricep pushdown",
    "triceps pushdown": "tricep pushdown",
    "triceps dips": "tricep dips",
    "chest fly": "chest fly machine",
    "rdl": "romanian deadlift",
}


def _normalize(name: str) -> str:
    return re.sub(r"[\s_\-]+", " ", name.strip().lower()).strip()


def canonical_label(name: str, known: tuple[str, ...] | list[str] = CLASS_NAMES) -> str:
    """Map a folder name or a common spelling ("Push-up", "lateral_raise") onto a known class name.

    Raises ValueError listing the known names when `name` maps onto none of them.
    """
    key = _normalize(name)
    for candidate in (key, _ALIASES.get(key), key.rstrip("s")):
        if candidate in known:
            return candidate
    raise InputError(f"unknown exercise {name!r}; known: {', '.join(known)}")


def normalize_label(name: str) -> str:
    """`canonical_label` of `name` when it is one of the 22 classes, else `name` in the same spelling (lower
    case, single spaces): archives hold other exercises too, real negatives to abstain on."""
    try:
        return canonical_label(name)
    except ValueError:
        return _normalize(name)


def id2label(names: tuple[str, ...] | list[str] = CLASS_NAMES) -> dict[int, str]:
    return dict(enumerate(names))


def label2id(names: tuple[str, ...] | list[str] = CLASS_NAMES) -> dict[str, int]:
    return {name: index for index, name in enumerate(names)}
