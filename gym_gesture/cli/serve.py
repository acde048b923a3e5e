"""The serving commands: app (the Gradio app on this machine) and push (a model and its Space to the Hub).
The modules that do the work declare their options (`add_arguments`) and run them (`run`)."""

from __future__ import annotations


def add_app(subparsers) -> None:
    from ..app import main as app

    _add_module_command(
        subparsers, "app", app, help="serve the web app (Gradio) on this machine",
        description="Serve the Gradio app (also `python app.py`): upload or record a clip, see the exercise, "
                    "the skeleton overlay and the per-window timeline.")


def add_push(subparsers) -> None:
    from ..hub import publish as hub

    _add_module_command(
        subparsers, "push", hub, help="publish a model (and its Gradio Space) to the Hugging Face Hub",
        description="Publish a gym-gesture model, and optionally its Gradio Space, to the Hugging Face Hub "
                    "(also `python hub_upload.py`); --dry-run only writes the folders that would be pushed.")


def _add_module_command(subparsers, name: str, module, **texts) -> None:
    parser = subparsers.add_parser(name, **texts)
    module.add_arguments(parser)
    parser.set_defaults(run=module.run)
