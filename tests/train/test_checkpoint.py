"""Checkpoints: weights-only round trips, RNG restore, atomic writes, clear errors, slim exported models."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from atrialjsq.cli import main
from atrialjsq.errors import InputError
from atrialjsq.model.configs import get_config
from atrialjsq.model.unet import build_model
from atrialjsq.train.checkpoint import (
    MODEL_FORMAT,
    capture_rng_state,
    export_model,
    load_checkpoint,
    load_model_file,
    restore_rng_state,
    save_checkpoint,
)


def draws():
    return (torch.rand(3).tolist(), np.random.random(3).tolist(), [random.random() for _ in range(3)])  # noqa: NPY002


def full_state(model, config):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(1, 1, 16, 16, 16))["la"].mean().backward()
    optimizer.step()
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 4000, 0.1)
    return {
        "config": config.to_dict(),
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "iteration": 7,
        "rng": capture_rng_state(),
        "preprocessing": {"spacing": [1.0, 1.0, 1.0], "roi": [16, 16, 16]},
    }


def test_rng_state_survives_a_weights_only_round_trip(tmp_path):
    torch.manual_seed(3)
    np.random.seed(3)  # noqa: NPY002
    random.seed(3)
    save_checkpoint(
        tmp_path / "rng.pt",
        {k: 0 for k in ("config", "model", "optimizer", "scheduler", "iteration", "preprocessing")}
        | {"rng": capture_rng_state()},
    )
    expected = draws()
    state = load_checkpoint(tmp_path / "rng.pt")
    draws()  # move every generator on
    restore_rng_state(state["rng"])
    assert draws() == expected


def test_checkpoint_round_trip_restores_model_and_optimizer(tmp_path):
    config = get_config("ajsq-sesa", tiny=True, data={"roi": (16, 16, 16)})
    model = build_model(config)
    state = full_state(model, config)
    path = save_checkpoint(tmp_path / "last.pt", state)
    loaded = torch.load(path, weights_only=True)  # the contract: no pickled code needed
    assert loaded["format"] == "atrialjsq-checkpoint-v1"
    clone = build_model(config)
    clone.load_state_dict(loaded["model"])
    optimizer = torch.optim.SGD(clone.parameters(), lr=0.1, momentum=0.9)
    optimizer.load_state_dict(loaded["optimizer"])
    x = torch.randn(1, 1, 16, 16, 16)
    model.eval()
    clone.eval()
    assert torch.equal(model(x)["scar"], clone(x)["scar"])
    first = next(iter(optimizer.state.values()))["momentum_buffer"]
    assert first.abs().sum() > 0
    assert loaded["iteration"] == 7 and loaded["config"]["name"] == "ajsq-sesa"


def test_a_failed_save_keeps_the_previous_file(tmp_path):
    path = save_checkpoint(tmp_path / "last.pt", {"iteration": 1})
    before = path.read_bytes()
    with pytest.raises(Exception):  # noqa: B017 - whatever pickling raises, the old file must survive
        save_checkpoint(path, {"iteration": 2, "bad": lambda: None})
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]


def test_bad_files_raise_input_error_naming_the_file(tmp_path):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a torch file")
    with pytest.raises(InputError, match="garbage"):
        load_checkpoint(garbage)
    with pytest.raises(InputError, match="no such"):
        load_checkpoint(tmp_path / "missing.pt")
    incomplete = save_checkpoint(tmp_path / "incomplete.pt", {"iteration": 1})
    with pytest.raises(InputError, match="lacks"):
        load_checkpoint(incomplete)


def test_export_model_is_fp16_small_and_predicts_like_the_checkpoint(tmp_path):
    config = get_config("ajsq-sesa")  # the paper-size network: the shipped file must stay under 16 MB
    model = build_model(config)
    state = full_state_cheap(model, config)
    save_checkpoint(tmp_path / "best.pt", state)
    out = export_model(tmp_path / "best.pt", tmp_path / "model.pt", meta={"trained_on": "spheres"})
    assert out.stat().st_size <= 16 * 1024 * 1024
    shipped = load_model_file(out)
    assert shipped["format"] == MODEL_FORMAT
    assert shipped["meta"] == {"iteration": 7, "trained_on": "spheres"}
    assert "optimizer" not in shipped and "rng" not in shipped
    assert all(t.dtype == torch.float16 for t in shipped["model"].values() if t.is_floating_point())
    tiny = get_config("ajsq-sesa", tiny=True, data={"roi": (16, 16, 16)})
    small = build_model(tiny)
    save_checkpoint(tmp_path / "tiny.pt", full_state_cheap(small, tiny))
    weights = load_model_file(export_model(tmp_path / "tiny.pt", tmp_path / "tiny-model.pt"))["model"]
    restored = build_model(tiny)
    restored.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in weights.items()})
    x = torch.randn(1, 1, 16, 16, 16)
    small.eval()
    restored.eval()
    torch.testing.assert_close(restored(x)["la"], small(x)["la"], rtol=0, atol=0.05)


def full_state_cheap(model, config):
    """A checkpoint state without running the model (the big network is slow on CPU)."""
    return {
        "config": config.to_dict(),
        "model": model.state_dict(),
        "optimizer": {},
        "scheduler": {},
        "iteration": 7,
        "rng": capture_rng_state(),
        "preprocessing": {"spacing": [1.0, 1.0, 1.0], "roi": list(config.data.roi)},
    }


@pytest.mark.parametrize(
    ("state", "reason"),
    [
        ({"format": "atrialjsq-checkpoint-v1", "model": {}}, "checkpoint lacks config, preprocessing"),
        (  # preprocessing may be absent or empty (the config's spacing and window then apply), not malformed
            {
                "format": "atrialjsq-model-v1",
                "config": {"name": "x"},
                "model": {"w": torch.zeros(1)},
                "preprocessing": [1],
            },
            "lacks preprocessing",
        ),
        (
            {"format": "atrialjsq-model-v1", "config": {"name": "x"}, "model": [1, 2], "preprocessing": {"roi": [8]}},
            "lacks model",
        ),
        (
            {"format": "atrialjsq-model-v1", "config": {}, "model": {}, "preprocessing": {}},
            "lacks config, model ",
        ),
    ],
)
def test_a_file_with_the_tag_but_not_the_contents_is_one_error(tmp_path, state, reason):
    from atrialjsq.train.checkpoint import load_network

    path = tmp_path / "odd.pt"
    torch.save(state, path)
    with pytest.raises(InputError, match=reason):
        load_network(path)
    assert main(["bundle", "--fine", str(path), "--out", str(tmp_path / "b.pt")]) == 1
    assert not (tmp_path / "b.pt").exists()


def test_a_folder_given_as_a_checkpoint_says_so(tmp_path):
    from atrialjsq.train.checkpoint import load_network

    with pytest.raises(InputError, match="is a folder, not a checkpoint file"):
        load_network(tmp_path)
    with pytest.raises(InputError, match="no such checkpoint file"):
        load_network(tmp_path / "none.pt")
