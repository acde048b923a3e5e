"""The recognition commands: predict (a clip) and live (a camera, or a video played as one)."""

from __future__ import annotations

import sys

from ..core.errors import InputError
from .options import add_backend, add_revision, check_writable


def add_predict_arguments(parser) -> None:
    parser.add_argument("video", metavar="VIDEO")
    parser.add_argument("--model", default=None, metavar="DIR_OR_HUB_ID",
                        help="model folder or Hub id (default: the shipped checkpoint)")
    add_revision(parser)
    add_backend(parser)
    parser.add_argument("--top-k", type=int, default=5, metavar="K", help="classes to list (default: 5)")
    parser.add_argument("--overlay", default=None, metavar="OUT.mp4",
                        help="also write the clip with the skeleton drawn over it (H.264 MP4, at the clip's frame "
                             "rate) and its captions, the verdict of each segment, beside it (OUT.vtt)")
    parser.add_argument("--summary", default=None, metavar="FILE.csv",
                        help="also write the workout summary, one row per set (exercise, start, end, reps, tempo, "
                             "range of motion, hold time, form and form advice): CSV, or JSON for a .json name")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")


def run_predict(args) -> int:
    """recognise the exercise in a video clip

    Run the pose backend and the model over VIDEO and print the top classes, or the full result as JSON with --json."""
    import json

    from tqdm import tqdm

    from ..inference.recognizer import DEFAULT_MAX_CLIP_DURATION_S, Recognizer
    from ..pose.video import DEFAULT_MAX_PIXELS, probe

    if args.top_k < 1:
        raise InputError(f"--top-k must be at least 1, got {args.top_k}")
    # A missing, unreadable or over-long file, or an output path that cannot be written, fails before the
    # model and the pose backend are loaded.
    probe(args.video, max_duration=DEFAULT_MAX_CLIP_DURATION_S, max_pixels=DEFAULT_MAX_PIXELS)
    if args.overlay:
        check_writable(args.overlay, "--overlay")
    if args.summary:
        check_writable(args.summary, "--summary")
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
    from ..render.reports import prediction_report  # OpenCV with it: not before the input is checked

    print(prediction_report(prediction, overlay=args.overlay, summary=args.summary))
    return 0


def add_live_arguments(parser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--camera", type=int, metavar="INDEX", help="the camera to read (0: the first)")
    source.add_argument("--video", metavar="FILE", help="a video file played in real time, as a camera")
    parser.add_argument("--model", default=None, metavar="DIR_OR_HUB_ID",
                        help="model folder or Hub id (default: the shipped checkpoint)")
    add_revision(parser)
    add_backend(parser)
    parser.add_argument("--json", action="store_true",
                        help="print only the final summary, as one JSON object (sets, and segments as predict --json)")


def run_live(args) -> int:
    """live coaching: the exercise, the rep count and form cues from a camera or a video played live

    Recognise the exercise, count the reps and give form cues as the person trains, from a camera (until Ctrl-C) or
    from a video file played in real time as if live; then print the sets."""
    import json

    from ..inference.recognizer import Recognizer
    from ..inference.live import LiveSession
    from ..inference.sources import open_camera, play_camera, play_video
    from ..pose.video import probe
    from ..render.reports import live_status, live_summary

    # A missing or unreadable file, or a camera that does not open, fails before the model is loaded.
    if args.video is not None:
        probe(args.video)
    else:
        camera = open_camera(args.camera)
    recognizer = Recognizer.from_pretrained(args.model, backend=args.backend, revision=args.revision)
    shown = None

    def report(update, due) -> None:
        nonlocal shown
        status = live_status(update)
        if status != shown and not args.json:
            shown = status
            print(f"{update.timestamp_s:6.1f} s  {status}", flush=True)

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
    print(live_summary(result))
    return 0
