"""Model bundles: built from two trainer checkpoints, fp16, weights-only, size-capped, found by path or name."""

from __future__ import annotations

import pytest
import torch

from atrialjsq.errors import InputError
from atrialjsq.infer import bundles as models
from atrialjsq.infer.bundles import load_bundle, make_bundle, resolve_model
from atrialjsq.model.configs import get_config
from atrialjsq.model.unet import build_model
from atrialjsq.train.checkpoint import save_checkpoint

torch.set_num_threads(1)


def write_checkpoint(path, config, seed):
    torch.manual_seed(seed)
    model = build_model(config)
    state = {
        "config": config.to_dict(),
        "model": model.state_dict(),
        "optimizer": {},
        "scheduler": {},
        "iteration": 7,
        "rng": {},
        "preprocessing": {"spacing": list(config.data.spacing), "roi": list(config.data.roi)},
    }
    save_checkpoint(path, state)
    return model


@pytest.fixture
def checkpoints(tmp_path):
    localizer_config = get_config("unet-la-bce", tiny=True, data={"spacing": (4.0, 4.0, 4.0), "roi": (16, 16, 8)})
    fine_config = get_config("ajsq-sesa", tiny=True)
    localizer = write_checkpoint(tmp_path / "loc.pt", localizer_config, 1)
    fine = write_checkpoint(tmp_path / "fine.pt", fine_config, 2)
    return tmp_path / "loc.pt", tmp_path / "fine.pt", localizer, fine


def test_bundle_round_trip_is_fp16_weights_only(tmp_path, checkpoints):
    loc_path, fine_path, localizer, fine = checkpoints
    out = make_bundle(
        loc_path,
        fine_path,
        tmp_path / "phantom-test.pt",
        meta={"trained_on": "phantoms"},
        preprocessing={"fine": {"zscore_region": "body"}},
    )
    raw = torch.load(out, weights_only=True)
    assert raw["format"] == "atrialjsq-model-v1" and raw["name"] == "phantom-test"
    assert set(raw) >= {"format", "name", "version", "meta", "localizer", "fine"}
    bundle = load_bundle(out)
    assert bundle["meta"]["trained_on"] == "phantoms"
    assert bundle["localizer"]["preprocessing"]["spacing"] == [4.0, 4.0, 4.0]
    assert bundle["fine"]["config"]["task"] == "joint"
    assert bundle["fine"]["preprocessing"]["zscore_region"] == "body"
    assert "zscore_region" not in bundle["localizer"]["preprocessing"]
    for section, model in (("localizer", localizer), ("fine", fine)):
        for key, tensor in model.state_dict().items():
            stored = bundle[section]["model"][key]
            if tensor.is_floating_point():
                assert stored.dtype == torch.float16
                torch.testing.assert_close(stored, tensor.half())
            else:
                assert torch.equal(stored, tensor)
    assert not list(tmp_path.glob(".*"))  # no temporary file left next to it


def test_a_bundle_recording_an_impossible_orientation_is_refused_naming_the_file(tmp_path, checkpoints):
    loc_path, fine_path, _, _ = checkpoints
    good = make_bundle(loc_path, fine_path, tmp_path / "ras.pt", preprocessing={"fine": {"orientation": "RAS"}})
    assert load_bundle(good)["fine"]["preprocessing"]["orientation"] == "RAS"
    bad = make_bundle(loc_path, fine_path, tmp_path / "bad.pt", preprocessing={"localizer": {"orientation": "LRS"}})
    with pytest.raises(InputError, match="bundle's localizer network: orientation must be three letters") as caught:
        load_bundle(bad)
    assert caught.value.path == str(bad)


def test_oversized_bundle_is_refused_and_not_written(tmp_path, checkpoints, monkeypatch):
    loc_path, fine_path, _, _ = checkpoints
    monkeypatch.setattr(models, "MAX_BUNDLE_BYTES", 1000)
    with pytest.raises(InputError, match="over the"):
        make_bundle(loc_path, fine_path, tmp_path / "big.pt")
    assert not (tmp_path / "big.pt").exists()
    assert not list(tmp_path.glob(".big*"))


def test_single_checkpoint_is_a_fine_model_without_localizer(checkpoints):
    _, fine_path, _, _ = checkpoints
    bundle = load_bundle(fine_path)
    assert bundle["localizer"] is None
    assert bundle["fine"]["config"]["name"] == "ajsq-sesa"


def test_shipped_name_lookup(tmp_path, checkpoints, monkeypatch):
    loc_path, fine_path, _, _ = checkpoints
    monkeypatch.setattr(models, "ASSETS_DIR", tmp_path / "assets")
    name = models.DEFAULT_MODEL
    with pytest.raises(InputError, match=rf"no shipped model named '{name}' \(available: none installed\)"):
        resolve_model(None)
    make_bundle(loc_path, fine_path, tmp_path / "assets" / f"{name}.pt")
    assert resolve_model(None) == tmp_path / "assets" / f"{name}.pt"
    assert models.shipped_models() == [name]
    with pytest.raises(InputError, match=f"available: {name}"):
        resolve_model("other-model")
    with pytest.raises(InputError, match="no such model file"):
        resolve_model(tmp_path / "missing.pt")


