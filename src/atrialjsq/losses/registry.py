"""The loss terms `JointLoss` can compose, by config name: adding a term is one function plus one entry here.

`LA_TERMS` are the choices of `loss.la_terms` (any non-empty subset), `SCAR_TERMS` those of `loss.scar_loss`
(one), and `SA_TERMS` the two shape-attention terms `loss.sa` adds (eq. 6). Each `Term` has
  part         its name in the loss parts (logs), e.g. "la_bce"
  weight_name  the balancing weight it is multiplied by (`total.lambdas_at` key, e.g. "lambda_la"; None = 1)
  value        `TermInputs` → the unweighted scalar
  keys         the batch keys `value` reads (`batch_keys`; `TermInputs.get` names a missing one)
The weight is separate from the value so that the names and weights of the scar terms are known without
computing them (a batch with no labelled scar, `total.JointLoss`).

The names are validated here, by `check_loss_names` (called when a `JointLoss` is built, and by the `train`
and real-data command lines before they read any data), not by
`model.configs`: the config module must not import the losses (which import it), and keeping the names next
to the functions means a new term cannot be allowed by the config yet missing from the loss. A config read
from a checkpoint therefore loads for inference whatever its loss names; training it checks them first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from atrialjsq.losses.bce import bce_loss
from atrialjsq.losses.dice import soft_dice_loss
from atrialjsq.losses.dpm import dpm_targets
from atrialjsq.losses.dtm import dtm_l1_loss, dtm_mse_loss, sdm_xue_loss
from atrialjsq.losses.sa import ground_truth_mask, masked_sample_mean, predicted_boundary_mask, squared_order_error
from atrialjsq.losses.se import se_la_loss, se_scar_loss
from atrialjsq.model.configs import ExperimentConfig, LossConfig

Tensor = torch.Tensor
Batch = dict[str, torch.Tensor]
Lambdas = dict[str, float]
# Optional batch key: per-voxel weights of the scar terms, 0 where the scar target is unknown (SE-scar and SA).
SCAR_WEIGHT = "scar_weight"


@dataclass
class TermInputs:
    """What a term's `value` reads: its head's logits, every head's logits (SA(M2) reads the LA head's), the
    batch and the config. The DPM targets are computed once and shared by SE-scar and both SA terms, and SA's
    squared order error once for both its masks (M1, M2)."""

    logits: Tensor
    outputs: Batch
    batch: Batch
    config: ExperimentConfig
    _dpm: Tensor | None = field(default=None, repr=False)
    _order_error: Tensor | None = field(default=None, repr=False)

    @property
    def loss(self) -> LossConfig:
        return self.config.loss

    def get(self, key: str) -> Tensor:
        return require(self.batch, key, self.config, "batch")

    def output(self, head: str) -> Tensor:
        return require(self.outputs, head, self.config, "outputs")

    def dpm(self) -> Tensor:
        """[B, 2, ...] DPM targets (p_normal, p_scar) of the config's kind (eq. 5, Table 4)."""
        if self._dpm is None:
            self._dpm = dpm_targets(
                self.get("phi_normal"), self.get("phi_scar"), self.loss.dpm, self.loss.dpm_normalized
            )
        return self._dpm

    def order_error(self) -> Tensor:
        """[B, 1, ...] SA's squared order error of the scar logits against the DPM targets (eq. 6, unmasked)."""
        if self._order_error is None:
            self._order_error = squared_order_error(torch.sigmoid(self.logits.float()), self.dpm())
        return self._order_error


def require(mapping: Batch, key: str, config: ExperimentConfig, what: str = "batch") -> Tensor:
    """`mapping[key]`, or a KeyError naming the key, the config that needs it and the keys there are."""
    if key not in mapping:
        raise KeyError(f"{what} has no {key!r}, needed by config {config.name!r} (has {sorted(mapping)})")
    return mapping[key]


@dataclass(frozen=True)
class Term:
    part: str
    weight_name: str | None  # the balancing weight (`total.lambdas_at` key) it is multiplied by; None = 1
    value: Callable[[TermInputs], Tensor]
    keys: tuple[str, ...]
    regulariser: bool = False  # LA only: needs a segmentation term with it (SE-LA, eq. 2)
    needs_dtm: bool = False  # reads the `dtm` output of a Table 5 LA head (model.la_head != "plain")

    def weight(self, lambdas: Lambdas) -> float:
        return 1.0 if self.weight_name is None else lambdas[self.weight_name]


# Term values: module-level functions (not lambdas), so a JointLoss holding its terms still pickles.


def la_bce(x: TermInputs) -> Tensor:
    return bce_loss(x.logits, x.get("la"))


def la_dice(x: TermInputs) -> Tensor:
    return soft_dice_loss(x.logits, x.get("la"), x.loss.dice_smooth)


def la_se(x: TermInputs) -> Tensor:
    return se_la_loss(x.logits, x.get("phi_la"), x.loss.t_la)


def la_dtm_mse(x: TermInputs) -> Tensor:
    return dtm_mse_loss(x.output("dtm"), x.get("phi_la"))


def la_dtm_l1(x: TermInputs) -> Tensor:
    return dtm_l1_loss(x.output("dtm"), x.get("phi_la"))


def la_sdm_xue(x: TermInputs) -> Tensor:
    return sdm_xue_loss(x.output("dtm"), x.get("phi_la"))


