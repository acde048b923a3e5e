"""The serving commands: app (the Gradio app on this machine) and push (a model and its Space to the Hub).
Their options are declared by the modules that do the work."""

from __future__ import annotations


def add_app(subparsers) -> None:
    from ..app import main as app

    parser = subparsers.add_parser(
        "app", help="serve the web app (Gradio) on this machine",
        description="Serve the Gradio app (also `python app.py`): upload or record a clip, see the exercise, "
                    "the skeleton overlay and the per-window timeline.")
    app.add_arguments(parser)
    parser.set_defaults(run=app.run)


def add_push(subparsers) -> None:
    from ..hub import publish as hub

    parser = subparsers.add_parser(
        "push", help="publish a model (and its Gradio Space) to the Hugging Face Hub",
        description="Publish a gym-gesture model, and optionally its Gradio Space, to the Hugging Face Hub "
                    "(also `python hub_upload.py`); --dry-run only writes the folders that would be pushed.")
    hub.add_arguments(parser)
    parser.set_defaults(run=hub.run)
