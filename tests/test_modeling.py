"""The classifier over every registered fusion, the way timm tests every registered model."""

from __future__ import annotations

import math

import pytest
import torch

from gym_gesture import GymGestureConfig
from gym_gesture import GymGestureForSequenceClassification
from gym_gesture import GymGestureProcessor
from gym_gesture.model.configuration_gym_gesture import FUSIONS
from gym_gesture.inference.recognizer import SHIPPED_MODELS
from gym_gesture.model.modeling_gym_gesture import FUSION_MODULES, sinusoidal_table

LABELS = {0: "squat", 1: "push up", 2: "plank"}


def make_model(fusion: str, **overrides) -> GymGestureForSequenceClassification:
    torch.manual_seed(0)
    config = GymGestureConfig(fusion=fusion, id2label=LABELS, d_model=32, ffn_dim=64, num_frames=24, **overrides)
    return GymGestureForSequenceClassification(config).eval()


def test_every_config_fusion_has_a_module_and_a_command_line_name():
    from gym_gesture.cli.training import FUSION_NAMES

    assert set(FUSIONS) == set(FUSION_MODULES)
    assert FUSION_NAMES == FUSIONS


@pytest.mark.parametrize("fusion", FUSIONS)
def test_save_and_reload_gives_identical_logits(fusion, tmp_path):
    model = make_model(fusion)
    keypoints = torch.randn(4, 24, 17, 3)
    with torch.no_grad():
        before = model(keypoints).logits
    model.save_pretrained(tmp_path)
    GymGestureProcessor.from_model_config(model.config).save_pretrained(tmp_path)  # as every model folder's writer
    reloaded = GymGestureForSequenceClassification.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        after = reloaded(keypoints).logits
    torch.testing.assert_close(after, before, rtol=0, atol=0)
    assert reloaded.config.id2label == LABELS
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "config.json", "configuration_gym_gesture.py", "model.safetensors", "modeling_gym_gesture.py",
        "pose_descriptor.py", "preprocessor_config.json", "processing_gym_gesture.py", "skeleton.py", "transforms.py",
    ]


def test_the_models_save_pretrained_writes_the_model_and_its_code_only(tmp_path):
    """The processor is saved by whoever writes a model folder (training, enrollment, publishing), as in
    transformers: the model's own save writes no preprocessor_config.json, and the code it copies is what
    the model imports."""
    make_model("transformer").save_pretrained(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "config.json", "configuration_gym_gesture.py", "model.safetensors", "modeling_gym_gesture.py",
        "pose_descriptor.py", "skeleton.py",
    ]


def test_positional_table_is_refilled_after_meta_device_loading(tmp_path):
    make_model("transformer").save_pretrained(tmp_path)
    reloaded = GymGestureForSequenceClassification.from_pretrained(tmp_path)
    table = reloaded.model.fusion.positional_encoding.table
    torch.testing.assert_close(table, sinusoidal_table(24, 32))
    assert table[1, 0].item() == pytest.approx(math.sin(1.0))


@pytest.mark.parametrize("fusion", FUSIONS)
def test_padded_batch_matches_each_sequence_alone(fusion):
    model = make_model(fusion, num_layers=2)
    keypoints = torch.randn(3, 24, 17, 3)
    lengths = [24, 17, 5]
    mask = torch.arange(24)[None] < torch.tensor(lengths)[:, None]
    padded = keypoints.masked_fill(~mask[..., None, None], float("nan"))  # padding may hold anything masked
    with torch.no_grad():
        batched = model(padded, attention_mask=mask.long()).logits
        alone = torch.cat([model(keypoints[i : i + 1, :n]).logits for i, n in enumerate(lengths)])
    torch.testing.assert_close(batched, alone, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("fusion", FUSIONS)
def test_flat_and_joint_shaped_inputs_agree(fusion):
    model = make_model(fusion)
    keypoints = torch.randn(2, 24, 17, 3)
    with torch.no_grad():
        torch.testing.assert_close(model(keypoints).logits, model(keypoints.flatten(2)).logits)


@pytest.mark.parametrize("fusion", FUSIONS)
def test_every_fusion_learns_a_small_synthetic_problem(fusion):
    """Three classes that differ by the frequency of a joint's oscillation: order matters, not just poses."""
    torch.manual_seed(0)
    model = make_model(fusion, dropout=0.0).train()
    frames = torch.arange(24, dtype=torch.float32)
    labels = torch.arange(48) % 3
    phase = torch.rand(48, 1) * 6.28
    signal = torch.sin(frames[None] * (0.2 + 0.3 * labels[:, None]) + phase)
    keypoints = 0.1 * torch.randn(48, 24, 17, 3)
    keypoints[:, :, 13, 1] += signal  # left wrist moves up and down
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    losses = []
    for _ in range(80):
        loss = model(keypoints, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], f"{fusion}: loss {losses[0]:.3f} -> {losses[-1]:.3f}"


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"fusion": "gru"}, "fusion"),
        ({"d_model": 30, "num_heads": 4}, "d_model"),
        ({"num_frames": 0}, "num_frames"),
        ({"pooling": "attention"}, "pooling"),
        ({"normalization": "zscore"}, "normalization"),
        ({"dropout": 1.5}, "dropout"),
    ],
)
def test_bad_config_raises_value_error_naming_the_field(overrides, field):
    with pytest.raises(ValueError, match=field):
        GymGestureConfig(**overrides)


