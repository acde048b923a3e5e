"""gym-gesture's speed and memory on this machine: one command prints one table and writes JSON (and
the Markdown report beside it).

    python -m benchmarks.run                                  # everything (about 8 min on 2 cores once the videos are built)
    python -m benchmarks.run --skip-training --skip-app       # while iterating
    python -m benchmarks.run --quick --videos tests/fixtures/squat_clip.mp4 --out /tmp/smoke.json

Everything goes through the package's one inference path (`Recognizer`; the long videos through the
`gym-gesture predict` command, each in a fresh process so its peak memory can be read) and is read
from the model (default: the shipped checkpoint), so a retrained checkpoint is measured without edits.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

if __package__ in (None, ""):  # run as `python benchmarks/run.py`: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gym_gesture.data.clips import VIDEO_SUFFIXES  # noqa: E402 (after the path is set)

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
CACHE = Path(__file__).resolve().parent / ".cache"
FIXTURE_CLIP = REPO_ROOT / "tests" / "fixtures" / "squat_clip.mp4"
GB = 1024 ** 3

# The targets on a 2-core CPU.
TARGET_RTF_TOP_K = 0.3
TARGET_RTF_OVERLAY = 0.8
TARGET_WRAPPER_OVERHEAD = 1.2
TARGET_WINDOWS_PER_S = 2000
TARGET_BATCH_ONE_WINDOWS_PER_S = 2000  # issue #17
TARGET_TRAINING_S = 180
TARGET_PEAK_RSS_GB = 1.5
TARGET_RSS_GROWTH = 1.2  # "flat in video length": the 10-minute peak within 20% of the 1-minute one
TARGET_COLD_START_S = 15
TARGET_CLI_ANSWER_S = 1.0  # `--help` and refused input, whole process
TRAINING_EPOCHS = 100


def _python_env() -> dict:
    return dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
                GRADIO_ANALYTICS_ENABLED="False")


def _peak_rss_gb(pid: int) -> float | None:
    """The process's peak resident memory so far (VmHWM), None once it has exited."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    return next((int(line.split()[1]) * 1024 / GB for line in status.splitlines() if line.startswith("VmHWM")), None)


def run_measured(command: list[str], log: Path, **kwargs) -> dict:
    """Run `command` as a child process: its wall time and peak resident memory.

    The peak is the child's own VmHWM, read every 50 ms until it exits (it only grows, so at most
    the last 50 ms are missed). Not `ru_maxrss`: Linux carries the parent's peak over into the
    child's at fork/exec, so every child would report at least this process's memory.
    """
    started = time.perf_counter()
    peak = 0.0
    with log.open("w") as output, tempfile.TemporaryFile("w+") as errors:
        process = subprocess.Popen(command, stdout=output, stderr=errors, text=True, **kwargs)
        while process.poll() is None:
            peak = max(peak, _peak_rss_gb(process.pid) or 0.0)
            time.sleep(0.05)
        if process.returncode != 0:
            errors.seek(0)
            raise RuntimeError(f"{' '.join(command[:4])} ... failed ({process.returncode}): {errors.read()[-2000:]}")
    return {"wall_s": time.perf_counter() - started, "peak_rss_gb": peak}


# ---------------------------------------------------------------------------------------------- machine

def machine() -> dict:
    import av
    import mediapipe
    import torch
    import transformers

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                     if line.startswith("MemTotal"))
    commit = subprocess.run(["git", "describe", "--always", "--dirty"], check=False, cwd=REPO_ROOT, capture_output=True,
                            text=True).stdout.strip()
    return {"cpu": cpu, "cores": os.cpu_count(), "ram_gb": round(memory_kb / 1024 ** 2, 1),
            "os": platform.platform(), "python": platform.python_version(), "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(), "mediapipe": mediapipe.__version__,
            "transformers": transformers.__version__, "av": av.__version__, "commit": commit,
            "load_average_start": os.getloadavg()}


def model_summary(recognizer) -> dict:
    config = recognizer.config
    return {"model": str(recognizer.model_name), "fusion": config.fusion, "sample_fps": config.sample_fps,
            "num_frames": config.num_frames, "window_stride": config.window_stride,
            "parameters": sum(p.numel() for p in recognizer.model.parameters()), "backend": recognizer.backend.name}


# ----------------------------------------------------------------------------------- end-to-end predict

