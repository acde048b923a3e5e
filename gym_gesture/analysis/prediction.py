"""The prediction schema: what `Recognizer.predict` returns and `gym-gesture predict --json` prints.

Typed dataclasses with one JSON form, `Prediction.to_json`, read back by `Prediction.from_json`:

    schema_version   SCHEMA_VERSION
    top_k            [ClassScore {label, score}] best first; a class's score is the mean of its
                     probabilities over the clip's windows
    windows          [WindowScore {start_s, end_s, label, score}] in time order, each window's best class
    segments         [Segment {exercise, start, end, probability, windows, reps, rep_times, abstain, form,
                     range_of_motion, hold_s, verdict}]: the timeline (`verdict.describe_segments`), each
                     set its own segment, the rest between sets left out (`sets.clip_sets`);
                     range_of_motion is the degrees the exercise's main joint swings (null without one),
                     hold_s the seconds a hold (plank) was held (null for an exercise with reps); form is
                     null or FormVerdict {verdict, probability_good, angles, hint} (push ups,
                     `form.form_verdict`); verdict as the clip's, for this segment (`exercise` is then
                     the model's best guess, named only when verdict is "exercise")
    verdict          what a person reads first: one of VERDICTS, "exercise" (an exercise is named),
                     "not sure", "not an exercise" (walking, standing: not an exercise it knows) or
                     "no person" (`abstain.abstention` says which reason is which kind)
    exercise         the exercise named (verdict "exercise": the one of the most named time), else null
    reps             the reps of the segments of the exercise named (0 when none is named)
    abstain          why the clip names no exercise (no person / walking / no motion / not sure), or null
    frames           frames the pose backend saw (at the model's sample rate)
    detected_frames  of those, frames with a person
    seconds          processing time of the whole call; timings: seconds per stage (`inference.STAGES`)
    fps, backend, model, overlay_path
    detection_rate   detected_frames / frames (written, not read back: it is derived)

Numbers are stored at the precision the JSON publishes (rounded on construction), so a prediction read
back from its JSON equals the one that wrote it. Bump SCHEMA_VERSION when a key is renamed or removed or
changes meaning, or when `from_json` needs a new one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

SCHEMA_VERSION = 4  # 2: segments' range_of_motion and hold_s; 3: verdict and exercise, segments' verdict;
# 4: people_seen and followed (a multi-person backend)

# The verdicts, and the words a person reads for each.
EXERCISE, NOT_SURE, NOT_AN_EXERCISE, NO_PERSON = "exercise", "not sure", "not an exercise", "no person"
VERDICTS = (EXERCISE, NOT_SURE, NOT_AN_EXERCISE, NO_PERSON)
VERDICT_HEADLINES = {NOT_SURE: "Not sure", NOT_AN_EXERCISE: "Not an exercise I know", NO_PERSON: "No person"}


@dataclass
class ClassScore:
    label: str
    score: float

    def __post_init__(self):
        self.score = round(float(self.score), 4)


@dataclass
class WindowScore:
    """One window of the clip, [start_s, end_s) in seconds, and its most probable class."""

    start_s: float
    end_s: float
    label: str
    score: float

    def __post_init__(self):
        self.start_s, self.end_s = round(float(self.start_s), 3), round(float(self.end_s), 3)
        self.score = round(float(self.score), 4)


@dataclass
class FormVerdict:
    """The push-up form verdict of a segment (`form.form_verdict`)."""

    verdict: str  # form.GOOD or form.CHECK
    probability_good: float
    angles: dict[str, float]  # the features behind the verdict (degrees; hip offsets in body lengths)
    hint: str | None  # what pulled the verdict down most, when it is form.CHECK

    def __post_init__(self):
        self.probability_good = round(float(self.probability_good), 3)
        self.angles = {name: round(float(value), 3) for name, value in self.angles.items()}


@dataclass
class Segment:
    """One exercise of the timeline from `start` to `end` (s from the clip's start): the mean top
    probability of its `windows`, its reps and their times (s), why to abstain on it (or None), for push
    ups the form verdict, the range of motion of its main joint (degrees, `reps.range_of_motion`) and,
    for a hold, the seconds it was held (the frames with the person seen), and its verdict (EXERCISE
    exactly when `abstain` is None)."""

    exercise: str
    start: float
    end: float
    probability: float
    windows: int
    reps: int
    rep_times: list[float]
    abstain: str | None
    form: FormVerdict | None
    range_of_motion: float | None = None
    hold_s: float | None = None
    verdict: str = EXERCISE

    def __post_init__(self):
        _check_verdict(self.verdict, self.abstain)
        self.start, self.end = round(float(self.start), 3), round(float(self.end), 3)
        self.range_of_motion = None if self.range_of_motion is None else round(float(self.range_of_motion), 1)
        self.hold_s = None if self.hold_s is None else round(float(self.hold_s), 2)
        self.probability = round(float(self.probability), 3)
        self.windows, self.reps = int(self.windows), int(self.reps)
        self.rep_times = [round(float(time), 2) for time in self.rep_times]

    @classmethod
    def from_json(cls, data: dict) -> Segment:
        form = data["form"]
        return cls(**{**data, "form": FormVerdict(**form) if form is not None else None})


@dataclass
class FollowedSpan:
    """Which person (`track`) the prediction followed from `start_s` to `end_s` (s from the clip's start)."""

    track: int
    start_s: float
    end_s: float

    def __post_init__(self):
        self.track = int(self.track)
        self.start_s, self.end_s = round(float(self.start_s), 3), round(float(self.end_s), 3)


@dataclass
class Prediction:
    """What `Recognizer.predict` returns: the fields of the JSON form (module docstring), plus the
    window probabilities behind them, which the JSON leaves out."""

    top_k: list[ClassScore]
    windows: list[WindowScore]
    segments: list[Segment]
    verdict: str
    exercise: str | None
    reps: int
    abstain: str | None
    frames: int
    detected_frames: int
    seconds: float
    timings: dict[str, float]
    fps: float
    backend: str
    model: str
    overlay_path: str | None = None
    # With a multi-person pose backend (`mediapipe-people`): how many people were in view, and whom the
    # prediction followed when. None from a backend that sees one person.
    people_seen: int | None = None
    followed: list[FollowedSpan] | None = None
    # (windows, classes) and its columns, for plots; not in the JSON, so not compared either.
    window_probabilities: np.ndarray | None = field(default=None, repr=False, compare=False)
    class_names: list[str] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        _check_verdict(self.verdict, self.abstain)
        if (self.exercise is None) != (self.verdict != EXERCISE):
            raise ValueError(f"verdict {self.verdict!r} with exercise {self.exercise!r}")
        self.seconds = round(float(self.seconds), 3)
        self.timings = {stage: round(float(seconds), 3) for stage, seconds in self.timings.items()}

    @property
    def label(self) -> str:
        return self.top_k[0].label

    @property
    def headline(self) -> str:
        """What a person reads first: the exercise named, or plainly which non-verdict."""
        return self.exercise if self.verdict == EXERCISE else VERDICT_HEADLINES[self.verdict]

    @property
    def duration(self) -> float:
        """Seconds of the clip the pose backend saw."""
        return self.frames / self.fps if self.fps else 0.0

    @property
    def detection_rate(self) -> float:
        return self.detected_frames / self.frames if self.frames else 0.0

    def to_json(self) -> dict:
        """The JSON form (module docstring), ready for `json.dumps`."""
        data = {"schema_version": SCHEMA_VERSION, **asdict(self)}
        del data["window_probabilities"], data["class_names"]
        data["detection_rate"] = round(self.detection_rate, 4)
        return data

    @classmethod
    def from_json(cls, data: dict) -> Prediction:
        """The prediction of a `to_json` dict (for instance `json.loads` of `gym-gesture predict --json`).

        Raises ValueError for another schema version or a dict that is not a prediction."""
        version = data.get("schema_version") if isinstance(data, dict) else None
        if version != SCHEMA_VERSION:
            raise ValueError(f"not a gym-gesture prediction of schema version {SCHEMA_VERSION} "
                             f"(schema_version: {version})")
        try:
            return cls(
                top_k=[ClassScore(**item) for item in data["top_k"]],
                windows=[WindowScore(**item) for item in data["windows"]],
                segments=[Segment.from_json(item) for item in data["segments"]],
                followed=None if data["followed"] is None else [FollowedSpan(**item) for item in data["followed"]],
                people_seen=data["people_seen"],
                **{key: data[key] for key in ("verdict", "exercise", "reps", "abstain", "frames", "detected_frames", "seconds", "timings",
                                              "fps", "backend", "model", "overlay_path")},
            )
        except (KeyError, TypeError, ValueError) as error:  # a key missing, one a part does not have, a bad verdict
            raise ValueError(f"not a gym-gesture prediction ({error!r})") from error


def _check_verdict(verdict: str, abstain: str | None) -> None:
    if verdict not in VERDICTS or (verdict == EXERCISE) != (abstain is None):
        raise ValueError(f"verdict {verdict!r} with abstain reason {abstain!r}")


__all__ = ["EXERCISE", "NOT_AN_EXERCISE", "NOT_SURE", "NO_PERSON", "SCHEMA_VERSION", "VERDICTS", "VERDICT_HEADLINES", "ClassScore", "FollowedSpan", "FormVerdict", "Prediction", "Segment", "WindowScore"]
