"""A tiny CPU run learns, and stopping or killing it then resuming reproduces the uninterrupted trajectory."""

from __future__ import annotations

import math

import pytest
import torch

from atrialjsq.errors import InputError
from atrialjsq.model.configs import get_config
from atrialjsq.train.checkpoint import load_checkpoint
from atrialjsq.train.logging import column, read_csv
from atrialjsq.train.trainer import Trainer, TrainOptions, fit

ITERATIONS = 60


def tiny_config(**train):
    settings = {"iterations": ITERATIONS, "checkpoint_every": 10, "val_every": 30, "log_every": 5}
    settings.update(train)
    return get_config(
        "ajsq-sesa",
        tiny=True,
        data={"roi": (16, 16, 16), "margin": (4, 4, 4)},
        optim={"lr": 1e-2},
        train={**settings, "flip_axes": (0, 1, 2)},
    )


class Killed(RuntimeError):
    pass


def loss_columns(rows):
    return [name for name in rows[0] if name.startswith("loss") or name.startswith("lambda") or name == "lr"]


@pytest.fixture(scope="module")
def reference_run(tiny_cases, tmp_path_factory):
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("uninterrupted")
    result = fit(tiny_config(), tiny_cases[:2], tiny_cases[2:3], out, TrainOptions(progress=False))
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
    # A ball filling 22 % of the window: predicting "all LA" would score Dice 0.36.
    assert float(val[-1]["la_dice"]) > 0.5
    state = load_checkpoint(out / "last.pt")
    assert state["iteration"] == ITERATIONS
    assert state["preprocessing"]["roi"] == [16, 16, 16]
    assert state["scheduler"]["last_epoch"] == ITERATIONS


def test_stop_kill_and_resume_reproduce_the_uninterrupted_run(reference_run, tiny_cases, tmp_path):
    torch.set_num_threads(1)
    reference_dir, _ = reference_run
    config = tiny_config()
    # 1) a clean stop after 20 iterations (time-limited job), 2) a crash after iteration 34 (last.pt at 30),
    # 3) resume to the end.
    fit(config, tiny_cases[:2], tiny_cases[2:3], tmp_path, TrainOptions(progress=False, stop_after=20))
    assert load_checkpoint(tmp_path / "last.pt")["iteration"] == 20

    def crash(iteration, _parts):
        if iteration == 34:
            raise Killed

    with pytest.raises(Killed):
        fit(
            config, tiny_cases[:2], tiny_cases[2:3], tmp_path, TrainOptions(progress=False, resume=True, callback=crash)
        )
    assert load_checkpoint(tmp_path / "last.pt")["iteration"] == 30
    fit(config, tiny_cases[:2], tiny_cases[2:3], tmp_path, TrainOptions(progress=False, resume=True))

    expected, got = read_csv(reference_dir / "log.csv"), read_csv(tmp_path / "log.csv")
    assert [r["iteration"] for r in got] == [r["iteration"] for r in expected]
    for name in loss_columns(expected):
        assert column(got, name) == column(expected, name), name  # bit for bit on CPU
    assert read_csv(tmp_path / "val.csv") == read_csv(reference_dir / "val.csv")
    final_expected = load_checkpoint(reference_dir / "last.pt")["model"]
    final_got = load_checkpoint(tmp_path / "last.pt")["model"]
    for name, tensor in final_expected.items():
        assert torch.equal(final_got[name], tensor), name


def test_resume_refuses_a_checkpoint_of_another_config(reference_run, tiny_cases):
    out, _ = reference_run
    other = tiny_config(seed=1)
    with pytest.raises(InputError, match=r"last\.pt"):
        Trainer(other, tiny_cases[:2], None, out, TrainOptions(progress=False, resume=True))


def test_lr_schedule_and_lambdas_follow_the_paper(tiny_cases, tmp_path):
    config = get_config(
        "ajsq-sesa",
        tiny=True,
        data={"roi": (16, 16, 16), "margin": (4, 4, 4)},
        optim={"lr_step": 4, "lr_gamma": 0.1},
        loss={"growth_every": 3},
        model={"levels": 2, "base_channels": 2, "max_channels": 2},
        train={"iterations": 9, "checkpoint_every": 100, "log_every": 100},
    )
    torch.set_num_threads(1)
    fit(config, tiny_cases[:1], None, tmp_path, TrainOptions(progress=False))
    rows = read_csv(tmp_path / "log.csv")
    lrs = column(rows, "lr")
    assert lrs == pytest.approx([1e-3] * 4 + [1e-4] * 4 + [1e-5])
    lambda_la = column(rows, "lambda_la")
    assert lambda_la == pytest.approx([0.01 * 1.1 ** (i // 3) for i in range(9)])
    assert column(rows, "lambda_scar") == [10.0] * 9
    assert all(math.isfinite(v) for v in column(rows, "loss"))


def test_bf16_autocast_and_channels_last_path_runs_and_validates(tiny_cases, tmp_path):
    """The CUDA settings (bf16 autocast, channels_last_3d), exercised on the CPU: finite losses, a validation row."""
    config = tiny_config(iterations=3, val_every=3, amp=True, channels_last=True)
    trainer = Trainer(config, tiny_cases[:2], tiny_cases[2:3], tmp_path, TrainOptions(progress=False))
    assert trainer.autocast_dtype == torch.bfloat16 and trainer.channels_last
    assert trainer.train_bank.margin == (4, 4, 4)
    result = trainer.run()
    assert result.iteration == 3
    assert all(math.isfinite(v) for v in column(read_csv(tmp_path / "log.csv"), "loss"))
    val = read_csv(tmp_path / "val.csv")
    assert len(val) == 1 and 0.0 <= float(val[0]["la_dice"]) <= 1.0