def real_clips(recognizer, clips: list[Path], scratch: Path) -> dict:
    """Each clip predicted twice in this process: top-k only, then with the overlay. Clips where nobody
    is found (`NoPersonError`, no answer to time) are listed apart."""
    from gym_gesture.inference.recognizer import NoPersonError
    from gym_gesture.pose.video import probe

    recognizer.predict(clips[0])  # warm-up: the first call pays one-off initialization
    rows, no_person = [], []
    for clip in clips:
        info = probe(clip)
        try:
            top_k = recognizer.predict(clip)
        except NoPersonError:
            no_person.append(clip.name)
            continue
        overlay = recognizer.predict(clip, overlay_path=scratch / "overlay.mp4")
        rows.append({"clip": clip.name, "width": info.width, "height": info.height, "seconds": round(info.duration, 3),
                     "label": top_k.label, "top_k_s": top_k.seconds, "overlay_s": overlay.seconds,
                     "timings": overlay.timings})
    return {"clips": rows, "no_person": no_person}


def real_time_factor(rows: list[dict], key: str) -> float:
    return sum(row[key] for row in rows) / sum(row["seconds"] for row in rows)


def long_video(video: Path, model: str, scratch: Path) -> dict:
    """`gym-gesture predict --overlay --json` in a fresh process (RTF with the overlay, peak memory), and
    `gym-gesture predict --json` in another (RTF top-k only: the overlay is drawn beside pose, so the run
    with it less its last stage is not the run without it)."""
    from gym_gesture.analysis.prediction import Prediction
    from gym_gesture.pose.video import probe

    runs = {}
    for name, extra in (("top_k", []), ("overlay", ["--overlay", str(scratch / f"{video.stem}_overlay.mp4")])):
        log = scratch / f"{video.stem}_{name}.json"
        process = run_measured([sys.executable, "-m", "gym_gesture", "predict", str(video), "--model", model,
                                "--json", *extra], log, env=_python_env(), cwd=REPO_ROOT)
        runs[name] = (Prediction.from_json(json.loads(log.read_text())), process)
    (top_k, _), (prediction, process) = runs["top_k"], runs["overlay"]
    duration = probe(video).duration
    return {"video": video.name, "seconds": round(duration, 3), "frames": prediction.frames,
            "label": prediction.label, "segments": [segment.exercise for segment in prediction.segments],
            "top_k_s": top_k.seconds, "overlay_s": prediction.seconds, "timings": prediction.timings,
            "rtf_top_k": top_k.seconds / duration, "rtf_overlay": prediction.seconds / duration,
            "process_wall_s": round(process["wall_s"], 2), "peak_rss_gb": round(process["peak_rss_gb"], 3)}


# ------------------------------------------------------------------------------------------ components

def pose_overhead(recognizer, clip: Path, max_frames: int, rounds: int = 2) -> dict:
    """ms per frame of our single-person MediaPipe backend (`mediapipe`, which `mediapipe-people` also runs on
    every whole frame) against bare `mediapipe` `Pose.process` on the same frames (the clip's frames at the model's rate,
    decoded beforehand); each a fresh graph, best of `rounds`."""
    import mediapipe as mp

    from gym_gesture.pose import create_backend
    from gym_gesture.pose.video import read_frames

    frames = []
    for frame in read_frames(clip, recognizer.config.sample_fps):
        frames.append(frame.image)
        if len(frames) == max_frames:
            break
    bare, wrapped = [], []
    with create_backend("mediapipe") as backend:
        for _ in range(rounds):
            with mp.solutions.pose.Pose(**backend._options) as pose:  # the wrapper's own settings
                started = time.perf_counter()
                for image in frames:
                    pose.process(image)
                bare.append((time.perf_counter() - started) / len(frames))
            backend.reset()
            started = time.perf_counter()
            for image in frames:
                backend(image)
            wrapped.append((time.perf_counter() - started) / len(frames))
    return {"clip": clip.name, "frames": len(frames), "size": list(frames[0].shape[1::-1]),
            "bare_ms": round(min(bare) * 1000, 2), "wrapper_ms": round(min(wrapped) * 1000, 2),
            "overhead": min(wrapped) / min(bare)}


