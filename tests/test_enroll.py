"""Enrollment: a new exercise from a few clips, without retraining (`gym-gesture enroll`)."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from safetensors import safe_open

from gym_gesture import GymGestureConfig
from gym_gesture import GymGestureForSequenceClassification
from gym_gesture.cli import main as cli
from gym_gesture.training.enroll import (EnrollmentClip, clips_from_archive, enroll, threshold_floor, window_embeddings,
                                with_motion_floor)
from gym_gesture.core.errors import InputError
from gym_gesture.hub.publish import build_model_folder
from gym_gesture.inference.recognizer import Recognizer, load_model, window_probabilities_and_similarities
from gym_gesture.analysis.abstain import AbstainSample, AbstainThresholds, PrototypeSimilarity
from gym_gesture.analysis.motion import motion_energy
from synthetic_poses import synthetic_clip
from test_remote_code import load_in_fresh_process

FPS = 30.0


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    """A small untrained two-class model at 10 fps with 3-second windows (the shipped geometry). Its weights
    are drawn wide (initializer_range 0.5) so that its random embedding tells motions apart."""
    torch.manual_seed(0)
    config = GymGestureConfig(id2label={0: "bench press", 1: "push up"}, d_model=32, ffn_dim=64, num_frames=30,
                              sample_fps=10.0, window_stride=5, initializer_range=0.5)
    folder = tmp_path_factory.mktemp("small")
    GymGestureForSequenceClassification(config).eval().save_pretrained(folder)
    return folder


def synthetic_clips(label: str, count: int, seed: int) -> list[EnrollmentClip]:
    rng = np.random.default_rng(seed)
    return [EnrollmentClip(f"{label}_{i}", synthetic_clip(label, 240, rng, missing=False)[..., :3], "mediapipe33", FPS)
            for i in range(count)]


def named(recognizer: Recognizer, clip: EnrollmentClip) -> str | None:
    """What predict names the clip (None: it abstains)."""
    result = recognizer.recognize_sequence(clip.keypoints, clip.layout, clip.fps,
                                           np.isfinite(clip.keypoints).all(axis=(1, 2)))
    return None if result.abstain else recognizer.labels[int(result.clip_scores.argmax())]


def test_enrolled_folder_is_a_model_folder_with_prototypes_in_safetensors(small_model, tmp_path):
    clips = synthetic_clips("lateral raises", 3, seed=0)
    record = enroll(small_model, "lateral raises", clips, tmp_path / "enrolled")
    folder = tmp_path / "enrolled"
    assert sorted(path.suffix for path in folder.iterdir() if path.suffix not in (".json", ".py")) == [".safetensors"]
    config = json.loads((folder / "config.json").read_text())
    assert config["id2label"] == {"0": "bench press", "1": "push up", "2": "lateral raises"}
    assert config["prototype_thresholds"] == [pytest.approx(record["threshold"], abs=1e-4)]
    assert record["threshold_from"] == "leave one clip out" and len(record["similarities"]) == 3

    model = load_model(small_model)
    expected = np.concatenate([window_embeddings(model, clip)[0] for clip in clips])
    with safe_open(folder / "model.safetensors", "pt") as weights:
        prototypes = weights.get_tensor("prototype_head.prototypes").numpy()
        classes = weights.get_tensor("prototype_head.prototype_classes").numpy()
    np.testing.assert_allclose(prototypes, expected, atol=1e-6)
    assert (classes == 0).all() and record["windows"] == len(prototypes)
    assert json.loads((folder / "enrolment.json").read_text())["classes"][0]["clips"] == [c.name for c in clips]

    # The trained head is untouched: the trained classes' logits are the base model's.
    enrolled = load_model(folder)
    windows = torch.randn(4, 30, 17, 3)
    with torch.no_grad():
        torch.testing.assert_close(enrolled(windows).logits[:, :2], model(windows).logits)


def test_enrolled_class_is_named_and_a_second_class_is_added_on_top(small_model, tmp_path):
    raises, squats = synthetic_clips("lateral raises", 3, seed=1), synthetic_clips("squat", 3, seed=2)
    enroll(small_model, "lateral raises", raises, tmp_path / "one")
    enroll(tmp_path / "one", "squat", squats, tmp_path / "two")
    one = Recognizer.from_pretrained(tmp_path / "one", backend=None)
    two = Recognizer.from_pretrained(tmp_path / "two", backend=None)
    assert two.labels == ["bench press", "push up", "lateral raises", "squat"]
    assert [named(two, clip) for clip in raises] == ["lateral raises"] * 3
    assert [named(two, clip) for clip in squats] == ["squat"] * 3
    # The first class's prototypes and threshold are kept as they were.
    assert two.config.prototype_thresholds[0] == one.config.prototype_thresholds[0]
    keypoints, mask = _windows(one, raises[0])
    np.testing.assert_allclose(
        window_probabilities_and_similarities(two.model, keypoints, mask)[1][:, 0],
        window_probabilities_and_similarities(one.model, keypoints, mask)[1][:, 0], atol=1e-6)
    assert len(json.loads((tmp_path / "two" / "enrolment.json").read_text())["classes"]) == 2


def _windows(recognizer, clip):
    from gym_gesture.data.windows import windows_from_sequence

    windows = windows_from_sequence(clip.keypoints, clip.layout, clip.fps, recognizer.config)
    return windows.keypoints, windows.attention_mask


def test_a_known_label_is_refused(small_model, tmp_path):
    with pytest.raises(InputError, match="already one of the model's exercises"):
        enroll(small_model, "Push  up", synthetic_clips("squat", 1, seed=3), tmp_path / "out")


def test_one_clip_sets_its_threshold_from_its_two_halves(small_model, tmp_path):
    record = enroll(small_model, "lateral raises", synthetic_clips("lateral raises", 1, seed=4), tmp_path / "out")
    assert record["threshold_from"] == "the clip's two halves" and len(record["similarities"]) == 2


def test_abstains_on_a_clip_far_from_the_enrolled_ones():
    """The one abstain path: named as an enrolled class, but less similar to it than its threshold."""
    sample = AbstainSample("front raise", 0.9, 1.0, 0.3, 0.0, similarity=PrototypeSimilarity(0.80, 0.85))
    assert "not close enough to the clips 'front raise' was enrolled from" in sample.reason(AbstainThresholds())
    close = AbstainSample("front raise", 0.9, 1.0, 0.3, 0.0, similarity=PrototypeSimilarity(0.90, 0.85))
    assert close.reason(AbstainThresholds()) is None


def test_an_enrolled_exercise_has_the_motion_threshold_of_its_clips():
    """A small movement taught from clips (a shrug) is not "no exercise motion" under the model's threshold,
    while a trained exercise moving as little still is; the threshold goes through calibration.json."""
    thresholds = with_motion_floor(AbstainThresholds(min_motion=0.05), "shoulder shrug", 0.01)
    shrug = AbstainSample("shoulder shrug", 0.9, 1.0, 0.02, 0.0, similarity=PrototypeSimilarity(0.95, 0.9))
    assert shrug.reason(thresholds) is None
    assert "no exercise motion" in shrug.reason(AbstainThresholds(min_motion=0.05))
    assert "no exercise motion (motion energy 0.005 < 0.010)" in replace(shrug, motion=0.005).reason(thresholds)
    assert "no exercise motion" in AbstainSample("squat", 0.9, 1.0, 0.02, 0.0).reason(thresholds)
    # Never above the model's own threshold, and a clip without enough frames to measure leaves it as it is.
    assert with_motion_floor(thresholds, "wall ball", 0.2).motion_threshold("wall ball") == 0.05
    assert with_motion_floor(thresholds, "wall ball", None) == thresholds


def test_enrolled_folder_writes_the_motion_threshold_into_its_calibration(small_model, tmp_path):
    clips = synthetic_clips("lateral raises", 2, seed=7)
    record = enroll(small_model, "lateral raises", clips, tmp_path / "one")
    assert record["motion_floor"] == pytest.approx(0.5 * min(motion_energy(c.keypoints, c.layout) for c in clips))
    enroll(tmp_path / "one", "squat", synthetic_clips("squat", 2, seed=8), tmp_path / "two")
    thresholds = Recognizer.from_pretrained(tmp_path / "two", backend=None).thresholds
    assert set(thresholds.min_motion_by_exercise) == {"lateral raises", "squat"}
    assert thresholds.motion_threshold("lateral raises") == min(record["motion_floor"], AbstainThresholds().min_motion)
    assert thresholds.motion_threshold("bench press") == AbstainThresholds().min_motion


def test_enrolled_folder_loads_in_a_fresh_process_with_trust_remote_code(small_model, tmp_path):
    enroll(small_model, "lateral raises", synthetic_clips("lateral raises", 2, seed=5), tmp_path / "enrolled")
    model = load_model(tmp_path / "enrolled")
    windows = torch.randn(3, 30, 17, 3)
    with torch.no_grad():
        expected = model(windows).logits
    loaded = load_in_fresh_process(tmp_path / "enrolled", windows, tmp_path)
    assert loaded["class"] == "GymGestureForSequenceClassification" and not loaded["project_loaded"]
    torch.testing.assert_close(torch.tensor(loaded["logits"]), expected, rtol=1e-5, atol=1e-5)


def test_hub_folder_of_an_enrolled_model_carries_its_enrollment(small_model, tmp_path):
    enroll(small_model, "lateral raises", synthetic_clips("lateral raises", 2, seed=6), tmp_path / "enrolled")
    built = build_model_folder(tmp_path / "enrolled", tmp_path / "hub", "user/gym-gesture-enrolled")
    assert (built / "enrolment.json").is_file()
    assert load_model(built).config.id2label[2] == "lateral raises"


@pytest.mark.slow
def test_shipped_model_learns_lateral_raises_from_three_fit3d_sequences(shared_data, tmp_path):
    """Real data: 3 Fit3D lateral raise sequences enrolled into the shipped 7-class model; all its other
    lateral raise sequences are named so, and none of Penn Action's 149 clips of exercises outside the 22
    (19 with the descriptor before its spreads, 56 with the pooled embedding as prototypes), and
    `gym-gesture enroll --data` adds Fit3D's t bar row on top."""
    fit3d = shared_data / "keypoints" / "fit3d5_mediapipe33.npz"
    raises = sorted(clips_from_archive(fit3d, "lateral raises", fps=50.0), key=lambda clip: clip.name)
    enroll("gym7-transformer", "lateral raises", raises[:3], tmp_path / "one")  # the 22-class model knows them
    recognizer = Recognizer.from_pretrained(tmp_path / "one", backend=None)
    held_out = [named(recognizer, clip) for clip in raises[3:]]
    assert np.mean([name == "lateral raises" for name in held_out]) >= 0.9, held_out  # measured: 29 of 29
    penn = shared_data / "keypoints" / "penn_action_13j.npz"
    unknown = [clip for label in ("situp", "jumping jacks", "clean and jerk") for clip in clips_from_archive(penn, label)]
    false = [named(recognizer, clip) == "lateral raises" for clip in unknown]
    assert np.mean(false) <= 0.05, f"{sum(false)} of {len(false)}"  # measured: 0 of 149

    assert cli(["enroll", "--model", str(tmp_path / "one"), "--data", str(fit3d), "--fps", "50",
                "--label", "t bar row", "--out", str(tmp_path / "two")]) == 0
    two = Recognizer.from_pretrained(tmp_path / "two", backend=None)
    assert two.labels[-2:] == ["lateral raises", "t bar row"]
    assert np.mean([named(two, clip) == "lateral raises" for clip in raises[3:]]) >= 0.8


