"""The mmpose backend with real MMPose and models built from the configs inside the mmpose package.

No weights can be downloaded here, so the models are randomly initialized (random_weights=True, the
test-only switch): these tests check the adapter's real code paths, shapes, the joint mapping, the
lifter's context and the no-person case, not pose quality. They need the MMPose extra (run by
.ci/mmpose); without it they skip. The checkpoint cache and download (up to the network, which is
replaced here) need no MMPose and run in the core suite.
"""

from __future__ import annotations

import http.client
import importlib.util
import io
import urllib.error

import numpy as np
import pytest
import torch.hub

from gym_gesture.pose import create_backend
from gym_gesture.pose.mmpose_backend import MissingCheckpointError, checkpoint_cache_dir, local_checkpoints
from gym_gesture.model.skeleton import COCO17, H36M17

# Small models keep the lane fast on CPU: RTMPose-t and MotionBERT over a short window.
POSE2D = "rtmpose-t_8xb256-420e_body8-256x192"
SHORT_CONTEXT = 8
CHECKPOINT_URLS = [f"https://download.openmmlab.com/mmpose/v1/{name}" for name in
                   ("rtmpose-example-0123abcd_20230504.pth", "lifter-example-89abcdef_20230531.pth")]


@pytest.fixture(scope="module")
def mmpose_apis():
    pytest.importorskip("mmpose", reason="needs the MMPose extra (requirements-mmpose.txt)")
    import mmpose.apis

    return mmpose.apis


@pytest.fixture(scope="module")
def skier_rgb(shared_data) -> np.ndarray:
    import cv2

    path = shared_data / "people" / "skier_coco_000000000785.jpg"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def make_backend(**kwargs):
    """The mmpose backend with the small 2D model, its random weights seeded so that runs repeat."""
    import torch

    torch.manual_seed(0)
    return create_backend("mmpose", pose2d_model=POSE2D, random_weights=True, **kwargs)


@pytest.fixture(scope="module")
def lifting_backend(mmpose_apis):
    # score_threshold 0: random weights give arbitrary confidences; every frame counts as a person.
    backend = make_backend(score_threshold=0.0, lifter_context=SHORT_CONTEXT)
    yield backend
    backend.close()


def synthetic_frames(count: int, height: int = 240, width: int = 320) -> list[np.ndarray]:
    """A bright figure-like blob moving right over a dark background."""
    frames = []
    for t in range(count):
        frame = np.full((height, width, 3), 30, np.uint8)
        x = 100 + 5 * t
        frame[40:200, x : x + 40] = (220, 180, 150)
        frames.append(frame)
    return frames


@pytest.mark.mmpose
def test_random_weights_build_models_on_the_automatic_device(lifting_backend):
    import torch

    assert lifting_backend.device == ("cuda" if torch.cuda.is_available() else "cpu")
    for model in (lifting_backend.pose2d, lifting_backend.lifter):
        assert next(model.parameters()).device.type == lifting_backend.device
    assert lifting_backend.layout == "h36m17"
    assert type(lifting_backend.lifter.backbone).__name__ == "DSTFormer"  # MotionBERT, the "human3d" model


@pytest.mark.mmpose
def test_lifted_frame_is_h36m17_with_image_points_mapped_from_coco(lifting_backend, mmpose_apis, skier_rgb):
    lifting_backend.reset()
    frame = lifting_backend(skier_rgb)

    assert frame.detected
    assert frame.keypoints.shape == (17, 3) and frame.keypoints.dtype == np.float32
    assert frame.image_points.shape == (17, 2) and frame.scores.shape == (17,)
    assert np.isfinite(frame.keypoints).all() and np.isfinite(frame.image_points).all()
    assert ((frame.scores >= 0) & (frame.scores <= 1)).all()
    # MotionBERT's output is root-relative: the pelvis sits at the origin.
    np.testing.assert_allclose(frame.keypoints[H36M17.index["pelvis"]], 0.0, atol=1e-5)

    # The 2D model alone on the same frame (the first of a clip: the whole image is the person box).
    result = mmpose_apis.inference_topdown(lifting_backend.pose2d, np.ascontiguousarray(skier_rgb[..., ::-1]))[0]
    coco = result.pred_instances.keypoints[0]
    h36m = frame.image_points
    for joint in ("left_hip", "right_hip", "left_knee", "right_ankle", "left_shoulder", "right_wrist"):
        np.testing.assert_allclose(h36m[H36M17.index[joint]], coco[COCO17.index[joint]], rtol=1e-5)
    hips = (coco[COCO17.index["left_hip"]] + coco[COCO17.index["right_hip"]]) / 2
    shoulders = (coco[COCO17.index["left_shoulder"]] + coco[COCO17.index["right_shoulder"]]) / 2
    np.testing.assert_allclose(h36m[H36M17.index["pelvis"]], hips, rtol=1e-5)
    np.testing.assert_allclose(h36m[H36M17.index["thorax"]], shoulders, rtol=1e-5)
    np.testing.assert_allclose(h36m[H36M17.index["spine"]], (hips + shoulders) / 2, rtol=1e-5)
    scores = np.clip(result.pred_instances.keypoint_scores[0], 0, 1)
    hip_scores = scores[[COCO17.index["left_hip"], COCO17.index["right_hip"]]]
    np.testing.assert_allclose(frame.scores[H36M17.index["pelvis"]], hip_scores.mean(), rtol=1e-5)


