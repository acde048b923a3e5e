"""Robustness (issue #7): malformed inputs through the three entry points, the app's queue, no pickles.

One table of malformed inputs (`CASES`), each made at test time in tmp_path, goes through
- the CLI (`gym-gesture predict / evaluate / train / import-keypoints`): exit status 1, one line on stderr
  naming the file and the problem, never a traceback;
- the Python API (`Recognizer.predict`, `Recognizer.from_pretrained`, `load_pose_dataset`): a ValueError or
  FileNotFoundError whose message names the file and the problem;
- the app (its `/predict` API through gradio_client, `app.py --model` at start-up): a gr.Error with that
  message, or a one-line exit.
Inputs that are awkward but valid (`VALID`: several people, a rotated phone video, a variable frame rate,
an 8K frame) must give a prediction, and the right one where that can be checked.

An interrupted extraction resuming with identical output is tested in test_extract.py
(`test_resume_after_interruption_gives_identical_dataset`).
"""

from __future__ import annotations

import ast
import json
import os
import pickle
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from gym_gesture.app.main import DEFAULT_MAX_UPLOAD_DURATION_S
from gym_gesture.cli import main
from gym_gesture.data.dataset import load_pose_dataset
from gym_gesture.inference.recognizer import DEFAULT_MAX_CLIP_DURATION_S, DEFAULT_MODEL_DIR, Recognizer
from gym_gesture.analysis.prediction import Prediction
from gym_gesture.pose import DEFAULT_BACKEND
from gym_gesture.pose.video import DEFAULT_MAX_PIXELS, VideoWriter, probe, read_frames

from conftest import FIXTURES, REPO_ROOT
from test_app import app_url  # noqa: F401  (the fixture: `python app.py` served on a free port)
from test_video import write_audio_only

SQUAT_CLIP = FIXTURES / "squat_clip.mp4"
CONCURRENT_REQUESTS = 20


@pytest.fixture(scope="module")
def squat_frames() -> list[np.ndarray]:
    return [frame.image for frame in read_frames(SQUAT_CLIP)]