def classifier_throughput(recognizer, clip: Path, batch_one_windows: int, min_seconds: float,
                          min_rounds: int = 10) -> dict:
    """Windows per second through `Recognizer.window_probabilities` at batch 1, at the recognizer's own
    batch size (what `predict` uses) and at 256, on the real windows of `clip` (repeated to fill the batches).

    Timed call by call (at least `min_rounds` calls and `min_seconds`): the median call and the best one.
    The machine is shared, and its speed drifts by a fifth within a minute as neighbors come and go (the
    same code, one call after the other: 1,430-1,480 windows/s at batch 1 in one minute, 1,740-1,835 in
    the next); the best call is what the code does undisturbed, as `timeit` reports."""
    import numpy as np

    from gym_gesture.data.windows import windows_from_sequence
    from gym_gesture.pose.sequence import extract_clip

    sequence = extract_clip(clip, recognizer.backend, recognizer.config.sample_fps)
    windows = windows_from_sequence(sequence.model_coordinates(recognizer.config.num_channels), sequence.layout,
                                    sequence.fps, recognizer.config, frame_size=sequence.frame_size)
    if len(windows) == 0:
        raise ValueError(f"{clip}: no windows to classify")
    saved = recognizer.batch_size
    result = {"clip": clip.name, "distinct_windows": len(windows), "predict_batch_size": saved}
    try:
        for batch_size in dict.fromkeys((1, saved, 256)):  # predict's own size is measured once
            count = batch_one_windows if batch_size == 1 else batch_size
            take = np.arange(count) % len(windows)
            keypoints, mask = windows.keypoints[take], windows.attention_mask[take]
            recognizer.batch_size = batch_size
            recognizer.window_probabilities(keypoints, mask)  # warm-up
            rates, started = [], time.perf_counter()
            while len(rates) < min_rounds or time.perf_counter() - started < min_seconds:
                call = time.perf_counter()
                recognizer.window_probabilities(keypoints, mask)
                rates.append(count / (time.perf_counter() - call))
            result[f"batch_{batch_size}_windows_per_s"] = round(float(np.median(rates)), 1)
            result[f"batch_{batch_size}_best_windows_per_s"] = round(max(rates), 1)
            result[f"batch_{batch_size}_calls"] = len(rates)
    finally:
        recognizer.batch_size = saved
    return result


def training_data(videos: Path, cache: Path, scratch: Path) -> list[str]:
    """The shipped checkpoint's data (README): the two keypoint archives and MediaPipe's poses of the
    plank and russian twist clips, extracted once into the cache."""
    from benchmarks.workout_video import clip_label

    keypoints = SHARED_DATA / "keypoints"
    extracted = cache / "plank_twist_mediapipe"
    tree = cache / "plank_twist_videos"
    for clip in sorted(videos.glob("*")):
        label = clip_label(clip) if clip.suffix.lower() in VIDEO_SUFFIXES else None
        if label in ("plank", "russian twist"):
            (tree / label).mkdir(parents=True, exist_ok=True)
            link = tree / label / clip.name
            if not link.exists():
                link.symlink_to(clip.resolve())
    if not (extracted / "state.json").is_file():  # a finished `datasets` folder (an interrupted one resumes)
        run_measured([sys.executable, "-m", "gym_gesture", "extract", str(tree), "--out", str(extracted)],
                     scratch / "extract.log", env=_python_env(), cwd=REPO_ROOT)
    return [str(keypoints / "gym5_mediapipe33.npz"), str(keypoints / "pushup_form_mediapipe33.npz"), str(extracted)]


def training_time(model_dir: Path, data: list[str], epochs: int, scratch: Path) -> dict:
    """`train` for `epochs` epochs with the checkpoint's own options (training.json), early stopping off,
    on torch's default threads (every core: the checkpoint's `--threads 1` was for a machine busy with
    other runs)."""
    options = json.loads((model_dir / "training.json").read_text())["options"]
    options.update(epochs=epochs, patience=epochs, init_from=None, push_to_hub=None, resume=False, threads=None)
    output_dir = scratch / "training"
    code = ("import json, sys; from gym_gesture.training.train import TrainingOptions, train; "
            "train(json.loads(sys.argv[1]), sys.argv[2], TrainingOptions(**json.loads(sys.argv[3])))")
    process = run_measured([sys.executable, "-c", code, json.dumps(data), str(output_dir), json.dumps(options)],
                           scratch / "training.log", env=_python_env(), cwd=REPO_ROOT)
    summary = json.loads((output_dir / "training.json").read_text())
    return {"epochs": epochs, "threads": options["threads"] or "torch default", "batch_size": options.get("batch_size"),
            "num_train_windows": summary["num_train_windows"], "training_seconds": summary["training_seconds"],
            "process_wall_s": round(process["wall_s"], 1), "peak_rss_gb": round(process["peak_rss_gb"], 3)}


