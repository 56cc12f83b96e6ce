"""One consistent command line: help on every option with its default, the subcommand's usage on mistakes,
X Y Z triples, no internal module names, counted nouns, and the models / configs listings."""

from __future__ import annotations

import argparse
import json
import re

import pytest
import torch

from atrialjsq.cli import COMMAND_MODULES, build_parser, main
from atrialjsq.infer import bundles as models
from atrialjsq.infer.bundles import untrained_bundle
from atrialjsq.model.configs import get_config, list_configs


def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _options(command: argparse.ArgumentParser):
    return [a for a in command._actions if a.option_strings and not isinstance(a, argparse._HelpAction)]


def test_every_command_is_registered():
    assert set(_commands()) == {name.replace("_", "-") for name in COMMAND_MODULES}


@pytest.mark.parametrize("name", sorted(name.replace("_", "-") for name in COMMAND_MODULES))
def test_every_option_has_help_showing_its_default_or_that_it_is_required(name):
    command = _commands()[name]
    formatter = command._get_formatter()
    for action in _options(command):
        flag = action.option_strings[-1]
        assert action.help, f"{name} {flag} has no help"
        text = formatter._expand_help(action)
        if action.required:
            assert "(required" in text, f"{name} {flag}: not shown as required: {text!r}"
        elif action.default not in (None, False, argparse.SUPPRESS, []):
            assert "default" in text, f"{name} {flag}: default {action.default!r} not shown: {text!r}"


@pytest.mark.parametrize("name", sorted(name.replace("_", "-") for name in COMMAND_MODULES))
def test_help_texts_name_no_internal_modules(name):
    text = _commands()[name].format_help()
    assert not re.search(r"atrialjsq\.[a-z_]+|\b[a-z_]+\.py\b|`(?:data|infer|report|io|quantify)\.[a-z_]+", text), text


def test_triples_are_written_x_y_z():
    parser = build_parser()
    args = parser.parse_args(["phantom", "--out", "x", "--shape", "64", "64", "40", "--spacing", "1.25", "1.25", "2.5"])
    assert args.shape == [64, 64, 40] and args.spacing == [1.25, 1.25, 2.5]
    args = parser.parse_args(["inject-scar", "data", "--out", "x", "--iir-range", "1.2", "2.5"])
    assert args.iir_range == [1.2, 2.5]
    usage = _commands()["phantom"].format_usage()
    assert "--shape X Y Z" in usage and "--spacing X Y Z" in usage and "--iir-range LOW HIGH" in usage
    for name, command in _commands().items():
        for action in _options(command):
            if action.nargs == 3:
                assert action.metavar == ("X", "Y", "Z"), f"{name} {action.option_strings[-1]}"


def test_comma_triples_are_refused_with_the_subcommands_usage(capsys):
    with pytest.raises(SystemExit) as info:
        main(["phantom", "--out", "x", "--shape", "576,576,44"])
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert err.startswith("usage: atrialjsq phantom") and "--shape: expected 3 arguments" in err


def test_unknown_options_show_the_subcommands_usage(capsys, tmp_path):
    with pytest.raises(SystemExit) as info:
        main(["train", "--data", str(tmp_path), "--out", str(tmp_path / "r"), "--bogus"])
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert err.startswith("usage: atrialjsq train ")
    assert "atrialjsq train: error: unrecognized arguments: --bogus" in err
    assert not (tmp_path / "r").exists()


def test_a_bad_option_value_shows_the_subcommands_usage_and_one_error_line(capsys, tmp_path):
    assert main(["phantom", "--out", str(tmp_path / "p"), "--burden", "0.9"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("usage: atrialjsq phantom")
    assert [line for line in err if line.startswith("error: ")] == ["error: --burden must be within 0.02-0.40, got 0.9"]
    assert main(["phantom", "--out", str(tmp_path / "p"), "--iir-range", "2.5", "1.2"]) == 1
    assert capsys.readouterr().err.strip().endswith("error: --iir-range needs LOW <= HIGH, got 2.5 1.2")
    assert not (tmp_path / "p").exists()


def test_one_case_is_not_one_cases(tmp_path, capsys):
    from atrialjsq.cli.text import batch_summary, plural

    assert plural(1, "case") == "1 case" and plural(0, "case") == "0 cases" and plural(2, "run") == "2 runs"
    assert batch_summary(1, 1, []) == "1 of 1 case written"
    assert batch_summary(4, 3, ["p7"]) == "3 of 4 cases written; 1 failed: p7"
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))
    from data_fixtures import write_lasc2018

    write_lasc2018(tmp_path, "only")
    main(["check-data", str(tmp_path)])
    assert "1 case: 1 valid, 0 with errors" in capsys.readouterr().out


