"""The network: heads per task, ROI divisibility, memory format and autocast, default size."""

from __future__ import annotations

import itertools

import pytest
import torch

from atrialjsq.model.configs import get_config
from atrialjsq.model.unet import build_model, count_parameters, fp16_megabytes, level_channels

torch.set_num_threads(1)


def tiny_model(name="ajsq-sesa", **overrides):
    torch.manual_seed(0)
    return build_model(get_config(name, tiny=True, **overrides))


@pytest.mark.parametrize(
    ("name", "heads"),
    [("ajsq-sesa", {"la": 1, "scar": 2}), ("unet-la-se", {"la": 1}), ("unet-scar-bce", {"scar": 2})],
)
def test_output_heads_and_shapes(name, heads):
    model = tiny_model(name)
    x = torch.randn(2, 1, 16, 24, 8)
    outputs = model(x)
    assert set(outputs) == set(heads)
    for head, channels in heads.items():
        assert outputs[head].shape == (2, channels, 16, 24, 8)
        assert torch.isfinite(outputs[head]).all()


def test_decoders_are_separate_and_share_the_encoder():
    model = tiny_model()
    assert set(model.decoders) == {"la", "scar"}
    la_params = {id(p) for p in model.decoders["la"].parameters()}
    scar_params = {id(p) for p in model.decoders["scar"].parameters()}
    assert not la_params & scar_params
    # each decoder consumes every skip: one Up block per downsampling
    assert len(model.decoders["la"].ups) == len(model.downs) == 2


def test_roi_not_divisible_raises_clear_error():
    model = tiny_model()  # 3 levels -> multiple of 4
    assert model.input_multiple == 4
    with pytest.raises(ValueError, match=r"input size \(16, 16, 6\) must be divisible by 2\^\(levels-1\) = 4"):
        model(torch.zeros(1, 1, 16, 16, 6))


def test_depth_and_width_are_configurable():
    config = get_config("ajsq-sesa", model={"levels": 4, "base_channels": 2, "max_channels": 8})
    assert level_channels(config.model) == [2, 4, 8, 8]
    model = build_model(config)
    assert model.input_multiple == 8
    assert model(torch.zeros(1, 1, 8, 8, 16))["scar"].shape == (1, 2, 8, 8, 16)


def test_channels_last_3d_and_bf16_autocast_match_fp32():
    model = tiny_model().eval()
    x = torch.randn(1, 1, 16, 16, 16)
    with torch.no_grad():
        reference = model(x)
        model_cl = model.to(memory_format=torch.channels_last_3d)
        channels_last = model_cl(x.to(memory_format=torch.channels_last_3d))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            mixed = model_cl(x.to(memory_format=torch.channels_last_3d))
    for head in ("la", "scar"):
        torch.testing.assert_close(channels_last[head], reference[head], rtol=1e-4, atol=1e-4)
        assert mixed[head].dtype == torch.bfloat16
        torch.testing.assert_close(mixed[head].float(), reference[head], rtol=0.1, atol=0.1)


def conv_block_params(cin, cout):
    """Two bias-free 3³ convs, each followed by an affine instance norm (weight + bias)."""
    return 27 * cin * cout + 2 * cout + 27 * cout * cout + 2 * cout


def test_default_size_matches_hand_count_and_fits_the_fp16_budget(tmp_path):
    model = build_model(get_config("ajsq-sesa"))
    channels = [16, 32, 64, 128, 256]
    encoder = conv_block_params(1, 16) + sum(conv_block_params(a, b) for a, b in itertools.pairwise(channels))
    ups = sum(8 * b * a + a + conv_block_params(2 * a, a) for a, b in itertools.pairwise(channels))
    la_decoder, scar_decoder = ups + 16 * 1 + 1, ups + 16 * 2 + 2
    assert count_parameters(model) == encoder + la_decoder + scar_decoder
    # The size on disk: the fp16 state dict written by torch.save, within the container's small overhead.
    path = tmp_path / "weights.pt"
    torch.save({k: v.half() for k, v in model.state_dict().items()}, path)
    assert fp16_megabytes(model) == pytest.approx(path.stat().st_size / 1e6, rel=0.02)
    assert fp16_megabytes(model) < 16.0