@pytest.mark.parametrize(
    "keypoints, mask, message",
    [
        (torch.randn(2, 24, 33, 3), None, r"\(batch, frames, 17, 3\)"),  # MediaPipe-33 fed to an H36M model
        (torch.randn(24, 17, 3), None, r"\(batch, frames, 17, 3\)"),  # missing batch axis
        (torch.randn(2, 0, 17, 3), None, "empty"),
        (torch.randn(2, 24, 17, 3), torch.zeros(2, 24), "no valid frame"),
        (torch.randn(2, 24, 17, 3), torch.ones(2, 20), "attention_mask"),
        (torch.full((2, 24, 17, 3), float("nan")), None, "NaN"),
        (torch.randn(2, 30, 17, 3), None, "longer than num_frames"),
    ],
)
def test_bad_input_is_a_clear_error(keypoints, mask, message):
    with pytest.raises(ValueError, match=message):
        make_model("transformer")(keypoints, attention_mask=mask)


@pytest.mark.parametrize("fusion", ["rnn", "lstm", "bilstm"])
def test_recurrent_fusions_reject_holes_in_the_mask(fusion):
    mask = torch.ones(1, 24)
    mask[0, 5] = 0
    with pytest.raises(ValueError, match="valid frames first"):
        make_model(fusion)(torch.randn(1, 24, 17, 3), attention_mask=mask)


def test_nan_in_masked_frames_is_ignored():
    model = make_model("transformer")
    keypoints = torch.randn(1, 24, 17, 3)
    mask = torch.ones(1, 24)
    mask[0, 10:14] = 0
    with_nan = keypoints.clone()
    with_nan[0, 10:14] = float("nan")
    with torch.no_grad():
        torch.testing.assert_close(model(with_nan, mask).logits, model(keypoints, mask).logits)


def test_common_config_names_map_onto_the_models_own():
    config = GymGestureConfig(hidden_size=48, num_attention_heads=3, num_hidden_layers=2, intermediate_size=80)
    assert (config.d_model, config.num_heads, config.num_layers, config.ffn_dim) == (48, 3, 2, 80)
    assert (config.hidden_size, config.num_attention_heads, config.num_hidden_layers, config.intermediate_size) == \
        (48, 3, 2, 80)
    assert "hidden_size" not in config.to_dict()  # saved under the model's own names only


def test_base_model_is_the_trunk_of_the_classifier():
    model = make_model("transformer")
    assert model.base_model_prefix == "model" and model.base_model is model.model
    keypoints = torch.randn(2, 24, 17, 3)
    with torch.no_grad():
        trunk = model.model(keypoints)
        torch.testing.assert_close(model(keypoints).logits, model.classifier(trunk.pooler_output))
    assert trunk.last_hidden_state.shape == (2, 24, 32) and trunk.pooler_output.shape == (2, 32)


@pytest.mark.parametrize("fusion", FUSIONS)
def test_hidden_states_attentions_and_tuples(fusion):
    model = make_model(fusion, num_layers=2)
    keypoints = torch.randn(2, 24, 17, 3)
    with torch.no_grad():
        output = model(keypoints, output_hidden_states=True)
        as_tuple = model(keypoints, return_dict=False)
    recurrent = fusion in ("rnn", "lstm", "bilstm")
    assert len(output.hidden_states) == (2 if recurrent else 3)  # the input to the fusion, then each layer's output
    widths = [state.shape[2] for state in output.hidden_states]
    assert all(state.shape[:2] == (2, 24) for state in output.hidden_states) and widths[-1] == 32
    if fusion == "stgcn":  # the joints' channels, then blocks widening to d_model as pyskl's do
        assert widths == [3, 16, 32]
    else:
        assert set(widths) == {32}
    assert output.attentions is None and isinstance(as_tuple, tuple)
    torch.testing.assert_close(as_tuple[0], output.logits)
    if fusion == "transformer":
        with torch.no_grad():
            attentions = model(keypoints, attention_mask=torch.tensor([[1] * 24, [1] * 10 + [0] * 14]),
                               output_attentions=True).attentions
        assert len(attentions) == 2 and attentions[0].shape == (2, 4, 24, 24)
        torch.testing.assert_close(attentions[0].sum(-1), torch.ones(2, 4, 24))
        assert attentions[0][1, :, :, 10:].abs().max() == 0  # padding is never attended to
    else:
        with pytest.raises(ValueError, match="no attention weights"):
            model(keypoints, output_attentions=True)


