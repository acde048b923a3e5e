"""Files shipped inside the package (package data, read through importlib.resources, so a wheel install
has them too). Importable without numpy or torch: the CLI's option defaults use them."""

from importlib.resources import files
from pathlib import Path

PACKAGE_DIR = Path(str(files(__package__)))
# The shipped checkpoints, each asked for by its folder's name (`--model gym22-transformer`); the default
# everywhere is one of them, so nothing is downloaded unless another model is asked for.
CHECKPOINTS_DIR = PACKAGE_DIR / "checkpoints"
DEFAULT_MODEL_DIR = CHECKPOINTS_DIR / "gym7-transformer"
EXAMPLES_DIR = PACKAGE_DIR / "examples"
MODEL_CARD_TEMPLATE = PACKAGE_DIR / "model_card.md"
# The push-up form model (`gym-gesture train-form`) that a model folder may carry beside its weights.
FORM_MODEL_FILE = "pushup_form.json"
# The abstain thresholds (`gym-gesture calibrate`) that a model folder may carry.
CALIBRATION_FILE = "calibration.json"
# What `gym-gesture enroll` taught a model folder: the classes enrolled, their clips and thresholds.
ENROLMENT_FILE = "enrolment.json"
