"""Files shipped with the repository. Importable without numpy or torch: the CLI's option defaults use them."""

from pathlib import Path

# The shipped checkpoint, committed with the repository: the default everywhere, so nothing is
# downloaded unless another model is asked for.
REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL_DIR = REPO_ROOT / "checkpoints" / "gym7-transformer"
DEFAULT_FORM_MODEL = REPO_ROOT / "checkpoints" / "pushup_form.json"