def test_non_model_file_is_an_input_error(tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a torch file")
    with pytest.raises(InputError, match=r"junk\.pt"):
        load_bundle(junk)


def test_bundle_command_packages_checkpoints_with_meta(tmp_path, checkpoints, capsys):
    from atrialjsq.cli import main

    loc_path, fine_path, _, fine = checkpoints
    meta = tmp_path / "meta.json"

    def bundle_command(out, *extra):
        return main(["bundle", "--localizer", str(loc_path), "--fine", str(fine_path), "--out", str(out), *extra])

    meta.write_text('{"trained_on": "40 phantoms"}')
    assert bundle_command(tmp_path / "m.pt", "--name", "demo-x", "--meta", str(meta)) == 0
    bundle = load_bundle(tmp_path / "m.pt")
    assert bundle["name"] == "demo-x" and bundle["meta"]["trained_on"] == "40 phantoms"
    for key, value in fine.state_dict().items():
        torch.testing.assert_close(bundle["fine"]["model"][key].float(), value.half().float())
    meta.write_text("{not json")
    assert bundle_command(tmp_path / "n.pt", "--meta", str(meta)) == 1
    assert "meta.json" in capsys.readouterr().err and not (tmp_path / "n.pt").exists()
    meta.write_bytes(b'\xff\xfe{"trained_on": "x"}')  # UTF-16's byte-order mark: not UTF-8
    assert bundle_command(tmp_path / "n.pt", "--meta", str(meta)) == 1
    assert "meta.json: not a readable JSON file (UnicodeDecodeError)" in capsys.readouterr().err
    # an existing file is a user's: replaced only with --overwrite
    (tmp_path / "notes.txt").write_text("kept")
    assert bundle_command(tmp_path / "notes.txt") == 1
    assert capsys.readouterr().err.strip() == f"error: {tmp_path / 'notes.txt'}: exists; pass --overwrite to replace it"
    assert (tmp_path / "notes.txt").read_text() == "kept"
    assert bundle_command(tmp_path / "m.pt", "--name", "demo-y", "--overwrite") == 0
    assert load_bundle(tmp_path / "m.pt")["name"] == "demo-y"


def test_bundle_never_writes_over_its_own_checkpoint_or_into_a_folder(tmp_path, checkpoints, capsys):
    from atrialjsq.cli import main

    _, fine_path, _, _ = checkpoints
    before = fine_path.read_bytes()
    assert main(["bundle", "--fine", str(fine_path), "--out", str(fine_path)]) == 1
    assert f"{fine_path}: is also an input" in capsys.readouterr().err
    assert fine_path.read_bytes() == before  # the run can still be resumed from it
    (tmp_path / "models").mkdir()
    assert main(["bundle", "--fine", str(fine_path), "--out", str(tmp_path / "models")]) == 1
    assert "is a folder; give the output's file name" in capsys.readouterr().err
    assert list((tmp_path / "models").iterdir()) == []


def test_a_bundle_given_as_the_fine_network_is_repackaged(tmp_path, checkpoints):
    """A bundle as --fine (e.g. a shipped model renamed or given new meta) contributes its fine network."""
    loc_path, fine_path, localizer, fine = checkpoints
    first = make_bundle(loc_path, fine_path, tmp_path / "first.pt", meta={"trained_on": "phantoms"})
    again = load_bundle(make_bundle(None, first, tmp_path / "again.pt", name="renamed"))
    assert again["name"] == "renamed" and again["localizer"] is None
    for key, value in fine.state_dict().items():
        torch.testing.assert_close(again["fine"]["model"][key].float(), value.half().float())
    # As --localizer a bundle gives its localiser, not its fine network; a bundle without one is refused.
    swapped = load_bundle(make_bundle(first, fine_path, tmp_path / "swapped.pt"))
    for key, value in localizer.state_dict().items():
        torch.testing.assert_close(swapped["localizer"]["model"][key].float(), value.half().float())
    with pytest.raises(InputError, match=r"again\.pt: is a bundle without a localizer network"):
        make_bundle(tmp_path / "again.pt", fine_path, tmp_path / "none.pt")
    assert not (tmp_path / "none.pt").exists()


def test_a_bundle_whose_weights_do_not_fit_its_config_is_one_error(tmp_path, checkpoints):
    """A file with the bundle's format tag whose network cannot be built from it is an InputError naming the file,
    not a traceback from load_state_dict."""
    from atrialjsq.infer.predictor import Predictor

    loc_path, fine_path, _, _ = checkpoints
    path = make_bundle(loc_path, fine_path, tmp_path / "m.pt")
    bundle = torch.load(path, weights_only=True)
    first = next(iter(bundle["fine"]["model"]))
    del bundle["fine"]["model"][first]  # one weight missing
    torch.save(bundle, tmp_path / "broken.pt")
    with pytest.raises(InputError, match=rf"broken\.pt: cannot be loaded as a model \(.*{first}"):
        Predictor.from_checkpoint(str(tmp_path / "broken.pt"), "cpu")


def test_bundling_refuses_weights_that_do_not_fit_and_a_localiser_without_an_la_head(tmp_path, checkpoints):
    """Refused when the bundle is made, naming the file, not when `predict` first loads it."""
    loc_path, fine_path, _, _ = checkpoints
    state = torch.load(fine_path, weights_only=True)
    first = next(iter(state["model"]))
    del state["model"][first]
    torch.save(state, tmp_path / "cut.pt")
    with pytest.raises(
        InputError, match=rf"cut\.pt: fine network: its weights do not fit its config \(Missing key.*{first}"
    ):
        make_bundle(loc_path, tmp_path / "cut.pt", tmp_path / "m.pt")
    # The roles swapped: a scar-only network cannot localise the LA.
    import dataclasses

    joint = get_config("ajsq-sesa", tiny=True)
    scar_only = dataclasses.replace(joint, task="scar", loss=dataclasses.replace(joint.loss, sa=False))
    write_checkpoint(tmp_path / "scar.pt", scar_only, 3)
    with pytest.raises(InputError, match=r"scar\.pt: cannot be the localiser: its network has no LA head"):
        make_bundle(tmp_path / "scar.pt", fine_path, tmp_path / "m.pt")
    assert not (tmp_path / "m.pt").exists()
