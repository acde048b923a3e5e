"""Publishing a model folder and its Space on the Hugging Face Hub."""
