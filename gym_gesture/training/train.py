"""Training of the classifier on pose datasets with transformers' `Trainer`.

The split by source video is made once and saved as `split.json` in the output folder (evaluation
reads the held-out sources from it, `--resume` reuses it). The best model on the validation split
is saved with `save_pretrained`, its processor beside it; its config carries the labels and the
preprocessing, its `recipe.json` the options it was trained with (`gym_gesture.training.recipe`).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np

from ..data import windows as window_data
from ..model import skeleton
from ..model.configuration_gym_gesture import GymGestureConfig
from ..core.errors import InputError
from ..core.paths import RECIPE_FILE
from ..data.labels import CLASS_NAMES
from ..data.synthetic_outliers import SyntheticOutliers
from .recipe import TrainingOptions, recipe_of

logger = logging.getLogger(__name__)

SPLIT_FILE = "split.json"
TRAINING_FILE = "training.json"


def dataset_labels(datasets) -> list[str]:
    """The classes of the 22 present in the data, in the canonical order of `labels.CLASS_NAMES`."""
    present = set().union(*(set(dataset["label"]) for dataset in datasets))
    return [name for name in CLASS_NAMES if name in present]


def known_class_datasets(datasets) -> tuple[list, list]:
    """The datasets without their clips of exercises outside the 22 (front raise, situp, ... in the
    archives), and those clips alone: a model is never trained to name them; they are the negatives that
    `evaluate` and `calibrate` measure abstaining on, and, with `outlier_exposure`, outliers in training.
    Datasets without such clips are returned as they are (the same objects, so a window cache keyed on
    them still hits)."""
    known = set(CLASS_NAMES)
    kept, outliers = [], []
    for dataset in datasets:
        unknown = set(dataset["label"]) - known
        if unknown:
            logger.warning("%d clips of exercises outside the 22 (%s): never a class of the model",
                           sum(label in unknown for label in dataset["label"]), ", ".join(sorted(unknown)))
            outliers.append(dataset.filter(lambda label: label not in known, input_columns="label"))
            dataset = dataset.filter(lambda label: label in known, input_columns="label")
        if len(dataset):
            kept.append(dataset)
    return kept, outliers


OUTLIER_LABEL = -1  # the label of an outlier window (a class outside the model's labels) in training


class WeightedCrossEntropy:
    """Class-weighted cross-entropy for `Trainer(compute_loss_func=...)`: summed over the batch and divided
    by the number of windows the Trainer counts over devices and accumulation steps, as it expects.

    Windows labeled `OUTLIER_LABEL` add `outlier_exposure` times their cross-entropy to the uniform
    distribution (outlier exposure, Hendrycks et al. 2019): the model learns to spread its probability on
    exercises it does not name, which the abstain threshold on the top probability then catches."""

    def __init__(self, weights: np.ndarray, label_smoothing: float = 0.0, outlier_exposure: float = 0.0):
        import torch

        self.weights = torch.as_tensor(weights, dtype=torch.float32)
        self.label_smoothing = label_smoothing
        self.outlier_exposure = outlier_exposure

    def __call__(self, outputs, labels, num_items_in_batch=None):
        import torch.nn.functional as F

        logits = outputs["logits"]
        outlier = labels == OUTLIER_LABEL
        losses = F.cross_entropy(logits, labels.clamp(min=0), weight=self.weights.to(logits.device), reduction="none",
                                 label_smoothing=self.label_smoothing)
        to_uniform = -F.log_softmax(logits, dim=-1).mean(dim=-1)
        losses = losses.where(~outlier, self.outlier_exposure * to_uniform)
        return losses.sum() / num_items_in_batch if num_items_in_batch is not None else losses.mean()


def window_metrics(eval_prediction) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score

    logits, labels = eval_prediction.predictions, eval_prediction.label_ids
    predicted = np.asarray(logits).argmax(axis=-1)
    return {"accuracy": float(accuracy_score(labels, predicted)),
            "macro_f1": float(f1_score(labels, predicted, average="macro", zero_division=0))}


def _load_init_model(source: str, labels: list[str]):
    """The model to fine-tune: same labels continue as they are; another label set keeps everything
    but the classification head, which starts afresh."""
    from ..inference.recognizer import load_model
    from ..model.modeling_gym_gesture import GymGestureForSequenceClassification

    model = load_model(source)
    if list(model.config.id2label.values()) == labels:
        logger.warning("--init-from %s: same labels, training continues from its weights", source)
        return model
    # Enrolled classes (`gym-gesture enroll`) belong to the old label set: the new head is all trained.
    config = GymGestureConfig.from_dict({**model.config.to_dict(), "id2label": dict(enumerate(labels)),
                                         "label2id": {name: i for i, name in enumerate(labels)},
                                         "num_prototypes": 0, "prototype_thresholds": None})
    fresh = GymGestureForSequenceClassification(config)
    kept = {name: value for name, value in model.state_dict().items()
            if not name.startswith(("classifier.", "prototype_head."))}
    fresh.load_state_dict(kept, strict=False)
    logger.warning("--init-from %s: labels differ (%s -> %s): fusion weights kept, classification head "
                   "re-initialised", source, ", ".join(model.config.id2label.values()), ", ".join(labels))
    return fresh


def _check_init_layout(config: GymGestureConfig, options: TrainingOptions, source: str) -> None:
    for name in ("layout", "num_joints", "num_channels"):
        requested = options.model.get(name)
        if requested is not None and requested != getattr(config, name):
            raise InputError(f"--init-from {source}: the model's {name} is {getattr(config, name)!r}, not "
                             f"{requested!r}; a checkpoint only fine-tunes in its own joint layout")
    if options.fusion != config.fusion:
        logger.warning("--init-from %s: keeping its fusion %r (not %r)", source, config.fusion, options.fusion)


def build_model(labels: list[str], options: TrainingOptions):
    from ..model.modeling_gym_gesture import GymGestureForSequenceClassification

    if options.init_from:
        model = _load_init_model(options.init_from, labels)
        _check_init_layout(model.config, options, options.init_from)
        return model
    model_options = dict(options.model)
    if "layout" in model_options:  # the joint count is the layout's
        if model_options["layout"] not in skeleton.MODEL_LAYOUTS:
            raise InputError(f"model options: layout={model_options['layout']!r} is no model layout; choose one of "
                             f"{', '.join(skeleton.MODEL_LAYOUTS)}")
        model_options["num_joints"] = skeleton.get_layout(model_options["layout"]).num_joints
    try:
        config = GymGestureConfig(fusion=options.fusion, id2label=dict(enumerate(labels)),
                                  label2id={name: i for i, name in enumerate(labels)}, **model_options)
    except ValueError as error:  # the config checks the model options (--d-model, --num-heads, ...)
        raise InputError(f"model options: {error}") from error
    return GymGestureForSequenceClassification(config)


def split_datasets(datasets, options: TrainingOptions, outlier_datasets=()) -> dict[str, list[str]]:
    """The seeded, stratified split by source video of all the clips of the datasets. The outliers'
    sources are split on their own, so that training with them leaves the known classes' split as it is
    (the same held-out sources with and without outlier exposure)."""
    def seeded_split(parts):
        source_ids = [source for dataset in parts for source in dataset["source_id"]]
        labels = [label for dataset in parts for label in dataset["label"]]
        return window_data.split_sources(source_ids, labels, options.validation_fraction, options.test_fraction,
                                         options.seed)

    split = seeded_split(datasets)
    if outlier_datasets:
        outlier_split = seeded_split(outlier_datasets)
        split = {name: sorted(sources + outlier_split[name]) for name, sources in split.items()}
    return split


def _read_split(output_dir: Path) -> dict[str, list[str]] | None:
    path = output_dir / SPLIT_FILE
    if not path.exists():
        return None
    return json.loads(path.read_text())


def train(data, output_dir: str | Path, options: TrainingOptions | None = None, split: dict | None = None,
          window_cache: dict | None = None) -> dict:
    """Train on the pose dataset(s) `data` (see `data.load_pose_datasets`); returns a summary (also written
    to `training.json`).

    `split` (source ids per split) overrides the seeded split, e.g. to train several fusions on one split;
    `window_cache` (see `data.windows_from_datasets`) lets several trainings on the same loaded datasets
    window them once.
    """
    import torch
    from transformers import EarlyStoppingCallback, Trainer, TrainingArguments, set_seed
    from transformers.trainer_utils import get_last_checkpoint

    from ..model.processing_gym_gesture import GymGestureProcessor

    options = options or TrainingOptions()
    if not 0 <= options.synthetic_outliers <= 1:
        raise InputError(f"synthetic_outliers is a share of each batch, in [0, 1]: got {options.synthetic_outliers}")
    if options.synthetic_outliers and not options.outlier_exposure:
        raise InputError("synthetic_outliers train with the outlier_exposure weight: set outlier_exposure too")
    if options.augment_aspect < 1:
        raise InputError(f"augment_aspect is the largest stretch of x against y, at least 1: got {options.augment_aspect}")
    output_dir = Path(output_dir)
    # torch's default uses every core (2 cores: 100 epochs on the real set in about 3 min); on a machine
    # busy with other work, threads that wait on each other are several times slower than --threads 1.
    if options.threads:
        torch.set_num_threads(options.threads)
    last_checkpoint = None
    if options.resume:
        last_checkpoint = get_last_checkpoint(str(output_dir)) if output_dir.is_dir() else None
        if last_checkpoint is None:
            raise InputError(f"--resume: no checkpoint-* folder in {output_dir} to resume from")
        split = _read_split(output_dir) or split
    set_seed(options.seed)

    datasets, outlier_datasets = known_class_datasets(window_data.load_pose_datasets(data))
    if not options.outlier_exposure:
        outlier_datasets = []
    labels = dataset_labels(datasets)
    model = build_model(labels, options)
    config = model.config
    windows, clips = window_data.windows_from_datasets(datasets, config, options.stride, cache=window_cache)
    # Outliers are split by source like the known clips: their held-out parts measure abstaining.
    split = split or split_datasets(datasets, options, outlier_datasets)
    by_window = window_data.is_window_split(split)
    if by_window and options.stride and options.stride != config.window_stride:
        raise InputError("a split by window deals out the windows of one cut: --stride must be the window stride")
    indices = window_data.split_indices(windows, clips, split)
    unused = set() if by_window else (set(clips.source_ids)
                                      - {source for sources in split.values() for source in sources})
    if unused:
        logger.warning("%d sources of the data are in no part of the split and are not used: %s", len(unused),
                       ", ".join(sorted(unused)[:5]) + (", ..." if len(unused) > 5 else ""))
    train_indices = indices["train"]
    num_excluded_windows = 0
    if options.excluded_spans:
        missing = sorted(set(options.excluded_spans) - set(clips.clip_ids))
        if missing:
            logger.warning("excluded spans of clips not in the data (nothing to exclude): %s", ", ".join(missing))
        kept = window_data.outside_spans(windows, clips, options.excluded_spans)[train_indices]
        num_excluded_windows = int((~kept).sum())
        train_indices = train_indices[kept]
    if len(train_indices) == 0:
        raise InputError("excluded_spans leave the training split no window" if num_excluded_windows
                         else "the training split has no window")
    if len(indices["validation"]) == 0:
        raise InputError("the validation split has no window: early stopping needs one (raise --validation-fraction)")
    if options.undersample:
        train_indices = window_data.undersample(train_indices, windows.labels, options.seed)
    # The validation windows are cut at the inference stride, as evaluation and the app see them.
    if options.stride and options.stride != config.window_stride:
        evaluation_windows, evaluation_clips = window_data.windows_from_datasets(datasets, config, cache=window_cache)
        validation = evaluation_windows.subset(window_data.split_indices(evaluation_windows, evaluation_clips,
                                                                         split)["validation"])
    else:
        validation = windows.subset(indices["validation"])
    train_windows = windows.subset(train_indices)
    weights = (window_data.class_weights(train_windows.labels, len(labels), options.class_weight_power) if options.class_weights
               else np.ones(len(labels), np.float32))
    num_outlier_windows = 0
    for dataset in outlier_datasets:
        outliers, outlier_clips = window_data.windows_from_dataset(
            dataset, config, options.stride, label2id=dict.fromkeys(set(dataset["label"]), OUTLIER_LABEL))
        outliers = outliers.subset(window_data.split_indices(outliers, outlier_clips, split)["train"])
        num_outlier_windows += len(outliers)
        train_windows = window_data.concatenate_windows([train_windows, outliers])
    augmentation = (window_data.Augmentation(layout=config.layout, aspect=options.augment_aspect)
                    if options.augment else None)
    if options.synthetic_outliers and config.layout != skeleton.CANONICAL_LAYOUT:
        raise InputError(f"synthetic_outliers take the {skeleton.CANONICAL_LAYOUT} layout apart, not {config.layout}")
    synthetic = SyntheticOutliers(options.synthetic_outliers) if options.synthetic_outliers else None
    logger.warning("%d training windows, %d validation windows (split by %s); labels: %s", len(train_windows),
                   len(validation), "window" if by_window else "source", ", ".join(labels))

    arguments = TrainingArguments(
        output_dir=str(output_dir),
        num_train_epochs=options.epochs,
        learning_rate=options.learning_rate,
        # AdamW without weight decay and with a constant rate is the paper's Adam.
        optim="adamw_torch",
        weight_decay=0.0,
        lr_scheduler_type="constant",
        per_device_train_batch_size=options.batch_size,
        per_device_eval_batch_size=max(options.batch_size, 256),
        eval_strategy="epoch",
        save_strategy="epoch",
        logging_strategy="epoch",
        save_total_limit=2,
        load_best_model_at_end=True,
        metric_for_best_model="macro_f1",
        greater_is_better=True,
        seed=options.seed,
        report_to="none",
        dataloader_num_workers=0,
        dataloader_pin_memory=torch.cuda.is_available(),
        # Without an accelerator, accelerate takes the processes of `torchrun` / `accelerate launch` for
        # one multi-CPU (gloo) run only when told it is on the CPU; otherwise each process trains alone.
        use_cpu=not (torch.cuda.is_available() or torch.backends.mps.is_available()),
        ddp_find_unused_parameters=False,  # every fusion uses all its parameters
        remove_unused_columns=False,
    )
    trainer = Trainer(
        model=model,
        args=arguments,
        train_dataset=window_data.WindowDataset(train_windows, augmentation, options.seed + arguments.process_index,
                                                outliers=synthetic, outlier_label=OUTLIER_LABEL),
        eval_dataset=window_data.WindowDataset(validation),
        data_collator=window_data.collate_windows,
        compute_loss_func=WeightedCrossEntropy(weights, options.label_smoothing, options.outlier_exposure),
        compute_metrics=window_metrics,
        callbacks=[EarlyStoppingCallback(early_stopping_patience=options.patience)],
        # Saved beside the model in every checkpoint and in the output folder (AutoProcessor loads it).
        processing_class=GymGestureProcessor.from_model_config(config),
    )
    if trainer.is_world_process_zero():
        output_dir.mkdir(parents=True, exist_ok=True)
        (output_dir / SPLIT_FILE).write_text(json.dumps(split, indent=1) + "\n")
    started, started_cpu = time.perf_counter(), time.process_time()
    result = trainer.train(resume_from_checkpoint=last_checkpoint)
    training_seconds, training_cpu_seconds = time.perf_counter() - started, time.process_time() - started_cpu
    trainer.save_model(str(output_dir))
    best = trainer.evaluate()
    summary = {
        "fusion": config.fusion,
        "labels": labels,
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "training_seconds": round(training_seconds, 1),
        # CPU time: the wall time an idle machine would take with one thread, whatever else ran beside.
        "training_cpu_seconds": round(training_cpu_seconds, 1),
        "epochs_run": round(float(result.metrics.get("epoch", trainer.state.epoch or 0)), 2),
        "best_checkpoint": trainer.state.best_model_checkpoint,
        "validation": {key.removeprefix("eval_"): value for key, value in best.items()},
        "num_train_windows": len(train_windows) - num_outlier_windows,
        "num_outlier_windows": num_outlier_windows,
        "num_excluded_windows": num_excluded_windows,
        "num_validation_windows": len(validation),
        "world_size": arguments.world_size,
        "split_by": "window" if by_window else "source",
        "split_sizes": {name: len(indices[name] if by_window else split[name]) for name in window_data.SPLITS},
        "class_weights": [round(float(w), 4) for w in weights],
        "options": recipe_of(options, config),
    }
    if trainer.is_world_process_zero():
        (output_dir / TRAINING_FILE).write_text(json.dumps(summary, indent=1) + "\n")
        (output_dir / RECIPE_FILE).write_text(json.dumps(summary["options"], indent=1) + "\n")
    if options.push_to_hub and trainer.is_world_process_zero():
        from ..hub.publish import push_model  # the folder and card that hub_upload.py publishes

        summary["hub_commit"] = push_model(output_dir, options.push_to_hub)
    return summary

