"""The overlay: skeleton drawn with faded low-confidence joints and a caption, written as browser H.264."""

from __future__ import annotations

import av
import cv2
import numpy as np
import pytest

from gym_gesture.overlay import draw_pose, format_caption, render_overlay
from gym_gesture.pose.sequence import extract_clip
from gym_gesture.skeleton import get_layout
from gym_gesture.video import read_frames

from conftest import FIXTURES

SQUAT_CLIP = FIXTURES / "squat_clip.mp4"


@pytest.fixture(scope="module")
def squat_sequence(mediapipe_pose):
    return extract_clip(SQUAT_CLIP, mediapipe_pose, fps=15)


def test_confident_joints_solid_faint_joints_faded(squat_sequence):
    image = next(read_frames(SQUAT_CLIP)).image
    points, scores = squat_sequence.image_points[0].copy(), squat_sequence.scores[0].copy()
    index = get_layout("mediapipe33").index
    scores[index["left_knee"]] = 1.0
    scores[index["right_knee"]] = 0.0
    drawn = draw_pose(image, points, scores, "mediapipe33")
    change = np.abs(drawn.astype(int) - image.astype(int)).sum(axis=2)

    def change_at(joint):
        x, y = np.round(points[index[joint]]).astype(int)
        return change[y, x]

    assert change_at("left_knee") > 3 * change_at("right_knee") > 0
    assert (image == next(read_frames(SQUAT_CLIP)).image).all()  # the input is left untouched


def test_missing_person_draws_nothing_and_caption_is_drawn(squat_sequence):
    image = next(read_frames(SQUAT_CLIP)).image
    nothing = np.full((33, 2), np.nan, np.float32)
    assert (draw_pose(image, nothing, np.zeros(33, np.float32), "mediapipe33") == image).all()
    captioned = draw_pose(image, nothing, np.zeros(33, np.float32), "mediapipe33",
                          caption=format_caption("squat", 0.93))
    assert format_caption("squat", 0.93) == "squat 93%"
    corner = captioned[:24, :90]  # white text on a black box, top left
    assert (corner.max(axis=2) == 0).mean() > 0.5 and (corner.min(axis=2) > 200).sum() > 20
    assert (captioned[40:] == image[40:]).all()
    with pytest.raises(ValueError, match="layout 'coco17' has 17 joints"):
        draw_pose(image, nothing, np.zeros(33, np.float32), "coco17")


def test_render_overlay_is_browser_playable(squat_sequence, tmp_path):
    out = render_overlay(SQUAT_CLIP, squat_sequence, tmp_path / "overlay.mp4", caption="squat 93%")
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert container.format.name.startswith("mov,mp4")
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.pix_fmt == "yuv420p"
        assert (stream.width, stream.height) == (320, 180)
        assert float(stream.average_rate) == pytest.approx(15.0)
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
    assert len(frames) == len(squat_sequence) == 38
    original = next(read_frames(SQUAT_CLIP)).image
    assert np.abs(frames[0].astype(int) - original.astype(int)).mean() > 1  # skeleton and caption drawn


def test_overlay_of_a_1080p_clip_is_720p_with_the_skeleton_in_place(shared_data, mediapipe_pose, tmp_path):
    clip = shared_data / "videos" / "push_up_correct134.mp4"  # 1920x1080
    sequence = extract_clip(clip, mediapipe_pose, fps=5)
    out = render_overlay(clip, sequence, tmp_path / "overlay.mp4")
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height) == (1280, 720)
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
    assert len(frames) == len(sequence)
    first = int(np.flatnonzero(sequence.detected)[0])
    original = next(frame.image for frame in read_frames(clip, 5) if frame.index == first)
    expected = draw_pose(original, sequence.image_points[first], sequence.scores[first], sequence.layout)
    scaled = cv2.resize(expected, (1280, 720), interpolation=cv2.INTER_AREA)
    bare = cv2.resize(original, (1280, 720), interpolation=cv2.INTER_AREA)
    left, top = np.floor(np.nanmin(sequence.image_points[first], axis=0) / 1.5).astype(int)
    right, bottom = np.ceil(np.nanmax(sequence.image_points[first], axis=0) / 1.5).astype(int)
    box = (slice(max(top, 0), bottom), slice(max(left, 0), right))

    def error(reference):
        return np.abs(frames[first][box].astype(int) - reference[box].astype(int)).mean()

    # The skeleton lands where it is in the full-size frame, drawn (H.264 leaves a few levels of noise).
    assert error(scaled) < 4 < error(bare)
