"""The README does what it says: its test command is the one CI runs, its Python runs on a real clip, its
commands parse, its per-class table is the default model's evaluation, and its links lead somewhere."""

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The model the README presents as the default: its exercises and its per-class table.
README_MODEL = ROOT / "gym_gesture" / "checkpoints" / "gym22-transformer"
# The clip the README's Python runs on (a squat), from the checkout.
README_CLIP = "tests/fixtures/squat_clip.mp4"
DOCS_PAGES = sorted(str(path.relative_to(ROOT)) for path in (ROOT / "docs").glob("*.md"))


def readme() -> str:
    return (ROOT / "README.md").read_text()


def code_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", text, re.S | re.M)


def anchors(page: Path) -> set[str]:
    """The anchors GitHub gives the page's headings."""
    headings = re.findall(r"^#+ (.+)$", re.sub(r"^```.*?^```", "", page.read_text(), flags=re.S | re.M), re.M)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    [test_command] = [line for line in (ROOT / ".ci" / "run").read_text().splitlines()
                      if line.startswith("python3 -m venv .venv")]
    assert f"\n{test_command}\n" in readme


def test_the_readme_names_the_exercises_the_shipped_model_knows():
    config = json.loads((README_MODEL / "config.json").read_text())
    labels = [config["id2label"][str(index)] for index in range(len(config["id2label"]))]
    readme = (ROOT / "README.md").read_text()
    assert f"knows {len(labels)} exercises: **{', '.join(labels)}**" in readme


@pytest.mark.parametrize("block", code_blocks(readme(), "python"), ids=lambda block: block.splitlines()[0])
def test_the_readme_python_runs_on_a_real_clip(block):
    """Each block alone, in a fresh process from the checkout, as a reader pastes it."""
    assert README_CLIP in block
    environment = dict(os.environ, PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, "-c", block], cwd=ROOT, env=environment, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1].split()[0] == "squat"


def test_the_readme_commands_parse():
    """Every `gym-gesture` line of the README is a command with options that exist (parsed, not run)."""
    from gym_gesture.cli import build_parser

    parser = build_parser()
    commands = [line for block in code_blocks(readme(), "bash") for line in block.splitlines()
                if line.startswith("gym-gesture ")]
    assert len(commands) >= 5
    for line in commands:
        arguments = shlex.split(line, comments=True)[1:]
        try:
            parser.parse_args(arguments)
        except SystemExit as error:
            pytest.fail(f"{line!r} does not parse (exit status {error.code})")


def test_the_readme_per_class_table_is_the_default_models_evaluation():
    evaluation = json.loads((README_MODEL / "evaluation.json").read_text())
    rows = re.findall(r"^\| ([a-z ]+) \| (\d+) \| ([\d.]+) \| (\d+) \| ([\d.]+) \|$", readme(), re.M)
    table = {name: (int(clips), clip_f1, int(windows), window_f1)
             for name, clips, clip_f1, windows, window_f1 in rows}
    assert table == {name: (row["clip_support"], f"{row['clip_f1']:.3f}",
                            row["window_support"], f"{row['window_f1']:.3f}")
                     for name, row in evaluation["per_class"].items()}
    assert (f"({evaluation['num_clips']} clips, {evaluation['num_windows']:,} windows): window accuracy "
            f"{evaluation['window_accuracy']:.3f}, clip accuracy {evaluation['clip_accuracy']:.3f}, clip macro F1 "
            f"{evaluation['clip_macro_f1']:.3f}") in " ".join(readme().split())


@pytest.mark.parametrize("page", ["README.md", *DOCS_PAGES])
def test_the_links_lead_to_files_and_headings_of_the_checkout(page):
    path = ROOT / page
    broken = []
    for target, anchor in re.findall(r"\]\(([^)#\s]*)(?:#([^)\s]+))?\)", path.read_text()):
        linked = (path.parent / target) if target else path
        if "://" in target:
            continue
        if not linked.exists() or (anchor and linked.suffix == ".md" and anchor not in anchors(linked)):
            broken.append(f"{target}#{anchor}" if anchor else target)
    assert not broken
