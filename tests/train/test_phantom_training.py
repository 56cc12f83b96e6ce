"""Must-show: 60 CPU iterations on two phantoms lower the loss; a stopped or killed run resumed with --resume
reproduces the uninterrupted trajectory bit for bit."""

from __future__ import annotations

import pytest
import torch

from atrialjsq.errors import InputError
from atrialjsq.model.configs import get_config
from atrialjsq.train.checkpoint import load_checkpoint
from atrialjsq.train.logging import column, read_csv
from atrialjsq.train.trainer import Callback, Trainer, TrainOptions, fit

ITERATIONS = 60


def phantom_config(**train):
    """Tiny network on the phantoms' 3.5 mm, 16^3 ROI grid (see conftest.phantom_cases)."""
    settings = {"iterations": ITERATIONS, "checkpoint_every": 10, "val_every": 30, "log_every": 5}
    settings.update(train)
    return get_config(
        "ajsq-sesa",
        tiny=True,
        data={"roi": (16, 16, 16), "spacing": (3.5, 3.5, 3.5), "margin": (4, 4, 4)},
        optim={"lr": 1e-2},
        train={**settings, "flip_axes": (0, 1, 2)},
    )


class Killed(RuntimeError):
    pass


def loss_columns(rows):
    return [name for name in rows[0] if name.startswith("loss") or name.startswith("lambda") or name == "lr"]


@pytest.fixture(scope="module")
def reference_run(phantom_cases, tmp_path_factory):
    """60 uninterrupted iterations on two phantoms, validated on a third."""
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("uninterrupted")
    result = fit(phantom_config(), phantom_cases[:2], phantom_cases[2:], out, TrainOptions(progress=False))
    return out, result


def test_sixty_iterations_lower_the_loss_and_write_every_output(reference_run):
    out, result = reference_run
    rows = read_csv(out / "log.csv")
    assert [int(r["iteration"]) for r in rows] == list(range(ITERATIONS))
    loss = column(rows, "loss")
    first, last = sum(loss[:10]) / 10, sum(loss[-10:]) / 10
    assert last < 0.5 * first, (first, last)
    assert result.iteration == ITERATIONS
    for name in ("last.pt", "best.pt", "loss.png", "val.csv"):
        assert (out / name).is_file(), name
    val = read_csv(out / "val.csv")
    assert [int(r["iteration"]) for r in val] == [30, 60]
    state = load_checkpoint(out / "last.pt")
    assert state["iteration"] == ITERATIONS
    assert state["preprocessing"]["roi"] == [16, 16, 16]
    assert state["scheduler"]["schedule"] == "step" and state["scheduler"]["elapsed_seconds"] > 0


def test_stop_kill_and_resume_reproduce_the_uninterrupted_run(reference_run, phantom_cases, tmp_path):
    torch.set_num_threads(1)
    reference_dir, _ = reference_run
    config = phantom_config()
    train, val = phantom_cases[:2], phantom_cases[2:]
    # 1) a clean stop after 20 iterations (time-limited job), 2) a crash after iteration 34 (last.pt at 30),
    # 3) resume to the end.
    fit(config, train, val, tmp_path, TrainOptions(progress=False, stop_after=20))
    assert load_checkpoint(tmp_path / "last.pt")["iteration"] == 20

    class Crash(Callback):
        def on_step_end(self, trainer, iteration, parts):
            if iteration == 34:
                raise Killed

    with pytest.raises(Killed):
        fit(config, train, val, tmp_path, TrainOptions(progress=False, resume=True, callbacks=[Crash()]))
    assert load_checkpoint(tmp_path / "last.pt")["iteration"] == 30
    fit(config, train, val, tmp_path, TrainOptions(progress=False, resume=True))

    expected, got = read_csv(reference_dir / "log.csv"), read_csv(tmp_path / "log.csv")
    assert [r["iteration"] for r in got] == [r["iteration"] for r in expected]
    for name in loss_columns(expected):
        assert column(got, name) == column(expected, name), name  # bit for bit on CPU
    assert read_csv(tmp_path / "val.csv") == read_csv(reference_dir / "val.csv")
    final_expected = load_checkpoint(reference_dir / "last.pt")["model"]
    final_got = load_checkpoint(tmp_path / "last.pt")["model"]
    for name, tensor in final_expected.items():
        assert torch.equal(final_got[name], tensor), name


def test_resume_refuses_a_checkpoint_of_another_config(reference_run, phantom_cases):
    out, _ = reference_run
    other = phantom_config(seed=1)
    with pytest.raises(InputError, match=r"last\.pt.*train\.seed"):
        Trainer(other, phantom_cases[:2], None, out, TrainOptions(progress=False, resume=True))
