"""Named configs: presets as the paper's ablations, exact round trips, clear errors on typos."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from atrialjsq.model.configs import (
    ExperimentConfig,
    apply_overrides,
    get_config,
    list_configs,
)

EXPECTED = {
    "unet-la-bce",
    "unet-la-dice",
    "unet-la-se",
    "unet-scar-bce",
    "unet-scar-dice",
    "unet-scar-se",
    "ajsq-bce",
    "ajsq-sesa-cpu",
    "ajsq-se",
    "ajsq-sesa",
    "ajsq-sesa-expit",
    "ajsq-sesa-hellinger",
    "ajsq-sesa-norm",
    "ajsq-sesa-expit-norm",
    "unet-la-dangi",
    "unet-la-audebert",
    "unet-la-xue",
}


def test_all_presets_exist_and_validate():
    assert set(list_configs()) == EXPECTED
    for name in list_configs():
        config = get_config(name)
        assert config.name == name
        config.validate()


def test_default_is_the_papers_method_with_paper_hyperparameters():
    config = get_config()
    assert config.name == "ajsq-sesa" and config.task == "joint"
    assert config.loss.la_terms == ("bce", "se") and config.loss.scar_loss == "se" and config.loss.sa
    assert (config.loss.lambda_la, config.loss.lambda_scar) == (0.01, 10.0)
    assert (config.loss.lambda_m1, config.loss.lambda_m2) == (0.01, 0.001)
    assert (config.loss.growth, config.loss.growth_every) == (1.1, 200)
    assert (config.optim.name, config.optim.lr, config.optim.momentum) == ("sgd", 1e-3, 0.9)
    assert (config.optim.weight_decay, config.optim.lr_step, config.optim.lr_gamma) == (1e-4, 4000, 0.1)
    assert config.data.roi == (208, 208, 80) and config.data.spacing == (1.0, 1.0, 1.0)
    assert (config.model.levels, config.model.base_channels, config.model.max_channels) == (5, 16, 256)


@pytest.mark.parametrize(
    ("name", "task", "la_terms", "scar_loss", "sa", "dpm", "normalized", "distance"),
    [
        ("unet-la-bce", "la", ("bce",), "se", False, "exp", False, "l2"),
        ("unet-la-dice", "la", ("dice",), "se", False, "exp", False, "l2"),
        ("unet-la-se", "la", ("bce", "se"), "se", False, "exp", False, "l2"),
        ("unet-scar-bce", "scar", ("bce", "se"), "bce", False, "exp", False, "l2"),
        ("unet-scar-dice", "scar", ("bce", "se"), "dice", False, "exp", False, "l2"),
        ("ajsq-bce", "joint", ("bce",), "bce", False, "exp", False, "l2"),
        ("ajsq-se", "joint", ("bce", "se"), "se", False, "exp", False, "l2"),
        ("ajsq-sesa-expit", "joint", ("bce", "se"), "se", True, "expit", False, "l2"),
        ("ajsq-sesa-hellinger", "joint", ("bce", "se"), "se", True, "exp", False, "hellinger"),
        ("ajsq-sesa-norm", "joint", ("bce", "se"), "se", True, "exp", True, "l2"),
        ("ajsq-sesa-expit-norm", "joint", ("bce", "se"), "se", True, "expit", True, "l2"),
    ],
)
def test_preset_losses(name, task, la_terms, scar_loss, sa, dpm, normalized, distance):
    loss = get_config(name).loss
    assert get_config(name).task == task
    assert (loss.la_terms, loss.scar_loss, loss.sa) == (la_terms, scar_loss, sa)
    assert (loss.dpm, loss.dpm_normalized, loss.se_distance) == (dpm, normalized, distance)


def test_unknown_name_lists_the_choices():
    with pytest.raises(ValueError, match=r"unknown config 'ajsq-sesaa'.*ajsq-sesa-expit"):
        get_config("ajsq-sesaa")


def test_round_trip_through_json_and_torch_weights_only(tmp_path):
    config = get_config("ajsq-sesa-expit-norm", tiny=True, train={"flip_axes": (0, 2), "iterations": 7})
    via_json = ExperimentConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert via_json == config
    assert via_json.data.roi == (32, 32, 32) and isinstance(via_json.train.flip_axes, tuple)
    path = tmp_path / "c.pt"
    torch.save({"config": config.to_dict()}, path)
    loaded = torch.load(path, weights_only=True)["config"]
    assert ExperimentConfig.from_dict(loaded) == config


def test_tiny_overrides_shrink_only_the_size():
    tiny = get_config("unet-scar-dice", tiny=True)
    assert tiny.name == "unet-scar-dice" and tiny.loss == get_config("unet-scar-dice").loss
    assert (tiny.model.levels, tiny.model.base_channels, tiny.data.roi) == (3, 4, (32, 32, 32))


def test_overrides_sections_and_dotted_keys():
    config = get_config("ajsq-se", model={"levels": 4}, optim={"name": "adam"})
    assert config.model.levels == 4 and config.model.base_channels == 16 and config.optim.name == "adam"
    changed = apply_overrides(config, {"loss.lambda_scar": 5.0, "train.iterations": 3})
    assert changed.loss.lambda_scar == 5.0 and changed.train.iterations == 3 and config.loss.lambda_scar == 10.0
    with pytest.raises(ValueError, match="no field 'lamda_scar'"):
        apply_overrides(config, {"loss.lamda_scar": 1.0})


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"loss": {"dpm": "gauss"}}, r"loss.dpm = 'gauss': choose from exp, expit"),
        ({"loss": {"la_terms": ()}}, "name at least one LA loss term"),
        ({"model": {"levels": 5}, "data": {"roi": (208, 208, 88)}}, r"divisible by 2\^\(levels-1\) = 16"),
        ({"task": "la", "loss": {"sa": True}}, "needs task 'joint'"),
        ({"model": {"depth": 3}}, "unknown field"),
        ({"task": "la", "loss": {"sa": False}, "train": {"synthetic_scar": 0.5}}, "needs a config with a scar head"),
        ({"train": {"synthetic_scar": 1.5}}, r"train.synthetic_scar = 1.5: must be >= 0 and <= 1"),
        ({"train": {"synthetic_scar_exclude": ("stripes",)}}, "name some, not all"),
        ({"train": {"rician_p": -0.1}}, r"train.rician_p = -0.1"),
        ({"train": {"synthetic_scar_iir": (0.9, 2.0)}}, r"train.synthetic_scar_iir = \[0.9, 2.0\]: need 1 <= low"),
        ({"train": {"synthetic_scar_iir": (2.0, 1.5)}}, r"train.synthetic_scar_iir = \[2.0, 1.5\]"),
        ({"train": {"synthetic_scar_iir": (0.99, 2.0)}}, r"train.synthetic_scar_iir = \[0.99, 2.0\]"),
        ({"train": {"synthetic_scar_real_iir": 0.9}}, r"train.synthetic_scar_real_iir = 0.9: 0 \(off\) or an IIR >= 1"),
        (
            {"train": {"synthetic_scar_real_iir": 1.2, "synthetic_scar_unsure_iir": 1.32}},
            r"synthetic_scar_real_iir = 1.2: .* >= train.synthetic_scar_unsure_iir",
        ),
    ],
)
def test_invalid_configs_raise_clear_errors(overrides, message):
    with pytest.raises(ValueError, match=message):
        get_config("ajsq-sesa", **overrides)


def test_real_enhancement_labels_are_accepted_at_or_above_the_unknown_cut_off():
    """0 switches the weak labels off; 1.32 with the preset's unknown cut-off 1.32 is the edge of the rule."""
    for real_iir, unsure_iir in ((0.0, 1.32), (1.32, 1.32), (1.6, 1.2), (1.0, 0.0)):
        train = {"synthetic_scar_real_iir": real_iir, "synthetic_scar_unsure_iir": unsure_iir}
        assert get_config("ajsq-sesa", train=train).train.synthetic_scar_real_iir == real_iir


