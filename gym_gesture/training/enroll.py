"""Teach a model a new exercise from a few clips, without retraining (`gym-gesture enroll`).

The model's enrolment embedding of every window of the enrolled clips (its pose descriptor: joint angles,
limb heights and spreads, torso direction and their motion, `model.pose_descriptor`; the
trunk's pooled output for models enrolled before it) becomes a prototype of the new class
(`modeling_gym_gesture.PrototypeHead`): a window's similarity to the class is its cosine similarity to the
nearest prototype. The class's threshold comes from its own clips, leave one clip out: each clip's
similarity (the mean over its windows) to the prototypes of the other clips; the threshold is the lowest of
them, so that every enrolled clip would have been named by the others, less a margin (`THRESHOLD_MARGIN`)
for the class's clips that are less alike than the few enrolled. A single clip is split into its first and
second half (windows that do not overlap) for the same measure; a clip too short for that gets
`DEFAULT_THRESHOLD`. The threshold is never below `MIN_THRESHOLD`, the similarity that clips of different
exercises rarely reach to as many clips: clips that look no more alike than that teach the model little,
and the record's `warning` says so. The "no exercise motion" threshold of the class comes from its clips too
(`motion_floor`), written into the folder's calibration.json.

The output is a model folder like any other: the same weights, the prototypes as buffers in
model.safetensors, the new label in config.id2label with its threshold, the folder's calibration and
form model copied, and `enrolment.json` recording which clips taught which class. Enrolling a folder
that already has enrolled classes adds one more.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.errors import InputError
from ..data.labels import normalize_label
from ..core.paths import CALIBRATION_FILE, ENROLLMENT_FILE, FORM_MODEL_FILE

# By enrollment embedding (`GymGestureConfig.prototype_embedding`), how far under the least typical enrolled
# clip's similarity the threshold sits: k clips' lowest similarity to each other is an optimistic estimate
# of how alike the class's other clips are. Chosen on the PoseTrainer and Fit3D classes of
# benchmarks/enroll.py (front raise, shoulder shrug, lateral raises, t bar row; k = 3, 5 draws): the margin
# that names most of their other clips right while other clips named as them stay at the 0.05 target, the
# smallest of equals; Penn Action's classes are the held-out check. "pose-spread" (`python -m
# benchmarks.enroll --margins`, results/enroll_margins.md): margins 0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3 named
# 0.814, 0.945, 0.995, 1.000, 1.000, 1.000, 1.000 right at 0.005, 0.009, 0.013, 0.025, 0.035, 0.048, 0.062
# false. "pose" (one-off): 0, 0.03, 0.06, 0.1, 0.15, 0.2, 0.3 named 0.808, 0.940, 0.966, 0.982, 0.998,
# 1.000, 1.000 right at 0.010, 0.014, 0.021, 0.030, 0.045, 0.064, 0.095 false.
THRESHOLD_MARGIN = {"pose-spread": 0.15, "pose": 0.15, "pooled": 0.0}
# By enrollment embedding (`GymGestureConfig.prototype_embedding`), the threshold of a class enrolled from
# one clip too short to split in two non-overlapping halves: the median leave-one-clip-out threshold of
# 3-clip enrollments on the real archives (benchmarks/enroll.py).
DEFAULT_THRESHOLD = {"pose-spread": 0.7, "pose": 0.72, "pooled": 0.9}
# By enrollment embedding and number of enrolled clips (1, 2, ... the last for more), the lowest threshold of
# an enrolled class: the similarity that a validation clip (the 7-class checkpoint's split.json) rarely
# reaches to as many validation clips of a different class, the 95th percentile (benchmarks/enroll.py). The
# decision reads a clip's similarity to the nearest of all the enrolled clips' windows, which grows with
# their number. "pose" and "pooled" keep the one floor they were enrolled with, measured against one clip:
# 0.478 and 0.425 for gym7-transformer, 0.597 and 0.485 for gym22-transformer. Three Penn Action situp clips
# left one out gave pooled thresholds of -0.39 to -0.04, at which most clips of other exercises were named situp.
MIN_THRESHOLD = {"pose-spread": (0.47, 0.59, 0.62, 0.63, 0.63), "pose": (0.5,), "pooled": (0.45,)}
# An enrolled exercise's motion threshold is this share of its least-moving clip's motion energy (never
# above the model's own): its other clips move about as much, give or take a factor of 2 to 3 (shoulder
# shrugs of Pose Trainer: 0.011 to 0.031, below the model's 0.05 that a still person falls under).
MOTION_FLOOR_SHARE = 0.5


@dataclass
class EnrollmentClip:
    """One clip to enroll: keypoints (T, J, C) in `layout` at `fps` (NaN where nobody was found), already in
    the model's geometry (`PoseSequence.model_coordinates` for videos, an archive's rows as they are)."""

    name: str
    keypoints: np.ndarray
    layout: str
    fps: float
    frame_size: tuple[int, int] | None = None  # (width, height) of the frames, None where unknown


def clips_from_archive(path: str | Path, label: str, fps: float | None = None) -> list[EnrollmentClip]:
    """Every clip of `label` in a pose dataset or keypoint archive of any supported layout; `fps` overrides
    the archive's frame rate (Fit3D's archive is 50 fps, which it does not record)."""
    from ..data.windows import load_pose_datasets, row_frame_size

    label = normalize_label(label)
    clips = []
    for dataset in load_pose_datasets([path]):
        rows = dataset.filter(lambda row_label: row_label == label, input_columns=["label"])
        for row in rows.with_format("numpy"):
            clips.append(EnrollmentClip(str(row["clip_id"]), row["keypoints"], str(row["layout"]),
                                       float(fps or row["fps"]), row_frame_size(row)))
    if not clips:
        raise InputError(f"{path}: no clip labelled {label!r}")
    return clips


def clips_from_videos(paths, backend, config) -> list[EnrollmentClip]:
    """The clips of video files, through `backend` at the model's frame rate, as `predict` reads them."""
    from ..pose.sequence import extract_clip

    clips = []
    for path in map(Path, paths):
        sequence = extract_clip(path, backend, config.sample_fps)
        clips.append(EnrollmentClip(path.name, sequence.model_coordinates(config.num_channels), sequence.layout,
                                   sequence.fps, sequence.frame_size))
    return clips


