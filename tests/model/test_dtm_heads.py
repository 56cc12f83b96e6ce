"""Table 5's LA heads: each head's outputs from weights set by hand, the networks they build, and the
Predictor, which turns their LA logits into probabilities and leaves the distance map out."""

from __future__ import annotations

import math

import pytest
import torch

from atrialjsq.model.configs import get_config
from atrialjsq.model.dtm_heads import AudebertHead, DangiHead, XueHead
from atrialjsq.model.unet import build_model

FEATURES = torch.randn(1, 3, 4, 4, 4)


def zero_(conv: torch.nn.Conv3d) -> None:
    with torch.no_grad():
        conv.weight.zero_()
        conv.bias.zero_()


def test_dangi_splits_one_head_into_the_la_logit_and_the_distance_map():
    head = DangiHead(3)
    zero_(head.conv)
    with torch.no_grad():
        head.conv.bias.copy_(torch.tensor([2.0, 0.5]))
    out = head(FEATURES)
    assert torch.allclose(out["la"], torch.full((1, 1, 4, 4, 4), 2.0))
    assert torch.allclose(out["dtm"], torch.full((1, 1, 4, 4, 4), math.tanh(0.5)))


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


@pytest.mark.parametrize("name", ["unet-la-dangi", "unet-la-audebert", "unet-la-xue"])
def test_the_table5_networks_output_the_la_logits_and_the_distance_map(name):
    config = get_config(name, tiny=True, data={"roi": (16, 16, 16)})
    model = build_model(config).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 1, 16, 16, 16))
    assert set(out) == {"la", "dtm"}
    assert out["la"].shape == out["dtm"].shape == (1, 1, 16, 16, 16)
    assert out["dtm"].abs().max() <= 1.0
    if name == "unet-la-xue":
        assert torch.equal(out["la"], -1500.0 * out["dtm"])


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
