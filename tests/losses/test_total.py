"""The total loss (eqs. 2, 7): λ schedule, composition per config, fp32 under autocast, gradients to both decoders."""

from __future__ import annotations

import math

import pytest
import torch

from atrialjsq.losses.dpm import dpm_targets
from atrialjsq.losses.sa import predicted_boundary_mask, shape_attention_loss
from atrialjsq.losses.total import JointLoss, lambdas_at
from atrialjsq.model.configs import get_config
from atrialjsq.model.unet import build_model

torch.set_num_threads(1)
LN3 = math.log(3.0)


def test_lambda_schedule_values():
    loss = get_config("ajsq-sesa").loss
    for iteration in (0, 199):
        assert lambdas_at(loss, iteration) == pytest.approx(
            {"lambda_la": 0.01, "lambda_scar": 10.0, "lambda_m1": 0.01, "lambda_dtm": 1.0, "lambda_m2": 0.001}
        )
    at200 = lambdas_at(loss, 200)
    assert (at200["lambda_la"], at200["lambda_m2"]) == pytest.approx((0.011, 0.0011))
    at4000 = lambdas_at(loss, 4000)  # 20 growth steps
    assert (at4000["lambda_la"], at4000["lambda_m2"]) == pytest.approx((0.01 * 1.1**20, 0.001 * 1.1**20))
    assert at4000["lambda_scar"] == 10.0 and at4000["lambda_m1"] == 0.01


def test_lambda_schedule_cap():
    loss = get_config("ajsq-sesa").loss
    assert lambdas_at(loss, 9799)["lambda_la"] == pytest.approx(0.01 * 1.1**48)  # 0.970: below the cap of 1.0
    assert lambdas_at(loss, 9800)["lambda_la"] == 1.0  # 0.01·1.1^49 = 1.067 -> capped
    assert lambdas_at(loss, 9800)["lambda_m2"] == 0.1
    assert lambdas_at(loss, 10**9) == pytest.approx(
        {"lambda_la": 1.0, "lambda_scar": 10.0, "lambda_m1": 0.01, "lambda_dtm": 1.0, "lambda_m2": 0.1}
    )
    uncapped = get_config("ajsq-sesa", loss={"lambda_la_max": None}).loss
    assert lambdas_at(uncapped, 9800)["lambda_la"] == pytest.approx(0.01 * 1.1**49)
    assert math.isfinite(lambdas_at(uncapped, 10**9)["lambda_la"])


def tiny_batch(batch_size=1):
    """2×2×2 volume: LA = x < 1; band voxels 0, 1 normal and 2 scar (flattened order), rest background."""
    shape = (batch_size, 1, 2, 2, 2)
    la = torch.zeros(shape)
    la[:, :, 0] = 1
    band = (
        torch.tensor([1, 1, 2, 0, 0, 0, 0, 0], dtype=torch.uint8).reshape(1, 1, 2, 2, 2).repeat(batch_size, 1, 1, 1, 1)
    )
    phi_la = torch.tensor([-1.0, -1, -1, -1, 1, 1, 1, 2]).reshape(1, 1, 2, 2, 2).repeat(batch_size, 1, 1, 1, 1)
    phi_normal = torch.tensor([0.0, 0, 5, 50, 50, 50, 50, 50]).reshape(1, 1, 2, 2, 2)
    phi_scar = torch.tensor([50.0, 50, 0, 50, 50, 50, 50, 50]).reshape(1, 1, 2, 2, 2)
    return {
        "image": torch.zeros(shape),
        "la": la,
        "phi_la": phi_la.half(),  # the cache stores float16 distances
        "band": band,
        "phi_normal": phi_normal.repeat(batch_size, 1, 1, 1, 1).half(),
        "phi_scar": phi_scar.repeat(batch_size, 1, 1, 1, 1).half(),
    }


def zero_outputs(batch_size=1):
    return {"la": torch.zeros(batch_size, 1, 2, 2, 2), "scar": torch.zeros(batch_size, 2, 2, 2, 2)}


def test_sesa_total_hand_value_with_constant_outputs():
    # all logits 0 -> every probability is 0.5: BCE = ln 2, SE-LA = 0, predicted LA empty -> SA(M2) = 0
    p_n = [1, 1, math.exp(-5)] + [math.exp(-50)] * 5
    p_s = [math.exp(-50), math.exp(-50), 1] + [math.exp(-50)] * 5
    se_scar = sum((0.5 - a) ** 2 + (0.5 - b) ** 2 for a, b in zip(p_n, p_s, strict=True)) / 8
    sa_m1 = sum((a - b) ** 2 for a, b in list(zip(p_n, p_s, strict=True))[:3]) / 3  # band voxels 0, 1, 2
    iteration = 400  # two growth steps: λ_LA = 0.0121, λ_M2 = 0.00121
    loss, parts = JointLoss(get_config("ajsq-sesa"))(zero_outputs(), tiny_batch(), iteration)
    assert parts["la_bce"].item() == pytest.approx(math.log(2), rel=1e-6)
    assert parts["la_se"].item() == pytest.approx(0.0, abs=1e-7)
    assert parts["scar_se"].item() == pytest.approx(se_scar, rel=1e-5)
    assert parts["sa_m1"].item() == pytest.approx(sa_m1, rel=1e-5)
    assert parts["sa_m2"].item() == 0.0
    assert parts["lambda_la"].item() == pytest.approx(0.0121) and parts["lambda_m2"].item() == pytest.approx(0.00121)
    expected = math.log(2) + 10 * se_scar + 0.01 * sa_m1
    assert loss.item() == pytest.approx(expected, rel=1e-5) and parts["loss"].item() == pytest.approx(
        expected, rel=1e-5
    )


