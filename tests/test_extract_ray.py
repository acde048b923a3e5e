"""`gym-gesture extract --ray`: on a real local Ray cluster of 2 CPUs, the same dataset as a local run, a
killed worker's clip redone, a clip whose worker is killed every time reported, resume across local and Ray
runs, the multi-person backend following the person exercising as a local run does; one-line errors without Ray
or a cluster."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from gym_gesture.cli import main
from gym_gesture.data.dataset import load_pose_dataset
from gym_gesture.data.extract import extract_dataset

from conftest import REPO_ROOT, free_port
from test_extract import SQUAT_CLIP, _arrow_bytes, uninterrupted, video_tree  # noqa: F401 (fixtures: the local run)

REPORT = "extract_report.json"


def _ray_or_skip():
    try:
        import ray
    except ImportError:
        if os.environ.get("CI", "").lower() == "true":  # the test extra installs Ray: CI must run these
            raise
        pytest.skip('needs Ray: pip install "gym-gesture[ray]"')
    return ray


@pytest.fixture(scope="module")
def ray_cluster():
    """One local cluster of 2 CPUs for the module (starting one takes seconds); `extract --ray` run in this
    process uses it, as it uses any connection its caller made."""
    ray = _ray_or_skip()
    ray.init(address="local", num_cpus=2)
    yield ray
    ray.shutdown()


def _report(dataset_dir: Path) -> dict:
    return json.loads((dataset_dir / REPORT).read_text())


def test_ray_run_gives_the_local_dataset(ray_cluster, video_tree, uninterrupted, tmp_path):  # noqa: F811
    out = tmp_path / "dataset"
    # No --workers: one actor per CPU of the cluster, 2 here.
    assert main(["extract", str(video_tree), "--out", str(out), "--ray", "local"]) == 0
    assert _arrow_bytes(out) == _arrow_bytes(uninterrupted)
    # The broken videos are reported word for word as in the local run.
    assert _report(out) == _report(uninterrupted)
    assert len(_report(out)["failed"]) == 3


def test_ray_run_follows_the_exerciser_as_a_local_run(ray_cluster, shared_data, tmp_path):
    """`extract --backend mediapipe-people` on two real two-person clips: lateral raises on the right of a man
    walking (looped, a new track each time round), and the Sports2D demo (a man doing jumping jacks on a box
    for 2.6 s while people walk past). The Ray actors save the keypoints the local run saves, bit for bit: one
    person's a frame, the exerciser's."""
    from benchmarks.multi_person import BYSTANDER, side_by_side

    videos = tmp_path / "videos"
    (videos / "lateral raises").mkdir(parents=True)
    (videos / "jumping jacks").mkdir()
    side_by_side(shared_data / "clips22" / "lateral raises" / "nicorobin28_vot-apps__lateralRaise.mp4", BYSTANDER,
                 videos / "lateral raises" / "composite_1.mp4", exercise_side="right")
    shutil.copy(shared_data / "people" / "outdoor_sports2d_demo.mp4", videos / "jumping jacks" / "sports2d_1.mp4")
    options = ["--backend", "mediapipe-people", "--fps", "10", "--other-exercises", "--source-per-clip"]
    assert main(["extract", str(videos), "--out", str(tmp_path / "local"), *options]) == 0
    assert main(["extract", str(videos), "--out", str(tmp_path / "ray"), *options, "--ray", "local"]) == 0
    assert _arrow_bytes(tmp_path / "ray") == _arrow_bytes(tmp_path / "local")
    dataset = load_pose_dataset(tmp_path / "ray").with_format("numpy")
    assert list(dataset["clip_id"]) == ["composite_1", "sports2d_1"]
    assert set(dataset["backend"]) == {"mediapipe-people"}
    composite, sports2d = dataset[0], dataset[1]
    # The exerciser, on the right half, in every frame with a person: never the man walking on the left.
    seen = composite["detected"]
    assert seen.mean() >= 0.9
    assert (np.nanmedian(composite["keypoints"][seen, :, 0], axis=1) > 0.5).all()
    # The man on the box, above the lawn the others walk on, while he jumps.
    jumping = sports2d["detected"][:26]
    assert jumping.mean() >= 0.9
    assert (np.nanmedian(sports2d["keypoints"][:26][jumping, :, 1], axis=1) < 0.5).all()


def _kill_busy_actors(killed: list[int], times: int, deadline: float) -> None:
    """SIGKILL actor processes seen extracting a clip (Ray titles them `ray::PoseWorker.pose`), `times` of them."""
    while len(killed) < times and time.monotonic() < deadline:
        for proc in Path("/proc").iterdir():
            try:
                title = (proc / "cmdline").read_bytes()
            except OSError:  # not a process, or it has just ended
                continue
            if title.startswith(b"ray::PoseWorker.pose") and int(proc.name) not in killed:
                os.kill(int(proc.name), signal.SIGKILL)
                killed.append(int(proc.name))
                break
        time.sleep(0.01)


def _extract_while_killing(times: int, *args, **kwargs) -> tuple[dict, list[int]]:
    killed = []
    killer = threading.Thread(target=_kill_busy_actors, args=(killed, times, time.monotonic() + 120))
    killer.start()
    try:
        report = extract_dataset(*args, progress=False, **kwargs)
    finally:
        killer.join()
    return report, killed


def test_killed_worker_has_its_clip_redone(ray_cluster, video_tree, uninterrupted, tmp_path):  # noqa: F811
    report, killed = _extract_while_killing(1, video_tree, tmp_path / "dataset", ray="local", workers=2)
    assert len(killed) == 1
    # The clip the dead actor held was redone: nothing lost, nothing twice, the same report.
    assert _arrow_bytes(tmp_path / "dataset") == _arrow_bytes(uninterrupted)
    assert report == _report(uninterrupted), json.dumps(report["failed"], indent=1)


def test_clip_that_kills_its_worker_every_time_is_reported(ray_cluster, tmp_path):
    from gym_gesture.data.extract_ray import MAX_TRIES  # imports Ray: after the fixture's check

    (tmp_path / "videos" / "squat").mkdir(parents=True)
    clip = tmp_path / "videos" / "squat" / "squat_1.mp4"
    clip.write_bytes(SQUAT_CLIP.read_bytes())
    report, killed = _extract_while_killing(MAX_TRIES, tmp_path / "videos", tmp_path / "dataset", ray="local",
                                            workers=1, limit=1)
    assert len(killed) == MAX_TRIES
    [failure] = report["failed"]
    assert failure["path"] == str(clip)
    assert failure["error"].startswith(f"{clip}: its Ray worker died {MAX_TRIES} times on it (")


def test_ray_run_resumes_a_local_run(ray_cluster, video_tree, uninterrupted, tmp_path):  # noqa: F811
    out = tmp_path / "dataset"
    extract_dataset(video_tree, out, limit=4, progress=False)  # the 3 broken clips, then squat_1
    # 3 actors on 2 CPUs: the third is never placed, and must not hold back a clip.
    report = extract_dataset(video_tree, out, ray="local", workers=3, progress=False)
    assert report["skipped_already_done"] == 1 and report["clips"] == 3
    assert _arrow_bytes(out) == _arrow_bytes(uninterrupted)
    assert report["failed"] == _report(uninterrupted)["failed"]


def test_without_ray_one_line_names_the_extra(video_tree, tmp_path, monkeypatch, capsys):  # noqa: F811
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails, as where the extra is not installed
    monkeypatch.delitem(sys.modules, "gym_gesture.data.extract_ray", raising=False)
    assert main(["extract", str(video_tree), "--out", str(tmp_path / "dataset"), "--ray", "local"]) == 1
    error = capsys.readouterr().err
    assert 'pip install "gym-gesture[ray]"' in error and len(error.strip().splitlines()) == 1


def test_unreachable_cluster_is_one_line(video_tree, tmp_path):  # noqa: F811
    _ray_or_skip()
    address = f"ray://127.0.0.1:{free_port()}"
    # A fresh process (this one is connected already), and Ray's client giving up after 3 tries of 1 s, not 5-30 s.
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), RAY_CLIENT_INITIAL_CONNECTION_TIMEOUT_S="1",
               RAY_CLIENT_MAX_CONNECTION_TIMEOUT_S="1")
    result = subprocess.run([sys.executable, "-m", "gym_gesture", "extract", str(video_tree), "--out",
                             str(tmp_path / "dataset"), "--ray", address], env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 1
    # Ray warns first, in its own words; ours is one line, with no traceback.
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(
        f"gym-gesture extract: error: cannot connect to the Ray cluster at '{address}': ")