@pytest.mark.slow
def test_shoulder_shrugs_taught_from_three_clips_are_named_not_taken_for_standing_still(shared_data, tmp_path):
    """Real data: Pose Trainer's shoulder shrugs move little (motion energy 0.01-0.03), 6 of the 21 held-out
    clips less than the model's "no exercise motion" threshold (0.02) and all of them less than the default's
    (0.05); taught from 3 clips, the other clips are named shoulder shrug (with the default threshold none was)."""
    posetrainer = shared_data / "keypoints" / "posetrainer_openpose18.npz"
    shrugs = sorted(clips_from_archive(posetrainer, "shoulder shrug"), key=lambda clip: clip.name)
    taught, held_out = shrugs[:3], shrugs[3:]
    enroll(None, "shoulder shrug", taught, tmp_path / "shrug")
    recognizer = Recognizer.from_pretrained(tmp_path / "shrug", backend=None)
    motions = [motion_energy(clip.keypoints, clip.layout) for clip in held_out]
    # The case: the model's threshold would refuse some of them.
    assert np.sum(np.array(motions) < recognizer.thresholds.min_motion) >= 5
    names = [named(recognizer, clip) for clip in held_out]
    assert np.mean([name == "shoulder shrug" for name in names]) >= 0.9, names  # measured: 21 of 21 (16 pooled)