def test_unknown_keyword_arguments_are_errors():
    model = make_model("transformer")
    with pytest.raises(TypeError, match="attention_masks"):
        model(torch.randn(1, 24, 17, 3), attention_masks=torch.ones(1, 24))


@pytest.mark.parametrize(("problem_type", "labels", "expected"), [
    ("single_label_classification", torch.tensor([0, 2]), torch.nn.functional.cross_entropy),
    ("multi_label_classification", torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]),
     torch.nn.functional.binary_cross_entropy_with_logits),
])
def test_loss_follows_problem_type(problem_type, labels, expected):
    model = make_model("transformer", problem_type=problem_type)
    keypoints = torch.randn(2, 24, 17, 3)
    with torch.no_grad():
        output = model(keypoints, labels=labels)
    torch.testing.assert_close(output.loss, expected(output.logits, labels))


def test_loss_is_transformers_loss_of_sequence_classifiers():
    from transformers.loss.loss_utils import LOSS_MAPPING

    assert make_model("transformer").loss_function is LOSS_MAPPING["ForSequenceClassification"]


def test_problem_type_is_inferred_from_integer_labels():
    model = make_model("transformer")
    model(torch.randn(2, 24, 17, 3), labels=torch.tensor([0, 1]))
    assert model.config.problem_type == "single_label_classification"


def test_stgcn_at_pyskl_size_has_pyskl_parameter_count():
    """d_model 256 and 10 blocks over COCO-17 with x, y, score for NTU-60 is pyskl's ST-GCN++ joint model,
    whose published size is 1.39M parameters."""
    config = GymGestureConfig(fusion="stgcn", d_model=256, num_layers=10, layout="coco17", num_channels=3,
                              id2label={i: str(i) for i in range(60)})
    model = GymGestureForSequenceClassification(config)
    assert round(sum(p.numel() for p in model.parameters()) / 1e6, 2) == 1.39
    widths = [block.spatial.norm.num_features for block in model.model.fusion.blocks]
    assert widths == [64] * 4 + [128] * 3 + [256] * 3
    assert model.model.input_projection is None  # it reads the joints, not flattened frames


def test_stgcn_adjacency_starts_from_the_layouts_skeleton_and_is_learned():
    from gym_gesture.model.skeleton import graph_partitions

    model = make_model("stgcn").train()
    adjacency = model.model.fusion.blocks[0].spatial.adjacency
    torch.testing.assert_close(adjacency.detach(), torch.from_numpy(graph_partitions("h36m17")))
    model(torch.randn(2, 24, 17, 3), labels=torch.tensor([0, 1])).loss.backward()
    assert adjacency.requires_grad and adjacency.grad.abs().sum() > 0


@pytest.mark.parametrize("name", SHIPPED_MODELS)
def test_shipped_checkpoint_gives_the_logits_it_shipped_with(name):
    """Speed-ups of the trunk and the transformer fusion, and the weights' renaming (`gym_gesture.*` to
    `model.*`), change no output: each shipped checkpoint's logits on fixed windows (with padding, a hole and
    5 valid frames of 30) as recorded before them."""
    import json
    from pathlib import Path

    import numpy as np

    from gym_gesture.inference.recognizer import load_model

    model = load_model(name)
    keypoints = np.random.default_rng(0).normal(0, 1, (6, 30, 17, model.config.num_channels)).astype(np.float32)
    mask = np.ones((6, 30), np.int64)
    mask[1, 20:] = mask[2, 5:] = mask[3, 10:14] = 0
    with torch.no_grad():
        logits = model(torch.from_numpy(keypoints), attention_mask=torch.from_numpy(mask)).logits
    expected = json.loads((Path(__file__).parent / "fixtures" / f"{name.replace('-', '_')}_logits.json").read_text())
    torch.testing.assert_close(logits, torch.tensor(expected), rtol=0, atol=1e-5)