@pytest.mark.parametrize("iir_range", [(1.0, 1.0), (1.0, 2.6), (1.32, 1.32)])
def test_a_synthetic_scar_iir_range_from_1_and_of_zero_width_is_accepted(iir_range):
    """The edges of the rule 1 <= low <= high: scar as bright as blood (1.0) and a fixed IIR are valid ranges."""
    assert get_config("ajsq-sesa", train={"synthetic_scar_iir": iir_range}).train.synthetic_scar_iir == iir_range


def test_parse_overrides_reads_json_values_and_rejects_missing_equals():
    from atrialjsq.model.configs import apply_overrides, get_config, parse_overrides

    dotted = parse_overrides(["model.levels=4", "data.roi=[64, 64, 48]", "optim.name=adam", "loss.lambda_la_max=null"])
    assert dotted == {"model.levels": 4, "data.roi": [64, 64, 48], "optim.name": "adam", "loss.lambda_la_max": None}
    config = apply_overrides(get_config("ajsq-sesa"), dotted)
    assert config.model.levels == 4 and config.data.roi == (64, 64, 48) and config.optim.name == "adam"
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_overrides(["model.levels"])


def test_a_config_saved_with_the_m2_radius_in_voxels_reads_as_the_same_band_in_mm():
    saved = get_config("ajsq-sesa", data={"spacing": (2.0, 2.0, 2.0)}).to_dict()
    del saved["loss"]["m2_radius_mm"]
    saved["loss"]["m2_radius"] = 2  # the old field: 2 voxels of 2 mm
    config = ExperimentConfig.from_dict(saved)
    assert config.loss.m2_radius_mm == 4.0
    with pytest.raises(ValueError, match="m2_radius_mm"):
        get_config("ajsq-sesa", loss={"m2_radius_mm": -1.0})


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("optim.lr", "fast", "optim.lr = 'fast': expected a number"),
        ("optim.lr", -1, "optim.lr = -1.0: must be > 0"),
        ("train.iterations", 1.5, "train.iterations = 1.5: expected an integer"),
        ("train.flip_axes", [0, 5], "train.flip_axes = [0, 5]: axes must be 0, 1 or 2"),
        ("loss.growth", -1, "loss.growth = -1.0: must be > 0"),
        ("model.levels", "4", "model.levels = '4': expected an integer"),
        ("data.roi", [64, 64], "data.roi = [64, 64]: expected 3 values"),
        ("train.amp", "yes", "train.amp = 'yes': expected true or false"),
        ("train.scale_range", [1.1, 0.9], "train.scale_range = [1.1, 0.9]: need 0 < low <= high"),
    ],
)
def test_a_bad_override_names_the_key_the_value_and_what_is_allowed(key, value, message):
    with pytest.raises(ValueError) as caught:
        apply_overrides(get_config("ajsq-sesa"), {key: value})
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_integers_are_accepted_for_float_fields_and_stored_as_floats():
    config = apply_overrides(get_config("ajsq-sesa"), {"optim.lr": 1, "data.spacing": [2, 2, 2]})
    assert config.optim.lr == 1.0 and isinstance(config.optim.lr, float)
    assert config.data.spacing == (2.0, 2.0, 2.0) and all(isinstance(v, float) for v in config.data.spacing)


