"""The `gym-gesture` command line: thin sub-commands over the package.

Each sub-command has an `_add_<name>` function that declares its arguments and sets `run`, the
function that does the work. Declaring them imports nothing heavy (torch, transformers, mediapipe,
gradio load inside `run`), so `--help` and refused input answer at once. Errors the user can fix
(`GymGestureError`, or an OSError on the user's files) end in one line on stderr and exit status 1;
anything else is a bug: its traceback and exit status 70. `--debug` shows the traceback of both.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback

from .. import __version__
from ..core.errors import GymGestureError, InputError, MissingFileError

EXIT_USER_ERROR = 1
EXIT_BUG = 70  # EX_SOFTWARE of sysexits.h: an internal software error
EXIT_INTERRUPTED = 130
# configuration_gym_gesture.FUSIONS, which imports transformers: too slow an import for --help.
FUSION_NAMES = ("transformer", "mlp", "cnn1d", "rnn", "lstm", "bilstm", "stgcn")


def _add_labels(subparsers) -> None:
    parser = subparsers.add_parser("labels", help="list the 22 canonical exercise classes")
    parser.set_defaults(run=_run_labels)


def _run_labels(args) -> int:
    from ..data.labels import CLASS_NAMES

    for index, name in enumerate(CLASS_NAMES):
        print(f"{index:2d}  {name}")
    return 0


def _add_extract(subparsers) -> None:
    parser = subparsers.add_parser(
        "extract", help="pose keypoints of a class-folder tree of videos, saved as a pose dataset",
        description="Run a pose backend over VIDEO_DIR/<class name>/<video file>, or over the videos a "
                    "manifest.json lists (VIDEO_DIR/manifest.json, or the file itself: [{\"file\", \"label\"}, ...]), "
                    "and save a Hugging Face dataset at DATASET_DIR. Resumable: rerun the same command after an "
                    "interruption.")
    parser.add_argument("video_dir", metavar="VIDEO_DIR_OR_MANIFEST")
    parser.add_argument("--out", required=True, metavar="DATASET_DIR")
    parser.add_argument("--backend", default="mediapipe", metavar="NAME",
                        help="pose backend (default: mediapipe)")
    parser.add_argument("--fps", type=float, default=30.0, metavar="F",
                        help="frame rate of the keypoint series; frames are dropped/repeated by time (default: 30)")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="parallel processes, each with its own backend (default: 1); with --ray, Ray actors "
                             "(default: one per CPU of the cluster, per GPU for mmpose)")
    parser.add_argument("--ray", default=None, metavar="ADDRESS",
                        help="run the clips on a Ray cluster (the ray extra): 'local' starts one on this machine, "
                             "'auto' joins the one `ray start` runs here, ray://HOST:10001 a remote head; "
                             "the dataset is written here, at --out")
    parser.add_argument("--limit", type=int, default=None, metavar="N",
                        help="try at most N more clips and stop without writing the dataset; "
                             "rerun to continue")
    parser.add_argument("--source-per-clip", action="store_true",
                        help="every clip is its own source video for splits (unrelated clips, like clips22); "
                             "default: ids sharing their first number (squat_13, squat_13_1) are one source")
    parser.add_argument("--other-exercises", action="store_true",
                        help="keep folders of exercises outside the 22 (negatives to abstain on) instead of "
                             "refusing their names as typos")
    parser.set_defaults(run=_run_extract)


def _run_extract(args) -> int:
    from ..data.extract import REPORT_FILE, extract_dataset

    report = extract_dataset(args.video_dir, args.out, backend=args.backend, fps=args.fps,
                             workers=args.workers, limit=args.limit, source_per_clip=args.source_per_clip,
                             ray=args.ray, other_exercises=args.other_exercises)
    for failure in report["failed"]:
        print(f"skipped: {failure['error']}", file=sys.stderr)
    if report["complete"]:
        print(f"{report['clips']} clips saved to {args.out} ({report['skipped_already_done']} from an earlier "
              f"run), {len(report['failed'])} failed; report: {args.out}/{REPORT_FILE}")
    else:
        print(f"{report['clips']} clips done so far, {len(report['failed'])} failed; rerun to continue")
    return 0


def _add_import_keypoints(subparsers) -> None:
    parser = subparsers.add_parser(
        "import-keypoints",
        help="turn a keypoint archive (.npz of MediaPipe-33, OpenPose-18 or Penn Action-13 joints) into a pose dataset")
    parser.add_argument("npz", metavar="FILE.npz")
    parser.add_argument("--out", required=True, metavar="DATASET_DIR")
    parser.add_argument("--fps", type=float, default=30.0, metavar="F",
                        help="frame rate of the archive's series where its sidecar JSON gives none (default: 30)")
    parser.set_defaults(run=_run_import_keypoints)


def _run_import_keypoints(args) -> int:
    from pathlib import Path

    from ..data.dataset import dataset_from_records, records_from_npz
    from ..data.labels import CLASS_NAMES

    out = Path(args.out)
    if out.exists() and any(out.iterdir()):
        raise InputError(f"{out}: exists and is not empty; choose another --out")
    if not Path(args.npz).is_file():
        raise MissingFileError(f"{args.npz}: no such file")
    dataset = dataset_from_records(records_from_npz(args.npz, fps=args.fps))
    dataset.save_to_disk(str(out))
    print(f"{len(dataset)} clips saved to {out} (joint layout {dataset[0]['layout']})")
    others = sorted(set(dataset["label"]) - set(CLASS_NAMES))
    if others:  # a misspelt class would land here too
        print(f"classes outside the {len(CLASS_NAMES)} kept under their own names: {', '.join(others)}")
    return 0


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
    training.add_argument("--no-augment", dest="augment", action="store_false", default=GIVEN_ONLY,
                          help="no mirror / rotation / scale / speed / joint dropout")
    training.add_argument("--threads", type=int, default=GIVEN_ONLY,
                          help="torch CPU threads (torch's, all cores; use 1 on a busy machine)")
    _add_model_options(parser)


def _add_train(subparsers) -> None:
    parser = subparsers.add_parser("train", help="train the classifier on pose data (transformers Trainer)")
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
    parser.set_defaults(run=_run_train)


def _run_train(args) -> int:
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


def _add_evaluate(subparsers) -> None:
    parser = subparsers.add_parser("evaluate", help="window- and clip-level metrics of a model on pose data")
    parser.add_argument("--model", required=True, metavar="DIR_OR_HUB_ID")
    _add_revision(parser)
    parser.add_argument("--data", nargs="+", required=True, metavar="DATA",
                        help="pose dataset folder(s) or .npz keypoint archive(s)")
    parser.add_argument("--split", choices=("train", "validation", "test"),
                        help="only the sources of this part of the split saved with the model")
    parser.add_argument("--json", metavar="OUT", help="write the metrics here (and the confusion matrices as OUT.png)")
    parser.add_argument("--plot", metavar="PNG", help="confusion-matrix image (default: beside --json)")
    parser.add_argument("--ignore-unknown", action="store_true",
                        help="leave out clips of classes the model does not know (by default they are negatives, "
                             "all of them whatever --split: the report gives how often the model abstains on them)")
    parser.set_defaults(run=_run_evaluate)


def _run_evaluate(args) -> int:
    from ..training.evaluate import evaluate, format_report
    from ..inference.recognizer import resolve_model_dir

    # A Hub model is downloaded once: its weights and its split.json are read from the same snapshot.
    results = evaluate(str(resolve_model_dir(args.model, args.revision)), args.data, split=args.split, ignore_unknown=args.ignore_unknown,
                       json_path=args.json, plot_path=args.plot)
    print(format_report(results))
    for key, label in (("confusion_matrix_png", "confusion matrices"),):
        if key in results:
            print(f"{label}: {results[key]}")
    return 0


def _add_compare(subparsers) -> None:
    parser = subparsers.add_parser(
        "compare", help="train and evaluate the fusion modules on one split, over seeds",
        description="Every fusion (or those of --fusions) trained with each of its seeds on one split and "
                    "measured alike. Resumable: rerun the same command, finished runs are kept.")
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
    parser.set_defaults(run=_run_compare)


def _run_compare(args) -> int:
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


def _add_train_form(subparsers) -> None:
    parser = subparsers.add_parser(
        "train-form", help="fit the push-up form model on a labelled archive (correct*/wrong* clip ids)")
    parser.add_argument("npz", metavar="FILE.npz", help="e.g. ../shared/data/keypoints/pushup_form_mediapipe33.npz")
    parser.add_argument("--out", required=True, metavar="FILE.json",
                        help="where to write it: MODEL_DIR/pushup_form.json gives that model form feedback")
    parser.add_argument("--test-size", type=float, default=0.25, metavar="F")
    parser.add_argument("--seed", type=int, default=0)
    parser.set_defaults(run=_run_train_form)


def _run_train_form(args) -> int:
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


def _add_revision(parser) -> None:
    parser.add_argument("--revision", default=None, metavar="REV",
                        help="with a Hub id: the branch, tag or commit to download (default: main)")


def _add_evaluate_videos(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate-videos", help="accuracy of a model on labelled videos, through predict (the deployed path)",
        description="Run `predict` on every video of class-folder trees (<class name>/<video file>) or "
                    "manifests ([{\"file\", \"label\"}, ...]) and report top-1 accuracy on the classes the model "
                    "knows (abstained = wrong), the abstain rate, per-class counts and one row per clip. Clips of "
                    "other classes are counted apart; training-only videos (fit3d_*) are left out.")
    parser.add_argument("sources", nargs="+", metavar="VIDEO_DIR_OR_MANIFEST")
    parser.add_argument("--model", default=None, metavar="DIR_OR_HUB_ID",
                        help="model folder or Hub id (default: the shipped checkpoint)")
    _add_revision(parser)
    parser.add_argument("--split", default=None, choices=("train", "validation", "test"),
                        help="only the videos whose source is in this part of the model's split.json")
    parser.add_argument("--backend", default="mediapipe", metavar="NAME", help="pose backend (default: mediapipe)")
    parser.add_argument("--json", default=None, metavar="OUT.json", help="also write the figures and rows as JSON")
    parser.set_defaults(run=_run_evaluate_videos)


def _run_evaluate_videos(args) -> int:
    import json
    from pathlib import Path

    from ..training.video_eval import evaluate_videos, format_video_report

    if args.json:
        _check_writable(args.json, "--json")
    result = evaluate_videos(args.model, args.sources, split=args.split, backend=args.backend,
                             revision=args.revision, progress=sys.stderr.isatty())
    print(format_video_report(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
        print(f"saved to {args.json}")
    return 0


def _add_predict(subparsers) -> None:
    parser = subparsers.add_parser(
        "predict", help="recognise the exercise in a video clip",
        description="Run the pose backend and the model over VIDEO and print the top classes, "
                    "or the full result as JSON with --json.")
    parser.add_argument("video", metavar="VIDEO")
    parser.add_argument("--model", default=None, metavar="DIR_OR_HUB_ID",
                        help="model folder or Hub id (default: the shipped checkpoint)")
    _add_revision(parser)
    parser.add_argument("--backend", default="mediapipe", metavar="NAME",
                        help="pose backend (default: mediapipe)")
    parser.add_argument("--top-k", type=int, default=5, metavar="K", help="classes to list (default: 5)")
    parser.add_argument("--overlay", default=None, metavar="OUT.mp4",
                        help="also write the clip with the skeleton drawn over it (H.264 MP4, at the clip's frame "
                             "rate) and its captions, the verdict of each segment, beside it (OUT.vtt)")
    parser.add_argument("--summary", default=None, metavar="FILE.csv",
                        help="also write the workout summary, one row per set (exercise, start, end, reps, tempo, "
                             "range of motion, hold time, form): CSV, or JSON for a .json name")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    parser.set_defaults(run=_run_predict)


def _check_writable(path: str, option: str) -> None:
    """Refuse an output path that cannot be written before the long work that ends in writing it. Tries to
    open it, since permission bits do not tell (root, read-only file systems)."""
    from pathlib import Path

    path = Path(path)
    if path.is_dir():
        raise InputError(f"{option} {path}: a folder; give a file name")
    if not path.parent.is_dir():
        raise MissingFileError(f"{option} {path}: no such folder {path.parent}")
    existed = path.exists()
    try:
        with open(path, "ab"):
            pass
    except OSError as error:
        raise InputError(f"{option} {path}: cannot be written ({error.strerror})") from error
    if not existed:
        path.unlink()


def _run_predict(args) -> int:
    import json

    from tqdm import tqdm

    from ..inference.recognizer import DEFAULT_MAX_DURATION_S, Recognizer
    from ..pose.video import DEFAULT_MAX_PIXELS, probe

    if args.top_k < 1:
        raise InputError(f"--top-k must be at least 1, got {args.top_k}")
    # A missing, unreadable or over-long file, or an output path that cannot be written, fails before the
    # model and the pose backend are loaded.
    probe(args.video, max_duration=DEFAULT_MAX_DURATION_S, max_pixels=DEFAULT_MAX_PIXELS)
    if args.overlay:
        _check_writable(args.overlay, "--overlay")
    if args.summary:
        _check_writable(args.summary, "--summary")
    recognizer = Recognizer.from_pretrained(args.model, backend=args.backend, revision=args.revision)
    with tqdm(total=100, unit="%", desc="pose", disable=args.json or not sys.stderr.isatty()) as bar:
        def progress(fraction: float, stage: str) -> None:
            bar.set_description(stage)
            bar.update(round(fraction * 100) - bar.n)

        try:
            prediction = recognizer.predict(args.video, top_k=args.top_k, overlay_path=args.overlay,
                                            progress=progress)
        finally:
            recognizer.close()
    if args.summary:
        from ..analysis.summary import workout_sets, write_summary

        write_summary(workout_sets(prediction.segments), args.summary)
    if args.json:
        print(json.dumps(prediction.to_json(), indent=1))
        return 0
    print(_prediction_text(prediction, args))
    return 0


def _add_live(subparsers) -> None:
    parser = subparsers.add_parser(
        "live", help="live coaching: the exercise, the rep count and form cues from a camera or a video played live",
        description="Recognise the exercise, count the reps and give form cues as the person trains, from a camera "
                    "(until Ctrl-C) or from a video file played in real time as if live; then print the sets.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--camera", type=int, metavar="INDEX", help="the camera to read (0: the first)")
    source.add_argument("--video", metavar="FILE", help="a video file played in real time, as a camera")
    parser.add_argument("--model", default=None, metavar="DIR_OR_HUB_ID",
                        help="model folder or Hub id (default: the shipped checkpoint)")
    _add_revision(parser)
    parser.add_argument("--backend", default="mediapipe", metavar="NAME", help="pose backend (default: mediapipe)")
    parser.add_argument("--json", action="store_true",
                        help="print only the final summary, as one JSON object (sets, and segments as predict --json)")
    parser.set_defaults(run=_run_live)


def _run_live(args) -> int:
    import json

    from ..inference.recognizer import Recognizer
    from ..inference.live import LiveSession
    from ..inference.sources import open_camera, play_camera, play_video
    from ..pose.video import probe

    # A missing or unreadable file, or a camera that does not open, fails before the model is loaded.
    if args.video is not None:
        probe(args.video)
    else:
        camera = open_camera(args.camera)
    recognizer = Recognizer.from_pretrained(args.model, backend=args.backend, revision=args.revision)
    shown = None

    def report(update, due) -> None:
        nonlocal shown
        line = (update.label if update.abstain is None else f"not sure: {update.abstain}", update.reps, update.form)
        if line != shown and not args.json:
            shown = line
            form = f", {update.form}" if update.form else ""
            print(f"{update.timestamp_s:6.1f} s  {line[0]}; {update.reps} reps{form}", flush=True)

    session = LiveSession(recognizer, backend=recognizer.backend)
    try:
        if args.video is not None:
            play_video(session, args.video, on_update=report)
        else:
            play_camera(session, camera, on_update=report)
    except KeyboardInterrupt:  # how a camera session ends: the summary follows
        pass
    finally:
        recognizer.close()
    result = session.to_json()
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    for workout_set in result["sets"]:
        form = f", {workout_set['form']}" if workout_set["form"] else ""
        print(f"set: {workout_set['start_s']:.1f}-{workout_set['end_s']:.1f} s  {workout_set['exercise']}: "
              f"{workout_set['reps']} reps{form}")
    print(f"{result['frames_processed']} of {result['frames_received']} frames processed in {result['seconds']:.1f} s")
    return 0


def _prediction_text(prediction, args) -> str:
    """The verdict first, then the model's ranking, the segments and the run's figures."""
    from ..render.overlay import captions_path
    from ..render.wording import clip_detail, count, segment_text

    lines = [f"{prediction.headline}: {clip_detail(prediction)}", "the model's ranking:"]
    lines += [f"{rank}. {item.label:<20} {item.score:.1%}" for rank, item in enumerate(prediction.top_k, 1)]
    lines += [f"{segment.start:6.1f}-{segment.end:.1f} s  {segment_text(segment)}" for segment in prediction.segments]
    written = [f"overlay: {args.overlay} (captions: {captions_path(args.overlay)})"] if args.overlay else []
    written += [f"summary: {args.summary}"] if args.summary else []
    lines.append(f"{count(len(prediction.windows), 'window')}, person found in {prediction.detected_frames}/"
                 f"{prediction.frames} frames, {prediction.seconds:.1f} s" + "".join(f"; {item}" for item in written))
    return "\n".join(lines)


def _add_calibrate(subparsers) -> None:
    parser = subparsers.add_parser(
        "calibrate", help="choose when a model abstains, on held-out clips against real negatives",
        description="Run the model over the held-out clips of its split (from --data: the --split sources, and as "
                    "negatives the clips of classes the model does not know) and over videos of people walking or "
                    "standing (--negatives), choose the abstain thresholds and write them with the trade-off "
                    "tables to DIR/calibration.json, which predict and the app then use.")
    parser.add_argument("--model", required=True, metavar="DIR", help="a model folder with its split.json")
    parser.add_argument("--data", nargs="+", required=True, metavar="DATA",
                        help="pose dataset folder(s) or .npz archive(s) holding the model's held-out sources "
                             "(e.g. ../shared/data/keypoints/*.npz)")
    parser.add_argument("--split", choices=("validation", "test"), default="validation",
                        help="the held-out sources to calibrate on (default validation: the test split stays "
                             "for the final figures)")
    parser.add_argument("--negatives", nargs="+", required=True, metavar="FILE_OR_DIR",
                        help="videos (or folders of videos) of people not exercising (e.g. ../shared/data/people)")
    parser.add_argument("--backend", default="mediapipe", metavar="NAME", help="pose backend (default: mediapipe)")
    parser.add_argument("--max-lost", type=float, default=0.01, metavar="F",
                        help="share of the held-out samples named right a threshold may cost (default 0.01)")
    parser.add_argument("--level", choices=("windows", "clips"), default="windows",
                        help="choose on windows (default: few negative clips still give many windows) or on "
                             "clips, what a user is shown (when there are enough negative clips)")
    parser.set_defaults(run=_run_calibrate)


def _run_calibrate(args) -> int:
    from pathlib import Path

    from ..training.calibration import calibrate, format_trade_off

    if not (Path(args.model) / "config.json").is_file():
        raise MissingFileError(f"{args.model}: not a model folder (no config.json)")
    if not 0 <= args.max_lost < 1:
        raise InputError(f"--max-lost must be in [0, 1), got {args.max_lost}")
    result = calibrate(args.model, args.data, args.negatives, backend=args.backend, split=args.split,
                       max_lost=args.max_lost, level=args.level)
    print(format_trade_off(result))
    for clip in result["non_exercise_clips"]:
        print(f"{Path(clip['file']).name}: {clip['abstain'] or 'named ' + clip['predicted']}")
    unknown = result["unknown_class_clips"]
    if unknown:
        print(f"abstained on {sum(bool(clip['abstain']) for clip in unknown)} of {len(unknown)} clips of classes "
              "the model does not know")
    print(f"thresholds saved to {Path(args.model) / 'calibration.json'}")
    return 0


def _add_enroll(subparsers) -> None:
    parser = subparsers.add_parser(
        "enroll", help="teach a model a new exercise from a few clips, without retraining",
        description="Enrol a new exercise from 1 to 5 clips (videos, or every clip of LABEL in a keypoint archive "
                    "with --data): the model's enrolment embeddings of the clips' windows (their pose descriptors) "
                    "become the class's prototypes and its abstain threshold is set from the clips themselves "
                    "(leave one clip out, less a margin). OUT is a model "
                    "folder like any other: predict, the app, evaluate and push read it; enrol it again to add "
                    "another exercise.")
    parser.add_argument("clips", nargs="*", metavar="CLIP", help="video files of the new exercise")
    parser.add_argument("--model", default=None, metavar="DIR_OR_HUB_ID",
                        help="model folder or Hub id to start from (default: the shipped checkpoint)")
    _add_revision(parser)
    parser.add_argument("--label", required=True, metavar="NAME", help="the new exercise's name")
    parser.add_argument("--out", required=True, metavar="DIR", help="where to save the enrolled model folder")
    parser.add_argument("--data", default=None, metavar="ARCHIVE",
                        help="instead of CLIPs: every clip of --label in a keypoint archive (.npz of any supported "
                             "layout) or a pose dataset folder")
    parser.add_argument("--fps", type=float, default=None, metavar="F",
                        help="with --data: the archive's frame rate (default: its sidecar's, else 30)")
    parser.add_argument("--backend", default="mediapipe", metavar="NAME", help="pose backend for CLIPs (default: mediapipe)")
    parser.set_defaults(run=_run_enroll)


def _run_enroll(args) -> int:
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


def _add_app(subparsers) -> None:
    from ..app import main as app

    parser = subparsers.add_parser(
        "app", help="serve the web app (Gradio) on this machine",
        description="Serve the Gradio app (also `python app.py`): upload or record a clip, see the exercise, "
                    "the skeleton overlay and the per-window timeline.")
    app.add_arguments(parser)
    parser.set_defaults(run=app.run)


def _add_push(subparsers) -> None:
    from ..hub import publish as hub

    parser = subparsers.add_parser(
        "push", help="publish a model (and its Gradio Space) to the Hugging Face Hub",
        description="Publish a gym-gesture model, and optionally its Gradio Space, to the Hugging Face Hub "
                    "(also `python hub_upload.py`); --dry-run only writes the folders that would be pushed.")
    hub.add_arguments(parser)
    parser.set_defaults(run=hub.run)


def _add_global_options(parser, default) -> None:
    """--debug and --verbose, accepted before and after the command: `default` is False on the main parser
    and SUPPRESS on the commands', so that a command's parser does not reset what was given before it."""
    parser.add_argument("--debug", action="store_true", default=default,
                        help="show the traceback of every error, the user's mistakes included")
    parser.add_argument("--verbose", action="store_true", default=default,
                        help="let MediaPipe / TFLite print their native log lines")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gym-gesture", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"gym-gesture {__version__}")
    _add_global_options(parser, default=False)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add_command in (_add_labels, _add_extract, _add_import_keypoints, _add_train, _add_evaluate,
                        _add_compare, _add_evaluate_videos, _add_predict, _add_train_form, _add_calibrate, _add_live,
                        _add_enroll, _add_app, _add_push):
        add_command(subparsers)
    for command_parser in subparsers.choices.values():
        _add_global_options(command_parser, default=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if args.verbose:
        from ..pose.native_logs import VERBOSE_ENV

        os.environ[VERBOSE_ENV] = "1"
    prefix = f"{parser.prog} {args.command}"
    try:
        return args.run(args)
    except (GymGestureError, OSError) as error:  # the user's mistake, or a problem with the user's files
        if args.debug:
            traceback.print_exc()
        print(f"{prefix}: error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print(f"{prefix}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception:  # noqa: BLE001 (a bug: reported with its traceback)
        traceback.print_exc()
        print(f"{prefix}: internal error (a bug in gym-gesture {__version__}); please report it with the "
              "traceback above", file=sys.stderr)
        return EXIT_BUG
