"""Pose backends behind one interface, chosen by name."""

from .base import POSE_BACKENDS, PoseBackend, PoseFrame, create_backend, register_backend

register_backend("mediapipe", "gym_gesture.pose.mediapipe_backend:MediaPipePose")

DEFAULT_BACKEND = "mediapipe"

__all__ = ["DEFAULT_BACKEND", "POSE_BACKENDS", "PoseBackend", "PoseFrame", "create_backend",
           "register_backend"]
