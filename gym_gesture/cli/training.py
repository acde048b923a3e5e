"""The training commands: train, evaluate, compare, train-form, evaluate-videos, calibrate, enroll."""

from __future__ import annotations

import argparse
import sys

from ..core.errors import InputError, MissingFileError
from ..model.skeleton import IMAGE_SCALES, MODEL_LAYOUTS
from .options import add_backend, add_revision, check_writable


# configuration_gym_gesture.FUSIONS, which imports transformers: too slow an import for --help.
FUSION_NAMES = ("transformer", "mlp", "cnn1d", "rnn", "lstm", "bilstm", "stgcn")


# A training option is in `args` only when given on the command line (default=SUPPRESS): given, it
# overrides the --recipe value; neither given, the default of TrainingOptions / GymGestureConfig applies.
GIVEN_ONLY = argparse.SUPPRESS


def _add_model_options(parser) -> None:
    model = parser.add_argument_group(
        "model (ignored with --init-from, which keeps the checkpoint's; default: the recipe's, else "
        "GymGestureConfig's)")
    model.add_argument("--d-model", type=int, default=GIVEN_ONLY, help="width of the fusion module")
    model.add_argument("--num-layers", type=int, default=GIVEN_ONLY, help="fusion layers")
    model.add_argument("--num-heads", type=int, default=GIVEN_ONLY, help="attention heads (4, as the paper)")
    model.add_argument("--ffn-dim", type=int, default=GIVEN_ONLY,
                       help="feed-forward width (2 x --d-model when only that is given)")
    model.add_argument("--dropout", type=float, default=GIVEN_ONLY)
    model.add_argument("--num-frames", type=int, default=GIVEN_ONLY, help="frames per window, T")
    model.add_argument("--sample-fps", type=float, default=GIVEN_ONLY,
                       help="frame rate windows are sampled at; inference runs pose at this rate")
    model.add_argument("--window-stride", type=int, default=GIVEN_ONLY,
                       help="frames between window starts at inference and evaluation")
    model.add_argument("--num-channels", type=int, choices=(2, 3), default=GIVEN_ONLY,
                       help="the input geometry: 2, x, y in the image plane (every source and backend has them); "
                            "3, the backend's x, y, z (MediaPipe's depth)")
    model.add_argument("--image-scale", choices=IMAGE_SCALES, default=GIVEN_ONLY,
                       help="how 2 channels scale the image plane: longer_side, x and y over the frame's longer side "
                            "(a pose keeps its shape in any frame); frame_axes, x / width and y / height (the "
                            "models before it)")
    model.add_argument("--layout", choices=MODEL_LAYOUTS, default=GIVEN_ONLY,
                       help="the joints the model reads: h36m17 (every source has them), h36m17_hands_feet (with "
                            "MediaPipe's hand and foot points; sources without them give the wrist and ankle)")


def _training_options(args, recipe: dict | None = None):
    """The options of the command line over those of `recipe` (default: --recipe's)."""
    from ..training.recipe import MODEL_OPTIONS, RECIPE_FIELDS, read_recipe, training_options

    given = vars(args)
    overrides = {name: given[name] for name in (*RECIPE_FIELDS, "resume") if name in given}
    overrides["model"] = {name: given[name] for name in MODEL_OPTIONS if name in given}
    if recipe is None and args.recipe:
        recipe = read_recipe(args.recipe)
    return training_options(recipe, overrides)


