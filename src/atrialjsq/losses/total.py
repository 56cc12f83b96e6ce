"""The total loss (paper eqs. 2 and 7) and the balancing-weight schedule.

    L = L_LA + λ_scar·L_SE_scar + λ_M1·L_SA(M1) + λ_M2·L_SA(M2)        (eq. 7)
    L_LA = L_BCE_LA + λ_LA·L_SE_LA                                       (eq. 2)

Per config: `la_terms` picks BCE and/or Dice (weight 1) plus SE-LA (weight λ_LA); `scar_loss="se"` is
λ_scar·SE-scar against the DPMs, "bce"/"dice" use the binary band targets (channel 0: `band == 1` normal wall,
channel 1: `band == 2` scar) with weight 1, since eq. 7's λ_scar balances the SE term only; SA adds both mask
terms. Single-task configs use only their head's terms. All terms are computed in float32 with autocast off.
The terms and their config names are in `losses.registry` (validated when the loss is built).

A batch may carry `scar_known` (B,): samples with 0 (real images whose scar is not labelled, trained for
their LA only) are left out of every scar term, which is then the mean over the samples with known scar (zero,
with a gradient path, when the batch has none). Without it every sample counts.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from atrialjsq.losses.registry import Term, TermInputs, batch_keys, check_loss_names, head_terms, require
from atrialjsq.model.configs import ExperimentConfig, LossConfig

Batch = dict[str, torch.Tensor]
Terms = dict[str, tuple[float, torch.Tensor]]  # name -> (weight, unweighted value)


def lambdas_at(loss: LossConfig, iteration: int) -> dict[str, float]:
    """Balancing weights at `iteration` (0-based): λ_LA and λ_M2 × growth every `growth_every`, then capped.

    A pure function of the iteration, so a resumed run continues the same schedule.
    """
    steps = max(int(iteration), 0) // loss.growth_every
    log_factor = steps * math.log(loss.growth)
    return {
        "lambda_la": _grown(loss.lambda_la, log_factor, loss.lambda_la_max),
        "lambda_scar": loss.lambda_scar,
        "lambda_m1": loss.lambda_m1,
        "lambda_dtm": loss.lambda_dtm,
        "lambda_m2": _grown(loss.lambda_m2, log_factor, loss.lambda_m2_max),
    }


def _grown(initial: float, log_factor: float, cap: float | None) -> float:
    value = initial * math.exp(min(log_factor, 700.0))  # exp(700) is finite; beyond it growth is moot
    return value if cap is None else min(value, cap)


class JointLoss(nn.Module):
    """`forward(outputs, batch, iteration) -> (loss, parts)`; parts are detached float32 scalars for logging."""

    def __init__(self, config: ExperimentConfig) -> None:
        super().__init__()
        check_loss_names(config.loss, config.model.la_head)
        self.config = config
        self.loss = config.loss
        self.heads = tuple(config.heads)
        self.terms = head_terms(config)

    @property
    def batch_keys(self) -> tuple[str, ...]:
        """The batch keys this loss reads (besides the optional `scar_known`)."""
        return batch_keys(self.config)

    def lambdas_at(self, iteration: int) -> dict[str, float]:
        return lambdas_at(self.loss, iteration)

    def forward(
        self, outputs: dict[str, torch.Tensor], batch: dict[str, torch.Tensor], iteration: int
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        device = next(iter(outputs.values())).device
        lambdas = self.lambdas_at(iteration)
        terms: Terms = {}
        with torch.autocast(device_type=device.type, enabled=False):
            if "la" in self.terms:
                terms.update(self._terms(self.terms["la"], "la", outputs, batch, lambdas))
            if "scar" in self.terms:
                terms.update(self._known_scar_terms(outputs, batch, lambdas))
            total = sum(weight * value for weight, value in terms.values())
        if not isinstance(total, torch.Tensor):  # sum() of no terms is the int 0
            raise ValueError(f"the loss has no terms for the heads {self.config.heads}")
        parts = {name: value.detach() for name, (_, value) in terms.items()}
        parts["loss"] = total.detach()
        for name in ("lambda_la", "lambda_m2"):
            parts[name] = torch.tensor(lambdas[name], device=device)
        return total, parts

    def _terms(
        self, terms: tuple[Term, ...], head: str, outputs: Batch, batch: Batch, lambdas: dict[str, float]
    ) -> Terms:
        inputs = TermInputs(self._get(outputs, head, "outputs"), outputs, batch, self.config)
        return {term.part: (term.weight(lambdas), term.value(inputs)) for term in terms}

    def _known_scar_terms(self, outputs: Batch, batch: Batch, lambdas: dict[str, float]) -> Terms:
        """The scar terms over the samples whose scar is labelled (`scar_known`; all samples without it)."""
        logits = self._get(outputs, "scar", "outputs")
        terms = self.terms["scar"]
        known = batch.get("scar_known")
        if known is None:
            return self._terms(terms, "scar", outputs, batch, lambdas)
        if known.shape != (logits.shape[0],):
            raise ValueError(f"scar_known must have shape ({logits.shape[0]},), got {tuple(known.shape)}")
        known = known.cpu()  # the trainer keeps it on the host (no GPU sync); a device tensor is copied once
        if bool((known > 0).all()):
            return self._terms(terms, "scar", outputs, batch, lambdas)
        index = torch.nonzero(known > 0).flatten().to(logits.device)
        if index.numel() == 0:  # no labelled scar in this batch: zero terms that still reach the scar head
            zero = logits.sum() * 0.0
            return {name: (weight, zero) for name, weight in self._scar_term_weights(lambdas).items()}
        subset = {key: value.index_select(0, index) for key, value in batch.items() if key != "scar_known"}
        sub_outputs = {key: value.index_select(0, index) for key, value in outputs.items()}
        return self._terms(terms, "scar", sub_outputs, subset, lambdas)

    def _scar_term_weights(self, lambdas: dict[str, float]) -> dict[str, float]:
        """Names and weights of the scar terms this config sums (from the registry)."""
        return {term.part: term.weight(lambdas) for term in self.terms["scar"]}

    def _get(self, mapping: dict[str, torch.Tensor], key: str, what: str = "batch") -> torch.Tensor:
        return require(mapping, key, self.config, what)
