"""Trainer details on tiny spheres: the paper's lr and λ schedules, and the bf16 / channels-last path."""

from __future__ import annotations

import math

import pytest
import torch

from atrialjsq.model.configs import get_config
from atrialjsq.train.logging import column, read_csv
from atrialjsq.train.trainer import Trainer, TrainOptions, fit


def tiny_config(**train):
    settings = {"iterations": 60, "checkpoint_every": 10, "val_every": 30, "log_every": 5, "flip_axes": (0, 1, 2)}
    settings.update(train)
    return get_config(
        "ajsq-sesa", tiny=True, data={"roi": (16, 16, 16), "margin": (4, 4, 4)}, optim={"lr": 1e-2}, train=settings
    )


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
    # the same first step in fp32 and the default layout: the same loss up to bf16's rounding (8 mantissa bits)
    plain = tiny_config(iterations=1, amp=False, channels_last=False)
    fp32 = Trainer(plain, tiny_cases[:2], None, tmp_path / "fp32", TrainOptions(progress=False, fast=False))
    assert fp32.autocast_dtype is None and not fp32.channels_last
    fp32.run()
    first_bf16 = column(read_csv(tmp_path / "log.csv"), "loss")[0]
    first_fp32 = column(read_csv(tmp_path / "fp32" / "log.csv"), "loss")[0]
    assert first_bf16 != first_fp32  # (the two paths did differ)
    assert first_bf16 == pytest.approx(first_fp32, rel=0.02)


def test_a_diverging_run_stops_with_the_iteration_named(tiny_cases, tmp_path):
    config = tiny_config(iterations=20, log_every=1)
    config.optim.lr = 1e6  # SGD with this step size overflows within a few iterations
    with pytest.raises(FloatingPointError, match="not finite at iteration"):
        fit(config, tiny_cases[:2], None, tmp_path, TrainOptions(progress=False))
    rows = read_csv(tmp_path / "log.csv")
    assert rows and not math.isfinite(float(rows[-1]["loss"]))
    assert not (tmp_path / "last.pt").exists()  # no checkpoint of a diverged model


def test_init_from_loads_weights_with_a_fresh_schedule_and_refuses_another_network(tiny_cases, tmp_path):
    """Fine-tuning another loss variant from trained weights: same network weights, iteration 0, new optimizer."""
    from atrialjsq.errors import InputError
    from atrialjsq.train.checkpoint import load_checkpoint

    torch.set_num_threads(1)
    fit(tiny_config(iterations=4), tiny_cases[:1], None, tmp_path / "a", TrainOptions(progress=False))
    source = load_checkpoint(tmp_path / "a" / "last.pt")["model"]
    expit = get_config("ajsq-sesa-expit", tiny=True, data={"roi": (16, 16, 16), "margin": (4, 4, 4)})
    trainer = Trainer(
        expit, tiny_cases[:1], None, tmp_path / "b", TrainOptions(progress=False, init_from=tmp_path / "a" / "last.pt")
    )
    assert trainer.iteration == 0 and not trainer.optimizer.state
    for key, value in trainer.model.state_dict().items():
        torch.testing.assert_close(value, source[key])
    wider = get_config(
        "ajsq-sesa", tiny=True, data={"roi": (16, 16, 16), "margin": (4, 4, 4)}, model={"base_channels": 8}
    )
    with pytest.raises(InputError, match="do not fit"):
        Trainer(
            wider,
            tiny_cases[:1],
            None,
            tmp_path / "c",
            TrainOptions(progress=False, init_from=tmp_path / "a" / "last.pt"),
        )


@pytest.mark.parametrize("native_bf16", [True, False])
def test_cpu_defaults_follow_the_cpus_bf16_support(tiny_cases, tmp_path, monkeypatch, native_bf16):
    import atrialjsq.hardware as hardware

    monkeypatch.setattr(hardware, "cpu_has_native_bf16", lambda: native_bf16)
    assert Trainer.fast_settings(torch.device("cpu")) == (native_bf16, True)
    assert Trainer.fast_settings(torch.device("cuda")) == (True, True)
    trainer = Trainer(tiny_config(iterations=1), tiny_cases[:2], None, tmp_path, TrainOptions(progress=False))
    assert trainer.channels_last and (trainer.autocast_dtype == torch.bfloat16) == native_bf16
    options = TrainOptions(progress=False, fast=False)
    plain = Trainer(tiny_config(iterations=1), tiny_cases[:2], None, tmp_path / "b", options)
    assert not plain.channels_last and plain.autocast_dtype is None


