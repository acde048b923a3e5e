"""The pose dataset schema and the import of the shared npz keypoint archives."""

from __future__ import annotations

import numpy as np
import pytest

from gym_gesture.dataset import COLUMNS, load_pose_dataset, records_from_npz, source_id_from_clip_id


@pytest.mark.parametrize(
    "clip_id, source",
    [
        ("squat_13", "squat_13"),
        ("squat_13_1", "squat_13"),
        ("bench_press_32_2", "bench_press_32"),
        ("lat_pulldown_5", "lat_pulldown_5"),
        ("correct46", "correct46"),
        ("wrong94", "wrong94"),
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
        ({"squat/a_1": np.zeros((5, 17, 4))}, r"expected \(T, 33, 4\)"),
        ({"zumba/a_1": np.zeros((5, 33, 4))}, "unknown exercise 'zumba'"),
    ],
)
def test_malformed_archives_are_clear_errors(tmp_path, clips, message):
    with pytest.raises(ValueError, match=message):
        records_from_npz(write_archive(tmp_path / "bad.npz", clips))


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