@pytest.mark.slow
def test_situps_that_look_unalike_get_the_floor_threshold_and_a_warning(shared_data, tmp_path, monkeypatch):
    """Real data: these three Penn Action situp clips (one draw of benchmarks/enroll.py) look no more alike
    than clips of different exercises (leave one clip out: 0.10, against 0.59, the floor of two clips). The
    user is warned, and the floor (0.62 for three clips) keeps most clips of other exercises from being
    named situp: without it 77 of 100 Penn clips of five other exercises were, with it 7 (measured)."""
    import gym_gesture.training.enroll

    penn = shared_data / "keypoints" / "penn_action_13j.npz"
    taught = [clip for clip in clips_from_archive(penn, "situp") if clip.name in ("penn_1567", "penn_1563", "penn_1652")]
    others = [clip for label in ("push up", "bench press", "pull up", "jumping jacks", "clean and jerk")
              for clip in clips_from_archive(penn, label)[:20]]
    record = enroll(None, "situp", taught, tmp_path / "floored")
    floor = threshold_floor("pose-spread", 3)
    assert min(record["similarities"]) < threshold_floor("pose-spread", 2) / 2
    assert record["threshold"] == floor and "look no more alike" in record["warning"]
    monkeypatch.setattr(gym_gesture.training.enroll, "MIN_THRESHOLD", {"pose-spread": (-1.0,)})
    assert enroll(None, "situp", taught, tmp_path / "unfloored")["warning"] is None
    recognizers = {folder: Recognizer.from_pretrained(tmp_path / folder, backend=None) for folder in ("floored", "unfloored")}
    named_situp = {folder: sum(named(recognizer, clip) == "situp" for clip in others)
                   for folder, recognizer in recognizers.items()}
    assert named_situp["floored"] <= named_situp["unfloored"] / 2, named_situp