def test_se_la_is_weighted_by_the_grown_lambda():
    outputs = zero_outputs()
    outputs["la"] = torch.full((1, 1, 2, 2, 2), LN3)  # p = 0.75 everywhere
    mean_phi = (-4 + 1 + 1 + 1 + 2) / 8
    se_la = 0.25 * mean_phi
    config = get_config("unet-la-se")
    loss_0, parts = JointLoss(config)({"la": outputs["la"]}, tiny_batch(), 0)
    assert set(parts) == {"la_bce", "la_se", "loss", "lambda_la", "lambda_m2"}
    assert parts["la_se"].item() == pytest.approx(se_la, rel=1e-6)
    loss_4000, _ = JointLoss(config)({"la": outputs["la"]}, tiny_batch(), 4000)
    assert (loss_4000 - loss_0).item() == pytest.approx(0.01 * (1.1**20 - 1) * se_la, rel=1e-4)


def test_scar_bce_uses_the_band_targets():
    # channel 0 (normal) at p = 0.75, channel 1 (scar) at p = 0.5; targets: band == 1 and band == 2
    logits = torch.zeros(1, 2, 2, 2, 2)
    logits[:, 0] = LN3
    _, parts = JointLoss(get_config("unet-scar-bce"))({"scar": logits}, tiny_batch(), 0)
    normal = (2 * -math.log(0.75) + 6 * -math.log(0.25)) / 8  # two normal-wall voxels
    assert set(parts) == {"scar_bce", "loss", "lambda_la", "lambda_m2"}
    assert parts["scar_bce"].item() == pytest.approx((normal + math.log(2)) / 2, rel=1e-6)


def test_dice_configs_use_dice():
    _, la_parts = JointLoss(get_config("unet-la-dice"))({"la": torch.zeros(1, 1, 2, 2, 2)}, tiny_batch(), 0)
    # p = 0.5 everywhere, 4 LA voxels: 1 − (2·2 + 1)/(4 + 4 + 1)
    assert la_parts["la_dice"].item() == pytest.approx(1 - 5 / 9, rel=1e-6)
    _, scar_parts = JointLoss(get_config("unet-scar-dice"))({"scar": torch.zeros(1, 2, 2, 2, 2)}, tiny_batch(), 0)
    # normal channel: 2 voxels -> 1 − 3/7; scar channel: 1 voxel -> 1 − 2/6
    assert scar_parts["scar_dice"].item() == pytest.approx(((1 - 3 / 7) + (1 - 2 / 6)) / 2, rel=1e-6)


def test_sa_m2_follows_the_predicted_la():
    outputs = zero_outputs()
    outputs["la"][:, :, 0] = 5.0  # predicts x = 0 as LA: every voxel is within 2 voxels of that boundary
    _, parts = JointLoss(get_config("ajsq-sesa"))(outputs, tiny_batch(), 0)
    p_n = [1, 1, math.exp(-5)] + [math.exp(-50)] * 5
    p_s = [math.exp(-50), math.exp(-50), 1] + [math.exp(-50)] * 5
    assert parts["sa_m2"].item() == pytest.approx(sum((a - b) ** 2 for a, b in zip(p_n, p_s, strict=True)) / 8)


def test_missing_batch_key_names_it():
    batch = tiny_batch()
    del batch["phi_scar"]
    with pytest.raises(KeyError, match="phi_scar"):
        JointLoss(get_config("ajsq-sesa"))(zero_outputs(), batch, 0)


def model_and_batch(name="ajsq-sesa", batch_size=2):
    torch.manual_seed(0)
    config = get_config(name, tiny=True)
    model = build_model(config)
    size = 16
    grid = torch.stack(torch.meshgrid(*[torch.arange(size, dtype=torch.float32)] * 3, indexing="ij"))
    radius = torch.linalg.vector_norm(grid - (size - 1) / 2, dim=0)
    phi_la = (radius - 5.0)[None, None].repeat(batch_size, 1, 1, 1, 1)
    la = (phi_la < 0).float()
    shell = (phi_la.abs() < 1.5).float()
    scar_side = (grid[0] < size / 2)[None, None].float()
    band = shell * (1 + scar_side)
    batch = {
        "image": la + 0.1 * torch.randn_like(la),
        "la": la,
        "phi_la": phi_la,
        "band": band,
        "phi_normal": torch.where(band == 1, -1.0, 3.0),
        "phi_scar": torch.where(band == 2, -1.0, 3.0),
    }
    return config, model, batch


