"""The gym-gesture web app (Gradio); also the Hugging Face Space entry point. Same as `gym-gesture app`:
python app.py --help."""

import sys

from gym_gesture.cli import main

if __name__ == "__main__":
    sys.exit(main(["app", *sys.argv[1:]]))
