"""The package on a CUDA GPU: predict's path and enrollment there agree with the CPU. Skipped on machines
without one (CI's); `python -m benchmarks.gpu` measures the same and more where a GPU is lent
(results/gpu/)."""

import numpy as np
import pytest
import torch

from gym_gesture.training.enroll import clips_from_archive, enroll_clips
from gym_gesture.training.evaluate import recognize_clips, split_pose_datasets
from gym_gesture.inference.recognizer import Recognizer, load_model

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


def test_recognizer_on_the_gpu_names_real_clips_as_on_the_cpu(shared_data, model_dir):
    datasets = split_pose_datasets(str(model_dir), [shared_data / "keypoints" / "gym5_mediapipe33.npz"], split="test")
    on_cpu = Recognizer.from_pretrained(model_dir, backend=None)
    on_gpu = Recognizer.from_pretrained(model_dir, backend=None, device="cuda")
    assert next(on_gpu.model.parameters()).is_cuda
    pairs = list(zip(recognize_clips(on_cpu, datasets), recognize_clips(on_gpu, datasets)))
    assert len(pairs) == 28
    for (row, cpu), (_, gpu) in pairs:
        np.testing.assert_allclose(gpu.probabilities, cpu.probabilities, atol=1e-4, err_msg=str(row["clip_id"]))
        assert (gpu.exercise, gpu.abstain) == (cpu.exercise, cpu.abstain)


def test_enrolling_on_the_gpu_keeps_the_model_there_and_sets_the_cpu_threshold(shared_data, model_dir):
    clips = clips_from_archive(shared_data / "keypoints" / "posetrainer_openpose18.npz", "front raise")[:3]
    on_cpu, cpu_record = enroll_clips(load_model(model_dir), "front raise", clips)
    on_gpu, gpu_record = enroll_clips(load_model(model_dir).to("cuda"), "front raise", clips)
    assert next(on_gpu.parameters()).is_cuda
    assert gpu_record["threshold"] == pytest.approx(cpu_record["threshold"], abs=1e-4)
    np.testing.assert_allclose(on_gpu.prototype_head.prototypes.cpu().numpy(),
                               on_cpu.prototype_head.prototypes.numpy(), atol=1e-5)