def test_gradients_reach_both_decoders_and_the_encoder():
    config, model, batch = model_and_batch()
    outputs = model(batch["image"])
    loss, parts = JointLoss(config)(outputs, batch, 0)
    assert torch.isfinite(loss) and all(torch.isfinite(v) for v in parts.values())
    loss.backward()
    for part in (model.decoders["la"], model.decoders["scar"], model.stem):
        grads = [p.grad for p in part.parameters()]
        assert all(g is not None and torch.isfinite(g).all() for g in grads)
        assert sum(g.abs().sum() for g in grads) > 0


def test_sa_m2_trains_the_scar_decoder_only():
    _, model, batch = model_and_batch()
    outputs = model(batch["image"])
    # force a predicted LA so that M2 is not empty
    la_logits = outputs["la"] + 10 * (batch["la"] - 0.5)
    target = dpm_targets(batch["phi_normal"], batch["phi_scar"])
    mask = predicted_boundary_mask(la_logits, radius_mm=2.0)
    assert mask.sum() > 0
    shape_attention_loss(outputs["scar"], target, mask).backward()
    assert all(p.grad is None for p in model.decoders["la"].parameters())
    assert sum(p.grad.abs().sum() for p in model.decoders["scar"].parameters()) > 0


def test_bf16_autocast_and_channels_last_give_float32_finite_loss():
    config, model, batch = model_and_batch(batch_size=1)
    model = model.to(memory_format=torch.channels_last_3d)
    image = batch["image"].to(memory_format=torch.channels_last_3d)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        outputs = model(image)
        loss, _ = JointLoss(config)(outputs, batch, 0)
    assert outputs["scar"].dtype == torch.bfloat16 and loss.dtype == torch.float32
    loss.backward()
    assert torch.isfinite(loss)
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


@pytest.mark.parametrize("name", ["ajsq-bce", "ajsq-se", "ajsq-sesa-expit", "ajsq-sesa-hellinger", "ajsq-sesa-norm"])
def test_every_joint_variant_trains_both_heads(name):
    config, model, batch = model_and_batch(name, batch_size=1)
    loss, _ = JointLoss(config)(model(batch["image"]), batch, 0)
    loss.backward()
    for head in ("la", "scar"):
        assert sum(p.grad.abs().sum() for p in model.decoders[head].parameters()) > 0


def test_samples_without_known_scar_train_the_la_only():
    """`scar_known` = 0 drops a sample from every scar term: the scar terms equal those of the known sample
    alone, the LA terms still average both, and the unknown sample's scar logits get no gradient."""
    config = get_config("ajsq-sesa")
    batch = tiny_batch(2)
    batch["band"][1] = 0  # the second sample's labels say "no scar anywhere": wrong for a real image
    batch["scar_known"] = torch.tensor([1.0, 0.0])
    la = torch.tensor([0.3, -0.7]).view(2, 1, 1, 1, 1).expand(2, 1, 2, 2, 2).clone()
    scar = torch.randn(2, 2, 2, 2, 2, generator=torch.Generator().manual_seed(0)).requires_grad_(True)
    loss_fn = JointLoss(config)
    _, parts = loss_fn({"la": la, "scar": scar}, batch, 0)
    first = {key: value[:1] for key, value in tiny_batch(2).items()}
    _, alone = loss_fn({"la": la[:1], "scar": scar[:1]}, first, 0)
    for name in ("scar_se", "sa_m1", "sa_m2"):
        assert parts[name].item() == pytest.approx(alone[name].item(), rel=1e-6)
    _, both = loss_fn({"la": la, "scar": scar}, tiny_batch(2), 0)
    assert parts["la_bce"].item() == pytest.approx(both["la_bce"].item(), rel=1e-6)  # LA: every sample
    total, _ = loss_fn({"la": la, "scar": scar}, batch, 0)
    total.backward()
    assert scar.grad[1].abs().max().item() == 0.0 and scar.grad[0].abs().max().item() > 0.0


def test_a_batch_with_no_known_scar_has_zero_scar_terms_that_still_backpropagate():
    batch = tiny_batch(2)
    batch["scar_known"] = torch.zeros(2)
    scar = torch.zeros(2, 2, 2, 2, 2, requires_grad=True)
    loss, parts = JointLoss(get_config("ajsq-sesa"))({"la": torch.zeros(2, 1, 2, 2, 2), "scar": scar}, batch, 0)
    assert parts["scar_se"].item() == parts["sa_m1"].item() == parts["sa_m2"].item() == 0.0
    assert loss.item() == pytest.approx(math.log(2), rel=1e-6)  # the LA's BCE alone
    loss.backward()
    assert scar.grad is not None and scar.grad.abs().max().item() == 0.0
    with pytest.raises(ValueError, match="scar_known must have shape"):
        JointLoss(get_config("ajsq-sesa"))(zero_outputs(2), {**tiny_batch(2), "scar_known": torch.zeros(3)}, 0)
