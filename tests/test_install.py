"""The package as a user installs it: a built wheel (not the editable checkout), run from outside the
repository, finds its shipped checkpoint, form model and examples (package data) and predicts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile

import pytest

from conftest import FIXTURES, REPO_ROOT

PACKAGE_DATA = (
    "gym_gesture/checkpoints/gym7-transformer/model.safetensors",
    "gym_gesture/checkpoints/gym7-transformer/config.json",
    "gym_gesture/checkpoints/gym7-transformer/preprocessor_config.json",
    "gym_gesture/checkpoints/gym7-transformer/processing_gym_gesture.py",
    "gym_gesture/checkpoints/gym7-transformer/transforms.py",
    "gym_gesture/checkpoints/gym7-transformer/calibration.json",
    "gym_gesture/checkpoints/gym7-transformer/pushup_form.json",
    "gym_gesture/examples/squat.mp4",
    "gym_gesture/model_card.md",
)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The wheel of this checkout installed (without dependencies: the test environment has them) into a
    folder of its own; returns that folder and the wheel."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(out / "dist"), str(REPO_ROOT)], check=True, timeout=600)
    wheel = next((out / "dist").glob("gym_gesture-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-compile",
                    "--target", str(out / "site"), str(wheel)], check=True, timeout=600)
    return out / "site", wheel


def test_wheel_carries_the_package_data(installed):
    names = set(zipfile.ZipFile(installed[1]).namelist())
    missing = [name for name in PACKAGE_DATA if name not in names]
    assert not missing, missing


def test_installed_package_predicts_from_outside_the_repository(installed, tmp_path):
    site = installed[0]
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env["PYTHONPATH"] = str(site)  # first on the path: the editable install of the checkout is not used
    script = ("import json, sys, gym_gesture; from gym_gesture.cli import main; "
              "print(json.dumps({'package': gym_gesture.__file__})); sys.exit(main(sys.argv[1:]))")
    result = subprocess.run([sys.executable, "-c", script, "predict", str(FIXTURES / "squat_clip.mp4"), "--json"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    assert json.loads(lines[0])["package"].startswith(str(site))
    prediction = json.loads("\n".join(lines[1:]))
    assert prediction["top_k"][0]["label"] == "squat"
    assert prediction["model"].startswith(str(site))
