"""The command line as a user meets it: cheap `--help` and refusals (no torch / transformers / mediapipe /
gradio imported), one line for the user's mistakes and a traceback for bugs, MediaPipe's native log lines
hidden unless `--verbose`, and the `app` / `push` commands behind `app.py` / `hub_upload.py`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from gym_gesture.cli import data as data_commands
from gym_gesture.cli import EXIT_BUG, main

from conftest import FIXTURES, REPO_ROOT

SQUAT_CLIP = FIXTURES / "squat_clip.mp4"
HEAVY_MODULES = ("torch", "transformers", "mediapipe", "gradio", "cv2", "datasets", "sklearn", "matplotlib",
                 "pandas", "scipy", "ray")
# What MediaPipe's C++ graph writes to stderr when it starts (TFLite and absl lines).
NATIVE_LOG_LINE = re.compile(r"^(INFO: Created TensorFlow Lite|WARNING: All log messages before absl|"
                             r"[IWEF]\d{4} [\d:.]+ +\d+ \w+\.cc:\d+\])", re.MULTILINE)


def _python(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)))


def _heavy_modules_after(argv: list[str]) -> tuple[list[str], int, str]:
    """Run `gym-gesture ARGV` in a fresh interpreter: the heavy modules it imported, its exit status, stderr."""
    script = (
        "import json, sys\n"
        "from gym_gesture.cli import main\n"
        "try:\n"
        f"    status = main({argv!r})\n"
        "except SystemExit as exit:\n"
        "    status = exit.code\n"
        f"heavy = sorted(name for name in sys.modules if name.split('.')[0] in {HEAVY_MODULES!r})\n"
        "print(json.dumps({'heavy': heavy, 'status': status}))\n")
    result = _python("-c", script)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    return report["heavy"], report["status"], result.stderr


@pytest.mark.parametrize("argv", [
    ["--help"], ["predict", "--help"], ["app", "--help"], ["push", "--help"], ["extract", "--help"],
    ["predict", "missing.mp4"], ["predict", str(SQUAT_CLIP), "--overlay", "no-such-folder/overlay.mp4"],
    ["enroll", "--help"], ["enroll", "--label", "lunge", "--out", "enrolled", "missing.mp4"],
    ["enroll", "--label", "lunge", "--out", "enrolled"],
], ids=" ".join)
def test_help_and_refused_input_import_nothing_heavy(argv):
    heavy, status, stderr = _heavy_modules_after(argv)
    assert heavy == [], heavy
    assert status == (0 if "--help" in argv else 1), stderr


def _refuse_pose_work(monkeypatch):
    from gym_gesture.inference.recognizer import Recognizer

    def never(*args, **kwargs):
        raise AssertionError("the model and the pose backend were loaded")

    monkeypatch.setattr(Recognizer, "from_pretrained", never)


@pytest.mark.parametrize("overlay, message", [
    ("missing/overlay.mp4", r"no such folder .*missing$"),
    ("notes.txt/overlay.mp4", r"no such folder .*notes\.txt$"),
    (".", r"a folder; give a file name$"),
], ids=["missing folder", "under a file", "a folder"])
def test_unwritable_overlay_is_refused_before_pose_work(overlay, message, tmp_path, monkeypatch, capsys):
    _refuse_pose_work(monkeypatch)
    (tmp_path / "notes.txt").write_text("not a folder")
    path = tmp_path / overlay
    assert main(["predict", str(SQUAT_CLIP), "--overlay", str(path)]) == 1
    stderr = capsys.readouterr().err
    assert stderr.count("\n") == 1 and stderr.startswith(f"gym-gesture predict: error: --overlay {path}"), stderr
    assert re.search(message, stderr.rstrip("\n")), stderr


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes into read-only folders")
def test_overlay_in_a_read_only_folder_is_refused(tmp_path, monkeypatch, capsys):
    _refuse_pose_work(monkeypatch)
    folder = tmp_path / "read-only"
    folder.mkdir(mode=0o555)
    assert main(["predict", str(SQUAT_CLIP), "--overlay", str(folder / "overlay.mp4")]) == 1
    assert "cannot be written (Permission denied)" in capsys.readouterr().err


def test_the_overlay_check_leaves_no_file_behind(tmp_path, monkeypatch, capsys):
    _refuse_pose_work(monkeypatch)  # a bug from the check's point of view: reached only after it passed
    overlay = tmp_path / "overlay.mp4"
    assert main(["predict", str(SQUAT_CLIP), "--overlay", str(overlay)]) == EXIT_BUG
    assert "AssertionError: the model and the pose backend were loaded" in capsys.readouterr().err
    assert not overlay.exists()


def test_a_bug_shows_its_traceback_and_exits_70(monkeypatch, capsys):
    def buggy(args):
        """list the classes, with a bug"""
        return {}["reps"]

    monkeypatch.setattr(data_commands, "run_labels", buggy)
    assert main(["labels"]) == EXIT_BUG == 70
    stderr = capsys.readouterr().err
    assert "Traceback (most recent call last)" in stderr and "KeyError: 'reps'" in stderr
    assert stderr.rstrip("\n").splitlines()[-1].startswith("gym-gesture labels: internal error (a bug")


@pytest.mark.parametrize("argv", [["predict", "missing.mp4"], ["predict", "missing.mp4", "--top-k", "0"]],
                         ids=["missing file", "bad option"])
def test_a_user_error_is_one_line_and_with_debug_a_traceback(argv, capsys):
    assert main(argv) == 1
    stderr = capsys.readouterr().err
    assert stderr.count("\n") == 1 and stderr.startswith("gym-gesture predict: error: "), stderr
    for debug_argv in (["--debug", *argv], [*argv, "--debug"]):  # before or after the command
        assert main(debug_argv) == 1
        with_debug = capsys.readouterr().err
        assert "Traceback (most recent call last)" in with_debug
        assert with_debug.endswith(stderr), with_debug


def test_predict_is_quiet_on_stderr_and_native_log_lines_show_only_when_verbose():
    quiet = _python("-m", "gym_gesture", "predict", str(SQUAT_CLIP))
    assert quiet.returncode == 0, quiet.stderr[-2000:]
    assert "squat" in quiet.stdout
    assert not NATIVE_LOG_LINE.search(quiet.stderr), quiet.stderr
    # Nothing else either: no "Loading weights" bar, no warning of a clean run.
    assert quiet.stderr == "", quiet.stderr
    verbose = _python("-m", "gym_gesture", "predict", str(SQUAT_CLIP), "--verbose")
    assert verbose.returncode == 0, verbose.stderr[-2000:]
    assert verbose.stdout == quiet.stdout.replace(_seconds(quiet.stdout), _seconds(verbose.stdout))
    assert "Created TensorFlow Lite XNNPACK delegate" in verbose.stderr
    assert len(NATIVE_LOG_LINE.findall(verbose.stderr)) >= 4, verbose.stderr


def _seconds(stdout: str) -> str:
    """The processing time on the summary line, the only part of the output that differs between runs."""
    return re.search(r"frames, (\d+\.\d) s", stdout)[1]


@pytest.mark.parametrize("script, command", [("app.py", "app"), ("hub_upload.py", "push")])
def test_entry_scripts_are_the_commands(script, command):
    script_help = _python(script, "--help", timeout=60)
    command_help = _python("-m", "gym_gesture", command, "--help", timeout=60)
    assert script_help.returncode == command_help.returncode == 0, script_help.stderr
    assert script_help.stdout == command_help.stdout
    assert script_help.stdout.startswith(f"usage: gym-gesture {command} ")


def test_app_help_lists_its_options(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["app", "--help"])
    assert exited.value.code == 0
    usage = capsys.readouterr().out
    for option in ("--model", "--host", "--port", "--max-duration", "--concurrency", "--verbose"):
        assert option in usage


def test_push_dry_run_writes_the_folders(model_dir, tmp_path, capsys):
    out = tmp_path / "build"
    assert main(["push", "--model-dir", str(model_dir), "--repo-id", "someone/gym-gesture",
                 "--dry-run", str(out)]) == 0
    assert capsys.readouterr().out.strip() == f"model folder: {out / 'model'}"
    assert (out / "model" / "config.json").is_file() and (out / "model" / "README.md").is_file()
