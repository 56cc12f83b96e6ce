"""Model bundles: the two networks prediction needs (coarse LA localiser + fine LA/scar model) in one file.

A bundle is a weights-only torch file (plain types and fp16 tensors, so `torch.load(weights_only=True)` opens
it without trusting pickled code):

    {"format": "atrialjsq-model-v1", "name": str, "version": str, "meta": {what it was trained on, ...},
     "localizer": {"config": dict, "model": fp16 state_dict, "preprocessing": {"spacing", "roi", ...}},
     "fine":      {"config": dict, "model": fp16 state_dict, "preprocessing": {"spacing", "roi", ...}}}

"localizer" may be None: the Predictor then tiles the whole volume with the fine network (the real-data model,
trained on LA-centred crops, has no localiser). It shares its format tag with the single-network file of
`train.checkpoint.export_model`; the "fine" key tells them apart. A single network (that file or a training
checkpoint) is accepted too: it becomes the fine model, without a localiser.

`--model` takes a bundle path or the name of a shipped bundle, `src/atrialjsq/assets/<name>.pt`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from atrialjsq import __version__
from atrialjsq.errors import InputError
from atrialjsq.infer.model_names import DEFAULT_MODEL
from atrialjsq.io.atomic import atomic_path
from atrialjsq.io.orientation import orientation_problem
from atrialjsq.model.configs import ExperimentConfig
from atrialjsq.model.unet import build_model
from atrialjsq.train.checkpoint import MODEL_FORMAT, load_model_file, load_network, weights_problem
from atrialjsq.train.model_card import card_of

ASSETS_DIR = Path(__file__).resolve().parents[1] / "assets"
# `predict` on a real scan gets the real-data model; `demo` and the tests' phantoms the phantom model.
MAX_BUNDLE_BYTES = 16 * 1024 * 1024
SECTIONS = ("localizer", "fine")


def shipped_models() -> list[str]:
    """Names of the bundles installed with the package."""
    return sorted(path.name[: -len(".pt")] for path in ASSETS_DIR.glob("*.pt"))


def resolve_model(model: str | Path | None = None) -> Path:
    """A bundle path, or the shipped file for a model name (default: DEFAULT_MODEL); InputError if neither."""
    model = DEFAULT_MODEL if model is None else model
    path = Path(model)
    if path.is_file():
        return path
    name = str(model)
    if "/" not in name and not name.endswith(".pt"):
        shipped = ASSETS_DIR / f"{name}.pt"
        if shipped.is_file():
            return shipped
        available = ", ".join(shipped_models()) or "none installed"
        raise InputError(shipped, f"no shipped model named {name!r} (available: {available})")
    raise InputError(path, "no such model file")


def _section(state: dict[str, Any]) -> dict[str, Any]:
    """Config, fp16 weights and preprocessing of one network: all inference needs."""
    weights = {
        key: tensor.detach().to("cpu", torch.float16) if tensor.is_floating_point() else tensor.detach().cpu()
        for key, tensor in state["model"].items()
    }
    return {"config": dict(state["config"]), "model": weights, "preprocessing": dict(state["preprocessing"])}


def make_bundle(
    localizer_ckpt: str | Path | None,
    fine_ckpt: str | Path,
    out: str | Path,
    meta: dict[str, Any] | None = None,
    name: str | None = None,
    version: str = __version__,
    preprocessing: dict[str, dict[str, Any]] | None = None,
) -> Path:
    """Build a bundle from trainer checkpoints (or exported model files); atomic, refused above 16 MB.
    `localizer_ckpt` None: a bundle without a localiser.

    `preprocessing` ({"localizer": {...}, "fine": {...}}) adds what a checkpoint does not record but inference
    must reproduce, e.g. {"zscore_region": "body"} when the cache was built with `--zscore body`.
    """

    def section(key: str, path: str | Path) -> dict[str, Any]:
        state = load_network(path, part=key)
        _check_network(state, path, key)
        state["preprocessing"] = {**state["preprocessing"], **(preprocessing or {}).get(key, {})}
        return state

    localizer = section("localizer", localizer_ckpt) if localizer_ckpt is not None else None
    fine = section("fine", fine_ckpt)
    # What the trainer recorded of the fine network's data, unless the --meta file says otherwise.
    return _write_bundle(out, localizer, fine, {**card_of(fine.get("meta")), **(meta or {})}, name, version)


def _check_network(state: dict[str, Any], path: str | Path, part: str) -> None:
    """Refuse, naming the file, weights that do not fit their own config, and a localiser without an LA head:
    either would be written without complaint and fail only when `predict` loads the bundle."""
    try:
        config = ExperimentConfig.from_dict(state["config"])
        model = build_model(config)
    except (KeyError, TypeError, ValueError) as error:
        raise InputError(path, f"{part} network: its config cannot be read ({error})") from None
    problem = weights_problem(model, state["model"])
    if problem is not None:
        raise InputError(path, f"{part} network: its weights do not fit its config ({problem})")
    if part == "localizer" and "la" not in config.heads:
        raise InputError(path, f"cannot be the localiser: its network has no LA head ({sorted(config.heads)})")


def untrained_bundle(
    localizer_config: Any | None,
    fine_config: Any,
    out: str | Path,
    meta: dict[str, Any] | None = None,
    seed: int = 0,
) -> Path:
    """A bundle of freshly initialised networks for two `ExperimentConfig`s: for timing and plumbing checks
    (benchmarks, tests) before a trained model exists. Its predictions are meaningless."""
    torch.manual_seed(seed)

    def state(config: Any) -> dict[str, Any]:
        spacing, roi = list(config.data.spacing), list(config.data.roi)
        model = build_model(config).state_dict()
        return {"config": config.to_dict(), "model": model, "preprocessing": {"spacing": spacing, "roi": roi}}

    localizer = state(localizer_config) if localizer_config is not None else None
    meta = dict(meta or {})
    if "trained_on" not in meta:  # a caller that says what the bundle stands for (tests, demos) is believed
        meta = {"trained_on": "nothing (untrained, random weights)", "domain": "untrained", **meta}
    return _write_bundle(out, localizer, state(fine_config), meta, None, __version__)


def _write_bundle(
    out: str | Path,
    localizer: dict[str, Any] | None,
    fine: dict[str, Any],
    meta: dict[str, Any] | None,
    name: str | None,
    version: str,
) -> Path:
    out = Path(out)
    bundle = {
        "format": MODEL_FORMAT,
        "name": name or out.name.split(".")[0],
        "version": version,
        "meta": dict(meta or {}),
        "localizer": _section(localizer) if localizer is not None else None,
        "fine": _section(fine),
    }
    with atomic_path(out) as tmp:
        torch.save(bundle, tmp)
        size = tmp.stat().st_size
        if size > MAX_BUNDLE_BYTES:
            raise InputError(
                out, f"bundle would be {size / 2**20:.1f} MiB, over the {MAX_BUNDLE_BYTES >> 20} MiB limit"
            )
    return out


def _check_orientation(path: Path, part: str, section: dict[str, Any] | None) -> None:
    """A recorded orientation must be one `io.orientation` can turn images to (an InputError naming the file)."""
    recorded = ((section or {}).get("preprocessing") or {}).get("orientation")
    problem = orientation_problem(recorded) if recorded is not None else None
    if problem is not None:
        raise InputError(path, f"bundle's {part} network: {problem}")


def load_bundle(model: str | Path | None = None) -> dict[str, Any]:
    """Load a bundle (or a single network) by path or shipped name, as {name, version, meta, localizer, fine}.

    `localizer` is None for a single network. Tensors stay on the CPU in their stored dtype.
    """
    path = resolve_model(model)
    state = load_model_file(path)
    if "fine" in state:
        missing = [key for key in ("config", "model", "preprocessing") if key not in state["fine"]]
        if missing:
            raise InputError(path, f"bundle's fine model lacks {', '.join(missing)}")
        for part in ("localizer", "fine"):
            _check_orientation(path, part, state.get(part))
        return {
            "name": state.get("name", path.stem),
            "version": state.get("version", ""),
            "meta": state.get("meta", {}),
            "localizer": state.get("localizer"),
            "fine": state["fine"],
            "path": str(path),
        }
    missing = [key for key in ("config", "model") if not isinstance(state.get(key), dict) or not state[key]]
    if missing:  # (preprocessing may be empty: the network then reads its config's spacing and window)
        raise InputError(path, f"model lacks {', '.join(missing)}")
    return {
        "name": path.stem,
        "version": "",
        "meta": state.get("meta", {}),
        "localizer": None,
        "fine": {"config": state["config"], "model": state["model"], "preprocessing": state.get("preprocessing") or {}},
        "path": str(path),
    }