@pytest.mark.parametrize(
    ("name", "la_head", "la_terms"),
    [
        ("unet-la-dangi", "dangi", ("bce", "dtm_mse")),
        ("unet-la-audebert", "audebert", ("bce", "dtm_l1")),
        ("unet-la-xue", "xue", ("dice", "sdm_xue")),
    ],
)
def test_table5_presets_differ_from_unet_la_se_only_in_the_la_head_and_its_losses(name, la_head, la_terms):
    """Table 5 compares shape constraints on "the same parameter setting": backbone, data, optimiser and
    schedule must be U-Net_LA-SE's."""
    dtm, se = dataclasses.asdict(get_config(name)), dataclasses.asdict(get_config("unet-la-se"))
    assert (dtm["model"].pop("la_head"), se["model"].pop("la_head")) == (la_head, "plain")
    assert (dtm["loss"].pop("la_terms"), se["loss"].pop("la_terms")) == (la_terms, ("bce", "se"))
    for key in ("name", "description"):
        dtm.pop(key), se.pop(key)
    assert dtm == se


def test_the_cpu_preset_is_the_shipped_recipe_size_with_synthetic_scar():
    config = get_config("ajsq-sesa-cpu")
    assert (config.model.levels, config.model.base_channels, config.model.max_channels) == (5, 8, 128)
    assert config.data.spacing == (1.5, 1.5, 1.5) and config.data.roi == (80, 64, 64)
    assert config.optim.name == "adamw" and config.optim.schedule == "poly"
    assert 0 < config.train.synthetic_scar <= 1 and config.train.blur_p > 0 and config.heads == {"la": 1, "scar": 2}
    assert config.train.synthetic_scar_unsure_iir == 1.32  # the dense-scar cut-off of Benito et al. 2017
    assert config.train.synthetic_scar_real_iir == 1.32  # and the real enhancement above it labelled scar