def test_native_bf16_is_read_from_the_cpu_flags(monkeypatch, tmp_path):
    import atrialjsq.hardware as hardware

    cpuinfo = tmp_path / "cpuinfo"
    real_path = hardware.Path
    for flags, expected in (("fpu sse avx512f avx512_bf16", True), ("fpu sse avx2", False)):
        cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
        monkeypatch.setattr(hardware, "Path", lambda _: real_path(cpuinfo))
        hardware.cpu_has_native_bf16.cache_clear()
        assert hardware.cpu_has_native_bf16() is expected
    hardware.cpu_has_native_bf16.cache_clear()


class FakeClock:
    """A training clock that advances exactly `tick` seconds per reading (the loop reads it once per step)."""

    def __init__(self, start: float = 0.0, tick: float = 1.0):
        self.now, self.tick = start - tick, tick

    def __call__(self) -> float:
        self.now += self.tick
        return self.now


def clock_config(seconds: float, **train):
    small = {"levels": 2, "base_channels": 2, "max_channels": 2}
    settings = {"iterations": 1000, "seconds": seconds, "checkpoint_every": 1000, "log_every": 1, **train}
    return get_config(
        "ajsq-sesa",
        tiny=True,
        model=small,
        data={"roi": (16, 16, 16), "margin": (4, 4, 4)},
        optim={"schedule": "poly_clock", "warmup": 0.25, "poly_power": 1.0, "lr": 1e-2},
        train=settings,
    )


def test_warmup_poly_by_hand():
    from atrialjsq.train.schedule import warmup_poly

    assert warmup_poly(0.0, 0.05) == pytest.approx(0.01)
    assert warmup_poly(0.025, 0.05) == pytest.approx(0.01 + 0.99 * 0.5)
    assert warmup_poly(0.05, 0.05) == pytest.approx(1.0)
    assert warmup_poly(0.525, 0.05) == pytest.approx(0.5**0.9)
    assert warmup_poly(1.0, 0.05) == 0.0 and warmup_poly(2.0, 0.05) == 0.0
    assert warmup_poly(0.5, 0.0, 1.0) == pytest.approx(0.5)


def test_a_clock_budget_stops_the_run_and_the_lr_follows_the_clock(tiny_cases, tmp_path):
    """One tick per step: a 4-second budget is 4 steps; the lr before step i (i seconds in) is
    1e-2 × warm-up/poly(i / 4) with warm-up 0.25 and power 1: 1e-4, 1e-2, 2/3·1e-2, 1/3·1e-2."""
    torch.set_num_threads(1)
    result = fit(clock_config(4.0), tiny_cases[:1], None, tmp_path, TrainOptions(progress=False, clock=FakeClock()))
    assert result.iteration == 4 and result.seconds == 4.0
    rows = read_csv(tmp_path / "log.csv")
    assert column(rows, "lr") == pytest.approx([1e-4, 1e-2, 2e-2 / 3, 1e-2 / 3])
    assert column(rows, "elapsed") == [1.0, 2.0, 3.0, 4.0]
    state = torch.load(tmp_path / "last.pt", weights_only=True)
    assert state["iteration"] == 4 and state["scheduler"]["elapsed_seconds"] == 4.0


def test_an_iteration_cap_that_comes_first_sets_the_lr_instead_of_the_clock(tiny_cases, tmp_path):
    """A 100-second budget capped at 4 iterations (one tick per step): the run stops at 4 steps, 4 % into the
    clock, and the lr follows the iterations, 1e-2 × warm-up/poly(i / 4): the same curve the 4-second budget
    above gives, ending low instead of at the peak."""
    torch.set_num_threads(1)
    config = clock_config(100.0, iterations=4)
    result = fit(config, tiny_cases[:1], None, tmp_path, TrainOptions(progress=False, clock=FakeClock()))
    assert result.iteration == 4 and result.seconds == 4.0
    assert column(read_csv(tmp_path / "log.csv"), "lr") == pytest.approx([1e-4, 1e-2, 2e-2 / 3, 1e-2 / 3])


def test_the_progress_bar_counts_the_budget_that_ends_the_run(tiny_cases, tmp_path, capsys):
    """4 iterations under a 100-second clock: the bar reaches 100 % at the 4th step (not 4 % of the clock)."""
    torch.set_num_threads(1)
    fit(clock_config(100.0, iterations=4), tiny_cases[:1], None, tmp_path, TrainOptions(clock=FakeClock()))
    bar = capsys.readouterr().err.replace("\r", "\n").splitlines()
    assert any("train: 100%" in line and "100/100" in line for line in bar)
    assert not any("/100000" in line for line in bar)