def _add_training_arguments(parser) -> None:
    from ..training.recipe import TrainingOptions

    default = TrainingOptions()
    parser.add_argument("--data", nargs="+", required=True, metavar="DATA",
                        help="pose dataset folder(s) from extract / import-keypoints, or .npz keypoint archive(s)")
    parser.add_argument("--recipe", metavar="FILE",
                        help="the training options as a JSON file (e.g. gym_gesture/recipes/gym7-transformer.json, "
                             "the shipped model's; a trained model's recipe.json); options given here override it")
    training = parser.add_argument_group("training (default: the recipe's, else the one in brackets)")
    training.add_argument("--epochs", type=int, default=GIVEN_ONLY, help=f"at most this many epochs ({default.epochs})")
    training.add_argument("--lr", dest="learning_rate", type=float, default=GIVEN_ONLY,
                          help=f"Adam learning rate ({default.learning_rate:g})")
    training.add_argument("--batch-size", type=int, default=GIVEN_ONLY, help=f"({default.batch_size})")
    training.add_argument("--patience", type=int, default=GIVEN_ONLY,
                          help=f"stop after this many epochs without a better validation macro F1 ({default.patience})")
    training.add_argument("--seed", type=int, default=GIVEN_ONLY,
                          help=f"seed of the split, the initialisation and augmentation ({default.seed})")
    training.add_argument("--validation-fraction", type=float, default=GIVEN_ONLY,
                          help=f"share of source videos ({default.validation_fraction})")
    training.add_argument("--test-fraction", type=float, default=GIVEN_ONLY,
                          help=f"share of source videos held out for evaluation ({default.test_fraction})")
    training.add_argument("--stride", type=int, default=GIVEN_ONLY,
                          help="frames between training windows (the model's window stride)")
    training.add_argument("--undersample", action="store_true", default=GIVEN_ONLY,
                          help="cut every class down to the smallest one's window count (the paper's method)")
    training.add_argument("--no-class-weights", dest="class_weights", action="store_false", default=GIVEN_ONLY,
                          help="plain instead of class-weighted loss")
    training.add_argument("--class-weight-power", type=float, default=GIVEN_ONLY,
                          help=f"balanced class weights raised to this power ({default.class_weight_power}, which "
                               "tempers the weight of rare classes; 1: fully balanced)")
    training.add_argument("--label-smoothing", type=float, default=GIVEN_ONLY,
                          help=f"label smoothing of the loss ({default.label_smoothing:g})")
    training.add_argument("--outlier-exposure", type=float, default=GIVEN_ONLY, metavar="WEIGHT",
                          help="train on the data's clips of exercises outside the 22 as outliers, with this weight "
                               f"on their loss ({default.outlier_exposure:g}: not trained on)")
    training.add_argument("--synthetic-outliers", type=float, default=GIVEN_ONLY, metavar="FRACTION",
                          help="also train, as outliers, on copies of this fraction of each batch's windows with one "
                               "body part held still and another moved as in another exercise "
                               f"({default.synthetic_outliers:g}: none; needs --outlier-exposure)")
    training.add_argument("--no-augment", dest="augment", action="store_false", default=GIVEN_ONLY,
                          help="no mirror / rotation / scale / speed / joint dropout")
    training.add_argument("--augment-aspect", type=float, default=GIVEN_ONLY, metavar="FACTOR",
                          help="also stretch x against y by up to this factor either way, as frames of other shapes "
                               f"show a pose to a 2-channel model ({default.augment_aspect:g}: never)")
    training.add_argument("--threads", type=int, default=GIVEN_ONLY,
                          help="torch CPU threads (torch's, all cores; use 1 on a busy machine)")
    _add_model_options(parser)


def add_train_arguments(parser) -> None:
    _add_training_arguments(parser)
    parser.add_argument("--output-dir", required=True, help="checkpoints, split.json and the best model go here")
    parser.add_argument("--fusion", default=GIVEN_ONLY, choices=FUSION_NAMES)
    parser.add_argument("--init-from", default=GIVEN_ONLY, metavar="DIR_OR_HUB_ID", help="fine-tune this saved model")
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint in --output-dir")
    parser.add_argument("--split-from", metavar="DIR_OR_HUB_ID",
                        help="train on the split.json of this model (its train / validation / test sources) "
                             "instead of the seeded split, e.g. to compare seeds or settings on one held-out set")
    parser.add_argument("--push-to-hub", default=GIVEN_ONLY, metavar="REPO",
                        help="upload the best model to this Hub repository")


def run_train(args) -> int:
    """train the classifier on pose data (transformers Trainer)"""
    import json

    from ..training.evaluate import load_split
    from ..training.train import train

    split = load_split(args.split_from) if args.split_from else None
    summary = train(args.data, args.output_dir, _training_options(args), split=split)
    from accelerate import PartialState  # set up by the Trainer: tells the processes of a torchrun apart

    if not PartialState().is_main_process:  # one report from a torchrun / accelerate launch run
        return 0
    print(json.dumps({key: summary[key] for key in ("fusion", "parameters", "training_seconds", "epochs_run",
                                                    "validation")}, indent=1))
    print(f"best model saved in {args.output_dir}")
    if "hub_commit" in summary:
        print(f"pushed to the Hub: {summary['hub_commit']}")
    return 0


