"""The Gradio app: the upload tab (main), the live tab and the teach tab, and the models they share (pool)."""
