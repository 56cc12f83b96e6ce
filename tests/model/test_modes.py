"""Validation in the middle of training gives the network back in the mode it found it, even when it fails."""

from __future__ import annotations

import pytest
from torch import nn

from atrialjsq.model.modes import evaluation_mode


@pytest.mark.parametrize("training", [True, False])
def test_the_mode_comes_back_after_the_block_and_after_a_failure(training):
    model = nn.Sequential(nn.Conv3d(1, 2, 3), nn.InstanceNorm3d(2), nn.Dropout(0.5)).train(training)
    with evaluation_mode(model):
        assert not any(m.training for m in model.modules())
    assert all(m.training == training for m in model.modules())
    with pytest.raises(RuntimeError), evaluation_mode(model):
        raise RuntimeError("a validation case failed")
    assert all(m.training == training for m in model.modules())
