"""Pose backends behind one interface, chosen by name."""

from .base import POSE_BACKENDS, PoseBackend, PoseFrame, create_backend, register_backend

register_backend("mediapipe", "gym_gesture.pose.mediapipe_backend:MediaPipePose")
# Everyone in view, the person exercising followed; with one person in view, the same as "mediapipe".
register_backend("mediapipe-people", "gym_gesture.pose.people:MediaPipePeople")
# Imported only when picked: the mmpose backend needs the optional MMPose extra.
register_backend("mmpose", "gym_gesture.pose.mmpose_backend:MMPoseBackend")

# The person exercising, followed among everyone in view; with one person in view, the same landmarks as
# "mediapipe" on most clips (docs/pose.md).
DEFAULT_BACKEND = "mediapipe-people"

__all__ = ["DEFAULT_BACKEND", "POSE_BACKENDS", "PoseBackend", "PoseFrame", "create_backend",
           "register_backend"]
