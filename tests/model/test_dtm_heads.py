"""Table 5's LA heads and Dangi's distance decoder: outputs from weights set by hand, the networks they
build, and the Predictor, which turns their LA logits into probabilities and leaves the distance map out."""

from __future__ import annotations

import math

import pytest
import torch

from atrialjsq.losses.dtm import dtm_l1_loss, dtm_mse_loss, normalised_sdm, sdm_xue_loss
from atrialjsq.model.configs import get_config
from atrialjsq.model.dtm_heads import AudebertHead, DistanceDecoder, XueHead
from atrialjsq.model.unet import build_model

FEATURES = torch.randn(1, 3, 4, 4, 4)


def zero_(conv: torch.nn.Conv3d) -> None:
    with torch.no_grad():
        conv.weight.zero_()
        conv.bias.zero_()


def test_dangis_distance_decoder_upsamples_the_bottleneck_alone_to_a_tanh_map():
    decoder = DistanceDecoder([2, 4, 8], norm="instance", negative_slope=0.01)
    bottleneck = torch.randn(1, 8, 2, 3, 4)
    dtm = decoder(bottleneck)
    assert dtm.shape == (1, 1, 8, 12, 16)  # two 2× upsamplings, no skip to take a size from
    assert dtm.abs().max() < 1.0
    zero_(decoder.head)
    with torch.no_grad():
        decoder.head.bias.fill_(0.5)
    assert torch.allclose(decoder(bottleneck), torch.full((1, 1, 8, 12, 16), math.tanh(0.5)))


def test_dangis_regulariser_is_removed_after_training():
    """In eval mode the Dangi network is U-Net_LA: the same LA logits from the same weights, no `dtm` output;
    in training mode the distance decoder runs and only it produces `dtm`."""
    dangi = build_model(get_config("unet-la-dangi", tiny=True, data={"roi": (16, 16, 16)}))
    plain = build_model(get_config("unet-la-bce", tiny=True, data={"roi": (16, 16, 16)}))
    weights = {k: v for k, v in dangi.state_dict().items() if not k.startswith("regulariser.")}
    assert len(weights) < len(dangi.state_dict())
    plain.load_state_dict(weights)  # strict: every other weight is U-Net_LA's
    image = torch.randn(1, 1, 16, 16, 16)
    with torch.no_grad():
        evaluated = dangi.eval()(image)
        assert set(evaluated) == {"la"}
        assert torch.equal(evaluated["la"], plain.eval()(image)["la"])
        trained = dangi.train()(image)
    assert set(trained) == {"la", "dtm"} and trained["dtm"].shape == (1, 1, 16, 16, 16)
    with torch.no_grad():
        dangi.regulariser.head.bias.add_(1.0)
        assert torch.equal(dangi.eval()(image)["la"], evaluated["la"])


def test_audebert_fuses_the_predicted_distance_map_with_the_features():
    head = AudebertHead(3)
    zero_(head.distance)
    zero_(head.fuse)
    with torch.no_grad():
        head.distance.bias.fill_(0.3)
        head.fuse.weight[0, 3, 1, 1, 1] = 2.0  # the DTM channel's centre tap
        head.fuse.bias.fill_(-0.1)
    out = head(FEATURES)
    assert torch.allclose(out["dtm"], torch.full((1, 1, 4, 4, 4), math.tanh(0.3)))
    assert torch.allclose(out["la"], torch.full((1, 1, 4, 4, 4), 2 * math.tanh(0.3) - 0.1), atol=1e-6)
    with torch.no_grad():
        head.fuse.weight[0, 0, 1, 1, 1] = 1.0  # and a feature channel: the LA logit follows that feature
    assert torch.allclose(head(FEATURES)["la"], out["la"] + FEATURES[:, :1], atol=1e-6)


def test_xue_is_a_steep_heaviside_of_the_predicted_sdm():
    head = XueHead(3, k=1500.0)
    zero_(head.conv)
    with torch.no_grad():
        head.conv.bias.fill_(math.atanh(0.001))  # SDM 0.001: just outside the surface
    out = head(FEATURES)
    assert torch.allclose(out["dtm"], torch.full((1, 1, 4, 4, 4), 0.001), rtol=1e-5)
    assert torch.allclose(torch.sigmoid(out["la"]), torch.full((1, 1, 4, 4, 4), 1 / (1 + math.exp(1.5))), rtol=1e-4)


