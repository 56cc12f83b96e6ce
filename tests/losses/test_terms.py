"""Each loss term against values computed by hand on tiny tensors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.special import expit

from atrialjsq.losses.bce import bce_loss
from atrialjsq.losses.dice import soft_dice_loss
from atrialjsq.losses.dpm import distance_probability, dpm_targets
from atrialjsq.losses.se import se_la_loss, se_scar_loss

LN3 = math.log(3.0)  # sigmoid(ln 3) = 0.75, sigmoid(-ln 3) = 0.25


def volume(values, channels=1):
    """[1, C, n, 1, 1] tensor from a flat list (or list of per-channel lists)."""
    array = torch.tensor(values, dtype=torch.float32).reshape(channels, -1)
    return array[None, :, :, None, None]


def test_bce_hand_value():
    logits = volume([0.0, LN3])
    target = volume([1.0, 0.0])
    # −log σ(0) = ln 2;  −log(1 − σ(ln 3)) = −log 0.25 = ln 4
    assert bce_loss(logits, target).item() == pytest.approx((math.log(2) + math.log(4)) / 2, rel=1e-6)


def test_bce_saturated_logits_stay_finite():
    logits = volume([200.0, -200.0]).requires_grad_()
    loss = bce_loss(logits, volume([0.0, 1.0]))
    loss.backward()
    assert loss.item() == pytest.approx(200.0, rel=1e-6)
    assert torch.isfinite(logits.grad).all()


def test_dice_per_sample_then_mean():
    # sample 0: p = [0.75, 0.5, 0, 0], y = [1, 0, 0, 0] -> dice = (2·0.75 + 1) / (1.25 + 1 + 1)
    # sample 1: empty prediction and empty target -> dice = 1, loss 0
    logits = torch.tensor([[LN3, 0.0, -100.0, -100.0], [-100.0] * 4]).reshape(2, 1, 4, 1, 1)
    target = torch.tensor([[1.0, 0, 0, 0], [0, 0, 0, 0]]).reshape(2, 1, 4, 1, 1)
    sample0 = 1 - 2.5 / 3.25
    assert soft_dice_loss(logits, target, smooth=1.0).item() == pytest.approx(sample0 / 2, abs=1e-6)
    assert soft_dice_loss(logits[:1], target[:1]).item() == pytest.approx(sample0, abs=1e-6)


def test_dice_perfect_prediction_is_zero():
    target = volume([1.0, 0.0, 1.0, 0.0])
    logits = (target * 2 - 1) * 100
    assert soft_dice_loss(logits, target).item() == pytest.approx(0.0, abs=1e-6)


def test_se_la_hand_value_and_sign():
    logits = volume([0.0, LN3, -LN3, 100.0])
    phi = volume([-2.0, -1.0, 3.0, 4.0])
    # (p − 0.5)·φ = [0, 0.25·(−1), (−0.25)·3, 0.5·4] = [0, −0.25, −0.75, 2] -> mean 0.25
    assert se_la_loss(logits, phi).item() == pytest.approx(0.25, abs=1e-6)
    # a confident wrong voxel far outside costs more than one near the surface (paper Fig. 4)
    near, far = se_la_loss(volume([100.0]), volume([1.0])), se_la_loss(volume([100.0]), volume([10.0]))
    assert far.item() == pytest.approx(10 * near.item()) and near.item() == pytest.approx(0.5)


def test_se_la_accepts_float16_distances_from_the_cache():
    phi = volume([-2.0, 3.0]).half()
    assert se_la_loss(volume([LN3, LN3]), phi).dtype == torch.float32
    assert se_la_loss(volume([LN3, LN3]), phi).item() == pytest.approx((0.25 * -2 + 0.25 * 3) / 2)


def test_se_scar_l2_hand_value():
    logits = volume([[0.0, LN3], [-LN3, 0.0]], channels=2)  # p̂_normal = [0.5, 0.75], p̂_scar = [0.25, 0.5]
    target = volume([[1.0, 0.5], [0.0, 0.25]], channels=2)
    # voxel 0: 0.5² + 0.25² = 0.3125;  voxel 1: 0.25² + 0.25² = 0.125
    assert se_scar_loss(logits, target, "l2").item() == pytest.approx((0.3125 + 0.125) / 2, abs=1e-6)


def test_se_scar_hellinger_hand_value():
    logits = volume([[0.0, LN3], [-LN3, 0.0]], channels=2)
    target = volume([[1.0, 0.25], [0.25, 0.5625]], channels=2)
    voxel0 = (math.sqrt(0.5) - 1.0) ** 2 + (0.5 - 0.5) ** 2
    voxel1 = (math.sqrt(0.75) - 0.5) ** 2 + (math.sqrt(0.5) - 0.75) ** 2
    expected = 0.5 * (voxel0 + voxel1) / 2
    assert se_scar_loss(logits, target, "hellinger").item() == pytest.approx(expected, abs=1e-6)


def test_se_scar_hellinger_gradient_finite_when_sigmoid_underflows():
    logits = volume([[-200.0, 0.0], [-120.0, 5.0]], channels=2).requires_grad_()
    target = volume([[0.0, 1.0], [0.3, 0.0]], channels=2)
    se_scar_loss(logits, target, "hellinger").backward()
    assert torch.isfinite(logits.grad).all()


def test_se_scar_unknown_distance():
    with pytest.raises(ValueError, match="hellinger"):
        se_scar_loss(volume([[0.0], [0.0]], 2), volume([[0.0], [0.0]], 2), "kl")


def test_dpm_kinds_hand_values():
    phi = volume([-1.0, 0.0, 2.0])
    exp = distance_probability(phi, "exp").flatten().tolist()
    expit = distance_probability(phi, "expit").flatten().tolist()
    assert exp == pytest.approx([math.exp(-1), 1.0, math.exp(-2)])
    assert expit == pytest.approx([1 / (1 + math.exp(-1)), 0.5, 1 / (1 + math.exp(2))])


def test_dpm_normalized_hand_values():
    # one voxel 1 mm inside the normal wall, 3 mm from scar: φ_bg = −min(−1, 3) = 1 (inside the band)
    phi_normal, phi_scar = volume([-1.0]), volume([3.0])
    p_exp = dpm_targets(phi_normal, phi_scar, "exp", normalized=True).flatten().tolist()
    total = math.exp(-1) + math.exp(-3) + math.exp(-1)  # = softmax(−|φ|) denominator inside the band
    assert p_exp == pytest.approx([math.exp(-1) / total, math.exp(-3) / total])
    expit = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    total = expit(1) + expit(-3) + expit(-1)
    p_expit = dpm_targets(phi_normal, phi_scar, "expit", normalized=True).flatten().tolist()
    assert p_expit == pytest.approx([expit(1) / total, expit(-3) / total])
    # 20 mm outside the band (scar part empty: +50 clip) the background term is 1 and both maps vanish
    far = dpm_targets(volume([20.0]), volume([50.0]), "exp", normalized=True).flatten().tolist()
    assert far == pytest.approx([math.exp(-20) / (1 + math.exp(-20) + math.exp(-50)), 0.0], abs=1e-12)


def test_dpm_targets_shape_and_unnormalized_channels():
    phi_n = torch.tensor([-1.0, 2.0, 50.0]).reshape(1, 1, 3, 1, 1)
    phi_s = torch.tensor([50.0, -0.5, 0.0]).reshape(1, 1, 3, 1, 1)
    targets = dpm_targets(phi_n, phi_s, "exp")
    assert targets.shape == (1, 2, 3, 1, 1)
    torch.testing.assert_close(targets[:, 0], torch.exp(-phi_n.abs())[:, 0])
    torch.testing.assert_close(targets[:, 1], torch.exp(-phi_s.abs())[:, 0])


def test_dpm_kinds_and_normalisation():
    # float16 φ as the cache stores it, [B, 1, n]; dpm_targets gives [B, 2, n] = (p_normal, p_scar).
    phi_normal = np.array([-1.0, 0.5, 3.0, 50.0, 50.0], dtype=np.float16)
    phi_scar = np.array([50.0, 50.0, -0.5, 50.0, 2.0], dtype=np.float16)
    phi_n, phi_s = torch.from_numpy(phi_normal)[None, None], torch.from_numpy(phi_scar)[None, None]

    def maps(kind, normalized=False):
        out = dpm_targets(phi_n, phi_s, kind, normalized)
        assert out.shape == (1, 2, 5) and out.dtype == torch.float32
        return out[0, 0].numpy(), out[0, 1].numpy()

    p_normal, p_scar = maps("exp")
    np.testing.assert_allclose(p_normal, np.exp(-np.abs(phi_normal.astype(float))), rtol=1e-6)
    np.testing.assert_allclose(p_scar, np.exp(-np.abs(phi_scar.astype(float))), rtol=1e-6)
    e_normal, e_scar = maps("expit")
    np.testing.assert_allclose(e_normal, expit(-phi_normal.astype(float)), rtol=1e-6, atol=1e-30)
    np.testing.assert_allclose(e_scar, expit(-phi_scar.astype(float)), rtol=1e-6, atol=1e-30)
    for kind in ("exp", "expit"):
        n, s = maps(kind, normalized=True)
        assert np.isfinite(n).all() and np.isfinite(s).all()
        assert ((n + s) < 1).all() and (n >= 0).all() and (s >= 0).all()
    n, s = maps("exp", normalized=True)
    # In the normal wall at depth 1 mm: background |φ_bg| = 1 (its signed distance is −min(φ_n, φ_s) = 1).
    total = np.exp(-1.0) + np.exp(-1.0) + np.exp(-50.0)
    assert n[0] == pytest.approx(np.exp(-1.0) / total, rel=1e-5)
    # Far from the wall (both φ = 50 mm) the background takes everything.
    assert n[3] < 1e-20 and s[3] < 1e-20
    with pytest.raises(ValueError, match="gauss"):
        dpm_targets(phi_n, phi_s, "gauss")


@pytest.mark.parametrize(
    ("loss", "logits", "target"),
    [
        (lambda x, y: bce_loss(x, y), torch.zeros(2, 2, 4, 4, 4), torch.zeros(2, 1, 4, 4, 4)),
        (lambda x, y: soft_dice_loss(x, y), torch.zeros(2, 2, 4, 4, 4), torch.zeros(2, 1, 4, 4, 4)),
        (lambda x, y: se_la_loss(x, y), torch.zeros(2, 1, 4, 4, 4), torch.zeros(1, 1, 4, 4, 4)),
        (lambda x, y: se_scar_loss(x, y), torch.zeros(2, 2, 4, 4, 4), torch.zeros(2, 2, 4, 4, 1)),
        (lambda x, y: se_scar_loss(x, y), torch.zeros(2, 1, 4, 4, 4), torch.zeros(2, 1, 4, 4, 4)),
    ],
)
def test_losses_refuse_shapes_that_would_broadcast(loss, logits, target):
    with pytest.raises(ValueError, match="must"):
        loss(logits, target)
