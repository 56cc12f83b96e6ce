"""The k-fold engine: folds saved and reused, a finished fold run kept, an interrupted one resumed exactly,
a run made with other settings or other cases refused, and the fold's Predictor built from its last.pt."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from atrialjsq.errors import InputError
from atrialjsq.experiments.kfold import CrossValidation
from atrialjsq.model.configs import get_config
from atrialjsq.train.checkpoint import load_checkpoint
from train.train_fixtures import sphere_case

IDS = [f"case{i}" for i in range(4)]


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def arrays_by_id() -> dict[str, dict[str, np.ndarray]]:
    return {case_id: sphere_case(radius_mm=5.5 + 0.25 * i, seed=i) for i, case_id in enumerate(IDS)}


def config(iterations: int, lr: float = 1e-2):
    return get_config(
        "ajsq-sesa",
        tiny=True,
        model={"levels": 2, "base_channels": 2, "max_channels": 2},
        data={"roi": (16, 16, 16), "margin": (4, 4, 4)},
        optim={"lr": lr},
        train={"iterations": iterations, "checkpoint_every": 1, "log_every": 1},
    )


def loader(arrays_by_id, fold, calls: list[str] | None = None):
    def arrays():
        if calls is not None:
            calls.append("built")
        return [arrays_by_id[case_id] for case_id in fold.train]

    return arrays


def test_folds_are_saved_once_and_selected_by_number(tmp_path):
    cv = CrossValidation(tmp_path, reversed(IDS), k=2, seed=3)
    assert sorted(cv.folds[0].val + cv.folds[1].val) == IDS
    assert all(not set(fold.train) & set(fold.val) for fold in cv.folds)
    again = CrossValidation(tmp_path, IDS, k=2, seed=99)  # the saved split wins over a new seed
    assert again.folds == cv.folds
    assert [fold.number for fold in cv.select([1, 0])] == [1, 0]
    with pytest.raises(InputError, match=r"fold\(s\) \[2\] out of range 0..1"):
        cv.select([2])
    with pytest.raises(InputError, match="cannot make 5 folds"):
        CrossValidation(tmp_path / "other", IDS, k=5)


def test_a_finished_run_is_kept_and_an_interrupted_one_resumes_exactly(tmp_path, arrays_by_id):
    whole = CrossValidation(tmp_path / "whole", IDS, k=2, progress=False)
    fold = whole.folds[0]
    first = whole.train(fold, config(4), loader(arrays_by_id, fold))
    assert first.trained and first.iteration == 4
    calls: list[str] = []
    kept = whole.train(fold, config(4), loader(arrays_by_id, fold, calls))
    assert not kept.trained and kept.iteration == 4 and calls == []  # nothing rebuilt, nothing trained

    # interrupted after 2 of 4 iterations, then called again: it resumes from 2
    part = CrossValidation(tmp_path / "part", IDS, k=2, progress=False)
    stopped = part.train(fold, config(4), loader(arrays_by_id, fold), stop_after=2)
    assert stopped.iteration == 2
    resumed = part.train(fold, config(4), loader(arrays_by_id, fold))
    assert resumed.trained and resumed.iteration == 4
    a = load_checkpoint(whole.run_dir(fold) / "last.pt")["model"]
    b = load_checkpoint(part.run_dir(fold) / "last.pt")["model"]
    for name, tensor in a.items():
        torch.testing.assert_close(b[name], tensor, rtol=0, atol=0)
    meta = load_checkpoint(part.run_dir(fold) / "last.pt")["meta"]
    assert meta["fold"] == 0 and meta["train_cases"] == list(fold.train) and meta["held_out"] == list(fold.val)


def test_a_run_made_otherwise_is_refused_and_left_alone(tmp_path, arrays_by_id):
    cv = CrossValidation(tmp_path, IDS, k=2, progress=False)
    fold = cv.folds[1]
    cv.train(fold, config(2), loader(arrays_by_id, fold), name="net")
    last = cv.run_dir(fold, "net") / "last.pt"
    assert last == tmp_path / "net" / "fold1" / "last.pt"
    before = last.read_bytes()
    with pytest.raises(InputError, match=r"last.pt: was trained with other settings \(optim.lr"):
        cv.train(fold, config(2, lr=5e-3), loader(arrays_by_id, fold), name="net")
    with pytest.raises(InputError, match=r"other settings \(the training budget"):
        cv.train(fold, config(3), loader(arrays_by_id, fold), name="net")  # a longer run is not this one
    with pytest.raises(InputError, match="was made from other data or options"):
        cv.train(fold, config(2), loader(arrays_by_id, fold), name="net", identity={"compact": "other.npz"})
    other = cv.folds[0]
    (tmp_path / "net" / "fold0").mkdir(parents=True)
    (tmp_path / "net" / "fold0" / "last.pt").write_bytes(before)  # fold 1's run put where fold 0's belongs
    with pytest.raises(InputError, match="trained on other cases than fold 0's"):
        cv.train(other, config(2), loader(arrays_by_id, other), name="net")
    assert last.read_bytes() == before


def test_the_fold_predictor_is_the_fold_network(tmp_path, arrays_by_id):
    cv = CrossValidation(tmp_path, IDS, k=2, progress=False)
    fold = cv.folds[0]
    with pytest.raises(InputError, match="fold 0 has no trained network"):
        cv.predictor(fold)
    cv.train(fold, config(2), loader(arrays_by_id, fold))
    predictor = cv.predictor(fold, tta=False)
    weights = load_checkpoint(cv.run_dir(fold) / "last.pt")["model"]
    for name, tensor in predictor.fine.model.state_dict().items():
        torch.testing.assert_close(tensor.float(), weights[name].float())
    image = arrays_by_id[fold.val[0]]["image"]
    from atrialjsq.io.geometry import Geometry

    maps = predictor.predict_grid(image, Geometry(image.shape, (1.0, 1.0, 1.0)))
    assert maps["la"].shape == image.shape and 0.0 <= maps["la"].min() <= maps["la"].max() <= 1.0