def test_a_clock_schedule_takes_the_further_spent_budget():
    from atrialjsq.train.schedule import PolySchedule

    schedule = PolySchedule(100.0, power=1.0, by_clock=True, iterations=10.0)
    assert schedule.factor(5, 20.0) == pytest.approx(0.5)  # iterations half spent, the clock a fifth
    assert schedule.factor(1, 80.0) == pytest.approx(0.2)  # the clock further spent: it rules
    assert PolySchedule(100.0, power=1.0, by_clock=True).factor(5, 20.0) == pytest.approx(0.8)  # no cap


def test_a_clock_run_resumes_exactly_like_an_uninterrupted_one(tiny_cases, tmp_path):
    torch.set_num_threads(1)
    config = clock_config(6.0)
    whole = fit(config, tiny_cases[:2], None, tmp_path / "whole", TrainOptions(progress=False, clock=FakeClock()))
    part = tmp_path / "part"
    fit(config, tiny_cases[:2], None, part, TrainOptions(progress=False, clock=FakeClock(), stop_after=2))
    # a resumed process has its own clock, which reads something else entirely: only elapsed time counts
    resumed = fit(config, tiny_cases[:2], None, part, TrainOptions(progress=False, clock=FakeClock(500.0), resume=True))
    assert resumed.iteration == whole.iteration == 6 and resumed.seconds == 6.0
    a = torch.load(whole.last_checkpoint, weights_only=True)["model"]
    b = torch.load(resumed.last_checkpoint, weights_only=True)["model"]
    for name, tensor in a.items():
        torch.testing.assert_close(b[name], tensor, rtol=0, atol=0)
    assert column(read_csv(part / "log.csv"), "lr") == column(read_csv(tmp_path / "whole" / "log.csv"), "lr")


def test_ctrl_c_saves_a_checkpoint_at_the_next_step_and_resuming_reproduces_the_run(tiny_cases, tmp_path, capsys):
    """Reported by a user: Ctrl-C before the first checkpoint left a run folder that --resume refused ("nothing
    to resume") and a plain rerun refused too. The first Ctrl-C now ends the run after the step it interrupts,
    with last.pt written; resumed, the run ends with the weights of one never interrupted."""
    import os
    import signal

    from atrialjsq.train.trainer import Callback

    class CtrlC(Callback):
        def on_step_end(self, trainer, iteration, parts):
            if iteration == 1:
                os.kill(os.getpid(), signal.SIGINT)

    torch.set_num_threads(1)
    config = clock_config(100.0, iterations=5)
    whole = fit(config, tiny_cases[:1], None, tmp_path / "whole", TrainOptions(progress=False, clock=FakeClock()))
    part = tmp_path / "part"
    handler = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        fit(config, tiny_cases[:1], None, part, TrainOptions(progress=False, clock=FakeClock(), callbacks=[CtrlC()]))
    assert signal.getsignal(signal.SIGINT) is handler  # the default Ctrl-C again after training
    saved = torch.load(part / "last.pt", weights_only=True)
    assert saved["iteration"] == 3  # the signal came after the 2nd step; the run stops at the next boundary
    assert f"interrupted at iteration 3: saved {part / 'last.pt'}" in capsys.readouterr().out
    resumed = fit(config, tiny_cases[:1], None, part, TrainOptions(progress=False, clock=FakeClock(), resume=True))
    assert resumed.iteration == whole.iteration == 5
    a = torch.load(whole.last_checkpoint, weights_only=True)["model"]
    b = torch.load(resumed.last_checkpoint, weights_only=True)["model"]
    for name, tensor in a.items():
        torch.testing.assert_close(b[name], tensor, rtol=0, atol=0)


