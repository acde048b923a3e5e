"""Pose backends behind one interface, chosen by name."""

from .base import POSE_BACKENDS, PoseBackend, PoseFrame, create_backend, register_backend

__all__ = ["POSE_BACKENDS", "PoseBackend", "PoseFrame", "create_backend", "register_backend"]