def ball_target() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A ball of radius 6 voxels: its mask, φ (mm) and the normalised SDM target (−1 at the centre, no zeros)."""
    from atrialjsq.surface.distance import signed_distance
    from shapes import sphere_mask

    ball = sphere_mask((21, 21, 21), (10, 10, 10), 6.0, (1.0, 1.0, 1.0)) > 0
    phi = torch.from_numpy(signed_distance(ball, (1.0, 1.0, 1.0)))[None, None]
    target = normalised_sdm(phi)
    assert (target != 0).all()  # the zero level lies between voxel centres
    return torch.from_numpy(ball)[None, None], phi, target


def test_on_a_ball_each_head_puts_the_la_exactly_where_its_distance_map_is_negative():
    """Features = the ball's normalised SDM t; with unit weights the heads' DTM is tanh(t), and the LA logit is
    positive exactly on the ball's voxels: Xue's −1500·tanh(t), Audebert's fusion −10·tanh(t)."""
    ball, _, target = ball_target()
    xue = XueHead(1, k=1500.0)
    audebert = AudebertHead(1)
    for conv in (xue.conv, audebert.distance, audebert.fuse):
        zero_(conv)
    with torch.no_grad():
        xue.conv.weight.fill_(1.0)
        audebert.distance.weight.fill_(1.0)
        audebert.fuse.weight[0, 1, 1, 1, 1] = -10.0  # the DTM channel's centre tap
        xue_out, audebert_out = xue(target), audebert(target)
    for out, slope in ((xue_out, -1500.0), (audebert_out, -10.0)):
        assert torch.allclose(out["dtm"], torch.tanh(target))
        assert torch.allclose(out["la"], slope * torch.tanh(target), rtol=1e-5, atol=1e-6)
        assert torch.equal(out["la"] > 0, ball)


def test_on_a_ball_the_exact_distance_map_is_each_losses_optimum():
    """Predicting the target exactly: Dangi's MSE and Audebert's L1 are 0, Xue's L1 + product loss is −1/3
    (ŷ = y ≠ 0 everywhere: −y²/(3y²)); off by 0.1 everywhere the MSE is 0.01 and the L1 0.1."""
    _, phi, target = ball_target()
    assert dtm_mse_loss(target, phi).item() == pytest.approx(0.0, abs=1e-12)
    assert dtm_l1_loss(target, phi).item() == pytest.approx(0.0, abs=1e-12)
    assert sdm_xue_loss(target, phi).item() == pytest.approx(-1 / 3, rel=1e-4)  # 1e-6 guard in the denominator
    assert dtm_mse_loss(target + 0.1, phi).item() == pytest.approx(0.01, rel=1e-4)
    assert dtm_l1_loss(target - 0.1, phi).item() == pytest.approx(0.1, rel=1e-4)


@pytest.mark.parametrize("name", ["unet-la-dangi", "unet-la-audebert", "unet-la-xue"])
def test_the_table5_networks_output_the_la_logits_and_the_distance_map(name):
    config = get_config(name, tiny=True, data={"roi": (16, 16, 16)})
    model = build_model(config).train()
    with torch.no_grad():
        out = model(torch.randn(1, 1, 16, 16, 16))
    assert set(out) == {"la", "dtm"}
    assert out["la"].shape == out["dtm"].shape == (1, 1, 16, 16, 16)
    assert out["dtm"].abs().max() <= 1.0


def test_the_predictor_gives_la_probabilities_of_a_distance_map_network():
    from atrialjsq.infer.predictor import Network, Predictor
    from atrialjsq.io.geometry import Geometry

    config = get_config("unet-la-xue", tiny=True, data={"roi": (16, 16, 16), "spacing": (1.0, 1.0, 1.0)})
    model = build_model(config).eval()
    predictor = Predictor(Network.live(model, config), None, tta=False, channels_last=False)
    image = torch.randn(20, 18, 16).numpy()
    maps = predictor.predict_grid(image, Geometry(image.shape, (1.0, 1.0, 1.0)))
    assert set(maps) == {"la"} and maps["la"].shape == image.shape
    assert 0.0 <= maps["la"].min() <= maps["la"].max() <= 1.0


def test_bad_la_heads_are_refused():
    with pytest.raises(ValueError, match=r"model\.la_head = 'hough'"):
        get_config("unet-la-bce", model={"la_head": "hough"})
    with pytest.raises(ValueError, match="needs an LA decoder"):
        get_config("unet-scar-bce", model={"la_head": "xue"})
    with pytest.raises(ValueError, match=r"model\.heaviside_k = 0\.0"):
        get_config("unet-la-xue", model={"heaviside_k": 0.0})
