"""The training side of the data: windows, splits by source video, class balance, augmentation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from synthetic_poses import CLASSES, synthetic_clip

from gym_gesture.data import windows as data
from gym_gesture.data.synthetic_outliers import PARTS, SyntheticOutliers
from gym_gesture.model import skeleton
from gym_gesture.model import transforms
from gym_gesture.model.configuration_gym_gesture import GymGestureConfig
from gym_gesture.data.dataset import load_pose_dataset
from gym_gesture.core.errors import InputError

CONFIG = GymGestureConfig(num_frames=60, window_stride=15, sample_fps=30.0)
TWO_CHANNELS = GymGestureConfig(num_frames=30, window_stride=15, sample_fps=30.0, num_channels=2)


def _clip(frames=200, seed=0, label="squat", missing=False):
    return synthetic_clip(label, frames, np.random.default_rng(seed), missing=missing)[..., :3]


def test_windows_shapes_overlap_and_normalization():
    clip = _clip(200)
    windows = data.windows_from_sequence(clip, "mediapipe33", 30.0, CONFIG)
    # starts 0, 15, ..., 135 and one more ending on the last frame (140)
    assert windows.keypoints.shape == (11, 60, 17, 3)
    assert windows.attention_mask.shape == (11, 60) and windows.attention_mask.all()
    # each window is exactly skeleton.normalize of the converted frames: the one normalization path
    converted = skeleton.convert(clip, "mediapipe33", "h36m17")
    np.testing.assert_allclose(windows.keypoints[1], skeleton.normalize(converted[15:75], "h36m17"), atol=1e-5)
    np.testing.assert_allclose(windows.keypoints[-1], skeleton.normalize(converted[140:200], "h36m17"), atol=1e-5)


def test_short_clip_is_padded_and_masked():
    windows = data.windows_from_sequence(_clip(25), "mediapipe33", 30.0, CONFIG)
    assert windows.keypoints.shape == (1, 60, 17, 3)
    assert windows.attention_mask[0].tolist() == [1] * 25 + [0] * 35
    assert np.all(windows.keypoints[0, 25:] == 0) and np.isfinite(windows.keypoints).all()


def test_trim_interpolate_and_drop_missing_windows():
    clip = _clip(200)
    with_absence = np.concatenate([np.full((20, 33, 3), np.nan), clip, np.full((30, 33, 3), np.nan)])
    trimmed = data.windows_from_sequence(with_absence, "mediapipe33", 30.0, CONFIG)
    np.testing.assert_allclose(trimmed.keypoints, data.windows_from_sequence(clip, "mediapipe33", 30.0, CONFIG).keypoints)

    gappy = clip.copy()
    gappy[50:57] = np.nan  # 7 frames < 0.3 s: interpolated linearly
    windows = data.windows_from_sequence(gappy, "mediapipe33", 30.0, CONFIG)
    assert len(windows) == 11 and np.isfinite(windows.keypoints).all()
    middle = skeleton.convert(clip[[49, 57]], "mediapipe33", "h36m17").mean(axis=0)
    filled = transforms.fill_gaps(skeleton.convert(gappy, "mediapipe33", "h36m17"), max_gap=9)
    np.testing.assert_allclose(filled[53], middle, atol=1e-5)

    lost = clip.copy()
    lost[60:200] = np.nan
    lost[199] = clip[199]  # a person again at the very end: not trimmed, but most windows are empty
    windows = data.windows_from_sequence(lost, "mediapipe33", 30.0, CONFIG)
    assert len(windows) == 3  # starts 0, 15, 30 have most frames; the others are dropped
    assert np.isfinite(windows.keypoints).all()

    assert len(data.windows_from_sequence(np.full((50, 33, 3), np.nan), "mediapipe33", 30.0, CONFIG)) == 0


def test_resampling_to_the_model_fps():
    clip = _clip(250)  # 250 frames at 25 fps span 9.96 s: 299 frames at 30 fps
    resampled = transforms.resample(skeleton.convert(clip, "mediapipe33", "h36m17"), 25.0, 30.0)
    assert resampled.shape[0] == 299 and np.isfinite(resampled).all()
    np.testing.assert_allclose(resampled[6], skeleton.convert(clip, "mediapipe33", "h36m17")[5], atol=1e-6)
    windows = data.windows_from_sequence(clip, "mediapipe33", 25.0, CONFIG)
    assert len(windows) == len(range(0, 299 - 60 + 1, 15)) + 1


def test_wrong_input_is_a_clear_error():
    with pytest.raises(ValueError, match="33 joints"):
        data.windows_from_sequence(np.zeros((50, 17, 3)), "mediapipe33", 30.0, CONFIG)
    with pytest.raises(ValueError, match="fps"):
        data.windows_from_sequence(_clip(50), "mediapipe33", 0, CONFIG)


def _sources(num_classes=3, per_class=10, seed=0):
    rng = np.random.default_rng(seed)
    source_ids, labels = [], []
    for label in CLASSES[:num_classes]:
        for source in range(per_class):
            for _ in range(int(rng.integers(1, 4))):  # several clips of one source
                source_ids.append(f"{label}_{source}")
                labels.append(label)
    return source_ids, labels


def test_split_by_source_is_disjoint_stratified_and_seeded():
    source_ids, labels = _sources()
    split = data.split_sources(source_ids, labels, 0.2, 0.2, seed=3)
    parts = [set(split[name]) for name in data.SPLITS]
    assert not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and not (parts[1] & parts[2])
    assert set().union(*parts) == set(source_ids)
    for name in data.SPLITS:  # every class in every split
        assert {source.rsplit("_", 1)[0] for source in split[name]} == set(CLASSES)
    assert [len(split[name]) for name in data.SPLITS] == [18, 6, 6]
    assert data.split_sources(source_ids, labels, 0.2, 0.2, seed=3) == split
    assert data.split_sources(source_ids, labels, 0.2, 0.2, seed=4) != split


def test_small_classes_keep_a_training_source():
    split = data.split_sources(["a_1", "b_1", "b_2", "c_1", "c_2", "c_3"], ["a", "b", "b", "c", "c", "c"], 0.15, 0.15)
    assert "a_1" in split["train"]
    assert sum(source.startswith("b") for source in split["train"]) >= 1
    assert [sum(source.startswith("c") for source in split[name]) for name in data.SPLITS] == [1, 1, 1]


def test_real_split_keeps_clips_of_one_source_together(shared_data):
    dataset = load_pose_dataset(shared_data / "keypoints" / "gym5_mediapipe33.npz")
    split = data.split_sources(dataset["source_id"], dataset["label"], seed=0)
    clips = dict(zip(dataset["clip_id"], dataset["source_id"]))
    assert clips["squat_13_1"] == clips["squat_13_2"] == "squat_13"
    # Every source in exactly one part: the parts are disjoint and together hold every source once.
    parts = [set(split[name]) for name in data.SPLITS]
    assert sum(len(split[name]) for name in data.SPLITS) == len(set.union(*parts)) == 197
    assert set.union(*parts) == set(dataset["source_id"])


def test_the_default_models_split_keeps_each_take_on_one_side(shared_data):
    """The takes of one performance filmed from two sides (clips22's same_take_group) and the two halves of a
    split-screen clip are one source in the shipped model's split.json: never on both sides of it."""
    import json

    from benchmarks.data_folds import manifest_views

    from gym_gesture.core.paths import DEFAULT_MODEL_DIR

    split = json.loads((DEFAULT_MODEL_DIR / "split.json").read_text())
    part_of = {source: part for part, sources in split.items() for source in sources}
    views = manifest_views(shared_data / "clips22")
    grouped = [view for view in views if view["source_id"] != view["clip_id"]]
    assert len(grouped) >= 30  # 9 takes filmed twice, 18 split-screen clips cut in two
    for view in views:
        assert view["source_id"] in part_of, view
    assert not {view["clip_id"] for view in grouped} & set(part_of)


def test_the_default_model_trained_on_no_clip_with_another_person_in_view(shared_data):
    """Issue #29: no model learns from a bystander. The clips of clips22 whose manifest says two people are in
    view (the incline dumbbell press) are outside the default checkpoint's training split; it trained on
    `mediapipe`'s extraction, which differs from the tracker's on its training clips only in one person's fit
    (docs/pose.md, `benchmarks.extractions_compared`). A default trained on another split must keep this."""
    import json

    from gym_gesture.core.paths import DEFAULT_MODEL_DIR

    manifest = json.loads((shared_data / "clips22" / "manifest.json").read_text())
    with_others = [Path(entry["file"]).stem for entry in manifest if "two people" in entry.get("what", "")]
    assert with_others == ["DavidOprea_LiftScope__incline_bench"]
    split = json.loads((DEFAULT_MODEL_DIR / "split.json").read_text())
    assert not set(with_others) & set(split["train"])
    assert set(with_others) <= set(split["validation"]) | set(split["test"])


def test_split_screen_clips_of_the_unknown_exercises_are_cut_into_views_and_the_folds_stay(shared_data, tmp_path):
    """`unknown/` holds 11 split-screen clips (a front and a side view side by side, 3:1 to 4.5:1): the
    manifests cut each into its two halves, of one source, so that no measurement reads a person squeezed
    sideways; the exercise types' folds are still those the shipped checkpoint was measured on."""
    import json

    from benchmarks.data_folds import SPLIT_SCREEN_ASPECT, main

    from gym_gesture.core.paths import DEFAULT_MODEL_DIR
    from gym_gesture.pose.video import probe

    main(["--clips22", str(shared_data / "clips22"), "--out", str(tmp_path)])
    views = json.loads((tmp_path / "unknown_views.json").read_text())
    halves = [view for view in views if "crop" in view]
    assert len(views) == 56 and len(halves) == 22
    for left, right in zip(halves[::2], halves[1::2]):
        assert left["file"] == right["file"] and left["source_id"] == right["source_id"] != left["clip_id"]
        assert (left["crop"], right["crop"]) == ([0.0, 0.0, 0.5, 1.0], [0.5, 0.0, 1.0, 1.0])
        info = probe(left["file"])
        assert info.width / 2 < SPLIT_SCREEN_ASPECT * info.height <= info.width  # the whole over 2.5:1, a half under
    held_out = json.loads((DEFAULT_MODEL_DIR / "calibration.json").read_text())["protocol"]["held_out_types"]
    folds = json.loads((tmp_path / "folds.json").read_text())["held_out_types"]
    assert folds[0] == sorted(held_out["per_type"])
    videos = json.loads((tmp_path / "unknown_held_out0_videos.json").read_text())
    assert {view["label"] for view in videos} == set(folds[0]) and len(videos) == 24  # 18 clips, 6 of them halved


def test_excluded_spans_drop_only_the_windows_of_their_clip_that_overlap_them():
    # Two clips of 200 frames at 30 fps: windows of 2 s every 0.5 s, starting 0, 0.5, ..., 4.5 and 4.67.
    clips = data.ClipTable(["kept", "edited"], ["kept", "edited"], ["squat", "squat"])
    parts = []
    for index, seed in enumerate((0, 1)):
        windows = data.windows_from_sequence(_clip(200, seed=seed), "mediapipe33", 30.0, CONFIG)
        windows.clip_index = np.full(len(windows), index)
        parts.append(windows)
    windows = data.concatenate_windows(parts)
    keep = data.outside_spans(windows, clips, {"edited": [[0.0, 1.0], [8.0, 9.0]]})
    starts = windows.spans[:, 0]
    assert keep[windows.clip_index == 0].all()  # another clip's spans do not touch this one
    edited = windows.clip_index == 1
    # [0, 1] s: the windows starting before 1 s overlap it; [8, 9] s, past the clip's end (6.7 s), none.
    assert np.array_equal(keep[edited], starts[edited] >= 1.0) and (~keep[edited]).sum() == 2
    assert data.outside_spans(windows, clips, {}).all()
    for wrong in ([3, 2], [1], 4):
        with pytest.raises(InputError, match=r"edited: .* is not \[start, end\] with start before end"):
            data.outside_spans(windows, clips, {"edited": [wrong]})


def test_undersampling_and_class_weights():
    labels = np.array([0] * 50 + [1] * 20 + [2] * 10)
    kept = data.undersample(np.arange(80), labels, seed=0)
    assert np.bincount(labels[kept]).tolist() == [10, 10, 10]
    weights = data.class_weights(labels, num_classes=4)
    np.testing.assert_allclose(weights, [80 / 150, 80 / 60, 80 / 30, 1.0], rtol=1e-6)
    tempered = data.class_weights(labels, num_classes=4, power=0.5)
    np.testing.assert_allclose(tempered, np.sqrt([80 / 150, 80 / 60, 80 / 30, 1.0]), rtol=1e-6)


def _batch():
    windows = [data.windows_from_sequence(_clip(90, seed), "mediapipe33", 30.0, CONFIG) for seed in range(4)]
    short = data.windows_from_sequence(_clip(30, 9), "mediapipe33", 30.0, CONFIG)
    return (np.concatenate([w.keypoints for w in windows + [short]]),
            np.concatenate([w.attention_mask for w in windows + [short]]))


def test_augmentation_keeps_shapes_and_the_valid_frames_first():
    keypoints, mask = _batch()
    augmented, augmented_mask = data.Augmentation()(keypoints, mask, np.random.default_rng(0))
    assert augmented.shape == keypoints.shape and augmented.dtype == np.float32
    assert augmented_mask.shape == mask.shape and np.isfinite(augmented).all()
    lengths = augmented_mask.sum(axis=1)
    assert np.array_equal(augmented_mask, (np.arange(60)[None] < lengths[:, None]).astype(np.int64))
    assert np.all(augmented[augmented_mask == 0] == 0)
    assert not np.allclose(augmented, keypoints)


def test_mirror_swaps_left_and_right():
    keypoints, mask = _batch()
    only_mirror = data.Augmentation(mirror=1.0, rotation_degrees=0.0, scale=(1.0, 1.0), speed=(1.0, 1.0),
                                    joint_dropout=0.0)
    mirrored, mirrored_mask = only_mirror(keypoints, mask, np.random.default_rng(0))
    index = skeleton.H36M17.index
    for left, right in (("left_wrist", "right_wrist"), ("left_knee", "right_knee"), ("left_hip", "right_hip")):
        np.testing.assert_allclose(mirrored[..., index[left], 0], -keypoints[..., index[right], 0], atol=1e-6)
        np.testing.assert_allclose(mirrored[..., index[right], 1:], keypoints[..., index[left], 1:], atol=1e-6)
    np.testing.assert_allclose(mirrored[..., index["head"], 0], -keypoints[..., index["head"], 0], atol=1e-6)
    assert np.array_equal(mirrored_mask, mask)
    twice, _ = only_mirror(mirrored, mask, np.random.default_rng(1))
    np.testing.assert_allclose(twice, keypoints, atol=1e-6)


def test_speed_change_stretches_time():
    keypoints, mask = _batch()
    slower = data.Augmentation(mirror=0.0, rotation_degrees=0.0, scale=(1.0, 1.0), speed=(0.5, 0.5),
                               joint_dropout=0.0)
    slowed, slowed_mask = slower(keypoints, mask, np.random.default_rng(0))
    np.testing.assert_allclose(slowed[:4, 10], keypoints[:4, 5], atol=1e-6)  # frame 10 now shows frame 5
    assert slowed_mask[:-1].all() and slowed_mask[-1].sum() == 59  # the 30-frame clip now lasts 59 frames
    faster = data.Augmentation(mirror=0.0, rotation_degrees=0.0, scale=(1.0, 1.0), speed=(1.25, 1.25),
                               joint_dropout=0.0)
    _, faster_mask = faster(keypoints, mask, np.random.default_rng(0))
    # 60 frames played 1.25x as fast fill 48 frames (positions 0, 1.25, ..., 58.75), then padding
    assert faster_mask[0].sum() == 48


def _squats_and_raises(still_squats=False):
    """Windows of the real squat fixture (label 0) and of synthetic lateral raises (label 1), 2 channels."""
    landmarks = np.load(Path(__file__).parent / "fixtures" / "squat_clip_mediapipe33.npy")[..., :2]
    if still_squats:
        landmarks = np.repeat(landmarks[:1], len(landmarks), axis=0)
    squats = data.windows_from_sequence(landmarks, "mediapipe33", 30.0, TWO_CHANNELS)
    raises = [data.windows_from_sequence(synthetic_clip("lateral raises", 90, np.random.default_rng(seed),
                                                        missing=False)[..., :2], "mediapipe33", 30.0, TWO_CHANNELS)
              for seed in range(3)]
    keypoints = np.concatenate([squats.keypoints] + [w.keypoints for w in raises])
    mask = np.concatenate([squats.attention_mask] + [w.attention_mask for w in raises])
    labels = np.array([0] * len(squats) + [1] * sum(len(w) for w in raises))
    return keypoints, mask, labels


def test_synthetic_outliers_hold_one_part_still_and_move_another_as_another_exercise_does(shared_data):
    dataset = load_pose_dataset(shared_data / "keypoints" / "gym5_mediapipe33.npz")
    clips = [i for label in ("push up", "squat") for i in np.flatnonzero(np.array(dataset["label"]) == label)[:3]]
    cut = data.windows_from_dataset(dataset.select(clips), TWO_CHANNELS, label2id={"push up": 0, "squat": 1})[0]
    keypoints, mask, labels = cut.keypoints, cut.attention_mask, cut.labels
    synthesis = SyntheticOutliers(fraction=1.0)
    made, made_mask = synthesis(keypoints, mask, labels, np.random.default_rng(0))
    assert len(made) >= 5 and made_mask.all() and made.shape[1:] == keypoints.shape[1:]
    bones, made_bones = synthesis._bones(keypoints), synthesis._bones(made)
    parts = {name: [skeleton.H36M17.index[joint] for joint in joints] for name, joints in PARTS.items()}
    for copy in made_bones:
        held = [name for name, joints in parts.items() if np.allclose(copy[:, joints], copy[:1, joints], atol=1e-5)]
        same = {name: [window for window in range(len(bones)) if np.allclose(copy[:, joints], bones[window][:, joints],
                                                                              atol=1e-5)]
                for name, joints in parts.items() if name not in held}
        # one part held still at a frame of the window it comes from, another part of that window as it
        # was, the third moving as in a window of the other exercise
        assert len(held) == 1 and len(same) == 2
        held_joints = parts[held[0]]

        def comes_from(window):
            return any(np.allclose(copy[0, held_joints], bones[window][t, held_joints], atol=1e-5) for t in range(30))

        (kept_part, sources), (_, donors) = sorted(same.items(), key=lambda item: not any(map(comes_from, item[1])))
        source = next(filter(comes_from, sources))
        assert donors and all(labels[donor] != labels[source] for donor in donors)
        # a plank with a squat's knees is no squat: the parts kept are far from the donor's posture
        kept = parts[kept_part] + parts[held[0]]
        assert min(np.linalg.norm(copy[:, kept].mean(0) - bones[donor][:, kept].mean(0), axis=-1).mean()
                   for donor in donors) >= 0.3


def test_synthetic_outliers_keep_clear_of_known_exercises():
    rng = np.random.default_rng(0)
    keypoints, mask, labels = _squats_and_raises()
    # one exercise: nothing to mix; a squat held with a lateral raise's arms, or lateral raises with a
    # squat's knees, keep a squat's or a raise's posture: no copy is made of either
    assert len(SyntheticOutliers(fraction=1.0)(keypoints, mask, np.zeros_like(labels), rng)[0]) == 0
    assert len(SyntheticOutliers(fraction=1.0)(keypoints, mask, labels, rng)[0]) == 0
    # ... which a guard of 0 would make
    assert len(SyntheticOutliers(fraction=1.0, min_posture_distance=0.0)(keypoints, mask, labels, rng)[0]) > 0
    # squats held still: no part of theirs moves, to hold still or to give
    keypoints, mask, labels = _squats_and_raises(still_squats=True)
    assert len(SyntheticOutliers(fraction=1.0, min_posture_distance=0.0)(keypoints, mask, labels, rng)[0]) == 0


def test_window_dataset_adds_the_synthetic_outliers_as_outlier_labels():
    keypoints, mask, labels = _squats_and_raises()
    windows = data.Windows(keypoints, mask, np.zeros((len(labels), 2)), labels, np.zeros(len(labels), int))
    dataset = data.WindowDataset(windows, outliers=SyntheticOutliers(fraction=1.0, min_posture_distance=0.0),
                                 outlier_label=-1)
    batch = dataset.__getitems__(list(range(len(labels))))
    assert [item["labels"] for item in batch[:len(labels)]] == labels.tolist()
    assert len(batch) > len(labels) and all(item["labels"] == -1 for item in batch[len(labels):])


def test_an_aspect_stretch_turns_a_landscape_reading_of_a_real_pose_into_the_portrait_one(shared_data):
    """`train --augment-aspect`: a 2-channel model reads x / width and y / height, so the same pixels in a
    portrait frame are another shape than in a landscape one. `stretch_aspect` by the frames' ratio turns the
    windows of one into those of the other, up to each window's size; real MediaPipe push-ups of gym5."""
    config = GymGestureConfig(num_channels=2, num_frames=30, sample_fps=10.0, window_stride=5)
    row = load_pose_dataset(shared_data / "keypoints" / "gym5_mediapipe33.npz").filter(
        lambda clip_id: clip_id.endswith("push_up_57"), input_columns="clip_id").with_format("numpy")[0]
    landscape = np.asarray(row["keypoints"], np.float32)[..., :2]  # as 1280x720 frames
    portrait = landscape * np.array([1280 / 720, 720 / 1280], np.float32)  # the same pixels, 720x1280 frames
    windows = [data.windows_from_sequence(keypoints, "mediapipe33", float(row["fps"]), config).keypoints
               for keypoints in (landscape, portrait)]

    def shape_difference(a, b):  # after the best scale per window, relative to the window's size
        flat_a, flat_b = a.reshape(len(a), -1), b.reshape(len(b), -1)
        scale = (flat_a * flat_b).sum(1) / (flat_a * flat_a).sum(1)
        return np.linalg.norm(flat_b - scale[:, None] * flat_a, axis=1) / np.linalg.norm(flat_b, axis=1)

    assert shape_difference(*windows).min() > 0.1
    stretched = data.stretch_aspect(windows[0], np.full(len(windows[0]), (1280 / 720) ** 2))
    assert shape_difference(stretched, windows[1]).max() < 1e-4
    augment = data.Augmentation(mirror=0.0, rotation_degrees=0.0, scale=(1.0, 1.0), speed=(1.0, 1.0),
                                joint_dropout=0.0, aspect=1.8)
    ratios = augment(windows[0], np.ones(windows[0].shape[:2], np.int64), np.random.default_rng(0))[0][..., 0] / windows[0][..., 0]
    assert 1 / 1.8 ** 0.5 - 1e-4 < ratios[np.abs(windows[0][..., 0]) > 1e-3].min() < 0.8
    assert 1.2 < ratios[np.abs(windows[0][..., 0]) > 1e-3].max() < 1.8 ** 0.5 + 1e-4
