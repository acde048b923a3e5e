"""Pose backends behind one interface, chosen by name."""

from .base import POSE_BACKENDS, PoseBackend, PoseFrame, create_backend, register_backend

# Imported only when picked: the mmpose backend needs the optional MMPose extra.
register_backend("mmpose", "gym_gesture.pose.mmpose_backend:MMPoseBackend")

__all__ = ["POSE_BACKENDS", "PoseBackend", "PoseFrame", "create_backend", "register_backend"]
