"""Publishing: the exact folders pushed to the Hugging Face Hub (the model repo and its Space).

Model folder: config.json (with `auto_map`), model.safetensors, the configuration/modeling/processing code
that `auto_map` names (copied from this package, so `trust_remote_code=True` loads it anywhere), the
per-model files the recognizer reads (preprocessor config, calibration, form model), README.md
rendered from `model_card.md` with huggingface_hub's `ModelCard` (metadata and model-index from the
evaluation JSON), and the training records (evaluation, split, training summary) when present.
Space folder: README.md front matter for a Gradio Space, requirements, app.py, the package (with its
examples) and the model itself in place of the shipped checkpoint (so the Space runs offline on it,
exactly as the app does locally). The Space's requirements, app.py and license come from a source
checkout (REPO_ROOT).
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from .. import __version__
from ..core.errors import InputError, MissingFileError
from ..core.paths import CALIBRATION_FILE, DEFAULT_MODEL_DIR, ENROLLMENT_FILE, FORM_MODEL_FILE, MODEL_CARD_TEMPLATE, MODEL_CODE_DIR, PACKAGE_DIR, RECIPE_FILE, REPO_ROOT, MMPOSE_INSTALLER

EVALUATION_FILE = "evaluation.json"
RECORD_FILES = (EVALUATION_FILE, "evaluation.png", "split.json", "training.json", RECIPE_FILE)
# Read by the recognizer and the processor, or telling which clips taught an enrolled class: they travel
# with the weights.
MODEL_FILES = ("preprocessor_config.json", CALIBRATION_FILE, FORM_MODEL_FILE, ENROLLMENT_FILE)
WEIGHTS_FILE = "model.safetensors"
# The model's code, copied beside the weights: every module of the package's model/ (they import only each other).
REMOTE_CODE = tuple(sorted(path.name for path in MODEL_CODE_DIR.glob("*.py") if path.name != "__init__.py"))
# The weights are trained on research data whose terms forbid commercial use (see the card): the code
# is Apache-2.0, the checkpoint is not.
DEFAULT_LICENSE = "other"
DEFAULT_LICENSE_NAME = "research-only"
DEFAULT_DATASET = "gym-gesture/real-keypoints"
TAGS = ["gym-gesture", "exercise-recognition", "pose-estimation", "skeleton", "action-recognition",
        "fitness", "mediapipe", "transformer"]
SPACE_HARDWARE = ("cpu-basic", "cpu-upgrade", "zero-a10g", "t4-small", "a10g-small")
PYTHON_VERSION = "3.11"
MMPOSE_REQUIREMENTS = ("requirements-mmpose.txt", "requirements-mmpose-nodeps.txt")


def _read_json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def _check_model_dir(model_dir: Path) -> dict:
    for name in ("config.json", WEIGHTS_FILE):
        if not (model_dir / name).is_file():
            raise MissingFileError(f"{model_dir}: no {name}; pass a folder saved with save_pretrained")
    config = json.loads((model_dir / "config.json").read_text())
    if config.get("model_type") != "gym_gesture":
        raise InputError(f"{model_dir}: model_type is {config.get('model_type')!r}, not a gym-gesture model")
    return config


def eval_results(evaluation: dict, dataset_name: str, dataset_type: str) -> list:
    """model-index entries of the evaluation JSON (`gym-gesture evaluate --json`)."""
    from huggingface_hub import EvalResult

    split = evaluation.get("split") or "all"
    metrics = [("window_accuracy", "accuracy", "Window accuracy"), ("window_macro_f1", "f1", "Window macro F1"),
               ("clip_accuracy", "accuracy", "Clip accuracy"), ("clip_macro_f1", "f1", "Clip macro F1")]
    return [
        EvalResult(task_type="video-classification", task_name="Exercise recognition",
                   dataset_type=dataset_type, dataset_name=dataset_name, dataset_split=split,
                   metric_type=metric_type, metric_name=name, metric_value=round(float(evaluation[key]), 4),
                   metric_config="macro" if metric_type == "f1" else None)
        for key, metric_type, name in metrics if key in evaluation
    ]


def render_model_card(model_dir: Path, repo_id: str, *, space_id: str | None = None,
                      evaluation: dict | None = None, license: str = DEFAULT_LICENSE,
                      license_name: str | None = DEFAULT_LICENSE_NAME, dataset: str = DEFAULT_DATASET,
                      template: Path = MODEL_CARD_TEMPLATE):
    """The README.md of the model repo: `model_card.md` filled from the config and the JSON records."""
    from huggingface_hub import ModelCard, ModelCardData

    config = _check_model_dir(model_dir)
    labels = [config["id2label"][str(i)] for i in range(len(config["id2label"]))]
    dataset_name = "Real gym clips: keypoints (MediaPipe-33) and videos, held out by source video"
    card_data = ModelCardData(
        license=license,
        license_name=license_name if license == "other" else None,
        library_name="transformers",
        pipeline_tag="video-classification",
        tags=TAGS,
        datasets=[dataset],
        model_name=repo_id.split("/")[-1],
        eval_results=eval_results(evaluation, dataset_name, dataset) if evaluation else None,
    )
    training = _read_json(model_dir / "training.json")
    form_model = _read_json(model_dir / FORM_MODEL_FILE)
    return ModelCard.from_template(
        card_data, template_path=str(template),
        repo_id=repo_id, space_id=space_id, config=config, labels=labels, evaluation=evaluation,
        training=training, form=form_model["metrics"] if form_model else None, version=__version__,
        calibration=_read_json(model_dir / "calibration.json"),
    )


def build_model_folder(model_dir: str | Path, out_dir: str | Path, repo_id: str, *,
                       evaluation_json: str | Path | None = None, space_id: str | None = None,
                       **card_options) -> Path:
    """Write the exact folder pushed to the model repo into `out_dir` (emptied first)."""
    from ..model.configuration_gym_gesture import GymGestureConfig
    from ..model.modeling_gym_gesture import AUTO_MAP
    from ..model.processing_gym_gesture import GymGestureProcessor

    model_dir, out_dir = Path(model_dir), Path(out_dir)
    config = _check_model_dir(model_dir)
    evaluation_json = Path(evaluation_json) if evaluation_json else model_dir / EVALUATION_FILE
    if evaluation_json != model_dir / EVALUATION_FILE and not evaluation_json.is_file():
        raise MissingFileError(f"{evaluation_json}: no such evaluation JSON")
    evaluation = _read_json(evaluation_json)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    # auto_map always names the code shipped beside the weights, whatever the folder was saved with.
    config["auto_map"] = AUTO_MAP
    (out_dir / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    shutil.copy2(model_dir / WEIGHTS_FILE, out_dir / WEIGHTS_FILE)
    for name in REMOTE_CODE:
        shutil.copy2(MODEL_CODE_DIR / name, out_dir / name)
    for name in RECORD_FILES + MODEL_FILES:
        if (model_dir / name).is_file():
            shutil.copy2(model_dir / name, out_dir / name)
    if not (out_dir / MODEL_FILES[0]).is_file():  # a folder of the model's save_pretrained alone: no processor
        GymGestureProcessor.from_model_config(GymGestureConfig.from_pretrained(model_dir)).save_pretrained(out_dir)
    if evaluation is not None:
        (out_dir / EVALUATION_FILE).write_text(json.dumps(evaluation, indent=1) + "\n")
    card = render_model_card(model_dir, repo_id, space_id=space_id, evaluation=evaluation, **card_options)
    card.save(out_dir / "README.md")
    return out_dir


def space_readme(repo_id: str, space_id: str, hardware: str, license: str = DEFAULT_LICENSE) -> str:
    import gradio
    from huggingface_hub import SpaceCard, SpaceCardData

    data = SpaceCardData(
        title="gym-gesture", sdk="gradio", sdk_version=gradio.__version__, python_version=PYTHON_VERSION,
        app_file="app.py", models=[repo_id],
        # The Space carries the weights, so it carries their license too.
        license=license, license_name=DEFAULT_LICENSE_NAME if license == "other" else None, tags=TAGS,
        emoji="🏋️", colorFrom="blue", colorTo="green", pinned=False,
        short_description="Which gym exercise is this? Pose + Transformer", suggested_hardware=hardware,
    )
    mmpose = ("MMPose is offered when its extra is installed and a GPU is present; the OpenMMLab packages "
              "need a second install step (`requirements-mmpose-nodeps.txt`, see docs/mmpose.md), "
              "otherwise the app runs on MediaPipe.") if hardware not in ("cpu-basic", "cpu-upgrade") else \
        "It runs on the CPU with MediaPipe."
    body = (f"# gym-gesture\n\nUpload a clip of one person exercising: a pose estimator finds the skeleton and "
            f"a Transformer over its motion names the exercise, window by window. Model: "
            f"[{repo_id}](https://huggingface.co/{repo_id}). {mmpose}\n")
    return SpaceCard.from_template(data, template_str="---\n{{ card_data }}\n---\n\n" + body).content


def _space_requirements(hardware: str) -> str:
    lines = (REPO_ROOT / "requirements.txt").read_text().rstrip() + "\n"
    if hardware in ("cpu-basic", "cpu-upgrade"):
        return lines
    extra = REPO_ROOT / MMPOSE_REQUIREMENTS[0]
    if not extra.is_file():
        raise MissingFileError(f"{extra}: the MMPose extra is needed for a GPU Space")
    return lines + f"# The MMPose extra ({extra.name}); {MMPOSE_INSTALLER} adds the OpenMMLab packages at start-up\n" + \
        extra.read_text()


def build_space_folder(model_folder: Path, out_dir: str | Path, repo_id: str, space_id: str,
                       hardware: str = "cpu-basic", license: str = DEFAULT_LICENSE) -> Path:
    """Write the exact folder pushed to the Space: the app, the package, the examples and the model
    (at the app's default location, so it runs offline)."""
    if hardware not in SPACE_HARDWARE:
        raise InputError(f"unknown Space hardware {hardware!r}; choose one of {', '.join(SPACE_HARDWARE)}")
    out_dir = Path(out_dir)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    (out_dir / "README.md").write_text(space_readme(repo_id, space_id, hardware, license))
    (out_dir / "requirements.txt").write_text(_space_requirements(hardware))
    if hardware not in ("cpu-basic", "cpu-upgrade"):
        for name in (*MMPOSE_REQUIREMENTS, MMPOSE_INSTALLER):
            shutil.copy2(REPO_ROOT / name, out_dir / name)
    shutil.copy2(REPO_ROOT / "app.py", out_dir / "app.py")
    shutil.copy2(REPO_ROOT / "LICENSE", out_dir / "LICENSE")
    # The package without its checkpoints: the model pushed with the Space takes the shipped one's place.
    shutil.copytree(PACKAGE_DIR, out_dir / "gym_gesture",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", DEFAULT_MODEL_DIR.parent.name))
    shutil.copytree(model_folder, out_dir / DEFAULT_MODEL_DIR.relative_to(REPO_ROOT))
    return out_dir


def upload(folder: Path, repo_id: str, repo_type: str, private: bool, token: str | None) -> str:
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True,
                    space_sdk="gradio" if repo_type == "space" else None)
    commit = api.upload_folder(repo_id=repo_id, repo_type=repo_type, folder_path=folder,
                               commit_message=f"gym-gesture {__version__}")
    return commit.commit_url


def push_model(model_dir: str | Path, repo_id: str, *, private: bool = False, token: str | None = None) -> str:
    """Upload the model folder of `model_dir` (as `build_model_folder` writes it, card included);
    the token defaults to huggingface_hub's (HF_TOKEN or `hf auth login`)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="gym-gesture-hub-") as out:
        return upload(build_model_folder(model_dir, Path(out) / "model", repo_id), repo_id, "model", private, token)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `gym-gesture push` (and `python hub_upload.py`)."""
    parser.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR, metavar="DIR",
                        help="saved model folder (default: the shipped checkpoint)")
    parser.add_argument("--repo-id", required=True, metavar="USER/NAME", help="model repo on the Hub")
    parser.add_argument("--space-id", metavar="USER/NAME", help="also build (and push) the Gradio Space")
    parser.add_argument("--space-hardware", default="cpu-basic", choices=SPACE_HARDWARE,
                        help="the Space's suggested hardware; GPU ones add the MMPose extra (default: cpu-basic)")
    parser.add_argument("--evaluation-json", type=Path, metavar="FILE",
                        help=f"evaluation JSON for the card (default: DIR/{EVALUATION_FILE} when present)")
    parser.add_argument("--license", default=DEFAULT_LICENSE, help=f"card licence (default: {DEFAULT_LICENSE})")
    parser.add_argument("--private", action="store_true", help="create the repos as private")
    parser.add_argument("--dry-run", type=Path, metavar="OUT_DIR",
                        help="only write the folder(s) into OUT_DIR/model (and OUT_DIR/space)")