def cli_answer(scratch: Path, rounds: int = 3) -> dict:
    """Whole-process seconds of `gym-gesture --help` and of a `predict` refused for a missing file, best of
    `rounds` (the least disturbed by other work on the machine)."""
    commands = {"help_s": ["--help"], "missing_file_s": ["predict", str(scratch / "missing.mp4")]}
    result = {}
    for key, arguments in commands.items():
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "gym_gesture", *arguments], cwd=REPO_ROOT, env=_python_env(),
                           capture_output=True, check=False)
            times.append(time.perf_counter() - started)
        result[key] = round(min(times), 3)
    return result


@contextlib.contextmanager
def served_app(model: str, scratch: Path, timeout: float = 300):
    """`python app.py` on a free port of 127.0.0.1, as a user starts it, stopped on leaving: yields its URL
    once the page answers, and the time (`time.perf_counter`) it was launched. Its output is in
    scratch/app.log."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/"
    env = dict(_python_env(), GYM_GESTURE_MODEL=model)
    launched = time.perf_counter()
    with (scratch / "app.log").open("w") as log:
        server = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=REPO_ROOT, env=env,
                                  stdout=log, stderr=subprocess.STDOUT)
    try:
        while True:
            if server.poll() is not None:
                output = (scratch / "app.log").read_text()[-3000:]
                raise RuntimeError(f"app.py exited with {server.returncode}: {output}")
            if time.perf_counter() - launched > timeout:
                raise RuntimeError(f"app.py did not answer within {timeout:.0f} s")
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:  # not listening yet
                time.sleep(0.2)
        yield url, launched
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


def app_cold_start(model: str, clip: Path, scratch: Path) -> dict:
    """`python app.py` started, then timed until its first real answer through `gradio_client`."""
    from gradio_client import Client, handle_file

    from gym_gesture.pose import DEFAULT_BACKEND

    with served_app(model, scratch) as (url, launched):
        client = Client(url, verbose=False)
        connected = time.perf_counter() - launched
        label = client.predict(handle_file(str(clip)), DEFAULT_BACKEND, api_name="/predict")[2]["label"]  # the ranking
        answered = time.perf_counter() - launched
    return {"clip": clip.name, "connected_s": round(connected, 2), "first_answer_s": round(answered, 2), "label": label}


# ------------------------------------------------------------------------------------------- the table

def _length(seconds: float) -> str:
    return f"{seconds / 60:.0f}-min" if seconds >= 60 else f"{seconds:g}-s"


def figure(name: str, value: float | None, unit: str, target: str = "", met: bool | None = None) -> dict:
    return {"figure": name, "value": value, "unit": unit, "target": target, "met": met}


def figures(results: dict) -> list[dict]:
    rows = []
    if "real_clips" in results:
        clips = results["real_clips"]["clips"]
        hd = [row for row in clips if min(row["width"], row["height"]) == 720]
        for name, subset, with_targets in ((f"real 720p clips ({len(hd)})", hd, True),
                                           (f"all real clips ({len(clips)})", clips, False)):
            if not subset:
                continue
            top_k, overlay = real_time_factor(subset, "top_k_s"), real_time_factor(subset, "overlay_s")
            rows.append(figure(f"RTF top-k, {name}", top_k, "x", *((f"<= {TARGET_RTF_TOP_K}", top_k <= TARGET_RTF_TOP_K)
                                                                   if with_targets else ())))
            rows.append(figure(f"RTF overlay, {name}", overlay, "x",
                               *((f"<= {TARGET_RTF_OVERLAY}", overlay <= TARGET_RTF_OVERLAY) if with_targets else ())))
    long_runs = results.get("long_videos", [])
    for run in long_runs:
        name = f"{_length(run['seconds'])} 720p video"
        rows.append(figure(f"RTF top-k, {name}", run["rtf_top_k"], "x", f"<= {TARGET_RTF_TOP_K}",
                           run["rtf_top_k"] <= TARGET_RTF_TOP_K))
        rows.append(figure(f"RTF overlay, {name}", run["rtf_overlay"], "x", f"<= {TARGET_RTF_OVERLAY}",
                           run["rtf_overlay"] <= TARGET_RTF_OVERLAY))
    if "pose" in results:
        pose = results["pose"]
        rows.append(figure("pose, bare mediapipe Pose.process", pose["bare_ms"], "ms/frame"))
        rows.append(figure("pose, MediaPipePose (our wrapper)", pose["wrapper_ms"], "ms/frame"))
        rows.append(figure("pose wrapper overhead", pose["overhead"], "x", f"<= {TARGET_WRAPPER_OVERHEAD}",
                           pose["overhead"] <= TARGET_WRAPPER_OVERHEAD))
    if "classifier" in results:
        classifier = results["classifier"]
        rows.append(figure("classifier, batch 1 (median call)", classifier["batch_1_windows_per_s"], "windows/s"))
        best = classifier["batch_1_best_windows_per_s"]
        rows.append(figure("classifier, batch 1 (best call)", best, "windows/s", f">= {TARGET_BATCH_ONE_WINDOWS_PER_S}",
                           best >= TARGET_BATCH_ONE_WINDOWS_PER_S))
        if classifier["predict_batch_size"] not in (1, 256):
            rows.append(figure(f"classifier, batch {classifier['predict_batch_size']} (predict's)",
                               classifier[f"batch_{classifier['predict_batch_size']}_windows_per_s"], "windows/s"))
        rows.append(figure("classifier, batch 256" + (" (predict's)" if classifier["predict_batch_size"] == 256 else ""),
                           classifier["batch_256_windows_per_s"], "windows/s",
                           f">= {TARGET_WINDOWS_PER_S}", classifier["batch_256_windows_per_s"] >= TARGET_WINDOWS_PER_S))
    if "training" in results:
        training = results["training"]
        rows.append(figure(f"training, {training['epochs']} epochs (whole command)", training["process_wall_s"], "s",
                           f"<= {TARGET_TRAINING_S}", training["process_wall_s"] <= TARGET_TRAINING_S))
        rows.append(figure(f"training, {training['epochs']} epochs (Trainer only)", training["training_seconds"], "s"))
    if long_runs:
        for run in long_runs:
            rows.append(figure(f"peak RSS, {_length(run['seconds'])} video with overlay", run["peak_rss_gb"], "GB",
                               f"<= {TARGET_PEAK_RSS_GB}", run["peak_rss_gb"] <= TARGET_PEAK_RSS_GB))
        if len(long_runs) >= 2:
            growth = long_runs[-1]["peak_rss_gb"] / long_runs[0]["peak_rss_gb"]
            rows.append(figure("peak RSS, longer / shorter video", growth, "x", f"<= {TARGET_RSS_GROWTH}",
                               growth <= TARGET_RSS_GROWTH))
    if "cli" in results:
        for key, name in (("help_s", "CLI --help (whole process)"),
                          ("missing_file_s", "CLI predict of a missing file (whole process)")):
            rows.append(figure(name, results["cli"][key], "s", f"<= {TARGET_CLI_ANSWER_S:g}",
                               results["cli"][key] <= TARGET_CLI_ANSWER_S))
    if "app" in results:
        app = results["app"]
        rows.append(figure("app cold start to first answer", app["first_answer_s"], "s", f"<= {TARGET_COLD_START_S}",
                           app["first_answer_s"] <= TARGET_COLD_START_S))
    return rows


def _value(row: dict) -> str:
    value = row["value"]
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"


def _met(row: dict) -> str:
    return "" if row["met"] is None else "yes" if row["met"] else "NO"


def table(rows: list[dict]) -> str:
    lines = [f"{'figure':<52} {'value':>10} {'unit':<10} {'target':<10} met"]
    lines += [f"{row['figure']:<52} {_value(row):>10} {row['unit']:<10} {row['target']:<10} {_met(row)}" for row in rows]
    return "\n".join(lines)


def markdown(report: dict, json_name: str = "results.json") -> str:
    m = report["machine"]
    model = report["model"]
    lines = [
        "# gym-gesture benchmarks", "",
        (f"Generated by `{report['command']}` on {report['date']} ({report['wall_seconds'] / 60:.0f} min wall); "
        f"the figures and everything below are in `{json_name}` beside this file."), "",
        (f"**Machine**: {m['cpu']}, {m['cores']} cores, {m['ram_gb']} GB RAM; {m['os']}; Python {m['python']}, "
        f"torch {m['torch']} ({m['torch_threads']} threads), mediapipe {m['mediapipe']}, transformers "
        f"{m['transformers']}, PyAV {m['av']}; commit `{m['commit']}`. Load average (1, 5, 15 min) "
        f"{', '.join(f'{x:.2f}' for x in m['load_average_start'])} at the start and "
        f"{', '.join(f'{x:.2f}' for x in m['load_average_end'])} at the end: other work on the machine slows "
        "every figure."), "",
        (f"**Model**: `{Path(model['model']).name}` ({model['fusion']}, {model['parameters']:,} parameters), "
        f"pose sampled at {model['sample_fps']:g} fps, windows of {model['num_frames']} frames every "
        f"{model['window_stride']}; pose backend {model['backend']}."), "",
        "| figure | value | unit | target | met |", "|---|---:|---|---|---|",
    ]
    lines += [f"| {row['figure']} | {_value(row)} | {row['unit']} | {row['target']} | {_met(row)} |"
              for row in report["figures"]]
    results = report["results"]
    lines += ["", "## How each figure is measured", "",
              ("- **RTF** (real-time factor) = processing seconds / clip seconds, from the `seconds` of "
              "`Recognizer.predict` (the call itself, model already loaded). Real clips: each clip predicted "
              "top-k only and then with the overlay, in one process, after one warm-up call. Long videos: "
              "`gym-gesture predict --overlay --json` in a fresh process each, and `gym-gesture predict --json` "
              "in another for top-k only (the overlay is drawn beside pose)."),
              ("- **Long videos**: real 720p clips (squat, plank, russian twist, pull up) looped in 30-s sets "
              "into one H.264 720p 30 fps video (`benchmarks/workout_video.py`, cached in "
              "`benchmarks/.cache/`)."),
              ("- **Pose**: the same decoded frames (a real 720p clip at the model's sample rate) through bare "
              "`mediapipe.solutions.pose.Pose.process` and through `MediaPipePose`, each a fresh graph with "
              "the same options; best of two rounds."),
              ("- **Classifier**: `Recognizer.window_probabilities` (the path `predict` uses) on a real clip's "
              "windows, at batch size 1, at `predict`'s batch size and at 256, with torch's default threads."),
              ("- **Training**: `gym_gesture.training.train.train` in a fresh process, on the shipped checkpoint's data "
              "(README) with its `training.json` options but torch's default threads, for 100 epochs with early stopping off. 'Whole "
              "command' includes loading the data; 'Trainer only' is `training_seconds`."),
              "- **Peak RSS**: the peak resident memory (VmHWM) of each long-video `predict` process.",
              ("- **CLI answers**: `python -m gym_gesture --help` and `python -m gym_gesture predict` of a missing "
              "file, each a whole fresh process (interpreter start included), best of three."),
              ("- **App cold start**: `python app.py` launched, then timed until `gradio_client` gets the "
              "first prediction of the squat fixture clip back (not just a page)."), ""]
    if "real_clips" in results:
        lines += ["## Real clips", "", "| clip | size | seconds | label | top-k s | overlay s | pose s | overlay stage s |",
                  "|---|---|---:|---|---:|---:|---:|---:|"]
        lines += [f"| {r['clip']} | {r['width']}x{r['height']} | {r['seconds']:.1f} | {r['label']} | {r['top_k_s']:.2f} | "
                  f"{r['overlay_s']:.2f} | {r['timings']['pose']:.2f} | {r['timings']['overlay']:.2f} |"
                  for r in results["real_clips"]["clips"]]
        if results["real_clips"]["no_person"]:
            lines += ["", f"Nobody found (not timed): {', '.join(results['real_clips']['no_person'])}."]
        lines.append("")
    if results.get("long_videos"):
        lines += ["## Long videos", "", "| video | frames posed | stages (s) | label | peak RSS GB |",
                  "|---|---:|---|---|---:|"]
        lines += [f"| {r['video']} ({r['seconds']:.0f} s) | {r['frames']} | "
                  f"{', '.join(f'{k} {v:.1f}' for k, v in r['timings'].items())} | {r['label']} | {r['peak_rss_gb']:.2f} |"
                  for r in results["long_videos"]]
        lines.append("")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------- main

def _clips(paths: list[Path]) -> list[Path]:
    clips = []
    for path in paths:
        clips += sorted(p for p in path.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES) if path.is_dir() else [path]
    if not clips:
        raise FileNotFoundError(f"no video clips in {', '.join(map(str, paths))}")
    return clips


def save(report: dict, out: Path, started: float) -> None:
    """The JSON and, beside it, the Markdown report of what is measured so far."""
    report["machine"]["load_average_end"] = os.getloadavg()
    report["wall_seconds"] = round(time.perf_counter() - started, 1)
    report["figures"] = figures(report["results"])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    if "model" in report:
        out.with_suffix(".md").write_text(markdown(report, out.name))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, metavar="DIR", help="model folder (default: the shipped checkpoint)")
    parser.add_argument("--videos", nargs="+", type=Path, default=[SHARED_DATA / "videos"], metavar="PATH",
                        help="real clips, files or folders (default: ../shared/data/videos)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results.json"),
                        help="JSON results; the Markdown report goes beside it (.md)")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: 4-s and 8-s long videos, few frames and windows, 2 training epochs")
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--skip-app", action="store_true")
    parser.add_argument("--long-seconds", type=float, nargs="+", default=None, metavar="S",
                        help="lengths of the generated 720p videos, shortest first (default 60 599; --quick: 4 8)")
    parser.add_argument("--cache", type=Path, default=CACHE, help="where the generated videos and poses are kept")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from benchmarks.workout_video import make_workout_video, workout_sets
    from gym_gesture.inference.recognizer import DEFAULT_MODEL_DIR, Recognizer
    from gym_gesture.pose.video import probe

    started = time.perf_counter()
    clips = _clips(args.videos)
    model_dir = Path(args.model or DEFAULT_MODEL_DIR)
    long_seconds = args.long_seconds or ((4, 8) if args.quick else (60, 599))
    report = {"command": " ".join(["python -m benchmarks.run", *(argv if argv is not None else sys.argv[1:])]),
              "date": time.strftime("%Y-%m-%d %H:%M"), "machine": machine(), "quick": args.quick}
    results = report["results"] = {}

    def step(name: str):
        """Log the next step, and save what is measured so far (an interrupted run keeps its figures)."""
        print(f"[{time.perf_counter() - started:6.0f} s] {name}", file=sys.stderr, flush=True)
        save(report, args.out, started)

    with tempfile.TemporaryDirectory(prefix="gym-gesture-bench-") as scratch:
        scratch = Path(scratch)
        step("CLI answers without loading the model (--help, a missing file)")
        results["cli"] = cli_answer(scratch)
        recognizer = Recognizer.from_pretrained(model_dir)
        report["model"] = model_summary(recognizer)
        sizes = {clip: probe(clip) for clip in clips}
        hd_clips = [clip for clip in clips if min(sizes[clip].width, sizes[clip].height) >= 720] or clips
        longest_hd = max(hd_clips, key=lambda clip: sizes[clip].duration)

        step(f"end-to-end predict on {len(clips)} real clips")
        results["real_clips"] = real_clips(recognizer, clips, scratch)
        step("pose backend against bare mediapipe")
        results["pose"] = pose_overhead(recognizer, longest_hd, max_frames=20 if args.quick else 120)
        step("classifier throughput")
        results["classifier"] = classifier_throughput(recognizer, longest_hd, batch_one_windows=16 if args.quick else 256,
                                                      min_seconds=0.2 if args.quick else 3.0)
        recognizer.close()

        sources = [clip for exercise in workout_sets(clips) for clip in exercise]
        tag = hashlib.sha1("\n".join(str(clip.resolve()) for clip in sources).encode()).hexdigest()[:8]
        results["long_videos"] = []
        for seconds in long_seconds:
            step(f"generated {seconds:g}-s 720p video: build (cached) and predict in a fresh process")
            video = make_workout_video(args.cache / f"workout_{seconds:g}s_720p_{tag}.mp4", seconds, sources)
            results["long_videos"].append(long_video(video, str(model_dir), scratch))

        if not args.skip_training:
            videos_dir = next((path for path in args.videos if path.is_dir()), SHARED_DATA / "videos")
            step("training data (plank and russian twist poses extracted once, cached)")
            data = training_data(videos_dir, args.cache, scratch)
            epochs = 2 if args.quick else TRAINING_EPOCHS
            step(f"training, {epochs} epochs")
            results["training"] = training_time(model_dir, data, epochs, scratch)
        if not args.skip_app:
            step("app cold start")
            results["app"] = app_cold_start(str(model_dir), FIXTURE_CLIP, scratch)

    save(report, args.out, started)
    print(table(report["figures"]))
    print(f"\n{report['wall_seconds'] / 60:.1f} min; results in {args.out} and {args.out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
