"""Video in and out with PyAV: probe, streaming decode resampled to a target rate, H.264 writing.

Decoding is a generator: one frame at a time is in memory, whatever the clip's length. Frames come out
upright (the container's rotation, as phones record it, is applied) as RGB uint8 (H, W, 3).
Writing produces H.264 in MP4 with yuv420p, which every browser plays; PyAV's wheel carries libx264, so
no system ffmpeg is needed.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from ..core.errors import InputError, MissingFileError

# The longest video the readers decode unless the caller sets its own limit (None: no limit).
DEFAULT_MAX_VIDEO_DURATION_S = 600.0
DEFAULT_MAX_PIXELS = 7680 * 4320  # 8K UHD
# Demuxers that read single pictures: a photo is not a clip.
_IMAGE_FORMATS = ("image2", "png_pipe", "jpeg_pipe", "webp_pipe", "bmp_pipe", "tiff_pipe")


@dataclass(frozen=True)
class VideoInfo:
    """What `probe` finds. `width`/`height` are the upright (displayed) size, after rotation."""

    path: str
    duration: float
    fps: float
    width: int
    height: int
    frame_count: int
    rotation: int  # degrees counter-clockwise applied to decoded frames to show them upright


@dataclass(frozen=True)
class Frame:
    image: np.ndarray  # RGB uint8 (H, W, 3), upright
    time: float  # seconds from the clip's first frame
    index: int  # position in the output sequence


def _open(path: Path):
    if path.is_dir():
        raise MissingFileError(f"{path}: a folder, not a video file")
    if not path.is_file():
        raise MissingFileError(f"{path}: no such video file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: empty file (0 bytes), not a video")
    try:
        container = av.open(str(path))
    except av.FFmpegError as error:
        raise InputError(f"{path}: not a readable video ({error.strerror or error})") from error
    if container.format.name in _IMAGE_FORMATS:
        container.close()
        raise InputError(f"{path}: a still image, not a video")
    if not container.streams.video:
        container.close()
        raise InputError(f"{path}: no video stream (audio only or not a video)")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    return container, stream


def _frame_rate(stream) -> float:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    return float(rate) if rate else 0.0


def _duration(container, stream) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return 0.0


def _upright(frame) -> np.ndarray:
    image = frame.to_ndarray(format="rgb24")
    quarter_turns = round(frame.rotation / 90) % 4
    return np.ascontiguousarray(np.rot90(image, k=quarter_turns)) if quarter_turns else image


def _decoded(path: Path, container, stream) -> Iterator[tuple[object, float]]:
    """(av frame, seconds since the first frame); a decode error is a ValueError naming the file."""
    first_time = None
    count = 0
    fallback_step = 1.0 / (_frame_rate(stream) or 30.0)
    try:
        for frame in container.decode(stream):
            time = frame.time if frame.time is not None else count * fallback_step
            if first_time is None:
                first_time = time
            count += 1
            yield frame, time - first_time
    except av.FFmpegError as error:
        raise InputError(f"{path}: truncated or corrupt video, decoding failed after {count} frames "
                         f"({error.strerror or error})") from error
    if count == 0:
        raise InputError(f"{path}: no decodable frames (truncated or corrupt video)")
    # A file cut short can still decode cleanly up to the cut: compare with the length it declares.
    declared = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else None
    decoded = time - first_time + fallback_step
    if declared and decoded < declared - max(0.5, 0.1 * declared):
        raise InputError(f"{path}: truncated video, frames end at {decoded:.1f} s of {declared:.1f} s")


def _check_limits(path: Path, duration: float, width: int, height: int,
                  max_duration: float | None, max_pixels: int | None) -> None:
    if max_duration is not None and duration > max_duration:
        raise InputError(f"{path}: video is {duration:.0f} s long, over the limit of {max_duration:.0f} s")
    if max_pixels is not None and width * height > max_pixels:
        raise InputError(f"{path}: frames are {width}x{height}, over the limit of {max_pixels} pixels")


def probe(path: str | Path, *, max_duration: float | None = None, max_pixels: int | None = None) -> VideoInfo:
    """Duration, rate, upright size, frame count and rotation of a video; decodes its first frame so a
    file that opens but holds no picture (truncated, corrupt) is refused here, with a ValueError.
    A clip whose header declares more than `max_duration` seconds or `max_pixels` pixels per frame is
    refused before anything is decoded (None: no limit)."""
    path = Path(path)
    container, stream = _open(path)
    with container:
        _check_limits(path, _duration(container, stream), stream.width, stream.height, max_duration, max_pixels)
        frame, _ = next(_decoded(path, container, stream))
        rotation = int(frame.rotation)
        width, height = frame.width, frame.height
        if round(rotation / 90) % 2:
            width, height = height, width
        fps = _frame_rate(stream)
        duration = _duration(container, stream)
        frame_count = stream.frames or (round(duration * fps) if fps else 0)
    return VideoInfo(str(path), duration, fps, width, height, int(frame_count), rotation)


@dataclass(frozen=True)
class ClipFrame:
    """One decoded frame of `read_clip`: `samples`, the indices k of the resampled frames (time k / fps) it
    stands for (none, one, or several when resampling up); `image`, the upright RGB frame at full size
    when it has samples; `preview`, the upright RGB frame scaled to `read_clip`'s `preview_size`, if any."""

    time: float
    samples: tuple[int, ...]
    image: np.ndarray | None
    preview: np.ndarray | None


