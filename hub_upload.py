"""Publish a gym-gesture model and its Gradio Space to the Hugging Face Hub (--dry-run only builds the folders).

Same as `gym-gesture push`: see `python hub_upload.py --help`; the work is done by gym_gesture/hub.py.
"""

import sys

from gym_gesture.cli import main

if __name__ == "__main__":
    sys.exit(main(["push", *sys.argv[1:]]))
