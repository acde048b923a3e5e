#!/usr/bin/env bash
# Installs the MMPose extra (the `mmpose` pose backend) into the environment of $PYTHON (default:
# python3), with the requirement files beside this script. The recipe of docs/mmpose.md, run by
# .ci/mmpose and, on GPU hardware, by the Hugging Face Space at its start (gym_gesture/app.py).
set -euo pipefail
here="$(dirname "$0")"

pip=("${PYTHON:-python3}" -m pip install --disable-pip-version-check --progress-bar off)
"${pip[@]}" -r "$here/requirements.txt" -r "$here/requirements-mmpose.txt"

# mmcv's ops compile against the torch installed above, hence no build isolation. mmcv builds its CUDA
# ops when torch sees a GPU (a GPU Space runs this at start-up, with its GPU attached), else its CPU ops
# (mmpose only imports them; the models run through torch).
MMCV_WITH_OPS=1 MAX_JOBS="$(nproc)" "${pip[@]}" --no-deps --no-build-isolation -r "$here/requirements-mmpose-nodeps.txt"