def window_embeddings(model, clip: EnrollmentClip) -> tuple[np.ndarray, np.ndarray]:
    """The unit-length enrollment embeddings (N, `prototype_dim`) of a clip's windows (the model's
    `enrollment_embeddings`) and their spans (N, 2) in seconds."""
    import torch

    from ..data.windows import windows_from_sequence
    from ..model.modeling_gym_gesture import prototype_dim

    windows = windows_from_sequence(clip.keypoints, clip.layout, clip.fps, model.config, frame_size=clip.frame_size)
    if not len(windows):
        return np.zeros((0, prototype_dim(model.config)), np.float32), windows.spans
    device = next(model.parameters()).device
    with torch.inference_mode():
        embeddings = model.enrollment_embeddings(torch.from_numpy(windows.keypoints).to(device),
                                                torch.from_numpy(windows.attention_mask).to(device))
    return embeddings.cpu().numpy(), windows.spans


def clip_similarity(embeddings: np.ndarray, prototypes: np.ndarray) -> float:
    """A clip's similarity to a set of prototypes: the mean over its windows of the nearest one's cosine."""
    return float((embeddings @ prototypes.T).max(axis=1).mean())


def _halves(embeddings: np.ndarray, spans: np.ndarray) -> list[np.ndarray]:
    """A single clip's windows of its first and of its second half, leaving out those that straddle the
    middle (overlapping windows would make the halves look alike)."""
    middle = (spans[0, 0] + spans[-1, 1]) / 2
    halves = [embeddings[spans[:, 1] <= middle], embeddings[spans[:, 0] >= middle]]
    return halves if all(len(half) for half in halves) else []


def leave_one_out_threshold(groups: list[np.ndarray]) -> tuple[float, list[float]]:
    """The class's threshold from its groups of window embeddings (one a clip, or two halves of one clip):
    each group's `clip_similarity` to the others' windows, and the lowest of those."""
    similarities = [clip_similarity(group, np.concatenate(groups[:i] + groups[i + 1:]))
                    for i, group in enumerate(groups)]
    return min(similarities), similarities


