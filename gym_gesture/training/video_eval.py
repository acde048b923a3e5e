"""`gym-gesture evaluate-videos`: accuracy measured on real videos through `Recognizer.predict`, the path
that the CLI and the app run, beside the keypoint figures of `evaluate`.

Videos come as `extract` reads them (`clips.find_clips`: a class-folder tree, or a manifest.json of
{"file", "label"}, with a `crop` where one file is several views), and a video's source id is the one
`extract` gives its dataset row (the manifest's `source_id`, else the file stem or
`dataset.source_id_from_clip_id` of it), so a model trained on extracted videos and this evaluation agree
on which videos its split.json holds out.

A clip counts for accuracy when the model knows its class; abstaining on it is wrong (and also counted
as the abstain rate). Clips of classes the model does not know are counted apart, abstained or named,
never as errors. A clip that cannot be decoded is listed under "failed" and left out; one where nobody
is found is the deployed path refusing to name it: abstained.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from sklearn.metrics import accuracy_score

from ..data.dataset import source_id_from_clip_id
from ..core.errors import InputError
from .evaluate import load_split
from ..data.clips import ClipSource, find_clips
from ..inference.recognizer import NoPersonError, Recognizer, resolve_model_dir
from ..pose import DEFAULT_BACKEND
from .train import SPLIT_FILE

# Videos of training material, never an evaluation: the `fit3d_*` clips of ../shared/data/clips22 are
# recordings of the Fit3D training sequences in fit3d5_mediapipe33.npz (its README).
TRAINING_ONLY_PREFIXES = ("fit3d_",)
NOT_IN_SPLIT = "none"  # the split part of a source that the model's split.json does not list
ABSTAINED = "(abstained)"


def is_training_only(clip: ClipSource) -> bool:
    return clip.clip_id.startswith(TRAINING_ONLY_PREFIXES)


def find_videos(sources: list[str | Path], other_exercises: bool = False) -> list[ClipSource]:
    """The labeled videos of each class-folder tree or manifest in `sources` (`clips.find_clips`, which
    refuses a name outside the 22 as a typo unless `other_exercises`)."""
    clips, seen = [], {}
    for source in sources:
        for clip in find_clips(source, other_exercises):
            if clip.clip_id in seen:
                raise InputError(f"two videos share the clip id {clip.clip_id!r}: {seen[clip.clip_id]} and {clip.path}")
            seen[clip.clip_id] = clip.path
            clips.append(clip)
    return clips


def _split_parts(model_dir: Path) -> dict[str, str] | None:
    """Source id -> the part of the model's split.json that holds it; None for a model without one."""
    if not (model_dir / SPLIT_FILE).is_file():
        return None
    return {source: part for part, sources in load_split(str(model_dir)).items() for source in sources}


def _source_id(clip: ClipSource, parts: dict[str, str] | None) -> str:
    """The clip's source as `extract` records it: the one its manifest names (the takes of one performance,
    the views of a split-screen clip), else the clip itself where the split holds it (extract
    --source-per-clip), else its id up to the first number (the default)."""
    if clip.source_id:
        return clip.source_id
    if parts is not None and clip.clip_id in parts:
        return clip.clip_id
    return source_id_from_clip_id(clip.clip_id)


def _predict_row(recognizer: Recognizer, clip: ClipSource, source: str, part: str | None) -> dict:
    row = {"file": str(clip.path), "clip_id": clip.clip_id, "source_id": source,
           "split_part": part, "label": clip.label, "known": clip.label in recognizer.labels}
    try:
        prediction = recognizer.predict(clip.path, top_k=len(recognizer.labels), crop=clip.crop)
        # What the user is shown: the exercise of the verdict (a workout's main one), else the top label.
        predicted = prediction.exercise or prediction.top_k[0].label
        score = next(item.score for item in prediction.top_k if item.label == predicted)
        row.update(predicted=predicted, score=score, abstain=prediction.abstain, seconds=round(prediction.seconds, 2))
    except NoPersonError as error:
        row.update(predicted=None, score=None, abstain=str(error), seconds=None)
    row["correct"] = row["known"] and row["abstain"] is None and row["predicted"] == clip.label
    return row


def _summary(rows: list[dict]) -> dict:
    """Top-1 accuracy (abstained = wrong), the top label's accuracy (abstention ignored) and the abstain rate."""
    if not rows:
        return {"clips": 0, "correct": 0, "accuracy": None, "top_label_accuracy": None, "abstain_rate": None}
    labels = [row["label"] for row in rows]
    answers = [ABSTAINED if row["abstain"] is not None else row["predicted"] for row in rows]
    return {"clips": len(rows), "correct": sum(row["correct"] for row in rows),
            "accuracy": round(accuracy_score(labels, answers), 4),
            "top_label_accuracy": round(accuracy_score(labels, [row["predicted"] or ABSTAINED for row in rows]), 4),
            "abstain_rate": round(sum(row["abstain"] is not None for row in rows) / len(rows), 4)}