@pytest.mark.slow
def test_threshold_floors_are_what_clips_of_other_classes_reach_against_as_many_clips(shared_data):
    """`enroll.MIN_THRESHOLD` is the benchmark's measure on the shipped model's validation clips, rounded: the
    95th percentile of a clip's similarity to k clips of another class, which grows with k (the decision
    reads the nearest window of all the enrolled clips), so a descriptor change cannot leave them stale."""
    from benchmarks.enroll import FLOOR_SHOTS, different_class_similarity, load_clips
    from gym_gesture.training.enroll import MIN_THRESHOLD
    from gym_gesture.core.paths import CHECKPOINTS_DIR

    gym7 = CHECKPOINTS_DIR / "gym7-transformer"  # the floors were measured on its validation clips
    model = load_model(gym7)
    clips = load_clips(model)
    measured = [different_class_similarity(gym7, model, clips, shots) for shots in FLOOR_SHOTS]
    assert measured == sorted(measured) and measured[-1] - measured[0] > 0.1, measured  # 0.472 ... 0.631
    assert MIN_THRESHOLD[model.config.prototype_embedding] == tuple(round(value, 2) for value in measured)


@pytest.mark.parametrize("embedding", ["pooled", "pose"])
def test_a_folder_enrolled_with_an_earlier_embedding_still_loads_names_and_enrols_with_it(small_model, tmp_path, embedding):
    """Folders enrolled before the pose descriptor hold the trunk's pooled embeddings as prototypes and no
    `enrollment_embedding` in their config; those enrolled before its spreads say "pose", under the field's
    earlier spelling `enrolment_embedding`. They load as such, and enrolling on top keeps that embedding."""
    base = load_model(small_model)
    base.config.enrollment_embedding = embedding
    base.save_pretrained(tmp_path / "base")
    raises = synthetic_clips("lateral raises", 3, seed=1)
    enroll(tmp_path / "base", "lateral raises", raises, tmp_path / "old")
    config = json.loads((tmp_path / "old" / "config.json").read_text())
    assert config["enrollment_embedding"] == embedding
    if embedding == "pooled":
        del config["enrollment_embedding"]
    else:
        config["enrolment_embedding"] = config.pop("enrollment_embedding")
    (tmp_path / "old" / "config.json").write_text(json.dumps(config))
    old = Recognizer.from_pretrained(tmp_path / "old", backend=None)
    assert old.config.prototype_embedding == embedding
    assert old.model.prototype_head.prototypes.shape[1] == {"pooled": old.config.d_model, "pose": 70}[embedding]
    assert [named(old, clip) for clip in raises] == ["lateral raises"] * 3
    enroll(tmp_path / "old", "squat", synthetic_clips("squat", 3, seed=2), tmp_path / "two")
    assert json.loads((tmp_path / "two" / "config.json").read_text())["enrollment_embedding"] == embedding
