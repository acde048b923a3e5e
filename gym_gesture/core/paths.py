"""Files shipped inside the package (package data, read through importlib.resources, so a wheel install
has them too). Importable without numpy or torch: the CLI's option defaults use them."""

from importlib.resources import files
from pathlib import Path

PACKAGE_DIR = Path(str(files("gym_gesture")))
# The source checkout (a Space's app.py, requirements and license come from it).
REPO_ROOT = PACKAGE_DIR.parent
# The shipped checkpoints, each asked for by its folder's name (`--model gym22-transformer`); the default
# everywhere is one of them, so nothing is downloaded unless another model is asked for.
CHECKPOINTS_DIR = PACKAGE_DIR / "checkpoints"
DEFAULT_MODEL_DIR = CHECKPOINTS_DIR / "gym22-transformer"
EXAMPLES_DIR = PACKAGE_DIR / "examples"
MODEL_CARD_TEMPLATE = PACKAGE_DIR / "model_card.md"
# The push-up form model (`gym-gesture train-form`) that a model folder may carry beside its weights.
FORM_MODEL_FILE = "pushup_form.json"
# The abstain thresholds (`gym-gesture calibrate`) that a model folder may carry.
CALIBRATION_FILE = "calibration.json"
# What `gym-gesture enroll` taught a model folder: the classes enrolled, their clips and thresholds.
ENROLLMENT_FILE = "enrolment.json"  # its British name kept: folders already carry it
# The recipe a model folder was trained with (`gym-gesture train` writes it; the Hub folder carries it).
RECIPE_FILE = "recipe.json"
# Run by the app at a GPU Space's start: the OpenMMLab packages cannot come from requirements.txt
# (--no-deps, and mmcv is built against the installed torch).
MMPOSE_INSTALLER = "install_mmpose.sh"
# The files of model/ travel with the weights as remote code; the folder itself.
MODEL_CODE_DIR = PACKAGE_DIR / "model"
RECIPES_DIR = PACKAGE_DIR / "recipes"
