"""The Gradio app: the upload tab (main), the live tab and the teach tab, the models they share (pool) and
the workout summary as they show it (workout)."""
