"""`model_card.md` at the top of the checkout is the card the Hub folder of the default model carries, and the
card's own Python runs: from a video file to landmarks to a label, without the gym-gesture package."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys

import pytest

from gym_gesture.core.paths import DEFAULT_MODEL_DIR
from gym_gesture.hub.publish import build_model_folder

from conftest import FIXTURES, REPO_ROOT

# The repo id the top-level card is rendered for: the command that regenerates it (docs/hub.md) pushes the
# default model there.
CARD_REPO_ID = "USER/gym-gesture"
REGENERATE = (f"gym-gesture push --repo-id {CARD_REPO_ID} --dry-run build/hub"
              " && cp build/hub/model/README.md model_card.md")


def python_blocks(card: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", card, re.S | re.M)


@pytest.fixture(scope="module")
def hub_folder(tmp_path_factory):
    """The model folder `gym-gesture push` uploads for the default model."""
    return build_model_folder(DEFAULT_MODEL_DIR, tmp_path_factory.mktemp("hub") / "model", CARD_REPO_ID)


def test_the_top_level_card_is_the_one_the_hub_folder_carries(hub_folder):
    assert (REPO_ROOT / "model_card.md").read_text() == (hub_folder / "README.md").read_text(), \
        f"model_card.md is out of date; regenerate it: {REGENERATE}"
    assert REGENERATE in (REPO_ROOT / "docs" / "hub.md").read_text()


def test_every_name_the_card_imports_is_used():
    for block in python_blocks((REPO_ROOT / "model_card.md").read_text()):
        tree = ast.parse(block)
        imported = {alias.asname or alias.name.split(".")[0] for node in ast.walk(tree)
                    if isinstance(node, (ast.Import, ast.ImportFrom)) for alias in node.names}
        used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
        assert imported <= used, block


def test_the_cards_model_alone_runs_from_a_video_file_without_the_package(hub_folder, tmp_path):
    [block] = [block for block in python_blocks((hub_folder / "README.md").read_text()) if "gym_gesture" not in block]
    script = block.replace(f'"{CARD_REPO_ID}"', repr(str(hub_folder)))
    script = script.replace('"clip.mp4"', repr(str(FIXTURES / "squat_clip.mp4")))
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=environment, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "squat"