def read_clip(path: str | Path, fps: float, *, preview_size: tuple[int, int] | None = None,
              max_duration: float | None = DEFAULT_MAX_VIDEO_DURATION_S,
              max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Iterator[ClipFrame]:
    """Every decoded frame of a video once, each with the indices of the frames resampled to `fps` that it
    stands for: resampled frame k (time k / fps) is the decoded frame nearest in time, so frames are dropped
    or repeated as needed and variable-rate clips come out evenly spaced. One decode serves the pose
    backend (the resampled frames, `image`) and the overlay (every frame, `preview`, scaled to
    `preview_size` (width, height) upright, by the decoder's scaler). A clip over `max_duration` seconds or
    with more than `max_pixels` pixels per frame raises ValueError (None: no limit)."""
    path = Path(path)
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    container, stream = _open(path)
    with container:
        _check_limits(path, _duration(container, stream), stream.width, stream.height, max_duration, max_pixels)
        native_step = 1.0 / (_frame_rate(stream) or fps)
        held, held_time = None, 0.0
        index = 0

        def release(until: float) -> ClipFrame:
            # Resampled times before `until` belong to the held frame.
            nonlocal index
            first = index
            while index / fps < until - 1e-9:
                index += 1
            samples = tuple(range(first, index))
            return ClipFrame(held_time, samples, _upright(held) if samples else None,
                             _preview(held, preview_size) if preview_size else None)

        for frame, time in _decoded(path, container, stream):
            _check_limits(path, time, 0, 0, max_duration, None)
            if held is not None:
                # Output times before the midpoint of two decoded frames belong to the earlier one.
                yield release((held_time + time) / 2)
            held, held_time = frame, time
        yield release(held_time + native_step / 2)


def _preview(frame, size: tuple[int, int]) -> np.ndarray:
    """The frame upright at `size` (width, height, upright), scaled and converted in one pass of the scaler."""
    quarter_turns = round(frame.rotation / 90) % 4
    width, height = size if quarter_turns % 2 == 0 else size[::-1]
    image = frame.to_ndarray(width=width, height=height, format="rgb24", interpolation="AREA")
    return np.ascontiguousarray(np.rot90(image, k=quarter_turns)) if quarter_turns else image


def read_frames(path: str | Path, fps: float | None = None, *,
                max_duration: float | None = DEFAULT_MAX_VIDEO_DURATION_S,
                max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Iterator[Frame]:
    """Upright RGB frames of a video, one at a time.

    fps=None gives every decoded frame. Otherwise the output is resampled to `fps` as `read_clip` does it:
    frame k (time k/fps) is the decoded frame nearest in time. A clip over `max_duration` seconds or with
    more than `max_pixels` pixels per frame raises ValueError (None: no limit).
    """
    path = Path(path)
    if fps is not None:
        for frame in read_clip(path, fps, max_duration=max_duration, max_pixels=max_pixels):
            for sample in frame.samples:
                yield Frame(frame.image, sample / fps, sample)
        return
    container, stream = _open(path)
    with container:
        _check_limits(path, _duration(container, stream), stream.width, stream.height, max_duration, max_pixels)
        for index, (frame, time) in enumerate(_decoded(path, container, stream)):
            _check_limits(path, time, 0, 0, max_duration, None)
            yield Frame(_upright(frame), time, index)


def read_ahead(frames: Iterator, depth: int = 4) -> Iterator:
    """`frames` (from `read_frames` or `read_clip`) decoded up to `depth` frames ahead in a background thread.

    PyAV releases the GIL while it decodes and converts, so on a second core decoding overlaps the
    caller's work on each frame (pose, drawing) instead of adding to it: at 10 fps from a 30 fps 720p
    clip, decoding costs about 40% of MediaPipe's time. Same frames, same order; decoding errors are
    raised here; stopping early (break, an exception) stops the thread and closes the video.
    """
    buffer = queue.Queue(maxsize=depth)
    stop = threading.Event()
    end = object()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                buffer.put(item, timeout=0.1)
                return True
            except queue.Full:
                pass
        return False

    def decode() -> None:
        try:
            for frame in frames:
                if not put(frame):
                    return
            put(end)
        except Exception as error:  # noqa: BLE001 (any error is handed to the consumer and raised there)
            put(error)
        finally:
            frames.close()

    thread = threading.Thread(target=decode, name="read_ahead", daemon=True)
    thread.start()
    try:
        while (item := buffer.get()) is not end:
            if isinstance(item, Exception):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()


def with_duration(path: str | Path, folder: str | Path) -> Path:
    """`path` itself when its container declares a duration, else a copy in `folder` that does: a browser's
    webcam recording (WebM written as a live stream) has none, and players show "Infinity:NaN:NaN". The
    packets are copied into a new file of the same format, which writes its duration on closing; nothing
    is decoded or re-encoded."""
    path = Path(path)
    container, stream = _open(path)
    with container:
        if _duration(container, stream) > 0:
            return path
        out = Path(folder) / f"{path.stem}_with_duration{path.suffix or '.webm'}"
        with av.open(str(out), mode="w") as output:  # the format of its name, as the upload had
            copies = {}
            for source in container.streams:
                if source.type in ("video", "audio"):
                    copies[source.index] = output.add_stream_from_template(source)
            for packet in container.demux(*[container.streams[index] for index in copies]):
                if packet.dts is None:  # the demuxer's flush packets
                    continue
                packet.stream = copies[packet.stream.index]
                output.mux(packet)
    return out


def write_y4m(video: str | Path, path: str | Path, fps: int = 30) -> Path:
    """The clip resampled to `fps` as a raw YUV 4:2:0 file (YUV4MPEG2), what Chromium's fake camera plays
    (`--use-file-for-fake-video-capture`): for live-mode tests and benchmarks."""
    import cv2

    images = [frame.image for frame in read_frames(video, float(fps))]
    height, width = images[0].shape[:2]
    path = Path(path)
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for image in images:
            out.write(b"FRAME\n" + cv2.cvtColor(image, cv2.COLOR_RGB2YUV_I420).tobytes())
    return path


def _rate(fps: float) -> Fraction:
    return Fraction(fps).limit_denominator(1001)


class VideoWriter:
    """Streams RGB frames into a browser-playable MP4 (H.264, yuv420p, +faststart).

        with VideoWriter("out.mp4", fps=30) as writer:
            for image in images:
                writer.write(image)

    The first frame fixes the size; odd widths/heights lose their last column/row (yuv420p needs even
    sizes). If the block raises, the partial file is removed.
    """

    def __init__(self, path: str | Path, fps: float, *, crf: int = 23, preset: str = "veryfast"):
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.path = Path(path)
        self.fps = fps
        self._options = {"crf": str(crf), "preset": preset}
        self._container = av.open(str(self.path), mode="w", format="mp4",
                                  options={"movflags": "+faststart"})
        self._stream = None
        self.frames_written = 0

    def write(self, image: np.ndarray) -> None:
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an RGB uint8 image (H, W, 3), got {image.dtype} {image.shape}")
        height, width = image.shape[0] // 2 * 2, image.shape[1] // 2 * 2
        if self._stream is None:
            if width == 0 or height == 0:
                raise ValueError(f"frame too small to encode: {image.shape[1]}x{image.shape[0]}")
            self._stream = self._container.add_stream("libx264", rate=_rate(self.fps),
                                                      options=self._options)
            self._stream.width, self._stream.height = width, height
            self._stream.pix_fmt = "yuv420p"
        elif (width, height) != (self._stream.width, self._stream.height):
            raise ValueError(f"frame size changed from {self._stream.width}x{self._stream.height} "
                             f"to {width}x{height}")
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image[:height, :width]), format="rgb24")
        self._container.mux(self._stream.encode(frame))
        self.frames_written += 1

    def close(self) -> None:
        if self._container is None:
            return
        if self._stream is not None:
            self._container.mux(self._stream.encode(None))
        self._container.close()
        self._container = None
        if self._stream is None:
            self.path.unlink(missing_ok=True)
            raise ValueError(f"{self.path}: no frames written")

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, *exc_info) -> None:
        if exc_type is None:
            self.close()
            return
        try:
            self.close()
        except Exception:  # the block's own exception is the one to report
            pass
        self.path.unlink(missing_ok=True)