def test_a_folder_with_the_trunk_saved_as_gym_gesture_loads_and_is_saved_again_as_model(tmp_path):
    """Folders saved before the classifier held its trunk as `model` name the trunk's weights `gym_gesture.*`:
    they load as they are (transformers' checkpoint conversion mapping), into the classifier and into the
    trunk alone, with the same outputs, and are saved again under the current names, as the shipped
    checkpoints are."""
    import re
    import shutil

    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    from gym_gesture import GymGestureModel
    from gym_gesture.core.paths import CHECKPOINTS_DIR

    model = make_model("transformer")
    model.save_pretrained(tmp_path / "current")
    weights = load_file(tmp_path / "current" / "model.safetensors")
    assert all(key.startswith(("model.", "classifier.")) for key in weights)
    shutil.copytree(tmp_path / "current", tmp_path / "older")
    save_file({re.sub(r"^model\.", "gym_gesture.", key): value for key, value in weights.items()},
              tmp_path / "older" / "model.safetensors", metadata={"format": "pt"})

    older = GymGestureForSequenceClassification.from_pretrained(tmp_path / "older").eval()
    trunk = GymGestureModel.from_pretrained(tmp_path / "older").eval()
    keypoints = torch.randn(2, 24, 17, 3)
    with torch.no_grad():
        torch.testing.assert_close(older(keypoints).logits, model(keypoints).logits, rtol=0, atol=0)
        torch.testing.assert_close(trunk(keypoints).pooler_output, model.model(keypoints).pooler_output, rtol=0, atol=0)
    older.save_pretrained(tmp_path / "resaved")
    assert load_file(tmp_path / "resaved" / "model.safetensors").keys() == weights.keys()
    for name in SHIPPED_MODELS:
        with safe_open(CHECKPOINTS_DIR / name / "model.safetensors", "pt") as shipped:
            assert not [key for key in shipped.keys() if key.startswith("gym_gesture.")], name


def test_pose_descriptor_reads_joint_angles_and_spreads_and_is_the_same_for_a_mirror_image():
    """The enrollment embedding (`pose_descriptor`): a straight arm reads an elbow cosine of -1, arms out to
    the sides a wrist spread of their reach; a clip mirrored left to right (filmed from the other side)
    gives the same descriptor; masked frames count not; "pose" (older enrolled folders) is "pose-spread"
    without the spreads."""
    from gym_gesture.model.pose_descriptor import (POSE_DESCRIPTOR_DIM, POSE_DESCRIPTOR_FRAME_FEATURES, pose_descriptor,
                                                   pose_descriptor_frames)
    from gym_gesture.model.skeleton import get_layout

    layout = get_layout("h36m17")
    keypoints = torch.randn(3, 30, 17, 2)
    for side, x in (("left", 1.0), ("right", -1.0)):  # arms straight out to the sides in frame 0
        for joint, reach in (("shoulder", 1), ("elbow", 2), ("wrist", 3)):
            keypoints[0, 0, layout.index[f"{side}_{joint}"]] = torch.tensor([x * reach, -1.0])
    frames = pose_descriptor_frames(keypoints, "h36m17")
    assert frames[0, 0, 0].item() == pytest.approx(-1.0) and frames[0, 0, 6].item() == pytest.approx(-1.0)
    assert frames[0, 0, POSE_DESCRIPTOR_FRAME_FEATURES].item() == pytest.approx(6.0)  # wrists 3 + 3 apart

    mirrored = keypoints[:, :, torch.from_numpy(layout.mirror_permutation)] * torch.tensor([-1.0, 1.0])
    mask = torch.ones(3, 30, dtype=torch.bool)
    raw = pose_descriptor(keypoints, mask, "h36m17", standardize=False)
    assert raw.shape == (3, POSE_DESCRIPTOR_DIM["pose-spread"])
    torch.testing.assert_close(pose_descriptor(mirrored, mask, "h36m17", standardize=False), raw)
    older = pose_descriptor(keypoints, mask, "h36m17", standardize=False, embedding="pose")
    torch.testing.assert_close(older, raw[:, :POSE_DESCRIPTOR_DIM["pose"]])

    mask[:, 20:] = False
    padded = pose_descriptor(torch.cat([keypoints[:, :20], torch.randn(3, 10, 17, 2)], dim=1), mask, "h36m17")
    torch.testing.assert_close(padded, pose_descriptor(keypoints[:, :20], mask[:, :20], "h36m17"))
    torch.testing.assert_close(padded.norm(dim=-1), torch.ones(3))