@pytest.mark.mmpose
def test_lifter_sees_a_bounded_window_of_recent_frames_and_reset_clears_it(lifting_backend):
    lifting_backend.reset()
    frames = synthetic_frames(SHORT_CONTEXT + 3)
    outputs = [lifting_backend(frame) for frame in frames]

    assert all(out.detected and out.keypoints.shape == (17, 3) for out in outputs)
    assert len(lifting_backend._window) == SHORT_CONTEXT
    # The same image lifted with and without the preceding frames: the context changes the 3D pose.
    lifting_backend.reset()
    alone = lifting_backend(frames[-1])
    assert len(lifting_backend._window) == 1
    assert not np.allclose(alone.keypoints, outputs[-1].keypoints)
    # After a reset the clip starts again: the same frames give the same poses.
    lifting_backend.reset()
    again = [lifting_backend(frame) for frame in frames[:3]]
    for first, second in zip(outputs[:3], again):
        np.testing.assert_allclose(first.keypoints, second.keypoints, rtol=1e-4, atol=1e-5)


@pytest.mark.mmpose
def test_single_target_lifter_gets_its_window_padded_with_the_current_frame(mmpose_apis):
    # VideoPose3D's TCN lifts the center frame of 27: 13 past frames, the current one, 13 copies of it.
    tcn = "video-pose-lift_tcn-27frm-supv_8xb128-160e_h36m"
    backend = make_backend(lifter_model=tcn, score_threshold=0.0)
    outputs = [backend(frame) for frame in synthetic_frames(16)]

    assert backend.layout == "h36m17" and backend._window.maxlen == 14 and len(backend._window) == 14
    for out in outputs:
        assert out.detected and out.keypoints.shape == (17, 3) and np.isfinite(out.keypoints).all()


@pytest.mark.mmpose
def test_no_person_gives_nan_keypoints_and_starts_from_the_whole_frame(mmpose_apis):
    # Scores are clipped to [0, 1], so a threshold above 1 makes every frame a frame without a person.
    backend = make_backend(score_threshold=1.01, lifter_context=SHORT_CONTEXT)
    frame = backend(synthetic_frames(1)[0])

    assert not frame.detected
    assert np.isnan(frame.keypoints).all() and frame.keypoints.shape == (17, 3)
    assert np.isnan(frame.image_points).all() and frame.image_points.shape == (17, 2)
    assert (frame.scores == 0).all()
    assert backend._person_box is None and len(backend._window) == 0


@pytest.mark.mmpose
def test_without_lifter_frames_are_coco17_normalized_image_coordinates(mmpose_apis, skier_rgb):
    backend = make_backend(lifter_model=None, score_threshold=0.0)
    assert backend.layout == "coco17" and backend.lifter is None
    height, width = skier_rgb.shape[:2]
    first, second = backend(skier_rgb), backend(skier_rgb)

    for frame in (first, second):
        assert frame.detected and frame.keypoints.shape == (17, 3) and frame.image_points.shape == (17, 2)
        np.testing.assert_allclose(frame.keypoints[:, :2], frame.image_points / [width, height], rtol=1e-5)
        assert (frame.keypoints[:, 2] == 0).all()
    # The second frame is cropped to the box around the first frame's keypoints.
    box = backend._person_box
    assert box is not None and (box[:2] >= 0).all() and box[2] <= width and box[3] <= height