def add_evaluate_arguments(parser) -> None:
    parser.add_argument("--model", required=True, metavar="DIR_OR_HUB_ID")
    add_revision(parser)
    parser.add_argument("--data", nargs="+", required=True, metavar="DATA",
                        help="pose dataset folder(s) or .npz keypoint archive(s)")
    parser.add_argument("--split", choices=("train", "validation", "test"),
                        help="only the sources of this part of the split saved with the model")
    parser.add_argument("--json", metavar="OUT", help="write the metrics here (and the confusion matrices as OUT.png)")
    parser.add_argument("--plot", metavar="PNG", help="confusion-matrix image (default: beside --json)")
    parser.add_argument("--ignore-unknown", action="store_true",
                        help="leave out clips of classes the model does not know (by default they are negatives, "
                             "all of them whatever --split: the report gives how often the model abstains on them)")


def run_evaluate(args) -> int:
    """window- and clip-level metrics of a model on pose data"""
    from ..training.evaluate import evaluate, format_report
    from ..inference.recognizer import resolve_model_dir

    # A Hub model is downloaded once: its weights and its split.json are read from the same snapshot.
    results = evaluate(str(resolve_model_dir(args.model, args.revision)), args.data, split=args.split,
                       ignore_unknown=args.ignore_unknown, json_path=args.json, plot_path=args.plot)
    print(format_report(results))
    for key, label in (("confusion_matrix_png", "confusion matrices"),):
        if key in results:
            print(f"{label}: {results[key]}")
    return 0


def add_compare_arguments(parser) -> None:
    _add_training_arguments(parser)
    parser.add_argument("--output-dir", default="runs/compare",
                        help="the trained models, OUTPUT_DIR/by-SPLIT/FUSION/seedN (default runs/compare)")
    parser.add_argument("--results", default="results/compare",
                        help="writes RESULTS.md and RESULTS.json (default results/compare)")
    parser.add_argument("--fusions", nargs="+", default=None, metavar="FUSION[:SEEDS]",
                        help=f"fusions ({', '.join(FUSION_NAMES)}; default all), each with its own seeds if given "
                             "(transformer:0,1,2)")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, metavar="SEED",
                        help="seeds of the fusions given without their own (default: --seed); the split is "
                             "--seed's whatever the seeds")
    parser.add_argument("--fusion-recipe", nargs="+", default=[], metavar="FUSION=FILE",
                        help="a fusion's own recipe (its size, say), instead of --recipe; the options given "
                             "here override it too")
    parser.add_argument("--split-by", choices=("source", "window"), default="source",
                        help="hold out source videos (default), or windows (the paper's 7:3 split)")


def run_compare(args) -> int:
    """train and evaluate the fusion modules on one split, over seeds

    Every fusion (or those of --fusions) trained with each of its seeds on one split and measured alike. Resumable:
    rerun the same command, finished runs are kept."""
    from ..training.compare import compare
    from ..training.recipe import read_recipe

    options = _training_options(args)
    fusion_options = {}
    for entry in args.fusion_recipe:
        fusion, separator, path = entry.partition("=")
        if not separator or fusion not in FUSION_NAMES:
            raise InputError(f"--fusion-recipe {entry!r}: give FUSION=FILE, FUSION one of {', '.join(FUSION_NAMES)}")
        fusion_options[fusion] = _training_options(args, read_recipe(path))
    print(compare(args.data, args.output_dir, args.results, options, fusions=args.fusions, seeds=args.seeds,
                  split_by=args.split_by, fusion_options=fusion_options))
    return 0


def add_train_form_arguments(parser) -> None:
    parser.add_argument("npz", metavar="FILE.npz", help="e.g. ../shared/data/keypoints/pushup_form_mediapipe33.npz")
    parser.add_argument("--out", required=True, metavar="FILE.json",
                        help="where to write it: MODEL_DIR/pushup_form.json gives that model form feedback")
    parser.add_argument("--test-size", type=float, default=0.25, metavar="F")
    parser.add_argument("--seed", type=int, default=0)


