"""The pose dataset schema and the import of the shared npz keypoint archives."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gym_gesture.data import windows as data
from gym_gesture.model.configuration_gym_gesture import GymGestureConfig
from gym_gesture.data.dataset import COLUMNS, dataset_from_records, load_pose_dataset, records_from_npz, source_id_from_clip_id
from gym_gesture.inference.recognizer import DEFAULT_MODEL_DIR
from gym_gesture.data.windows import load_pose_datasets


@pytest.mark.parametrize(
    "clip_id, source",
    [
        ("squat_13", "squat_13"),
        ("squat_13_1", "squat_13"),
        ("bench_press_32_2", "bench_press_32"),
        ("lat_pulldown_5", "lat_pulldown_5"),
        ("correct46", "correct46"),
        ("wrong94", "wrong94"),
        ("fit3d_barbell_row10", "fit3d_barbell_row10"),
        ("penn_0345", "penn_0345"),
        ("EngincanOzyol_3311456_deadlift", "EngincanOzyol_3311456"),
        ("my clip", "my clip"),
    ],
)
def test_source_id_is_the_id_up_to_its_first_number(clip_id, source):
    assert source_id_from_clip_id(clip_id) == source


def write_archive(path, clips):
    np.savez(path, **clips)
    return path


def test_npz_import_marks_missing_frames_and_maps_labels(tmp_path):
    rng = np.random.default_rng(0)
    clip = rng.random((12, 33, 4)).astype(np.float16)
    clip[3:5] = np.nan
    archive = write_archive(tmp_path / "kp.npz", {"Push-ups/correct7_1": clip})
    dataset = load_pose_dataset(archive).with_format("numpy")
    assert dataset.column_names == list(COLUMNS)
    row = dataset[0]
    assert (row["label"], row["clip_id"], row["source_id"]) == ("push up", "correct7_1", "correct7")
    assert row["keypoints"].shape == (12, 33, 3) and row["scores"].shape == (12, 33)
    assert row["detected"].tolist() == [True] * 3 + [False] * 2 + [True] * 7
    assert np.isnan(row["keypoints"][3:5]).all() and (row["scores"][3:5] == 0).all()
    np.testing.assert_allclose(row["keypoints"][0], clip[0, :, :3].astype(np.float32))
    assert (row["layout"], row["backend"], row["fps"]) == ("mediapipe33", "mediapipe", 30.0)


@pytest.mark.parametrize(
    "clips, message",
    [
        ({"squat": np.zeros((5, 33, 4))}, "is not '<label>/<clip id>'"),
        ({"squat/a_1": np.zeros((5, 20, 3))}, "'squat/a_1': 20 joints is no keypoint archive layout"),
        ({"squat/a_1": np.zeros((5, 17, 3))}, "17 joints is no keypoint archive layout"),
        ({"squat/a_1": np.zeros((5, 33, 3))}, r"expected \(T, 33, 4\) for layout mediapipe33"),
        ({"squat/a_1": np.zeros((5, 18, 4))}, r"expected \(T, 18, 3\) for layout openpose18"),
        ({"squat/a_1": np.zeros((5, 33))}, r"expected \(T, joints, channels\)"),
    ],
)
def test_malformed_archives_are_clear_errors(tmp_path, clips, message):
    with pytest.raises(ValueError, match=message):
        records_from_npz(write_archive(tmp_path / "bad.npz", clips))


def two_d_clip(rng, frames: int, joints: int) -> np.ndarray:
    """x, y in pixels and a confidence, as OpenPose and Penn Action give them."""
    clip = np.concatenate([rng.uniform(0, 400, (frames, joints, 2)), rng.random((frames, joints, 1))], axis=-1)
    return clip.astype(np.float32)


def test_openpose_archive_without_sidecar_keeps_pixels_and_other_exercises(tmp_path):
    clip = two_d_clip(np.random.default_rng(0), 10, 18)
    clip[2, 4] = np.nan  # one wrist not found: the person is still there
    clip[5] = np.nan
    archive = write_archive(tmp_path / "openpose.npz", {"Front Raise/posetrainer_front_good_2": clip,
                                                        "shoulder press/posetrainer_press_bad_1": clip})
    rows = records_from_npz(archive, fps=25.0)
    assert [row["label"] for row in rows] == ["front raise", "shoulder press"]
    row = rows[0]
    assert (row["layout"], row["backend"], row["fps"], row["width"], row["height"]) == ("openpose18", "openpose", 25.0, 0, 0)
    np.testing.assert_allclose(row["keypoints"][0, :, :2], clip[0, :, :2])
    assert (row["keypoints"][~np.isnan(clip[..., 0]), 2] == 0).all()  # no depth, and not NaN either
    np.testing.assert_allclose(row["scores"][0], clip[0, :, 2])
    assert row["detected"].tolist() == [True] * 5 + [False] + [True] * 4


def test_penn_archive_takes_frame_size_and_rate_from_its_sidecar(tmp_path):
    clip = two_d_clip(np.random.default_rng(1), 8, 13)
    archive = write_archive(tmp_path / "penn.npz", {"situp/penn_0001": clip, "squat/penn_0002": clip})
    (tmp_path / "penn.json").write_text(json.dumps({"situp/penn_0001": {"width": 400, "height": 200, "view": "left"},
                                                    "squat/penn_0002": {"width": 480, "height": 270, "fps": 25}}))
    first, second = records_from_npz(archive)
    assert (first["label"], first["source_id"], first["layout"], first["backend"]) == ("situp", "penn_0001", "penn13", "penn_action")
    assert (first["width"], first["height"], first["fps"]) == (400, 200, 30.0)
    assert (second["width"], second["height"], second["fps"]) == (480, 270, 25.0)
    # Pixels normalized to the frame, as the pose backends give them.
    np.testing.assert_allclose(first["keypoints"][..., :2], clip[..., :2] / [400, 200], rtol=1e-6)


def test_unreadable_sidecar_is_a_clear_error(tmp_path):
    archive = write_archive(tmp_path / "penn.npz", {"squat/penn_0002": two_d_clip(np.random.default_rng(2), 4, 13)})
    (tmp_path / "penn.json").write_text("{not json")
    with pytest.raises(ValueError, match="penn.json: not a readable JSON sidecar"):
        records_from_npz(archive)


def test_archives_of_different_layouts_load_together(tmp_path):
    rng = np.random.default_rng(3)
    mediapipe = write_archive(tmp_path / "mp.npz", {"squat/squat_1": rng.random((40, 33, 4)).astype(np.float16)})
    openpose = write_archive(tmp_path / "op.npz", {"shoulder shrug/posetrainer_shrug_1": two_d_clip(rng, 40, 18)})
    datasets = load_pose_datasets([mediapipe, openpose])
    assert [dataset[0]["layout"] for dataset in datasets] == ["mediapipe33", "openpose18"]
    with pytest.raises(ValueError, match="several joint layouts"):
        dataset_from_records(records_from_npz(mediapipe) + records_from_npz(openpose))


def test_corrupt_archive_is_a_clear_error(tmp_path):
    path = tmp_path / "corrupt.npz"
    path.write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(ValueError, match="not a readable .npz"):
        records_from_npz(path)


def test_missing_path_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such dataset"):
        load_pose_dataset(tmp_path / "nothing.npz")


def test_real_gym_archive_groups_clips_by_source(shared_data):
    rows = records_from_npz(shared_data / "keypoints" / "gym5_mediapipe33.npz")
    assert len(rows) == 218
    assert len({row["source_id"] for row in rows}) == 197
    assert {row["label"] for row in rows} == {"bench press", "lat pulldown", "pull up", "push up", "squat"}
    detected = np.concatenate([row["detected"] for row in rows])
    assert 0.95 < detected.mean() < 1.0  # a few frames with no person, marked rather than zeroed


REAL_ARCHIVES = {  # file: (clips, layout)
    "gym5_mediapipe33.npz": (218, "mediapipe33"),
    "pushup_form_mediapipe33.npz": (194, "mediapipe33"),
    "fit3d5_mediapipe33.npz": (160, "mediapipe33"),
    "posetrainer_openpose18.npz": (84, "openpose18"),
    "penn_action_13j.npz": (534, "penn13"),
}


def test_every_real_archive_imports_and_gives_finite_windows(shared_data):
    config = GymGestureConfig.from_pretrained(DEFAULT_MODEL_DIR)
    datasets = load_pose_datasets([shared_data / "keypoints" / name for name in REAL_ARCHIVES])
    for dataset, (name, (clips, layout)) in zip(datasets, REAL_ARCHIVES.items()):
        assert (len(dataset), set(dataset["layout"])) == (clips, {layout}), name
        # Every third clip: OpenPose's clips often miss the ears the canonical head is made from.
        sample = dataset.select(range(0, len(dataset), 3))
        label2id = {label: index for index, label in enumerate(sorted(set(sample["label"])))}
        windows, _ = data.windows_from_dataset(sample, config, label2id=label2id, progress=False)
        assert len(windows) and np.isfinite(windows.keypoints).all(), name
    penn = datasets[-1]
    assert {"situp", "clean and jerk", "jumping jacks"} <= set(penn["label"])
    assert min(penn["width"]) > 0 and min(penn["height"]) > 0
