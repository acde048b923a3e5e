"""The Gradio app: the upload tab (main), the live tab and the teach tab."""