def motion_floor(clips: list[EnrollmentClip]) -> float | None:
    """The least motion energy that counts as doing the enrolled exercise: `MOTION_FLOOR_SHARE` of that of
    its least-moving clip (`motion.motion_energy` over the whole clip); None when no clip has enough
    frames with a person to measure it."""
    from ..analysis.motion import in_proportion, motion_energy

    energies = [energy for clip in clips
                if np.isfinite(energy := motion_energy(in_proportion(clip.keypoints, clip.frame_size), clip.layout))]
    return MOTION_FLOOR_SHARE * min(energies) if energies else None


def with_motion_floor(thresholds, label: str, floor: float | None):
    """`thresholds` (`abstain.AbstainThresholds`) with the enrolled `label`'s own motion threshold: the lower
    of the model's and `floor` (the model's when None)."""
    from dataclasses import replace

    if floor is None:
        return thresholds
    return replace(thresholds, min_motion_by_exercise={**thresholds.min_motion_by_exercise,
                                                       label: min(thresholds.min_motion, floor)})


def threshold_floor(embedding: str, num_clips: int) -> float:
    """The lowest threshold of a class enrolled from `num_clips` clips with `embedding` (`MIN_THRESHOLD`)."""
    floors = MIN_THRESHOLD[embedding]
    return floors[min(num_clips, len(floors)) - 1]


def enrolled_model(model, label: str, prototypes: np.ndarray, threshold: float):
    """A copy of `model` (a GymGestureForSequenceClassification) with one more class, served by `prototypes`
    (N, `prototype_dim`) at `threshold`; the model's own weights and earlier prototypes are kept as they are."""
    import torch

    from ..model.configuration_gym_gesture import GymGestureConfig
    from ..model.modeling_gym_gesture import GymGestureForSequenceClassification

    config = model.config.to_dict()
    labels = [model.config.id2label[i] for i in range(model.config.num_labels)] + [label]
    config.update(id2label=dict(enumerate(labels)), label2id={name: i for i, name in enumerate(labels)},
                  enrollment_embedding=model.config.prototype_embedding,
                  num_prototypes=model.config.num_prototypes + len(prototypes),
                  prototype_thresholds=[*(model.config.prototype_thresholds or []), float(threshold)])
    for key in ("architectures", "transformers_version", "_name_or_path", "dtype"):
        config.pop(key, None)
    # Built on the CPU and moved to the model's device once whole (a CUDA model's state would not concatenate
    # with the new prototypes).
    device = next(model.parameters()).device
    state = {name: tensor.cpu() for name, tensor in model.state_dict().items()}
    new_class = model.config.num_enrolled_labels
    old_prototypes = state.pop("prototype_head.prototypes", torch.zeros(0, prototypes.shape[1]))
    old_classes = state.pop("prototype_head.prototype_classes", torch.zeros(0, dtype=torch.long))
    state.pop("prototype_head.thresholds", None)
    state["prototype_head.prototypes"] = torch.cat([old_prototypes, torch.from_numpy(prototypes).float()])
    state["prototype_head.prototype_classes"] = torch.cat(
        [old_classes, torch.full((len(prototypes),), new_class, dtype=torch.long)])
    enrolled = GymGestureForSequenceClassification(GymGestureConfig(**config))
    enrolled.load_state_dict(state, strict=True)
    return enrolled.to(device).eval()