def evaluate_videos(model: str | Path | None, sources: list[str | Path], *, split: str | None = None,
                    recognizer: Recognizer | None = None, backend: str = DEFAULT_BACKEND, revision: str | None = None,
                    other_exercises: bool = False, progress: bool = True) -> dict:
    """Run `Recognizer.predict` on every labeled video of `sources`; the figures and one row per clip.

    `model`: a model folder or Hub id (default: the shipped checkpoint), which also gives the split.json;
    `recognizer`: that model already loaded (else it is loaded here, once, with `backend`); `split`: keep
    only the clips whose source id is in that part ("validation", "test") of the model's split.json;
    `other_exercises`: take labels outside the 22 as exercises the model should abstain on, not as typos.
    """
    from tqdm import tqdm

    model_dir = resolve_model_dir(model, revision)
    parts = _split_parts(model_dir)
    if split is not None and (parts is None or split not in parts.values()):
        raise InputError(f"{model or model_dir}: no {split!r} part in a {SPLIT_FILE} beside the model")
    clips = find_videos(sources, other_exercises)
    excluded = [{"file": str(clip.path), "reason": "training material (never an evaluation)"}
                for clip in clips if is_training_only(clip)]
    source_of = {clip.clip_id: _source_id(clip, parts) for clip in clips}
    part_of = {clip.clip_id: None if parts is None else parts.get(source_of[clip.clip_id], NOT_IN_SPLIT)
               for clip in clips}
    candidates = [clip for clip in clips if not is_training_only(clip)
                  and (split is None or part_of[clip.clip_id] == split)]
    if not candidates:
        raise InputError(f"no video to evaluate in {', '.join(map(str, sources))}"
                         + (f" among the {split} sources of the model" if split else ""))

    owned = recognizer is None
    recognizer = recognizer or Recognizer.from_pretrained(model_dir, backend=backend)
    rows, failed = [], []
    started = time.perf_counter()
    try:
        for clip in tqdm(candidates, unit="clip", desc="evaluate-videos", disable=not progress):
            try:
                rows.append(_predict_row(recognizer, clip, source_of[clip.clip_id], part_of[clip.clip_id]))
            except (OSError, ValueError) as error:  # an unreadable or over-long video: reported, the run goes on
                failed.append({"file": str(clip.path), "error": str(error) or type(error).__name__})
    finally:
        if owned:
            recognizer.close()

    known = [row for row in rows if row["known"]]
    unknown = [row for row in rows if not row["known"]]
    per_class = {label: {"clips": 0, "correct": 0, "abstained": 0} for label in sorted({row["label"] for row in rows})}
    for row in rows:
        per_class[row["label"]]["clips"] += 1
        per_class[row["label"]]["correct"] += row["correct"]
        per_class[row["label"]]["abstained"] += row["abstain"] is not None
    by_split_part = ({part: _summary([row for row in known if row["split_part"] == part])
                      for part in sorted({row["split_part"] for row in known})} if parts is not None else None)
    return {
        "model": str(model or model_dir), "split": split, "sources": [str(source) for source in sources],
        "model_labels": recognizer.labels, **_summary(known),
        "unknown_class_clips": len(unknown),
        "unknown_class_abstained": sum(row["abstain"] is not None for row in unknown),
        "unknown_class_named": dict(Counter(row["predicted"] for row in unknown if row["abstain"] is None)),
        "per_class": per_class, "by_split_part": by_split_part,
        "excluded": excluded, "failed": failed, "seconds": round(time.perf_counter() - started, 1),
        "rows": rows,
    }


def format_video_report(result: dict) -> str:
    """The per-clip table and the figures of `evaluate_videos`, as printed by the command."""
    lines = [f"{'clip':<48} {'label':<20} {'predicted':<20} {'score':>6}  abstain"]
    for row in result["rows"]:
        mark = "" if not row["known"] else (" ok" if row["correct"] else " WRONG")
        score = "" if row["score"] is None else f"{row['score']:.3f}"
        lines.append(f"{Path(row['file']).name[:48]:<48} {row['label']:<20} {row['predicted'] or '-':<20} "
                     f"{score:>6}  {row['abstain'] or ''}{mark}")
    lines.append("")
    lines.append(f"{'class':<22} clips correct abstained")
    for label, counts in result["per_class"].items():
        known = "" if label in result["model_labels"] else "  (class unknown to the model)"
        lines.append(f"{label:<22} {counts['clips']:5d} {counts['correct']:7d} {counts['abstained']:9d}{known}")
    lines.append("")
    if result["clips"]:
        lines.append(f"known classes: {result['correct']}/{result['clips']} right, accuracy {result['accuracy']:.3f} "
                     f"(abstained = wrong), top label {result['top_label_accuracy']:.3f}, "
                     f"abstain rate {result['abstain_rate']:.3f}")
    for part, figures in (result["by_split_part"] or {}).items():
        lines.append(f"  sources in split part {part!r}: {figures['correct']}/{figures['clips']} right")
    if result["unknown_class_clips"]:
        lines.append(f"unknown classes: {result['unknown_class_clips']} clips, "
                     f"{result['unknown_class_abstained']} abstained, named {result['unknown_class_named']}")
    for excluded in result["excluded"]:
        lines.append(f"excluded: {excluded['file']}: {excluded['reason']}")
    for failure in result["failed"]:
        lines.append(f"failed: {failure['error']}")
    return "\n".join(lines)