@pytest.mark.mmpose
def test_model_names_resolve_through_mmpose_model_index(mmpose_apis):
    from gym_gesture.pose.mmpose_backend import resolve_model

    config, weights = resolve_model("human3d", "openmmlab")
    assert config.endswith("motionbert_dstformer-ft-243frm_8xb32-120e_h36m.py")
    assert weights.startswith("https://download.openmmlab.com/") and weights.endswith(".pth")
    config, weights = resolve_model(config, "/checkpoints/motionbert.pth")
    assert weights == "/checkpoints/motionbert.pth"
    assert resolve_model("body", None)[0].endswith("rtmpose-m_8xb256-420e_body8-256x192.py")
    with pytest.raises(ValueError, match="unknown MMPose model"):
        resolve_model("no-such-model", None)


@pytest.mark.mmpose
def test_rejects_non_rgb_input(lifting_backend):
    with pytest.raises(ValueError, match="RGB uint8"):
        lifting_backend(np.zeros((10, 10), np.uint8))


@pytest.mark.skipif(importlib.util.find_spec("mmpose") is not None, reason="MMPose is installed")
def test_without_mmpose_the_backend_says_how_to_install_it():
    with pytest.raises(ImportError, match="requirements-mmpose.txt"):
        create_backend("mmpose")


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """An empty checkpoint cache, and a network that fails as it does without a connection."""
    def no_network(request, *args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "urlopen", no_network)
    return checkpoint_cache_dir()


def test_offline_the_error_names_each_missing_file_its_url_and_where_to_put_it(offline):
    with pytest.raises(MissingCheckpointError) as raised:
        local_checkpoints(CHECKPOINT_URLS)

    message = str(raised.value)
    assert "Temporary failure in name resolution" in message and str(offline) in message
    for url in CHECKPOINT_URLS:
        name = url.rsplit("/", 1)[1]
        assert f"{name}\n    from {url}\n    to   {offline / name}" in message
    assert isinstance(raised.value, OSError)  # what the CLI and the app report as a plain error
    assert not any(offline.iterdir())  # no partial download left behind


def test_a_checkpoint_in_the_cache_is_used_without_the_network(offline, tmp_path):
    cached = offline / CHECKPOINT_URLS[0].rsplit("/", 1)[1]
    offline.mkdir(parents=True)
    cached.write_bytes(b"weights")
    local_file = str(tmp_path / "mine.pth")

    assert local_checkpoints([CHECKPOINT_URLS[0], local_file, None]) == [str(cached), local_file, None]
    # Only the file that is not there yet is named.
    with pytest.raises(MissingCheckpointError) as raised:
        local_checkpoints(CHECKPOINT_URLS)
    assert [url for url, _ in raised.value.missing] == CHECKPOINT_URLS[1:]


def test_a_missing_checkpoint_is_downloaded_once_into_the_cache(offline, monkeypatch):
    requested = []

    class Response(io.BytesIO):
        def info(self):
            return http.client.HTTPMessage()  # no headers: no Content-Length

    def fake_server(request, *args, **kwargs):
        requested.append(request.full_url)
        return Response(b"weights of " + request.full_url.encode())

    monkeypatch.setattr(torch.hub, "urlopen", fake_server)
    paths = local_checkpoints(CHECKPOINT_URLS)
    assert local_checkpoints(CHECKPOINT_URLS) == paths  # the second time from the cache
    assert requested == CHECKPOINT_URLS
    for url, path in zip(CHECKPOINT_URLS, paths):
        assert path == str(offline / url.rsplit("/", 1)[1])
        assert open(path, "rb").read() == b"weights of " + url.encode()


def test_random_weights_need_the_explicit_test_switch():
    with pytest.raises(ValueError, match="random_weights=True"):
        create_backend("mmpose", pose2d_weights=None)


@pytest.mark.mmpose
def test_default_backend_offline_names_the_model_index_checkpoints(mmpose_apis, offline):
    with pytest.raises(MissingCheckpointError) as raised:
        create_backend("mmpose")

    names = [path.name for _, path in raised.value.missing]
    assert names == ["rtmpose-m_simcc-body7_pt-body7_420e-256x192-e48f03d0_20230504.pth",
                     "motionbert_ft_h36m-d80af323_20230531.pth"]
    for url, path in raised.value.missing:
        assert url.startswith("https://download.openmmlab.com/mmpose/v1/") and url.endswith("/" + path.name)
        assert path.parent == offline