def test_configs_lists_every_preset_with_its_description(capsys):
    assert main(["configs"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == len(list_configs())
    for name, line in zip(list_configs(), out, strict=True):
        assert line.startswith(name) and line.endswith(get_config(name).description)
    assert [line.split()[0] for line in out if "default on a GPU" in line] == ["ajsq-sesa"]
    assert [line.split()[0] for line in out if "default on a CPU" in line] == ["ajsq-sesa-cpu"]


def _bundle(folder, name, meta):
    localizer = get_config("unet-la-bce", tiny=True, data={"spacing": (4.0, 4.0, 4.0), "roi": (16, 16, 8)})
    fine = get_config("ajsq-sesa", tiny=True, data={"spacing": (2.0, 2.0, 2.0), "roi": (16, 16, 16)})
    path = untrained_bundle(localizer, fine, folder / f"{name}.pt", meta=meta)
    bundle = torch.load(path, weights_only=True)
    bundle["name"] = name
    torch.save(bundle, path)


def test_models_lists_every_shipped_bundle_with_its_training_data(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(models, "ASSETS_DIR", tmp_path)
    assert main(["models"]) == 0
    assert "no shipped models installed" in capsys.readouterr().out
    _bundle(tmp_path, "phantom-ajsq-sesa", {"trained_on": "40 phantoms", "not_trained_on": "real scans"})
    real_meta = {"trained_on": "80 LASC 2018 scans", "domain": "real LGE MRI", "weights": "v5 (6 December 2026)"}
    _bundle(tmp_path, models.DEFAULT_MODEL, real_meta)
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert " MB\n  weights:    v5 (6 December 2026)\n  trained on: 80 LASC" in out  # the release, then the data
    blocks = out.split("\n  ")
    assert out.startswith(f"{models.DEFAULT_MODEL} (default): version")
    assert "trained on: 40 phantoms" in out and "not for:    real scans" in out
    assert "phantom-ajsq-sesa: version" in out and "trained on: 80 LASC 2018 scans" in out
    real_part, phantom_part = out.split("phantom-ajsq-sesa:")
    assert "domain:     synthetic phantoms" in phantom_part and "domain" not in real_part
    assert len(blocks) > 4 and out.strip().endswith("research use only, not for clinical decisions")


def _study_parser():
    from studies.lasc2018.cli import build_parser as study_parser

    return study_parser()


@pytest.mark.parametrize(
    ("parser", "command"),
    [(build_parser, ["train", "--data", "d", "--out", "o"]), (_study_parser, ["cv", "--compact", "c", "--out", "o"])],
)
def test_training_commands_take_a_thread_count_and_refuse_zero(parser, command, capsys):
    assert parser().parse_args([*command, "--threads", "1"]).threads == 1
    assert parser().parse_args(command).threads is None  # torch's own choice
    with pytest.raises(SystemExit) as stop:
        parser().parse_args([*command, "--threads", "0"])
    assert stop.value.code == 2 and "must be positive" in capsys.readouterr().err


def test_apply_threads_sets_torchs_count_only_when_asked():
    from atrialjsq.cli.text import apply_threads

    before = torch.get_num_threads()
    try:
        apply_threads(None)
        assert torch.get_num_threads() == before
        apply_threads(1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_help_texts_print_no_doubled_percent_signs(capsys):
    """Reported by a user: `evaluate --help` printed "%%" (a description is not %-formatted by argparse)."""
    from atrialjsq.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    for name, command in commands.items():
        assert "%%" not in command.format_help(), name


def test_the_command_line_is_built_without_torch_or_numpy():
    """`atrialjsq --help` (and every parse error) must not pay for importing torch, over a second on a laptop."""
    import subprocess
    import sys

    heavy = "{'torch', 'numpy', 'scipy'}"
    code = "import sys; from atrialjsq.cli import build_parser; build_parser(); "
    code += f"print(sorted({heavy} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("meta", "problem"),
    [
        ([1, 2], "must hold a JSON object, not list"),
        ({"trained_on": 80}, "trained_on must be non-empty text"),
        ({"weights": 5}, "weights must be non-empty text"),
        ({"weights": " "}, "weights must be non-empty text"),
        ({"max_input_spacing_mm": [1.5, 1.5]}, "max_input_spacing_mm must be three positive numbers"),
        ({"trained_spacing_mm": [0.6, 0.6, 0]}, "trained_spacing_mm must be three positive numbers"),
        ({"acquired_spacing_mm": [1, True, 2]}, "acquired_spacing_mm must be three positive numbers"),
        ({"acquired_spacing_mm": "1.25 1.25 2.5"}, "acquired_spacing_mm must be three positive numbers"),
        ({"max_field_of_view_mm": [100, 110]}, "max_field_of_view_mm must be three positive numbers"),
        ({"max_input_spacing_mm": [1.5, float("nan"), 2.5]}, "max_input_spacing_mm must be three positive numbers"),
        ({"max_field_of_view_mm": [100, 110, float("inf")]}, "max_field_of_view_mm must be three positive numbers"),
    ],
)
def test_bundle_refuses_a_meta_file_predict_could_not_judge_scans_against(tmp_path, capsys, meta, problem):
    path = tmp_path / "meta.json"
    path.write_text(json.dumps(meta))
    fine = tmp_path / "fine.pt"
    fine.write_bytes(b"never read")
    assert main(["bundle", "--fine", str(fine), "--out", str(tmp_path / "m.pt"), "--meta", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: {problem}") and not (tmp_path / "m.pt").exists()


def test_bundle_meta_of_a_real_model_is_accepted():
    from atrialjsq.cli.bundle import meta_problem

    meta = {"trained_on": "80 scans", "domain": "real LGE MRI", "max_input_spacing_mm": [1.5, 1.5, 2.5]}
    assert meta_problem({**meta, "acquired_spacing_mm": [1.25, 1.25, 2.5], "validation": {"dice": 0.9}}) is None
    assert meta_problem({**meta, "domain": "Phantom"}) is None
    assert meta_problem({**meta, "domain": "mars"}) == (
        "domain must be one of 'real LGE MRI', 'phantom', 'untrained', got 'mars'"
    )
