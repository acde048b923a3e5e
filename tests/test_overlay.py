"""The overlay: skeleton drawn with faded low-confidence joints, at the clip's own rate from the one decode
that feeds pose, written as browser H.264 (from a multi-person backend, everyone: the person followed in color,
the others in grey, drawn again where the clip's choice differs from the backend's); its captions as WebVTT."""

from __future__ import annotations

import av
import cv2
import numpy as np
import pytest

from gym_gesture.render.overlay import OTHER_PERSON_GREY, SkeletonOverlay, draw_people, draw_pose, write_captions
from gym_gesture.pose.sequence import extract_clip
from gym_gesture.model.skeleton import get_layout
from gym_gesture.pose.video import probe, read_clip, read_frames

from conftest import FIXTURES, read_browser_playable

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


def test_missing_person_draws_nothing():
    image = next(read_frames(SQUAT_CLIP)).image
    nothing = np.full((33, 2), np.nan, np.float32)
    assert (draw_pose(image, nothing, np.zeros(33, np.float32), "mediapipe33") == image).all()
    with pytest.raises(ValueError, match="layout 'coco17' has 17 joints"):
        draw_pose(image, nothing, np.zeros(33, np.float32), "coco17")


def test_grey_draws_the_same_strokes_all_in_one_grey(squat_sequence):
    image = next(read_frames(SQUAT_CLIP)).image
    points, scores = squat_sequence.image_points[0], np.ones(33, np.float32)
    colored = draw_pose(image, points, scores, "mediapipe33")
    grey = draw_pose(image, points, scores, "mediapipe33", color=OTHER_PERSON_GREY)
    strokes = (grey != image).any(axis=2)
    assert (strokes == (colored != image).any(axis=2)).mean() > 0.999
    # Every stroke is grey (anti-aliased edges blend it with the picture), the joints full grey.
    drawn = grey[strokes].astype(int)
    assert np.median(drawn.max(axis=1) - drawn.min(axis=1)) <= 2
    joints = np.round(points).astype(int)
    assert (grey[joints[:, 1], joints[:, 0]] == OTHER_PERSON_GREY).all()
    assert not (colored[joints[:, 1], joints[:, 0]] == OTHER_PERSON_GREY).all(axis=1).any()


def test_people_drawn_the_followed_one_in_color_over_the_others_in_grey(squat_sequence):
    image = next(read_frames(SQUAT_CLIP)).image
    points, scores = squat_sequence.image_points[0], squat_sequence.scores[0]
    beside = points + np.float32([40, 0])  # overlapping: whoever is drawn last is on top
    people = {3: (points, scores), 7: (beside, scores)}
    expected = draw_pose(draw_pose(image, points, scores, "mediapipe33", color=OTHER_PERSON_GREY),
                         beside, scores, "mediapipe33")
    assert (draw_people(image, (people, 7), "mediapipe33") == expected).all()
    nobody_followed = draw_pose(draw_pose(image, points, scores, "mediapipe33", color=OTHER_PERSON_GREY),
                                beside, scores, "mediapipe33", color=OTHER_PERSON_GREY)
    assert (draw_people(image, (people, None), "mediapipe33") == nobody_followed).all()
    assert draw_people(image, ({}, None), "mediapipe33") is image


def _overlay(clip, backend, fps, out):
    """The overlay of `clip` written while `backend` runs at `fps`: the path of `Recognizer.predict`."""
    overlay = SkeletonOverlay(out, probe(clip), layout=backend.layout, sample_fps=fps)
    sequence = extract_clip(clip, backend, fps, observer=overlay)
    return sequence, overlay.finish()


def test_overlay_is_browser_playable_at_the_clip_rate_with_poses_in_between(mediapipe_pose, tmp_path):
    sequence, out = _overlay(SQUAT_CLIP, mediapipe_pose, 10, tmp_path / "overlay.mp4")
    source = probe(SQUAT_CLIP)
    frames, size, fps = read_browser_playable(out)
    assert size == (320, 180) and fps == pytest.approx(source.fps)
    assert len(frames) == source.frame_count == 75 and len(sequence) == 25
    originals = [frame.image for frame in read_frames(SQUAT_CLIP)]
    # Frame 31 of the 30 fps clip sits a third of the way from pose 10 (frame 30) to pose 11 (frame 33):
    # the skeleton drawn there is the interpolated one, not either pose's.
    between = sequence.image_points[10] + (sequence.image_points[11] - sequence.image_points[10]) / 3
    expected = draw_pose(originals[31], between, sequence.scores[10], sequence.layout)
    pose_10 = draw_pose(originals[31], sequence.image_points[10], sequence.scores[10], sequence.layout)

    def error(reference):
        return np.abs(frames[31].astype(int) - reference.astype(int)).mean()

    assert error(expected) < error(pose_10) and error(expected) < error(originals[31])


