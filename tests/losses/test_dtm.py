"""Table 5's distance-map terms: the normalised SDM target and each loss by hand values, and the totals of the
three DTM configs on a batch whose parts are known."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from atrialjsq.losses.dtm import dtm_l1_loss, dtm_mse_loss, normalised_sdm, product_loss, sdm_xue_loss
from atrialjsq.losses.registry import check_loss_names
from atrialjsq.losses.total import JointLoss
from atrialjsq.model.configs import get_config


def line(values) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32).reshape(1, 1, -1, 1, 1)


def test_the_target_is_phi_over_its_largest_depth_inside_and_distance_outside():
    target = normalised_sdm(line([-2.0, -1.0, 0.0, 1.0, 3.0]))
    np.testing.assert_allclose(target.flatten().numpy(), [-1.0, -0.5, 0.0, 1 / 3, 1.0], rtol=1e-6)
    # per sample: a second sample with other extremes is normalised by its own
    both = torch.cat([line([-2.0, 0.0, 4.0]), line([-0.5, 0.0, 1.0])])
    np.testing.assert_allclose(normalised_sdm(both).reshape(2, -1).numpy(), [[-1, 0, 1], [-1, 0, 1]], rtol=1e-6)
    # a window without LA (all outside): 0 .. 1, no division by zero
    assert torch.isfinite(normalised_sdm(line([1.0, 2.0]))).all()


def test_a_ball_has_minus_one_at_its_centre_zero_on_its_surface_and_one_in_the_far_corner():
    from atrialjsq.surface.distance import signed_distance
    from shapes import sphere_mask

    ball = sphere_mask((21, 21, 21), (10, 10, 10), 6.0, (1.0, 1.0, 1.0))
    phi = torch.from_numpy(signed_distance(ball, (1.0, 1.0, 1.0)))[None, None]
    target = normalised_sdm(phi)[0, 0]
    assert target[10, 10, 10] == pytest.approx(-1.0)
    assert target[0, 0, 0] == pytest.approx(1.0)
    assert target.min() == pytest.approx(-1.0) and target.max() == pytest.approx(1.0)
    surface = (ball > 0) & ~torch.from_numpy(np.roll(ball, 1, axis=0) > 0).numpy()
    assert torch.abs(target[torch.from_numpy(surface)]).max() < 0.2  # |φ| ≤ ~1 voxel of 6 on the surface


def test_each_loss_by_hand():
    phi = line([-2.0, -1.0, 1.0, 2.0])  # target −1, −0.5, 0.5, 1
    target = normalised_sdm(phi)
    assert dtm_mse_loss(target + 0.1, phi).item() == pytest.approx(0.01, rel=1e-5)
    assert dtm_l1_loss(target - 0.2, phi).item() == pytest.approx(0.2, rel=1e-5)
    assert product_loss(target, target).item() == pytest.approx(-1 / 3, rel=1e-5)  # right sign and size
    assert product_loss(-target, target).item() == pytest.approx(1.0, rel=1e-5)  # every sign wrong
    assert product_loss(torch.zeros(1, 1, 2, 1, 1), torch.zeros(1, 1, 2, 1, 1)).item() == 0.0
    assert sdm_xue_loss(target, phi).item() == pytest.approx(-1 / 3, rel=1e-5)
    assert sdm_xue_loss(-target, phi).item() == pytest.approx(0.75 * 2 + 1.0, rel=1e-5)  # L1 mean 1.5, product 1
    with pytest.raises(ValueError, match="differ in shape"):
        dtm_mse_loss(torch.zeros(1, 1, 3, 1, 1), phi)


def test_dtm_configs_sum_their_segmentation_and_distance_terms():
    la = line([1.0, 1.0, 0.0, 0.0])
    phi = line([-2.0, -1.0, 1.0, 2.0])
    batch = {"la": la, "phi_la": phi.half(), "image": torch.zeros_like(la)}
    dtm = torch.zeros_like(la)  # predicted DTM 0: MSE = mean(1, .25, .25, 1) = 0.625, L1 = 0.75, product 0
    cases = {
        "unet-la-dangi": ({"la": torch.zeros_like(la), "dtm": dtm}, "la_dtm_mse", math.log(2) + 0.625),
        "unet-la-audebert": ({"la": torch.zeros_like(la), "dtm": dtm}, "la_dtm_l1", math.log(2) + 0.75),
        # Dice of p = 0.5 everywhere against 2 of 4 voxels: 1 − (2·1 + 1)/(2 + 2 + 1) = 0.4
        "unet-la-xue": ({"la": torch.zeros_like(la), "dtm": dtm}, "la_sdm_xue", 0.4 + 0.75),
    }
    for name, (outputs, part, expected) in cases.items():
        loss, parts = JointLoss(get_config(name))(outputs, batch, 0)
        assert part in parts and loss.item() == pytest.approx(expected, rel=1e-5), name


def test_a_distance_term_needs_a_distance_head():
    config = get_config("unet-la-bce", loss={"la_terms": ("bce", "dtm_mse")})
    with pytest.raises(ValueError, match=r"'dtm_mse' regresses the LA head's distance map; set model\.la_head"):
        check_loss_names(config.loss, config.model.la_head)
    with pytest.raises(ValueError, match="is a regulariser"):
        check_loss_names(get_config("unet-la-xue", loss={"la_terms": ("sdm_xue",)}).loss, "xue")