def run_train_form(args) -> int:
    """fit the push-up form model on a labelled archive (correct*/wrong* clip ids)"""
    from pathlib import Path

    from ..analysis.form import train_form_model

    if not Path(args.npz).is_file():
        raise MissingFileError(f"{args.npz}: no such file")
    model = train_form_model(args.npz, test_size=args.test_size, seed=args.seed)
    model.save(args.out)
    metrics = model.metrics
    print(f"held-out ({metrics['test_clips']} clips): accuracy {metrics['test_accuracy']:.3f}, "
          f"F1 {metrics['test_f1_good']:.3f}; 5-fold accuracy {metrics['cv5_accuracy_mean']:.3f} "
          f"+- {metrics['cv5_accuracy_std']:.3f}; saved to {args.out}")
    return 0


def add_evaluate_videos_arguments(parser) -> None:
    parser.add_argument("sources", nargs="+", metavar="VIDEO_DIR_OR_MANIFEST")
    parser.add_argument("--model", default=None, metavar="DIR_OR_HUB_ID",
                        help="model folder or Hub id (default: the shipped checkpoint)")
    add_revision(parser)
    parser.add_argument("--split", default=None, choices=("train", "validation", "test"),
                        help="only the videos whose source is in this part of the model's split.json")
    add_backend(parser)
    parser.add_argument("--json", default=None, metavar="OUT.json", help="also write the figures and rows as JSON")
    parser.add_argument("--other-exercises", action="store_true",
                        help="take labels outside the 22 as exercises to abstain on (counted apart) instead of "
                             "refusing them as typos")


