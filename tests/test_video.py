"""Video I/O: probe, streaming decode with resampling and rotation, limits, H.264 writing, bad files."""

from __future__ import annotations

import av
import cv2
import numpy as np
import pytest

from gym_gesture.pose.video import VideoWriter, probe, read_ahead, read_frames

from conftest import FIXTURES, read_browser_playable

SQUAT_CLIP = FIXTURES / "squat_clip.mp4"


def _write_marked_clip(path, num_frames, fps, size=(64, 48), rotation=None):
    """A clip whose frame i has a bright bar at column 4*i, so decoded frames can be identified."""
    width, height = size
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for i in range(num_frames):
            image = np.zeros((height, width, 3), np.uint8)
            image[: height // 2, 4 * i: 4 * i + 4] = 255  # top half only: rotation is visible too
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode(None))


def _marked_index(image):
    return int(np.argmax(image[: image.shape[0] // 2, :, 0].mean(axis=0)) // 4)


def test_probe_real_fixture():
    info = probe(SQUAT_CLIP)
    assert (info.width, info.height, info.rotation) == (320, 180, 0)
    assert info.fps == pytest.approx(30.0)
    assert info.duration == pytest.approx(2.5, abs=0.05)
    assert info.frame_count == 75


def test_read_frames_streams_upright_rgb():
    frames = read_frames(SQUAT_CLIP)
    first = next(frames)  # a generator: nothing is decoded ahead
    assert first.image.shape == (180, 320, 3) and first.image.dtype == np.uint8
    assert first.time == 0.0 and first.index == 0
    assert sum(1 for _ in frames) == 74


@pytest.mark.parametrize("target_fps", [12.5, 35.0])  # frames dropped; frames repeated
def test_resampling_picks_nearest_frame_by_time(tmp_path, target_fps):
    path = tmp_path / "marked.mp4"
    _write_marked_clip(path, 16, fps=25)
    frames = list(read_frames(path, target_fps))
    # 16 frames at 25 fps span 0.64 s: the resampled clip covers the same span.
    assert len(frames) == round(0.64 * target_fps)
    times = np.arange(len(frames)) / target_fps
    nearest = np.abs(times[:, None] - np.arange(16)[None, :] / 25).argmin(axis=1)
    assert [_marked_index(frame.image) for frame in frames] == nearest.tolist()
    assert [frame.index for frame in frames] == list(range(len(frames)))
    assert [frame.time for frame in frames] == pytest.approx(times.tolist())


def test_same_rate_keeps_every_frame(tmp_path):
    path = tmp_path / "marked.mp4"
    _write_marked_clip(path, 12, fps=25)
    assert [_marked_index(f.image) for f in read_frames(path, 25)] == list(range(12))


def test_rotation_metadata_is_applied(tmp_path):
    path = tmp_path / "phone.mp4"
    _write_marked_clip(path, 3, fps=30, size=(64, 48), rotation=-90)  # a phone's "rotate: 90"
    info = probe(path)
    assert (info.width, info.height, info.rotation) == (48, 64, -90)
    image = next(read_frames(path)).image
    assert image.shape == (64, 48, 3)
    # The bright bar was in the top half at the left; turned a quarter clockwise it is in the right half.
    assert image[:, 24:, 0].mean() > 10 * image[:, :24, 0].mean()


def test_limits_on_duration_and_frame_size():
    with pytest.raises(ValueError, match=r"squat_clip.mp4: video is 2 s long, over the limit of 1 s"):
        next(read_frames(SQUAT_CLIP, max_duration=1))
    with pytest.raises(ValueError, match=r"squat_clip.mp4: frames are 320x180, over the limit"):
        next(read_frames(SQUAT_CLIP, max_pixels=320 * 179))


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_bytes(b""), "empty file"),
    (lambda p: p.write_text("this is not a video\n"), "not a readable video"),
    (lambda p: p.write_bytes(SQUAT_CLIP.read_bytes()[:3000]), "truncated or corrupt"),
    (lambda p: p.write_bytes(SQUAT_CLIP.read_bytes()[:30000]), "truncated video, frames end at 1.2 s of 2.5 s"),
    (lambda p: p.write_bytes(SQUAT_CLIP.read_bytes()[-20000:]), "not a readable video"),
])
def test_bad_files_are_clear_errors(tmp_path, make, message):
    path = tmp_path / "clip.mp4"
    make(path)
    with pytest.raises(ValueError, match=message) as error:
        list(read_frames(path))  # a cut file may still open and decode up to the cut
    assert str(path) in str(error.value)