def band_targets(x: TermInputs) -> Tensor:
    """Binary band targets: channel 0 normal wall (`band == 1`), channel 1 scar (`band == 2`)."""
    band = x.get("band")
    return torch.cat([band == 1, band == 2], dim=1).to(torch.float32)


def scar_se(x: TermInputs) -> Tensor:
    return se_scar_loss(x.logits, x.dpm(), x.loss.se_distance, x.batch.get(SCAR_WEIGHT))


def scar_bce(x: TermInputs) -> Tensor:
    return bce_loss(x.logits, band_targets(x))


def scar_dice(x: TermInputs) -> Tensor:
    return soft_dice_loss(x.logits, band_targets(x), x.loss.dice_smooth)


def _weighted(x: TermInputs, mask: Tensor) -> Tensor:
    """An SA mask without the voxels whose scar target is unknown (`SCAR_WEIGHT` 0), when the batch has them."""
    weight = x.batch.get(SCAR_WEIGHT)
    return mask if weight is None else mask * weight.to(mask.dtype)


def sa_m1(x: TermInputs) -> Tensor:
    return masked_sample_mean(x.order_error(), _weighted(x, ground_truth_mask(x.get("band"))))


def sa_m2(x: TermInputs) -> Tensor:
    mask = predicted_boundary_mask(x.output("la"), x.loss.m2_radius_mm, x.config.data.spacing)
    return masked_sample_mean(x.order_error(), _weighted(x, mask))


# eq. 2: L_LA = L_BCE (and/or Dice, weight 1) + λ_LA·L_SE-LA
LA_TERMS: dict[str, Term] = {
    "bce": Term("la_bce", None, la_bce, ("la",)),
    "dice": Term("la_dice", None, la_dice, ("la",)),
    "se": Term("la_se", "lambda_la", la_se, ("phi_la",), regulariser=True),
    # Table 5's shape constraints on the LA head's predicted distance map (`losses.dtm`)
    "dtm_mse": Term("la_dtm_mse", "lambda_dtm", la_dtm_mse, ("phi_la",), regulariser=True, needs_dtm=True),
    "dtm_l1": Term("la_dtm_l1", "lambda_dtm", la_dtm_l1, ("phi_la",), regulariser=True, needs_dtm=True),
    "sdm_xue": Term("la_sdm_xue", "lambda_dtm", la_sdm_xue, ("phi_la",), regulariser=True, needs_dtm=True),
}

# eq. 7: λ_scar balances the SE term only; BCE and Dice on the band targets have weight 1
SCAR_TERMS: dict[str, Term] = {
    "se": Term("scar_se", "lambda_scar", scar_se, ("phi_normal", "phi_scar")),
    "bce": Term("scar_bce", None, scar_bce, ("band",)),
    "dice": Term("scar_dice", None, scar_dice, ("band",)),
}

# eq. 6 with the ground-truth band (M1) and the predicted LA boundary ± m2_radius_mm (M2, reads the LA head)
SA_TERMS: tuple[Term, ...] = (
    Term("sa_m1", "lambda_m1", sa_m1, ("band", "phi_normal", "phi_scar")),
    Term("sa_m2", "lambda_m2", sa_m2, ("phi_normal", "phi_scar")),
)


def check_loss_names(loss: LossConfig, la_head: str = "plain") -> None:
    """Raise one ValueError naming the key, the value and the allowed names for an unknown term, for LA terms
    that are all regularisers, or for a DTM term without a DTM head (`la_head`, the config's model.la_head)."""
    unknown = [name for name in loss.la_terms if name not in LA_TERMS]
    if not loss.la_terms or unknown:
        raise ValueError(f"loss.la_terms = {list(loss.la_terms)!r}: choose one or more of {', '.join(LA_TERMS)}")
    if loss.scar_loss not in SCAR_TERMS:
        raise ValueError(f"loss.scar_loss = {loss.scar_loss!r}: choose from {', '.join(SCAR_TERMS)}")
    if all(LA_TERMS[name].regulariser for name in loss.la_terms):
        needs = " or ".join(repr(name) for name, term in LA_TERMS.items() if not term.regulariser)
        raise ValueError(
            f"loss.la_terms = {list(loss.la_terms)!r}: {loss.la_terms[0]!r} is a regulariser (eq. 2) "
            f"and needs {needs} with it"
        )
    dtm_terms = [name for name in loss.la_terms if LA_TERMS[name].needs_dtm]
    if dtm_terms and la_head == "plain":
        raise ValueError(
            f"loss.la_terms = {list(loss.la_terms)!r}: {dtm_terms[0]!r} regresses the LA head's distance map; "
            "set model.la_head to dangi, audebert or xue"
        )


def head_terms(config: ExperimentConfig) -> dict[str, tuple[Term, ...]]:
    """The terms of each head the config builds, in the order they are summed."""
    loss = config.loss
    terms = {
        "la": tuple(LA_TERMS[name] for name in LA_TERMS if name in loss.la_terms),
        "scar": (SCAR_TERMS[loss.scar_loss], *(SA_TERMS if loss.sa else ())),
    }
    return {head: terms[head] for head in config.heads}


def batch_keys(config: ExperimentConfig) -> tuple[str, ...]:
    """The batch keys the config's loss reads (sorted), besides the optional `scar_known`."""
    return tuple(sorted({key for terms in head_terms(config).values() for term in terms for key in term.keys}))
