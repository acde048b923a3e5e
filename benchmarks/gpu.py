"""gym-gesture on a CUDA GPU beside the CPU of the same machine: one command prints one table and writes
`OUT/gpu.json` and `OUT/gpu.md`. Everything goes through the package's own paths; CI has no GPU, so this
runs where one is lent (exit 2 without one).

    python -m benchmarks.gpu --data $DATA7 --train gym7-transformer=$RECIPE7 --out results/gpu

- agreement: each shipped checkpoint loaded through the Auto classes (`inference.load_model`) on the CPU
  and on the GPU (`Recognizer.from_pretrained(device=...)`); every held-out test clip of `--data` through
  `Recognizer.recognize_sequence` (the path of predict) on both: the largest difference of a window
  probability, clips named alike, abstentions alike;
- throughput: `inference.window_probabilities_and_similarities` (predict's one model call) at batch 1, 256
  and 4096 on real windows, windows per second of wall time, on the GPU and on the CPU (all its cores);
- enrollment: `enroll.enroll_clips` of `--enrol-label`'s first 3 clips of `--enrol-data` on a GPU model and
  on a CPU model: the threshold each sets, the largest prototype difference, the time;
- training: `gym-gesture train --recipe FILE --split-from CHECKPOINT` run as a user types it (the Trainer
  takes the GPU when it sees one), concurrently for every `--train NAME=RECIPE`, then `evaluate --split
  test` of what it trained beside the CPU-trained checkpoint's own `training.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import threading
import time
from pathlib import Path

if __package__ in (None, ""):  # run as `python benchmarks/gpu.py`: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402 (after the path is set)

from gym_gesture.core.paths import CHECKPOINTS_DIR  # noqa: E402

BATCH_SIZES = (1, 256, 4096)
# The committed test evaluations of the shipped checkpoints, trained on a CPU.
CPU_TEST_EVALUATIONS = {"gym7-transformer": CHECKPOINTS_DIR / "gym7-transformer" / "evaluation.json",
                        "gym22-transformer": Path(__file__).resolve().parents[1] / "results" / "gym22" / "test.json"}
ENROLL_SHOTS = 3


def environment(device: str) -> dict:
    import torch
    import transformers

    return {"device": device, "python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__,
            "cpu_threads": torch.get_num_threads(), "machine": platform.platform(),
            "gpu": torch.cuda.get_device_name(device) if device.startswith("cuda") else None}


def _test_rows(checkpoint: str, data: list[str]):
    from gym_gesture.training.evaluate import split_pose_datasets
    from gym_gesture.inference.recognizer import load_model

    known = set(load_model(checkpoint).config.label2id)
    return split_pose_datasets(checkpoint, data, split="test", known_labels=known)


def agreement(checkpoint: str, data: list[str], device: str) -> dict:
    """The checkpoint's held-out test clips through predict's path on the CPU and on `device`."""
    from gym_gesture.training.evaluate import recognize_clips
    from gym_gesture.inference.recognizer import Recognizer

    datasets = _test_rows(checkpoint, data)
    on_cpu = Recognizer.from_pretrained(checkpoint, backend=None)
    on_device = Recognizer.from_pretrained(checkpoint, backend=None, device=device)
    clips = named_alike = verdict_alike = 0
    largest = 0.0
    for (_, cpu), (_, gpu) in zip(recognize_clips(on_cpu, datasets, f"{checkpoint} on cpu"),
                                  recognize_clips(on_device, datasets, f"{checkpoint} on {device}")):
        clips += 1
        if len(cpu.probabilities):
            largest = max(largest, float(np.abs(cpu.probabilities - gpu.probabilities).max()))
        named_alike += cpu.clip_scores.argmax() == gpu.clip_scores.argmax()
        verdict_alike += (cpu.abstain is None) == (gpu.abstain is None) and cpu.exercise == gpu.exercise
    return {"checkpoint": checkpoint, "device": str(next(on_device.model.parameters()).device), "clips": clips,
            "named_alike": int(named_alike), "verdict_alike": int(verdict_alike),
            "largest_probability_difference": largest}


def _windows(checkpoint: str, data: list[str]):
    from gym_gesture.data.windows import windows_from_datasets
    from gym_gesture.inference.recognizer import load_model

    return windows_from_datasets(_test_rows(checkpoint, data), load_model(checkpoint).config)[0]


def throughput(checkpoint: str, data: list[str], device: str) -> dict:
    """Windows per second of wall time through predict's model call (`compare.throughput`) on the CPU and on
    `device`: the probabilities come back to the CPU, so every call waits for the device."""
    from gym_gesture.training.compare import throughput as windows_per_second
    from gym_gesture.inference.recognizer import load_model

    windows = _windows(checkpoint, data)
    model = load_model(checkpoint)
    rows = {}
    for where in ("cpu", device):
        model = model.to(where)
        rows[where] = {str(batch): round(windows_per_second(model, windows.keypoints, windows.attention_mask, batch,
                                                            clock=time.perf_counter))
                       for batch in BATCH_SIZES}
    return {"checkpoint": Path(checkpoint).name, "fusion": model.config.fusion, "windows": len(windows), "windows_per_s": rows}


def enrollment(checkpoint: str, archive: str, label: str, device: str) -> dict:
    from gym_gesture.training.enroll import clips_from_archive, enroll_clips
    from gym_gesture.inference.recognizer import load_model

    clips = clips_from_archive(archive, label)[:ENROLL_SHOTS]
    records, models = {}, {}
    for where in ("cpu", device):
        enrolled, record = enroll_clips(load_model(checkpoint).to(where), label, clips)
        records[where], models[where] = record, enrolled
    prototypes = [models[where].prototype_head.prototypes.detach().cpu().numpy() for where in ("cpu", device)]
    return {"checkpoint": checkpoint, "label": label, "clips": len(clips),
            "enrolled_model_device": str(next(models[device].parameters()).device),
            "threshold": {where: records[where]["threshold"] for where in records},
            "seconds": {where: records[where]["seconds"] for where in records},
            "largest_prototype_difference": float(np.abs(prototypes[0] - prototypes[1]).max())}


def train_all(jobs: dict[str, tuple[str, str]], data: dict[str, list[str]], out: Path, timeout: float) -> dict:
    """`gym-gesture train` then `gym-gesture evaluate --split test` of every job (name -> the shipped
    checkpoint whose split and data it takes, its recipe), all at once, the GPU shared. Beside each, the
    figures of that checkpoint when it is the same recipe trained on the CPU (its training.json and its
    committed test evaluation)."""
    running = {}
    for name, (checkpoint, recipe) in jobs.items():
        run_dir = out / f"train-{name}"
        gym_gesture = [sys.executable, "-m", "gym_gesture"]
        train = [*gym_gesture, "train", "--data", *data[checkpoint], "--recipe", recipe,
                 "--split-from", str(CHECKPOINTS_DIR / checkpoint), "--output-dir", str(run_dir)]
        test = [*gym_gesture, "evaluate", "--model", str(run_dir), "--data", *data[checkpoint], "--split", "test",
                "--ignore-unknown", "--json", str(run_dir / "test.json")]
        command = f"{shlex.join(train)} && {shlex.join(test)}"
        log = open(out / f"train-{name}.log", "w")
        running[name] = (subprocess.Popen(command, shell=True, stdout=log, stderr=subprocess.STDOUT),
                         time.perf_counter(), run_dir)
    results = {}
    for name, (process, started, run_dir) in running.items():
        try:
            code = process.wait(timeout=max(1.0, timeout - (time.perf_counter() - started)))
        except subprocess.TimeoutExpired:
            process.kill()
            code = "stopped at the time limit"
        row = {"exit": code, "wall_seconds": round(time.perf_counter() - started, 1)}
        if code == 0:
            trained = json.loads((run_dir / "training.json").read_text())
            row.update({key: trained.get(key) for key in ("training_seconds", "epochs_run", "num_train_windows")})
            row["gpu_trained"] = _test_figures(run_dir / "test.json")
        checkpoint = jobs[name][0]
        if name == checkpoint:
            cpu_run = json.loads((CHECKPOINTS_DIR / name / "training.json").read_text())
            row["cpu_checkpoint"] = {key: cpu_run.get(key) for key in ("training_seconds", "epochs_run")}
            row["cpu_checkpoint_test"] = _test_figures(CPU_TEST_EVALUATIONS[name])
        results[name] = row
    return results


def _test_figures(path: Path) -> dict:
    figures = json.loads(path.read_text())
    return {key: round(figures[key], 4) for key in ("window_accuracy", "clip_accuracy", "clip_macro_f1", "num_clips")}


def table(results: dict) -> str:
    device = results["environment"]["device"]
    lines = ["| figure | CPU | GPU |", "|---|---:|---:|"]
    for row in results["agreement"]:
        lines.append(f"| {row['checkpoint']}: test clips named alike / verdicts alike, largest window-probability "
                     f"difference | {row['clips']} clips | {row['named_alike']} / {row['verdict_alike']}, "
                     f"{row['largest_probability_difference']:.1e} |")
    for row in results["throughput"]:
        cpu, gpu = row["windows_per_s"]["cpu"], row["windows_per_s"][device]
        for batch in map(str, BATCH_SIZES):
            lines.append(f"| {row['checkpoint']} ({row['fusion']}), windows/s at batch {batch} | {cpu[batch]:,} | {gpu[batch]:,} |")
    enroll = results["enrolment"]
    cpu_threshold, gpu_threshold = enroll["threshold"]["cpu"], enroll["threshold"][device]
    cpu_seconds, gpu_seconds = enroll["seconds"]["cpu"], enroll["seconds"][device]
    lines.append(f"| enrol {enroll['label']!r} from {enroll['clips']} clips: threshold, seconds | {cpu_threshold}, "
                 f"{cpu_seconds} | {gpu_threshold}, {gpu_seconds} (prototypes differ by "
                 f"{enroll['largest_prototype_difference']:.1e}) |")
    for name, row in results["training"].items():
        cpu = row.get("cpu_checkpoint")
        cpu_cell = f"{cpu['training_seconds']:.0f} s, {cpu['epochs_run']:.0f} epochs" if cpu else ""
        gpu = (f"{row['training_seconds']:.0f} s, {row['epochs_run']:.0f} epochs" if row["exit"] == 0
               else f"{row['exit']} after {row['wall_seconds']} s")
        lines.append(f"| train {name} | {cpu_cell} | {gpu} |")
        tests = [row.get("cpu_checkpoint_test"), row.get("gpu_trained")]
        if any(tests):
            cells = [f"{t['window_accuracy']:.3f} / {t['clip_accuracy']:.3f}, {t['clip_macro_f1']:.3f}" if t else ""
                     for t in tests]
            lines.append(f"| {name}: test window / clip accuracy, clip macro F1 | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", nargs="+", required=True, help="keypoint data of the shipped checkpoints' test split")
    parser.add_argument("--checkpoints", nargs="+", default=["gym7-transformer", "gym22-transformer"])
    parser.add_argument("--enrol-data", dest="enroll_data", required=True, help="an archive holding --enrol-label's clips")
    parser.add_argument("--enrol-label", dest="enroll_label", default="front raise")
    parser.add_argument("--train", nargs="*", default=[], metavar="CHECKPOINT:RECIPE",
                        help="train RECIPE on the GPU on the shipped CHECKPOINT's split and data")
    parser.add_argument("--train-data", nargs="*", default=[], metavar="CHECKPOINT=PATH,PATH",
                        help="a checkpoint's training data (default: --data)")
    parser.add_argument("--train-timeout", type=float, default=420.0, help="seconds for all the training runs")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("no CUDA device: this benchmark needs one", file=sys.stderr)
        return 2
    torch.set_num_threads(os.cpu_count() or 1)
    args.out.mkdir(parents=True, exist_ok=True)
    jobs = {Path(recipe).stem: (checkpoint, recipe) for checkpoint, recipe in (spec.split(":", 1) for spec in args.train)}
    data = {checkpoint: list(args.data) for checkpoint, _ in jobs.values()}
    data.update({checkpoint: paths.split(",") for checkpoint, paths in (spec.split("=", 1) for spec in args.train_data)})
    results = {"environment": environment(args.device)}
    # Throughput first, alone on the device; the training runs then share it with the checks below.
    results["throughput"] = [throughput(name, args.data, args.device) for name in args.checkpoints]
    training = {}
    thread = threading.Thread(target=lambda: training.update(train_all(jobs, data, args.out, args.train_timeout)))
    thread.start()
    results["agreement"] = [agreement(name, args.data, args.device) for name in args.checkpoints]
    results["enrolment"] = enrollment(args.checkpoints[0], args.enroll_data, args.enroll_label, args.device)
    (args.out / "gpu.json").write_text(json.dumps(results, indent=1) + "\n")
    thread.join()
    results["training"] = training
    # What was trained (the ST-GCN++ of a recipe, say) is measured as the shipped checkpoints were.
    results["throughput"] += [throughput(str(args.out / f"train-{name}"), args.data, args.device)
                              for name, row in training.items() if row["exit"] == 0]
    (args.out / "gpu.json").write_text(json.dumps(results, indent=1) + "\n")
    report = table(results)
    command = shlex.join(["python", "-m", "benchmarks.gpu", *(argv if argv is not None else sys.argv[1:])])
    (args.out / "gpu.md").write_text(f"Generated by `{command}`.\n\nEnvironment: {json.dumps(results['environment'])}\n\n"
                                     f"{report}\n")
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
