"""Shared fixtures. Tests that need the project's real data (`../shared/data` beside the checkout)
take the `shared_data` fixture and skip cleanly when it is absent, as in a user's fresh clone (under CI=true,
where the data is always beside the checkout, they fail instead)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def read_browser_playable(path: Path) -> tuple[list, tuple[int, int], float]:
    """The frames (RGB), size and frame rate of a video, asserting that browsers play it: H.264 in yuv420p,
    in MP4."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert container.format.name.startswith("mov,mp4")
        assert (stream.codec_context.name, stream.codec_context.pix_fmt) == ("h264", "yuv420p")
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
        return frames, (stream.width, stream.height), float(stream.average_rate)


def free_port() -> int:
    """A TCP port nobody listens on now (for a server or a process group started by a test)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_held_clip(video: Path, path: Path, *, loops: int = 1, head_s: float = 0.0, tail_s: float = 0.0,
                    fps: int = 30) -> Path:
    """A real clip played `loops` times, its first frame held `head_s` before (getting ready) and its last
    `tail_s` after (a rest), as an MP4 at `fps`."""
    from gym_gesture.pose.video import VideoWriter, read_frames

    images = [frame.image for frame in read_frames(video, float(fps))]
    with VideoWriter(path, fps) as writer:
        for image in images[:1] * round(head_s * fps) + images * loops + images[-1:] * round(tail_s * fps):
            writer.write(image)
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        if os.environ.get("CI") == "true":  # CI has the data beside the checkout: missing is a failure there
            pytest.fail(f"CI=true but the real data is not present at {SHARED_DATA}")
        pytest.skip(f"real data not present at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """The shipped checkpoint (committed with the repository)."""
    from gym_gesture.inference.recognizer import DEFAULT_MODEL_DIR

    return DEFAULT_MODEL_DIR


@pytest.fixture(scope="session")
def gym7_model_dir() -> Path:
    """The 7-class checkpoint, shipped beside the default as a named comparison: the tests of the pipeline
    whose expectations (its split's sources, the classes it does not know) were written for it."""
    from gym_gesture.core.paths import CHECKPOINTS_DIR

    return CHECKPOINTS_DIR / "gym7-transformer"


@pytest.fixture(scope="session")
def gym7_recognizer(gym7_model_dir):
    from gym_gesture.inference.recognizer import Recognizer

    recognizer = Recognizer.from_pretrained(gym7_model_dir)
    yield recognizer
    recognizer.close()


@pytest.fixture(scope="session")
def recognizer(model_dir):
    """The shipped checkpoint with MediaPipe, loaded once, as the CLI and the app load it."""
    from gym_gesture.inference.recognizer import Recognizer

    recognizer = Recognizer.from_pretrained(model_dir)
    yield recognizer
    recognizer.close()


@pytest.fixture(scope="session")
def mediapipe_pose():
    """One real MediaPipe backend for the session (extract_clip resets it between clips)."""
    from gym_gesture.pose import create_backend

    with create_backend("mediapipe") as backend:
        yield backend


@pytest.fixture(scope="session")
def synthetic_npz(tmp_path_factory) -> Path:
    """Synthetic MediaPipe clips of three classes with a real motion signal (tests/synthetic_poses.py)."""
    from synthetic_poses import write_synthetic_npz

    return write_synthetic_npz(tmp_path_factory.mktemp("poses") / "synthetic_mediapipe33.npz")


@pytest.fixture(scope="session")
def trained_model(synthetic_npz, tmp_path_factory) -> Path:
    """A small transformer trained on `synthetic_npz` (a few seconds), with its split.json."""
    from gym_gesture.training.train import TrainingOptions, train

    output_dir = tmp_path_factory.mktemp("trained")
    # 12 epochs sat at the edge of convergence (validation accuracy 0.68-0.97 over seeds 0-3, either class
    # weighting); 20 reach >= 0.93 on all four.
    options = TrainingOptions(epochs=20, patience=20, batch_size=32, seed=0,
                              model={"d_model": 32, "ffn_dim": 64, "num_frames": 30})
    train(synthetic_npz, output_dir, options)
    return output_dir
