"""The README's test command is the one CI runs."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    [test_command] = [line for line in (ROOT / ".ci" / "run").read_text().splitlines()
                      if line.startswith("python3 -m venv .venv")]
    assert f"\n{test_command}\n" in readme


def test_the_readme_names_the_exercises_the_shipped_model_knows():
    import json

    config = json.loads((ROOT / "gym_gesture" / "checkpoints" / "gym7-transformer" / "config.json").read_text())
    labels = [config["id2label"][str(index)] for index in range(len(config["id2label"]))]
    readme = (ROOT / "README.md").read_text()
    assert f"knows {len(labels)} exercises: **{', '.join(labels)}**" in readme
