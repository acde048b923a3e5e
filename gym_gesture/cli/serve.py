"""The serving commands: app (the Gradio app on this machine) and push (a model and its Space to the Hub).
The modules that do the work declare their options (`add_arguments`) and run them (`run`)."""

from __future__ import annotations


def add_app_arguments(parser) -> None:
    from ..app.main import add_arguments

    add_arguments(parser)


def run_app(args) -> int:
    """serve the web app (Gradio) on this machine

    Serve the Gradio app (also `python app.py`): upload or record a clip, see the exercise, the skeleton overlay
    and the per-window timeline."""
    from ..app.main import run

    return run(args)


def add_push_arguments(parser) -> None:
    from ..hub.publish import add_arguments

    add_arguments(parser)


def run_push(args) -> int:
    """publish a model (and its Gradio Space) to the Hugging Face Hub

    Publish a gym-gesture model, and optionally its Gradio Space, to the Hugging Face Hub (also
    `python hub_upload.py`); --dry-run only writes the folders that would be pushed."""
    from ..hub.publish import run

    return run(args)