def enroll_clips(model, label: str, clips: list[EnrollmentClip], margin: float | None = None) -> tuple[object, dict]:
    """`model` with `label` enrolled from `clips`, and the record of it (what `enrolment.json` lists);
    `margin` in place of the embedding's `THRESHOLD_MARGIN` (what benchmarks/enroll.py chooses it by)."""
    started = time.perf_counter()
    label = " ".join(label.split())
    if not label:
        raise InputError("the new exercise needs a name")
    known = {name.lower() for name in model.config.label2id}
    if label.lower() in known:
        raise InputError(f"{label!r} is already one of the model's exercises; enrol under another name")
    if not clips:
        raise InputError(f"no clip of {label!r} to enrol")
    embedded = [(clip, *window_embeddings(model, clip)) for clip in clips]
    skipped = [clip.name for clip, embeddings, _ in embedded if not len(embeddings)]
    embedded = [item for item in embedded if len(item[1])]
    if not embedded:
        raise InputError(f"no clip of {label!r} gave a window: is one person visible, whole body, for 3 s or more?")
    if len(embedded) >= 2:
        groups, method = [embeddings for _, embeddings, _ in embedded], "leave one clip out"
    else:
        groups, method = _halves(embedded[0][1], embedded[0][2]), "the clip's two halves"
    embedding, warning = model.config.prototype_embedding, None
    floor = threshold_floor(embedding, len(embedded))
    if len(groups) >= 2:
        lowest, similarities = leave_one_out_threshold(groups)
        threshold = lowest - (THRESHOLD_MARGIN[embedding] if margin is None else margin)
        # Each group was compared with the others: the floor of that many clips.
        if lowest < (alike := threshold_floor(embedding, len(groups) - 1)):
            warning = (f"the clips of {label!r} look no more alike to the model than clips of different exercises "
                       f"(similarity {lowest:.2f} < {alike}): it will miss many of its clips; enrol clips "
                       f"filmed alike (the same view, the whole body in frame), or more of them")
    else:
        threshold, similarities, method = DEFAULT_THRESHOLD[embedding], [], "default (one clip, too short to halve)"
    if threshold < floor:
        threshold, method = floor, f"{method}, raised to the floor"
    prototypes = np.concatenate([embeddings for _, embeddings, _ in embedded])
    enrolled = enrolled_model(model, label, prototypes, threshold)
    record = {"label": label, "clips": [clip.name for clip, _, _ in embedded], "skipped_clips": skipped,
              "windows": len(prototypes), "threshold": round(float(threshold), 4), "threshold_from": method,
              "motion_floor": motion_floor([clip for clip, _, _ in embedded]),
              "similarities": [round(value, 4) for value in similarities], "warning": warning,
              "seconds": round(time.perf_counter() - started, 3)}
    return enrolled, record


def enroll(model_source, label: str, clips: list[EnrollmentClip], out_dir: str | Path, *,
           revision: str | None = None, model=None) -> dict:
    """Enroll `label` from `clips` into the model folder or Hub id `model_source` (or the already loaded
    `model` of it) and save the result, a complete model folder, to `out_dir`. Returns its record."""
    from ..inference.recognizer import load_model, resolve_model_dir
    from ..model.processing_gym_gesture import GymGestureProcessor

    folder = resolve_model_dir(model_source, revision)
    model = model if model is not None else load_model(folder)
    enrolled, record = enroll_clips(model, label, clips)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    history = json.loads((folder / ENROLLMENT_FILE).read_text())["classes"] if (folder / ENROLLMENT_FILE).is_file() else []
    enrolled.save_pretrained(out_dir)
    GymGestureProcessor.from_model_config(enrolled.config).save_pretrained(out_dir)
    if (folder / FORM_MODEL_FILE).is_file() and (folder / FORM_MODEL_FILE).resolve() != (out_dir / FORM_MODEL_FILE).resolve():
        shutil.copy2(folder / FORM_MODEL_FILE, out_dir / FORM_MODEL_FILE)
    write_calibration(folder, out_dir, record)
    (out_dir / ENROLLMENT_FILE).write_text(json.dumps(
        {"base_model": str(model_source), "classes": [*history, record]}, indent=1) + "\n")
    return record


def write_calibration(folder: Path, out_dir: Path, record: dict) -> None:
    """The base folder's calibration.json (what the recognizer reads beside the weights) with the enrolled
    exercise's own motion threshold (`with_motion_floor`)."""
    from ..analysis.abstain import AbstainThresholds

    path = folder / CALIBRATION_FILE
    calibration = json.loads(path.read_text()) if path.is_file() else {}
    thresholds = with_motion_floor(AbstainThresholds.for_model(folder), record["label"], record["motion_floor"])
    calibration["thresholds"] = {**calibration.get("thresholds", {}), **thresholds.to_json()}
    (out_dir / CALIBRATION_FILE).write_text(json.dumps(calibration, indent=1) + "\n")