def run_evaluate_videos(args) -> int:
    """accuracy of a model on labelled videos, through predict (the deployed path)

    Run `predict` on every video of class-folder trees (<class name>/<video file>) or manifests ([{"file", "label"},
    ...]) and report top-1 accuracy on the classes the model knows (abstained = wrong), the abstain rate, per-class
    counts and one row per clip. Clips of other classes are counted apart; training-only videos (fit3d_*) are left
    out."""
    import json
    from pathlib import Path

    from ..training.video_eval import evaluate_videos, format_video_report

    if args.json:
        check_writable(args.json, "--json")
    result = evaluate_videos(args.model, args.sources, split=args.split, backend=args.backend,
                             revision=args.revision, other_exercises=args.other_exercises,
                             progress=sys.stderr.isatty())
    print(format_video_report(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
        print(f"saved to {args.json}")
    return 0


def add_calibrate_arguments(parser) -> None:
    parser.add_argument("--model", required=True, metavar="DIR", help="a model folder with its split.json")
    parser.add_argument("--data", nargs="+", required=True, metavar="DATA",
                        help="pose dataset folder(s) or .npz archive(s) holding the model's held-out sources "
                             "(e.g. ../shared/data/keypoints/*.npz)")
    parser.add_argument("--split", choices=("validation", "test"), default="validation",
                        help="the held-out sources to calibrate on (default validation: the test split stays "
                             "for the final figures)")
    parser.add_argument("--negatives", nargs="+", required=True, metavar="FILE_OR_DIR",
                        help="videos (or folders of videos) of people not exercising (e.g. ../shared/data/people)")
    add_backend(parser)
    parser.add_argument("--max-lost", type=float, default=0.01, metavar="F",
                        help="share of the held-out samples named right a threshold may cost (default 0.01)")
    parser.add_argument("--max-abstained", type=float, default=0.05, metavar="F",
                        help="then set the probability threshold as high as abstaining on at most this share of the "
                             "held-out samples of known exercises allows, raised or lowered (default 0.05)")
    parser.add_argument("--level", choices=("windows", "clips"), default="windows",
                        help="choose on windows (default: few negative clips still give many windows) or on "
                             "clips, what a user is shown (when there are enough negative clips)")
    parser.add_argument("--held-out-types", nargs="+", default=None, metavar="DATA",
                        help="pose data of exercise types that neither the model nor --data hold: measured with the "
                             "chosen thresholds (leave-exercise-out), per type, never chosen on")


def run_calibrate(args) -> int:
    """choose when a model abstains, on held-out clips against real negatives

    Run the model over the held-out clips of its split (from --data: the --split sources, and as negatives the clips
    of classes the model does not know) and over videos of people walking or standing (--negatives), choose the
    abstain thresholds and write them with the trade-off tables to DIR/calibration.json, which predict and the app
    then use."""
    from pathlib import Path

    from ..training.calibration import calibrate, format_trade_off

    if not (Path(args.model) / "config.json").is_file():
        raise MissingFileError(f"{args.model}: not a model folder (no config.json)")
    if not 0 <= args.max_lost < 1:
        raise InputError(f"--max-lost must be in [0, 1), got {args.max_lost}")
    if not 0 <= args.max_abstained < 1:
        raise InputError(f"--max-abstained must be in [0, 1), got {args.max_abstained}")
    result = calibrate(args.model, args.data, args.negatives, backend=args.backend, split=args.split,
                       max_lost=args.max_lost, level=args.level, held_out_types=args.held_out_types,
                       max_abstained=args.max_abstained)
    print(format_trade_off(result))
    for clip in result["non_exercise_clips"]:
        print(f"{Path(clip['file']).name}: {clip['abstain'] or 'named ' + clip['predicted']}")
    unknown = result["unknown_class_clips"]
    if unknown:
        print(f"abstained on {sum(bool(clip['abstain']) for clip in unknown)} of {len(unknown)} clips of classes "
              "the model does not know")
    print(f"thresholds saved to {Path(args.model) / 'calibration.json'}")
    return 0


def add_enroll_arguments(parser) -> None:
    parser.add_argument("clips", nargs="*", metavar="CLIP", help="video files of the new exercise")
    parser.add_argument("--model", default=None, metavar="DIR_OR_HUB_ID",
                        help="model folder or Hub id to start from (default: the shipped checkpoint)")
    add_revision(parser)
    parser.add_argument("--label", required=True, metavar="NAME", help="the new exercise's name")
    parser.add_argument("--out", required=True, metavar="DIR", help="where to save the enrolled model folder")
    parser.add_argument("--data", default=None, metavar="ARCHIVE",
                        help="instead of CLIPs: every clip of --label in a keypoint archive (.npz of any supported "
                             "layout) or a pose dataset folder")
    parser.add_argument("--fps", type=float, default=None, metavar="F",
                        help="with --data: the archive's frame rate (default: its sidecar's, else 30)")
    add_backend(parser, " for CLIPs")


def run_enroll(args) -> int:
    """teach a model a new exercise from a few clips, without retraining

    Enrol a new exercise from 1 to 5 clips (videos, or every clip of LABEL in a keypoint archive with --data): the
    model's enrolment embeddings of the clips' windows (their pose descriptors) become the class's prototypes and
    its abstain threshold is set from the clips themselves (leave one clip out, less a margin). OUT is a model
    folder like any other: predict, the app, evaluate and push read it; enrol it again to add another exercise."""
    from pathlib import Path

    from ..training.enroll import clips_from_archive, clips_from_videos, enroll
    from ..inference.recognizer import load_model, resolve_model_dir

    if bool(args.clips) == bool(args.data):
        raise InputError("give either video CLIPs or --data ARCHIVE")
    for path in args.clips or [args.data]:
        if not Path(path).exists():
            raise MissingFileError(f"{path}: no such file")
    folder = resolve_model_dir(args.model, args.revision)
    model = load_model(folder)
    if args.data:
        clips = clips_from_archive(args.data, args.label, args.fps)
    else:
        from ..pose import create_backend

        with create_backend(args.backend) as backend:
            clips = clips_from_videos(args.clips, backend, model.config)
    record = enroll(folder, args.label, clips, args.out, model=model)
    print(f"enrolled {record['label']!r} from {len(record['clips'])} clips ({record['windows']} windows) in "
          f"{record['seconds']:.1f} s; similarity threshold {record['threshold']:.3f} ({record['threshold_from']})")
    if record["skipped_clips"]:
        print(f"no window (too short, or nobody found): {', '.join(record['skipped_clips'])}")
    if record["warning"]:
        print(f"warning: {record['warning']}")
    print(f"saved to {args.out}")
    return 0