def run(args: argparse.Namespace) -> int:
    """Build the folders and upload them; user errors raise GymGestureError, Hub errors OSError."""
    if "/" not in args.repo_id or (args.space_id and "/" not in args.space_id):
        raise InputError("--repo-id and --space-id are USER/NAME")
    token = None
    if args.dry_run is None:
        from huggingface_hub import get_token

        token = get_token()
        if not token:
            raise InputError("no Hugging Face token: set HF_TOKEN or run `hf auth login` "
                             "(or use --dry-run OUT_DIR to only build the folders)")
    import tempfile

    out = args.dry_run or Path(tempfile.mkdtemp(prefix="gym-gesture-hub-"))
    model_folder = build_model_folder(args.model_dir, out / "model", args.repo_id,
                                      evaluation_json=args.evaluation_json, space_id=args.space_id,
                                      license=args.license)
    space_folder = None
    if args.space_id:
        space_folder = build_space_folder(model_folder, out / "space", args.repo_id, args.space_id,
                                          args.space_hardware, args.license)
    if args.dry_run is not None:
        print(f"model folder: {model_folder}" + (f"\nspace folder: {space_folder}" if space_folder else ""))
        return 0
    print(f"model: {upload(model_folder, args.repo_id, 'model', args.private, token)}")
    if space_folder:
        print(f"space: {upload(space_folder, args.space_id, 'space', args.private, token)}")
    return 0