def test_read_ahead_gives_the_same_frames_and_errors_and_stops_its_thread(tmp_path):
    import threading

    def decoding_threads():
        return [thread for thread in threading.enumerate() if thread.name == "read_ahead"]

    expected = list(read_frames(SQUAT_CLIP, 12.5))
    frames = list(read_ahead(read_frames(SQUAT_CLIP, 12.5), depth=2))
    assert [(f.index, f.time) for f in frames] == [(f.index, f.time) for f in expected]
    assert all((a.image == b.image).all() for a, b in zip(frames, expected))
    truncated = tmp_path / "clip.mp4"
    truncated.write_bytes(SQUAT_CLIP.read_bytes()[:30000])
    with pytest.raises(ValueError, match="truncated video, frames end at 1.2 s of 2.5 s"):
        list(read_ahead(read_frames(truncated)))
    with pytest.raises(FileNotFoundError):
        list(read_ahead(read_frames(tmp_path / "missing.mp4")))
    ahead = read_ahead(read_frames(SQUAT_CLIP), depth=2)
    next(ahead)
    assert len(decoding_threads()) == 1
    ahead.close()  # the consumer stops early (a break, an exception)
    assert decoding_threads() == []


def write_audio_only(path):
    """An .m4a with one second of silence and no video stream."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=16000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 16000), np.float32), format="fltp", layout="mono")
        frame.sample_rate = 16000
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def test_still_image_and_audio_only_are_refused(tmp_path):
    photo = tmp_path / "photo.jpg"
    cv2.imwrite(str(photo), np.zeros((32, 32, 3), np.uint8))
    with pytest.raises(ValueError, match="still image"):
        probe(photo)
    with pytest.raises(ValueError, match="no video stream"):
        probe(write_audio_only(tmp_path / "sound.m4a"))
    with pytest.raises(FileNotFoundError, match="no such video"):
        probe(tmp_path / "missing.mp4")


def test_writer_makes_browser_playable_h264(tmp_path):
    path = tmp_path / "out.mp4"
    source = [frame.image for frame in read_frames(SQUAT_CLIP)][:20]
    with VideoWriter(path, fps=30) as writer:
        for image in source:
            writer.write(image[:-1, :-1])  # 319x179: odd sizes are cut to even ones
    decoded, size, _ = read_browser_playable(path)
    assert size == (318, 178)
    assert len(decoded) == 20
    # Lossy, but the picture survives: mean error of a few grey levels.
    assert np.abs(decoded[10].astype(int) - source[10][:178, :318]).mean() < 6


def test_writer_removes_partial_file_on_error(tmp_path):
    path = tmp_path / "out.mp4"
    with pytest.raises(ValueError, match="frame size changed"):
        with VideoWriter(path, fps=30) as writer:
            writer.write(np.zeros((32, 32, 3), np.uint8))
            writer.write(np.zeros((64, 64, 3), np.uint8))
    assert not path.exists()


def test_a_webcam_recording_without_a_duration_gets_one(tmp_path):
    """Browsers record WebM as a live stream, with no duration: players showed "Infinity:NaN:NaN"."""
    import av

    from gym_gesture.pose.video import with_duration

    recording = tmp_path / "webcam.webm"
    with av.open(str(recording), "w", format="webm", options={"live": "1"}) as container:
        stream = container.add_stream("libvpx", rate=15)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for shade in range(30):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), shade * 8, np.uint8), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    assert probe(recording).duration == 0
    fixed = with_duration(recording, tmp_path)
    assert fixed != recording and fixed.suffix == ".webm"
    assert probe(fixed).duration == pytest.approx(2.0, abs=0.1)
    assert [frame.index for frame in read_frames(fixed)] == list(range(30))  # every frame, not re-encoded
    assert with_duration(fixed, tmp_path) == fixed  # a file with a duration is left as it is
