"""The loss-term registry: config names checked when the loss is built, declared batch keys, head terms."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from test_total import tiny_batch, zero_outputs

from atrialjsq.losses.registry import LA_TERMS, SCAR_TERMS, batch_keys, check_loss_names, head_terms
from atrialjsq.losses.total import JointLoss
from atrialjsq.model.configs import get_config, list_configs


def with_loss(name: str, **changes):
    """A preset with loss fields changed without validation (as a config with a bad name would arrive)."""
    config = get_config(name)
    return dataclasses.replace(config, loss=dataclasses.replace(config.loss, **changes))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"la_terms": ("bce", "focal")}, "loss.la_terms = ['bce', 'focal']: choose one or more of bce, dice, se"),
        ({"scar_loss": "focal"}, "loss.scar_loss = 'focal': choose from se, bce, dice"),
        ({"la_terms": ("se",)}, "loss.la_terms = ['se']: 'se' is a regulariser (eq. 2) and needs 'bce' or 'dice'"),
    ],
)
def test_unknown_or_incomplete_loss_names_name_the_key_the_value_and_the_choices(changes, message):
    config = with_loss("ajsq-sesa", **changes)
    with pytest.raises(ValueError) as caught:
        check_loss_names(config.loss)
    assert str(caught.value).startswith(message)
    with pytest.raises(ValueError) as built:
        JointLoss(config)
    assert str(built.value) == str(caught.value)


def test_the_config_accepts_names_it_does_not_know_the_loss_does_not():
    """model.configs does not import the losses: a name outside the registry passes config validation (so a
    checkpoint's config loads for inference) and is refused when the loss is built."""
    config = get_config("ajsq-sesa", loss={"scar_loss": "focal"})
    with pytest.raises(ValueError, match=r"loss\.scar_loss = 'focal'"):
        JointLoss(config)


def test_head_terms_follow_the_config():
    assert {head: [t.part for t in terms] for head, terms in head_terms(get_config("ajsq-sesa")).items()} == {
        "la": ["la_bce", "la_se"],
        "scar": ["scar_se", "sa_m1", "sa_m2"],
    }
    assert {h: [t.part for t in ts] for h, ts in head_terms(get_config("unet-la-dice")).items()} == {"la": ["la_dice"]}
    assert {h: [t.part for t in ts] for h, ts in head_terms(get_config("unet-scar-bce")).items()} == {
        "scar": ["scar_bce"]
    }
    # the order is the registry's, not the config's
    config = get_config("unet-la-se", loss={"la_terms": ("se", "dice", "bce")})
    assert [t.part for t in head_terms(config)["la"]] == ["la_bce", "la_dice", "la_se"]
    assert set(SCAR_TERMS) == {"bce", "dice", "se"}
    assert set(LA_TERMS) == {"bce", "dice", "se", "dtm_mse", "dtm_l1", "sdm_xue"}  # + Table 5's DTM terms


def test_batch_keys_by_config():
    assert batch_keys(get_config("ajsq-sesa")) == ("band", "la", "phi_la", "phi_normal", "phi_scar")
    assert batch_keys(get_config("unet-la-bce")) == ("la",)
    assert batch_keys(get_config("unet-scar-bce")) == ("band",)
    assert batch_keys(get_config("unet-scar-se")) == ("phi_normal", "phi_scar")
    assert JointLoss(get_config("ajsq-bce")).batch_keys == ("band", "la")


@pytest.mark.parametrize("name", list_configs())
def test_declared_batch_keys_are_exactly_the_keys_read(name):
    """Each preset runs on a batch of only its declared keys, and fails naming any one of them when missing."""
    config = get_config(name)
    loss_fn = JointLoss(config)
    outputs = {head: zero_outputs()[head] for head in config.heads}
    if config.model.la_head != "plain":  # a Table 5 head also predicts the distance map
        outputs["dtm"] = torch.zeros(1, 1, 2, 2, 2)
    batch = {key: tiny_batch()[key] for key in loss_fn.batch_keys}
    loss, _ = loss_fn(outputs, batch, 0)
    assert torch.isfinite(loss)
    for key in loss_fn.batch_keys:
        with pytest.raises(KeyError, match=repr(key)):
            loss_fn(outputs, {k: v for k, v in batch.items() if k != key}, 0)


def test_zero_scar_terms_take_their_names_and_weights_from_the_registry():
    lambdas = {"lambda_la": 0.0121, "lambda_scar": 10.0, "lambda_m1": 0.01, "lambda_m2": 0.00121}
    assert JointLoss(get_config("ajsq-sesa"))._scar_term_weights(lambdas) == {
        "scar_se": 10.0,
        "sa_m1": 0.01,
        "sa_m2": 0.00121,
    }
    assert JointLoss(get_config("unet-scar-dice"))._scar_term_weights(lambdas) == {"scar_dice": 1.0}
    # a batch with no known scar: the same names, all zero
    batch = {**tiny_batch(2), "scar_known": torch.zeros(2)}
    _, parts = JointLoss(get_config("unet-scar-bce"))({"scar": torch.zeros(2, 2, 2, 2, 2)}, batch, 0)
    assert set(parts) == {"scar_bce", "loss", "lambda_la", "lambda_m2"} and parts["scar_bce"].item() == 0.0


def test_a_joint_loss_pickles_with_its_terms():
    import pickle

    loss_fn = pickle.loads(pickle.dumps(JointLoss(get_config("ajsq-sesa"))))
    assert [term.part for term in loss_fn.terms["scar"]] == ["scar_se", "sa_m1", "sa_m2"]