def test_a_decaying_run_cannot_be_resumed_with_another_iteration_budget(tiny_cases, tmp_path):
    """Under poly_clock the iteration cap shapes the rate, so resuming to a larger cap would restart the decay
    mid-run: refused, naming the change. The step schedule does not depend on it: extending is allowed."""
    from atrialjsq.errors import InputError

    torch.set_num_threads(1)
    fit(
        clock_config(100.0, iterations=4),
        tiny_cases[:1],
        None,
        tmp_path,
        TrainOptions(progress=False, clock=FakeClock()),
    )
    longer = TrainOptions(progress=False, clock=FakeClock(), resume=True)
    with pytest.raises(InputError, match=r"train\.iterations: 4 -> 6"):
        fit(clock_config(100.0, iterations=6), tiny_cases[:1], None, tmp_path, longer)
    step = get_config(
        "ajsq-sesa",
        tiny=True,
        model={"levels": 2, "base_channels": 2, "max_channels": 2},
        data={"roi": (16, 16, 16), "margin": (4, 4, 4)},
        train={"iterations": 2, "log_every": 1},
    )
    fit(step, tiny_cases[:1], None, tmp_path / "step", TrainOptions(progress=False))
    extended = step.__class__.from_dict({**step.to_dict(), "train": {**step.to_dict()["train"], "iterations": 3}})
    assert (
        fit(extended, tiny_cases[:1], None, tmp_path / "step", TrainOptions(progress=False, resume=True)).iteration == 3
    )


def test_snapshots_follow_the_training_clock(tiny_cases, tmp_path):
    from atrialjsq.train.checkpoint import load_model_file
    from atrialjsq.train.trainer import SnapshotCallback

    torch.set_num_threads(1)
    options = TrainOptions(
        progress=False, clock=FakeClock(tick=0.75), callbacks=[SnapshotCallback(tmp_path / "s", 2.0)]
    )
    fit(clock_config(5.0), tiny_cases[:1], None, tmp_path, options)  # steps end at 0.75, 1.5, ..., 5.25 s
    snapshots = sorted((tmp_path / "s").glob("*.pt"))
    assert [p.name for p in snapshots] == ["t00002.pt", "t00004.pt"]
    metas = [load_model_file(p)["meta"] for p in snapshots]
    assert [m["seconds"] for m in metas] == [2.25, 4.5] and [m["iteration"] for m in metas] == [3, 6]


def test_a_clock_schedule_needs_a_budget():
    with pytest.raises(ValueError, match=r"set train\.seconds"):
        get_config("ajsq-sesa", optim={"schedule": "poly_clock"})
    with pytest.raises(ValueError, match=r"optim\.schedule = 'cosine'"):
        get_config("ajsq-sesa", optim={"schedule": "cosine"})


def test_a_run_the_clock_ends_is_validated_on_its_last_weights(tiny_cases, tmp_path):
    """A 3-second budget (one tick per step) with validation every 100 iterations: the clock ends the run at
    iteration 3, and those last weights are scored and kept as best.pt, not lost for want of a 100th step."""
    torch.set_num_threads(1)
    config = clock_config(3.0, val_every=100)
    result = fit(config, tiny_cases[:1], tiny_cases[1:3], tmp_path, TrainOptions(progress=False, clock=FakeClock()))
    assert result.iteration == 3
    assert [int(row["iteration"]) for row in read_csv(tmp_path / "val.csv")] == [3]
    assert torch.load(tmp_path / "best.pt", weights_only=True)["iteration"] == 3
    # A pause by --stop-after is not the end: no validation there.
    fit(config, tiny_cases[:1], tiny_cases[1:3], tmp_path / "p", TrainOptions(progress=False, stop_after=2))
    assert not (tmp_path / "p" / "val.csv").is_file() or not read_csv(tmp_path / "p" / "val.csv")


def test_resume_keeps_the_weights_origin_and_refuses_another_process_count(tiny_cases, tmp_path):
    from atrialjsq.errors import InputError

    torch.set_num_threads(1)
    fit(tiny_config(iterations=2), tiny_cases[:1], None, tmp_path / "a", TrainOptions(progress=False))
    origin = tmp_path / "a" / "last.pt"
    run = tmp_path / "b"
    fit(
        tiny_config(iterations=4),
        tiny_cases[:1],
        None,
        run,
        TrainOptions(progress=False, init_from=origin, stop_after=2),
    )
    fit(tiny_config(iterations=4), tiny_cases[:1], None, run, TrainOptions(progress=False, resume=True))
    state = torch.load(run / "last.pt", weights_only=True)
    assert state["iteration"] == 4 and state["meta"]["initialised_from"] == str(origin)
    # The same checkpoint as if written by two processes: batch_size is per process, so one would halve the batch.
    state["world_size"] = 2
    torch.save(state, run / "last.pt")
    with pytest.raises(InputError, match=r"trained on 2 process\(es\), this run has 1"):
        fit(tiny_config(iterations=6), tiny_cases[:1], None, run, TrainOptions(progress=False, resume=True))
