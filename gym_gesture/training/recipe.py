"""Training recipes: every option of `gym-gesture train` in one JSON file.

A recipe holds the fields of `TrainingOptions` (all but `resume`, which says how to run, not what to
train), its `model` the `GymGestureConfig` fields to set. `gym-gesture train --recipe FILE` reads one;
options given on the command line override its values, and what neither gives comes from the
defaults of `TrainingOptions` and `GymGestureConfig`, the one set of defaults. Training writes what it
trained with to `recipe.json` in the model folder (and as `options` in `training.json`), so that folder's
recipe retrains it. The default checkpoint's recipe is `recipes/gym22-transformer.json`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from ..core.errors import InputError, MissingFileError
from ..core.paths import RECIPES_DIR

# The default model's recipe (`gym_gesture/checkpoints/gym22-transformer` was trained with it).
DEFAULT_RECIPE = RECIPES_DIR / "gym22-transformer.json"
# The model options of the command line (`--d-model`, ...); a recipe's `model` may set any config field.
MODEL_OPTIONS = ("d_model", "num_layers", "num_heads", "ffn_dim", "dropout", "num_frames", "sample_fps",
                 "window_stride", "num_channels", "image_scale", "layout")


@dataclass
class TrainingOptions:
    """What `gym-gesture train` can set. Defaults follow the paper (Adam, lr 1e-3, 100 epochs, 4 heads)
    with early stopping on the validation split; `model` holds GymGestureConfig fields, whose defaults
    apply to the rest."""

    fusion: str = "transformer"
    epochs: int = 100
    learning_rate: float = 1e-3
    batch_size: int = 128
    seed: int = 0
    validation_fraction: float = 0.15
    test_fraction: float = 0.15
    patience: int = 40
    stride: int | None = None
    undersample: bool = False
    class_weights: bool = True
    # Square-rooted balanced weights: the full ones gave the two classes of a few clips (plank,
    # russian twist) 57x and 133x a push up's weight; validation macro F1 0.956 against 0.944.
    class_weight_power: float = 0.5
    label_smoothing: float = 0.0
    # Weight of the outlier-exposure loss on the data's clips of exercises outside the 22 (0: not
    # trained on them; `train.WeightedCrossEntropy`).
    outlier_exposure: float = 0.0
    # Fraction of each batch's known windows copied into synthetic outliers (`data.synthetic_outliers`),
    # trained on with the `outlier_exposure` weight (0: none).
    synthetic_outliers: float = 0.0
    augment: bool = True
    # With `augment`: x against y stretched by up to this factor either way (`data.Augmentation.aspect`;
    # 1: never). A 2-channel model reads x / width and y / height, so a portrait clip placed in a landscape
    # frame shows its person 3.2 times narrower than the clip alone does.
    augment_aspect: float = 1.0
    # Clip id -> [[start, end], ...] seconds from the clip's first frame whose windows are not trained on:
    # where a clip's pose track is not its exercise (the tracker on a bystander, a close-up, a caption
    # card). Its windows still count in validation and test, which take clips as they are.
    excluded_spans: dict = field(default_factory=dict)
    model: dict = field(default_factory=dict)
    init_from: str | None = None
    resume: bool = False
    push_to_hub: str | None = None
    threads: int | None = None


RECIPE_FIELDS = tuple(option.name for option in fields(TrainingOptions) if option.name != "resume")


def read_recipe(path: str | Path) -> dict:
    """The options of a recipe file; a key that is no option is refused (a typo would otherwise be lost)."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"{path}: no such recipe file")
    try:
        recipe = json.loads(path.read_text())
    except ValueError as error:
        raise InputError(f"{path}: not valid JSON ({error})") from error
    if not isinstance(recipe, dict) or not isinstance(recipe.get("model", {}), dict):
        raise InputError(f"{path}: a recipe is a JSON object whose \"model\" is an object")
    unknown = sorted(set(recipe) - set(RECIPE_FIELDS))
    if unknown:
        raise InputError(f"{path}: unknown recipe option(s) {', '.join(unknown)} (options: {', '.join(RECIPE_FIELDS)})")
    return recipe


def _with_ffn_dim(model: dict) -> dict:
    """A width given without a feed-forward width brings twice its own (GymGestureConfig's ratio)."""
    if "d_model" in model and "ffn_dim" not in model:
        return {**model, "ffn_dim": 2 * model["d_model"]}
    return model


def training_options(recipe: dict | None = None, overrides: dict | None = None) -> TrainingOptions:
    """The options of `overrides` (the command line's), else of `recipe`, else the defaults; the model
    options are merged one by one."""
    recipe, overrides = recipe or {}, overrides or {}
    model = {**_with_ffn_dim(recipe.get("model", {})), **_with_ffn_dim(overrides.get("model", {}))}
    return TrainingOptions(**{**recipe, **overrides, "model": model})


def recipe_of(options: TrainingOptions, config) -> dict:
    """What a model was trained with, as a recipe: the options, with the fusion and the model options the
    model has (the command line's and the recipe's, given or not) read from its `config`."""
    recipe = {name: value for name, value in asdict(options).items() if name in RECIPE_FIELDS}
    recipe["fusion"] = config.fusion
    recipe["model"] = {name: getattr(config, name) for name in dict.fromkeys([*MODEL_OPTIONS, *options.model])}
    return recipe