def test_single_person_overlay_decodes_the_clip_once(mediapipe_pose, tmp_path, monkeypatch):
    """Only a multi-person backend's overlay waits for the exerciser's choice and decodes the clip again."""
    import gym_gesture.render.overlay as overlay_module

    def second_decode(*args, **kwargs):
        raise AssertionError("a second decode")

    monkeypatch.setattr(overlay_module, "read_clip", second_decode)
    sequence, out = _overlay(SQUAT_CLIP, mediapipe_pose, 5, tmp_path / "overlay.mp4")
    assert sequence.people is None and out.is_file()


def _two_people_overlay(sequence, out, followed_during_pose: int, followed_in_clip: int) -> list[int | None]:
    """The overlay of the squat clip with two people, as a multi-person backend gives them: its real poses
    (track 0) and the same 100 pixels to the right (track 1), track `followed_during_pose` followed during pose
    and `followed_in_clip` chosen over the clip; whom each frame drawn has followed, in the order drawn."""
    import gym_gesture.render.overlay as overlay_module
    from gym_gesture.pose.mediapipe_backend import MediaPipePoseFrame
    from gym_gesture.pose.tracking import PeopleFrame, PeopleTracks

    drawn = []

    def draw_people(image, people, layout, **options):
        drawn.append(people[1])
        return image

    people = [PeopleFrame(keypoints, points, scores, True, keypoints,
                          people=tuple(MediaPipePoseFrame(keypoints, points + offset, scores, True, keypoints)
                                       for offset in np.float32([[0, 0], [100, 0]])),
                          tracks=(0, 1), followed=followed_during_pose)
              for keypoints, points, scores in zip(sequence.keypoints, sequence.image_points, sequence.scores)]
    overlay = SkeletonOverlay(out, probe(SQUAT_CLIP), layout=sequence.layout, sample_fps=sequence.fps)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(overlay_module, "draw_people", draw_people)
        for frame in read_clip(SQUAT_CLIP, sequence.fps, preview_size=overlay.preview_size):
            overlay(frame, [people[sample] for sample in frame.samples])
        overlay.exerciser_chosen(PeopleTracks.from_frames(people), np.full(len(people), followed_in_clip))
        overlay.finish()
    return drawn


def test_multi_person_overlay_is_drawn_again_where_the_clips_choice_differs(squat_sequence, tmp_path, monkeypatch):
    frames = probe(SQUAT_CLIP).frame_count
    # The clip's choice is the backend's: drawn once, during pose.
    monkeypatch.setattr("gym_gesture.render.overlay.read_clip", lambda *args, **kwargs: pytest.fail("a second decode"))
    assert _two_people_overlay(squat_sequence, tmp_path / "same.mp4", 0, 0) == [0] * frames
    monkeypatch.undo()
    # Another choice: every frame drawn again, following the clip's choice.
    drawn = _two_people_overlay(squat_sequence, tmp_path / "other.mp4", 0, 1)
    assert drawn[-frames:] == [1] * frames and set(drawn[:-frames]) == {0}
    with av.open(str(tmp_path / "other.mp4")) as container:
        assert container.streams.video[0].frames == frames


def test_captions_are_webvtt_cues(tmp_path):
    path = write_captions([(0.0, 3.25, "squat, 3 reps"), (3.25, 65.5, "not sure (maybe push up)")],
                          tmp_path / "overlay.vtt")
    assert path.read_text() == ("WEBVTT\n\n00:00:00.000 --> 00:00:03.250\nsquat, 3 reps\n\n"
                                "00:00:03.250 --> 00:01:05.500\nnot sure (maybe push up)\n")


def test_overlay_of_a_1080p_clip_is_720p_with_the_skeleton_in_place(shared_data, mediapipe_pose, tmp_path):
    clip = shared_data / "videos" / "push_up_correct134.mp4"  # 1920x1080
    sequence, out = _overlay(clip, mediapipe_pose, 5, tmp_path / "overlay.mp4")
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height) == (1280, 720)
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
    originals = [frame.image for frame in read_frames(clip)]
    assert len(frames) == len(originals)
    first = int(np.flatnonzero(sequence.detected)[0])
    # The decoded frame that pose `first` ran on (nearest in time) is drawn with exactly that pose.
    times = [frame.time for frame in read_frames(clip)]
    shown = int(np.argmin(np.abs(np.asarray(times) - first / 5)))
    original = originals[shown]
    expected = draw_pose(original, sequence.image_points[first], sequence.scores[first], sequence.layout)
    scaled = cv2.resize(expected, (1280, 720), interpolation=cv2.INTER_AREA)
    bare = cv2.resize(original, (1280, 720), interpolation=cv2.INTER_AREA)
    left, top = np.floor(np.nanmin(sequence.image_points[first], axis=0) / 1.5).astype(int)
    right, bottom = np.ceil(np.nanmax(sequence.image_points[first], axis=0) / 1.5).astype(int)
    box = (slice(max(top, 0), bottom), slice(max(left, 0), right))

    def error(reference):
        return np.abs(frames[shown][box].astype(int) - reference[box].astype(int)).mean()

    # The skeleton lands where it is in the full-size frame, drawn (H.264 leaves a few levels of noise).
    assert error(scaled) < 4 < error(bare)