def _write_clip(path: Path, images, times, rotation: int | None = None) -> Path:
    """H.264 MP4 with the given presentation times in seconds (any spacing: variable rates, gaps)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=30, options={"preset": "ultrafast"})
        stream.height, stream.width = images[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for image, seconds in zip(images, times):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            frame.pts, frame.time_base = round(seconds * 1000), Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


# --- malformed videos -------------------------------------------------------------------------------

def _still_image(path: Path) -> Path:
    cv2.imwrite(str(path), np.full((480, 640, 3), 90, np.uint8))
    return path


def _png_named_mp4(path: Path) -> Path:
    encoded = cv2.imencode(".png", np.full((480, 640, 3), 90, np.uint8))[1]
    path.write_bytes(encoded.tobytes())
    return path


def _over_8k(path: Path) -> Path:
    """One grey frame 16 rows taller than 8K UHD, the pixel cap."""
    return _write_clip(path, [np.full((4320 + 16, 7680, 3), 90, np.uint8)], [0.0])


def _one_hour_header(path: Path) -> Path:
    """Two frames of the squat, the second at 3600 s: the container declares an hour."""
    images = [frame.image for frame, _ in zip(read_frames(SQUAT_CLIP), range(2))]
    return _write_clip(path, images, [0.0, 3600.0])


def _no_person(path: Path) -> Path:
    """An empty room: a grey wall with a little sensor noise, 2 s."""
    rng = np.random.default_rng(0)
    with VideoWriter(path, fps=30) as writer:
        for _ in range(60):
            writer.write(np.clip(128 + rng.normal(0, 4, (180, 320, 3)), 0, 255).astype(np.uint8))
    return path


def _writes(content: bytes) -> Callable[[Path], Path]:
    def make(path: Path) -> Path:
        path.write_bytes(content)
        return path

    return make


def _folder(path: Path) -> Path:
    path.mkdir()
    return path


# --- malformed model folders ------------------------------------------------------------------------

def _model_copy(path: Path, config: dict | str | None = None, weights: bool = True) -> Path:
    path.mkdir()
    source = json.loads((DEFAULT_MODEL_DIR / "config.json").read_text())
    if isinstance(config, dict):
        config = json.dumps({**source, **config})
    (path / "config.json").write_text(config if config is not None else json.dumps(source))
    if weights:
        shutil.copy(DEFAULT_MODEL_DIR / "model.safetensors", path)
    return path


def _weights_only(path: Path) -> Path:
    _model_copy(path)
    (path / "config.json").unlink()
    return path


def _pickle_bin_only(path: Path) -> Path:
    """Exactly what transformers would load from a pickle today: the checkpoint's weights, torch.save'd."""
    import torch
    from safetensors.torch import load_file

    _model_copy(path, weights=False)
    torch.save(load_file(DEFAULT_MODEL_DIR / "model.safetensors"), path / "pytorch_model.bin")
    return path


def _truncated_weights(path: Path) -> Path:
    _model_copy(path, weights=False)
    (path / "model.safetensors").write_bytes((DEFAULT_MODEL_DIR / "model.safetensors").read_bytes()[:5000])
    return path


def _bad_calibration(path: Path) -> Path:
    _model_copy(path)
    (path / "calibration.json").write_text('{"thresholds": {"min_probability": "high"}}')
    return path


# --- malformed keypoint archives --------------------------------------------------------------------

def _keypoints(frames: int = 40, joints: int = 33, channels: int = 4) -> np.ndarray:
    return np.random.default_rng(0).random((frames, joints, channels)).astype(np.float32)


def _npz(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


def _corrupt_npz(path: Path) -> Path:
    _npz(path, **{"squat/squat_1": _keypoints(), "squat/squat_2": _keypoints()})
    path.write_bytes(path.read_bytes()[:1000])
    return path


def _npy_named_npz(path: Path) -> Path:
    np.save(path.with_suffix(".npy"), _keypoints())
    return path.with_suffix(".npy").rename(path)


VIDEO, MODEL, KEYPOINTS = "video", "model", "keypoints"


@dataclass(frozen=True)
class Case:
    name: str  # also the file's name: its suffix is what a user would have
    kind: str  # VIDEO, MODEL or KEYPOINTS: which entry points take it
    make: Callable[[Path], Path]  # writes the input at the given path and returns where it is
    message: str  # regex the error message matches (the file's path comes before it)


CASES = [
    Case("empty.mp4", VIDEO, _writes(b""), r"empty file \(0 bytes\), not a video"),
    Case("notes.mp4", VIDEO, _writes(b"shopping list\n" * 40), r"not a readable video"),
    Case("truncated.mp4", VIDEO, _writes(SQUAT_CLIP.read_bytes()[:30000]), r"truncated video, frames end at 1\.\d s of 2\.5 s"),
    Case("header_only.mp4", VIDEO, _writes(SQUAT_CLIP.read_bytes()[:3000]),
         r"truncated or corrupt video, decoding failed after 0 frames"),
    Case("no_header.mp4", VIDEO, _writes(SQUAT_CLIP.read_bytes()[-20000:]), r"not a readable video"),
    Case("audio.m4a", VIDEO, write_audio_only, r"no video stream \(audio only or not a video\)"),
    Case("photo.jpg", VIDEO, _still_image, r"a still image, not a video"),
    Case("photo_renamed.mp4", VIDEO, _png_named_mp4, r"a still image, not a video"),
    Case("over_8k.mp4", VIDEO, _over_8k, rf"frames are 7680x4336, over the limit of {DEFAULT_MAX_PIXELS} pixels"),
    Case("one_hour.mp4", VIDEO, _one_hour_header, r"video is 3600 s long, over the limit of (?P<limit>\d+) s"),
    Case("empty_room.mp4", VIDEO, _no_person, r"nobody found in any of its \d+ frames"),
    Case("missing.mp4", VIDEO, lambda p: p, r"no such video file"),
    Case("folder.mp4", VIDEO, _folder, r"a folder, not a video file"),

    Case("unknown_field", MODEL, lambda p: _model_copy(p, {"d_modle": 64}),
         r"unknown config field 'd_modle' \(this model's own fields: num_frames, .*d_model"),
    Case("no_config", MODEL, _weights_only, r"not a model folder \(no config\.json\)"),
    Case("no_weights", MODEL, lambda p: _model_copy(p, weights=False), r"no model\.safetensors$"),
    Case("pickle_only", MODEL, _pickle_bin_only, r"no model\.safetensors; pytorch_model\.bin is a pickle, which is never loaded"),
    Case("truncated_weights", MODEL, _truncated_weights, r"unreadable safetensors weights"),
    Case("config_not_json", MODEL, lambda p: _model_copy(p, "{'d_model': 64,"), r"config\.json: not valid JSON"),
    Case("bad_calibration", MODEL, _bad_calibration, r"calibration\.json: not a calibration file of gym-gesture calibrate"),
    Case("missing_model", MODEL, lambda p: p, r"no such model folder"),

    Case("corrupt.npz", KEYPOINTS, _corrupt_npz, r"not a readable \.npz keypoint archive"),
    Case("wrong_shape.npz", KEYPOINTS, lambda p: _npz(p, **{"squat/squat_1": _keypoints(joints=17, channels=3)}),
         r"'squat/squat_1': 17 joints is no keypoint archive layout; known joint counts: 33 \(mediapipe33\)"),
    Case("wrong_channels.npz", KEYPOINTS, lambda p: _npz(p, **{"squat/squat_1": _keypoints(channels=3)}),
         r"'squat/squat_1' has shape \(40, 33, 3\), expected \(T, 33, 4\) for layout mediapipe33"),
    Case("pickled_objects.npz", KEYPOINTS, lambda p: _npz(p, **{"squat/squat_1": np.array([{"x": 1}], dtype=object)}),
         r"'squat/squat_1' is unreadable \(Object arrays cannot be loaded when allow_pickle=False\)"),
    Case("text_values.npz", KEYPOINTS, lambda p: _npz(p, **{"squat/squat_1": np.array(["left knee", "right knee"])}),
         r"'squat/squat_1' holds <U10 values, not numbers"),
    Case("single_array.npz", KEYPOINTS, _npy_named_npz, r"a single \.npy array, not an \.npz keypoint archive"),
    Case("bad_key.npz", KEYPOINTS, lambda p: _npz(p, squat_1=_keypoints()), r"key 'squat_1' is not '<label>/<clip id>'"),
    Case("no_clips.npz", KEYPOINTS, lambda p: _npz(p), r"an empty archive, no clips"),
]


# Files that open and start decoding: the problem shows only once the model and the pose backend run.
FOUND_WHILE_DECODING = {"truncated.mp4", "empty_room.mp4"}


def _made(case: Case, tmp_path: Path) -> Path:
    return case.make(tmp_path / case.name)


def _cli_commands(case: Case, path: Path, tmp_path: Path) -> list[list[str]]:
    if case.kind == VIDEO:
        return [["predict", str(path)]]
    if case.kind == MODEL:
        predict = ["predict", str(SQUAT_CLIP), "--model", str(path)]
        if case.name == "bad_calibration":  # only used for predictions
            return [predict]
        # evaluate reaches the model before its data, so the data need not exist
        return [predict, ["evaluate", "--model", str(path), "--data", str(tmp_path / "poses.npz")]]
    return [["import-keypoints", str(path), "--out", str(tmp_path / "dataset")],
            ["train", "--data", str(path), "--output-dir", str(tmp_path / "run")],
            ["evaluate", "--model", str(DEFAULT_MODEL_DIR), "--data", str(path)]]


def _one_line_error(stderr: str, command: str, path: Path, message: str) -> None:
    """The error is the last line of stderr, the only error, and no traceback. Libraries may print before
    it once the model or the pose backend is loaded (transformers' weight-loading bar)."""
    assert "Traceback" not in stderr
    lines = stderr.rstrip("\n").split("\n")
    assert stderr.count(": error: ") == 1, stderr
    assert lines[-1].startswith(f"gym-gesture {command}: error: {path}"), stderr
    assert re.search(message, lines[-1]), stderr


@pytest.fixture
def decoded_frames(monkeypatch) -> list:
    """The frames any video decode yields while the test runs, to check that refusals come before decoding
    (a one-hour header must not be decoded)."""
    from gym_gesture.pose import video

    frames, decode = [], video._decoded

    def counted(*args):
        for item in decode(*args):
            frames.append(item[1])
            yield item

    monkeypatch.setattr(video, "_decoded", counted)
    return frames


def _refused_before_decoding(case: Case, decoded_frames: list) -> None:
    if case.name not in FOUND_WHILE_DECODING:
        assert len(decoded_frames) <= 1, len(decoded_frames)  # at most the first frame, which probe reads
    decoded_frames.clear()


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_cli_exits_1_with_one_line(case, tmp_path, capsys, decoded_frames):
    path = _made(case, tmp_path)
    decoded_frames.clear()  # making the case decodes the squat clip
    for command in _cli_commands(case, path, tmp_path):
        assert main(command) == 1, command
        _refused_before_decoding(case, decoded_frames)
        stderr = capsys.readouterr().err
        _one_line_error(stderr, command[0], path, case.message)
        if command[0] in ("predict", "import-keypoints", "train") and case.name not in FOUND_WHILE_DECODING:
            assert stderr.count("\n") == 1, stderr  # refused before any model or backend is loaded


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_python_api_raises_a_clear_error(case, tmp_path, recognizer, decoded_frames):
    path = _made(case, tmp_path)
    decoded_frames.clear()  # making the case decodes the squat clip
    with pytest.raises((ValueError, FileNotFoundError)) as raised:
        if case.kind == VIDEO:
            recognizer.predict(path)
        elif case.kind == MODEL:
            Recognizer.from_pretrained(path)
        else:
            load_pose_dataset(path)
    _refused_before_decoding(case, decoded_frames)
    message = str(raised.value)
    assert "\n" not in message
    assert str(path) in message
    assert re.search(case.message, message), message
    limit = re.search(case.message, message).groupdict().get("limit")
    if limit:
        assert float(limit) == DEFAULT_MAX_CLIP_DURATION_S


@pytest.mark.parametrize("case", [case for case in CASES if case.kind == VIDEO
                                  and case.name not in ("missing.mp4", "folder.mp4",  # nothing to upload
                                                        "empty_room.mp4")],  # a result: "No person"
                         ids=lambda case: case.name)
def test_app_answers_with_the_message(case, tmp_path, app_url):  # noqa: F811
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    path = _made(case, tmp_path)
    with pytest.raises(AppError) as raised:
        Client(app_url, verbose=False).predict(handle_file(str(path)), DEFAULT_BACKEND, api_name="/predict")
    message = str(raised.value)
    assert message.startswith("Cannot read this clip: "), message
    assert str(tmp_path) not in message and "/tmp/gradio" not in message  # no server paths
    match = re.search(case.message, message)
    assert match, message
    if match.groupdict().get("limit"):
        assert float(match["limit"]) == DEFAULT_MAX_UPLOAD_DURATION_S


def test_app_answers_an_empty_room_with_no_person(tmp_path, app_url):  # noqa: F811
    """Nobody in the clip is a verdict, said once and plainly, not an error."""
    from gradio_client import Client, handle_file

    [case] = [case for case in CASES if case.name == "empty_room.mp4"]
    path = _made(case, tmp_path)
    verdict, overlay, ranking, timeline, sets, downloads, details, raw = Client(app_url, verbose=False).predict(
        handle_file(str(path)), DEFAULT_BACKEND, api_name="/predict")
    assert '<div class="headline">No person</div>' in verdict
    assert re.search(r'<div class="detail">Nobody found in any of its \d+ frames \(at 10 fps\)\.</div>', verdict)
    assert str(tmp_path) not in verdict and "/tmp/gradio" not in verdict  # no server paths
    assert overlay is None and raw is None and not ranking and sets["data"] == []  # no ranking of nobody
    assert 'data-start="0" data-end="2.000"' in timeline  # the clip's 2 s, with nothing on them


@pytest.mark.parametrize("case", [case for case in CASES if case.kind == MODEL], ids=lambda case: case.name)
def test_app_refuses_the_model_at_start_with_one_line(case, tmp_path, capsys):
    path = _made(case, tmp_path)
    assert main(["app", "--model", str(path)]) == 1
    stderr = capsys.readouterr().err
    assert stderr.count("\n") == 1 and stderr.startswith(f"gym-gesture app: error: {path}"), stderr
    assert re.search(case.message, stderr.rstrip("\n"))


@pytest.mark.parametrize("case", [case for case in CASES if case.name in ("notes.mp4", "pickle_only")],
                         ids=lambda case: case.name)
def test_cli_end_to_end_has_one_line_on_stderr(case, tmp_path):
    """A real `python -m gym_gesture` process: stderr is that one line and nothing else."""
    path = _made(case, tmp_path)
    command = _cli_commands(case, path, tmp_path)[0]
    result = subprocess.run([sys.executable, "-m", "gym_gesture", *command], check=False, cwd=REPO_ROOT,
                            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    _one_line_error(result.stderr, command[0], path, case.message)


# --- no pickles -------------------------------------------------------------------------------------

class _Payload:
    """Unpickling this creates `sentinel`: proof that a pickle was loaded in full."""

    def __init__(self, sentinel: Path):
        self.sentinel = sentinel

    def __reduce__(self):
        return (Path.touch, (self.sentinel,))


def test_a_pickle_in_a_model_folder_is_never_unpickled(tmp_path, monkeypatch):
    import torch

    sentinel = tmp_path / "unpickled"
    folder = _model_copy(tmp_path / "model", weights=False)
    (folder / "pytorch_model.bin").write_bytes(pickle.dumps(_Payload(sentinel)))
    pickle.loads(pickle.dumps(_Payload(tmp_path / "works")))
    assert (tmp_path / "works").exists()  # the payload does what it says when unpickled

    def forbidden(*args, **kwargs):
        raise AssertionError("torch.load called on a model folder")

    monkeypatch.setattr(torch, "load", forbidden)
    with pytest.raises(FileNotFoundError, match="pytorch_model.bin is a pickle, which is never loaded"):
        Recognizer.from_pretrained(folder)
    assert main(["evaluate", "--model", str(folder), "--data", str(tmp_path / "poses.npz")]) == 1
    assert not sentinel.exists()


SCANNED = ["gym_gesture", "app.py", "hub_upload.py", "benchmarks"]
PICKLE_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib"}


def _keyword_is_true(call: ast.Call, name: str) -> bool:
    return any(keyword.arg == name and isinstance(keyword.value, ast.Constant) and keyword.value.value is True
               for keyword in call.keywords)


def _pickle_loads(tree: ast.AST) -> list[str]:
    """Code (not docstrings or comments) that could unpickle: pickle-like modules, torch.load without
    weights_only=True, allow_pickle=True, and model weights loaded without use_safetensors=True."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            modules = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            found += [f"line {node.lineno}: imports {module}" for module in modules
                      if module.split(".")[0] in PICKLE_MODULES]
        if not isinstance(node, ast.Call):
            continue
        function = ast.unparse(node.func)
        if function.endswith("torch.load") and not _keyword_is_true(node, "weights_only"):
            found.append(f"line {node.lineno}: torch.load without weights_only=True")
        if any(keyword.arg == "allow_pickle" and not (isinstance(keyword.value, ast.Constant)
                                                       and keyword.value.value is False) for keyword in node.keywords):
            found.append(f"line {node.lineno}: allow_pickle")
        if (re.search(r"(AutoModel\w*|For\w+)\.from_pretrained$", function)
                and not _keyword_is_true(node, "use_safetensors")):
            found.append(f"line {node.lineno}: {function} without use_safetensors=True")
    return found


def test_nothing_loads_pickles():
    files = [path for name in SCANNED for path in
             ((REPO_ROOT / name).rglob("*.py") if (REPO_ROOT / name).is_dir() else [REPO_ROOT / name])
             if path.is_file()]
    assert len(files) > 10
    hits = [f"{path.relative_to(REPO_ROOT)} {hit}" for path in files
            for hit in _pickle_loads(ast.parse(path.read_text()))]
    assert hits == []
    # The scanner does see each kind of load.
    assert len(_pickle_loads(ast.parse(
        "import pickle\nfrom joblib import load\ntorch.load(f)\ntorch.load(f, weights_only=False)\n"
        "np.load(f, allow_pickle=True)\nAutoModel.from_pretrained(d)\nX.from_pretrained(d, use_safetensors=True)\n"
        "torch.load(f, weights_only=True)\nnp.load(f, allow_pickle=False)\n"))) == 6


# --- awkward but valid inputs -----------------------------------------------------------------------

def _several_people(path: Path, frames) -> Path:
    """The squatter beside their mirror image: two people in every frame."""
    return _write_clip(path, [np.hstack([image, image[:, ::-1]]) for image in frames],
                       np.arange(len(frames)) / 30)


def _rotated_phone_video(path: Path, frames) -> Path:
    """Stored on its side with the display rotation a phone writes ("rotate: 90")."""
    return _write_clip(path, [np.rot90(image) for image in frames], np.arange(len(frames)) / 30, rotation=-90)


def _variable_frame_rate(path: Path, frames) -> Path:
    """Frame gaps alternating 1/60 s and 1/20 s (30 fps on average), as phones record in low light."""
    gaps = np.where(np.arange(1, len(frames)) % 2, 1 / 60, 1 / 20)
    return _write_clip(path, frames, np.concatenate([[0.0], np.cumsum(gaps)]))


def _frame_8k(path: Path, frames) -> Path:
    """0.4 s of the squat at 8K UHD (7680x4320, exactly the pixel cap)."""
    images = [cv2.resize(image, (7680, 4320), interpolation=cv2.INTER_NEAREST) for image in frames[:13:6]]
    return _write_clip(path, images, [0.0, 0.2, 0.4])


VALID = {"several_people": _several_people, "rotated_phone_video": _rotated_phone_video,
         "variable_frame_rate": _variable_frame_rate, "frame_8k": _frame_8k}


@pytest.fixture(scope="module")
def valid_clips(tmp_path_factory, squat_frames, recognizer):
    """Each valid clip, made once, with the package's own prediction on it."""
    folder = tmp_path_factory.mktemp("valid")
    made = {}

    def clip(name: str):
        if name not in made:
            path = VALID[name](folder / f"{name}.mp4", squat_frames)
            made[name] = path, recognizer.predict(path)
        return made[name]

    return clip


@pytest.fixture(scope="module")
def upright(recognizer):
    return recognizer.predict(SQUAT_CLIP)


@pytest.mark.parametrize("name", VALID)
def test_valid_inputs_give_the_right_prediction(name, valid_clips, upright, recognizer):
    path, prediction = valid_clips(name)
    info = probe(path)
    sample_fps = recognizer.config.sample_fps
    assert prediction.detected_frames >= 0.7 * prediction.frames
    assert len(prediction.windows) >= 1
    if name == "frame_8k":  # three frames 0.2 s apart: too few to check the label or the timing
        assert (info.width, info.height) == (7680, 4320)
        return
    # The frames the model saw cover the clip at its sample rate, whatever the clip's own timing.
    assert abs(prediction.frames - info.duration * sample_fps) <= 1.5
    assert prediction.label == upright.label == "squat"
    if name == "rotated_phone_video":
        assert (info.width, info.height, info.rotation) == (320, 180, -90)
    if name == "variable_frame_rate":
        with av.open(str(path)) as container:
            gaps = np.diff([frame.time for frame in container.decode(video=0)])
        assert gaps.min() == pytest.approx(1 / 60, abs=2e-3) and gaps.max() == pytest.approx(1 / 20, abs=2e-3)


# The 8K clip only through the Recognizer: the app would draw its overlay at 8K (tens of seconds).
@pytest.mark.parametrize("name", [name for name in VALID if name != "frame_8k"])
def test_valid_inputs_through_the_cli_and_the_app(name, valid_clips, app_url, capsys):  # noqa: F811
    from gradio_client import Client, handle_file

    path, prediction = valid_clips(name)
    assert main(["predict", str(path), "--json"]) == 0
    assert Prediction.from_json(json.loads(capsys.readouterr().out)).top_k == prediction.top_k
    outputs = Client(app_url, verbose=False).predict(handle_file(str(path)), DEFAULT_BACKEND, api_name="/predict")
    ranking, raw = outputs[2], outputs[-1]
    assert ranking["label"] == prediction.label
    assert raw["windows"] == prediction.to_json()["windows"]


# --- the app's queue --------------------------------------------------------------------------------

def test_app_answers_concurrent_requests_through_its_queue(app_url, recognizer, squat_frames, tmp_path):  # noqa: F811
    """20 requests at once on a 1 s clip: the queue (one at a time, max_size 20) answers every one."""
    from gradio_client import Client, handle_file

    clip = _write_clip(tmp_path / "short.mp4", squat_frames[20:50], np.arange(30) / 30)
    expected = recognizer.predict(clip)
    client = Client(app_url, verbose=False)
    jobs = [client.submit(handle_file(str(clip)), DEFAULT_BACKEND, api_name="/predict")
            for _ in range(CONCURRENT_REQUESTS)]
    results = [job.result(timeout=240) for job in jobs]
    assert len(results) == CONCURRENT_REQUESTS
    for outputs in results:
        ranking, raw = outputs[2], outputs[-1]
        assert ranking["label"] == expected.label
        assert raw["windows"] == expected.to_json()["windows"]
