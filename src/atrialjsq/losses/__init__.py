"""The paper's losses: BCE, Dice, SE-LA (eq. 4), SE-scar (eq. 5), SA (eq. 6) and the total (eq. 7)."""

from atrialjsq.losses.bce import bce_loss
from atrialjsq.losses.dice import soft_dice_loss
from atrialjsq.losses.dpm import distance_probability, dpm_targets
from atrialjsq.losses.sa import ground_truth_mask, predicted_boundary_mask, shape_attention_loss
from atrialjsq.losses.se import se_la_loss, se_scar_loss
from atrialjsq.losses.total import JointLoss, lambdas_at

__all__ = [
    "JointLoss",
    "bce_loss",
    "distance_probability",
    "dpm_targets",
    "ground_truth_mask",
    "lambdas_at",
    "predicted_boundary_mask",
    "se_la_loss",
    "se_scar_loss",
    "shape_attention_loss",
    "soft_dice_loss",
]
