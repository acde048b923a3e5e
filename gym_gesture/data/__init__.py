"""Pose data on disk and the model's inputs: pose datasets, class labels, extraction of a video tree
(local or on Ray), windows and splits by source video."""
