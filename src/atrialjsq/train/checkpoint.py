"""Training checkpoints and shipped model files.

Everything stored is plain Python types or tensors so files load with `torch.load(weights_only=True)`: a
checkpoint can then be opened without trusting pickled code. A checkpoint holds what `--resume` needs to
continue the exact same run (optimizer, schedule, iteration, every RNG state); a shipped model keeps only the
fp16 weights, the config, the preprocessing and what it was trained on.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from atrialjsq.errors import InputError
from atrialjsq.io.atomic import atomic_path
from atrialjsq.train.model_card import card_of

CHECKPOINT_FORMAT = "atrialjsq-checkpoint-v1"
MODEL_FORMAT = "atrialjsq-model-v1"
CHECKPOINT_KEYS = ("format", "config", "model", "optimizer", "scheduler", "iteration", "rng", "preprocessing")


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Write `state` atomically: a crash mid-write leaves the previous file intact."""
    path = Path(path)
    state = {"format": CHECKPOINT_FORMAT, **state}
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    return path


def _load(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "is a folder, not a checkpoint file" if path.is_dir() else "no such checkpoint file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for corrupt or non-torch files
        raise InputError(path, f"not a loadable weights-only torch file ({type(error).__name__})") from None
    if not isinstance(state, dict) or "format" not in state:
        raise InputError(path, "not an atrialjsq checkpoint (no 'format' key)")
    return state


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a training checkpoint (tensors on the CPU); raises InputError for anything else."""
    state = _load(path)
    if state["format"] != CHECKPOINT_FORMAT:
        raise InputError(path, f"format {state['format']!r} is not {CHECKPOINT_FORMAT!r}")
    missing = [key for key in CHECKPOINT_KEYS if key not in state]
    if missing:
        raise InputError(path, f"checkpoint lacks {', '.join(missing)}")
    return state


def export_model(checkpoint: str | Path | dict[str, Any], out: str | Path, meta: dict[str, Any] | None = None) -> Path:
    """Write a slim weights-only file for shipping: fp16 floating weights, config, preprocessing and `meta`.

    Optimizer and RNG state are dropped (they are most of a checkpoint's size and useless for inference).
    """
    state = load_checkpoint(checkpoint) if not isinstance(checkpoint, dict) else checkpoint
    weights = {
        name: (tensor.detach().to("cpu", torch.float16) if tensor.is_floating_point() else tensor.detach().cpu())
        for name, tensor in state["model"].items()
    }
    slim = {
        "format": MODEL_FORMAT,
        "config": state["config"],
        "model": weights,
        "preprocessing": state["preprocessing"],
        "meta": {"iteration": int(state.get("iteration", 0)), **card_of(state.get("meta")), **(meta or {})},
    }
    out = Path(out)
    with atomic_path(out) as tmp:
        torch.save(slim, tmp)
    return out


def load_model_file(path: str | Path) -> dict[str, Any]:
    """Load a shipped model file or a training checkpoint as {config, model, preprocessing, meta}."""
    state = _load(path)
    if state["format"] == MODEL_FORMAT:
        return state
    if state["format"] == CHECKPOINT_FORMAT:
        missing = [key for key in ("config", "model", "preprocessing") if key not in state]
        if missing:
            raise InputError(path, f"checkpoint lacks {', '.join(missing)}")
        return {key: state[key] for key in ("config", "model", "preprocessing")} | {"meta": state.get("meta", {})}
    raise InputError(path, f"unknown format {state['format']!r}")


def is_exported_model(path: str | Path) -> bool:
    """Whether `path` is a slim single-network model file (`export_model`'s): what a resumed run may replace with its
    new export. A training checkpoint or a bundle is not (its optimizer state or second network would be lost)."""
    try:
        state = _load(path)
    except InputError:
        return False
    return state["format"] == MODEL_FORMAT and "fine" not in state


def load_network(path: str | Path, part: str = "fine") -> dict[str, Any]:
    """One network as {config, model, preprocessing, meta} from a training checkpoint, an exported model or a
    bundle (its `part`: "fine" or "localizer"): what fine-tuning (`--init-from`) and re-bundling start from."""
    state = load_model_file(path)
    network: Any
    if "fine" not in state:
        network, where = state, "model"
    else:
        network, where = state.get(part), f"bundle's {part} model"
        if network is None:
            raise InputError(path, f"is a bundle without a {part} network")
    # a file with the right tag but not what this tool wrote: one line, not a KeyError later (preprocessing may be
    # empty: the network then reads its config's spacing and window, as the Predictor does)
    missing = [
        key
        for key in ("config", "model")
        if not isinstance(network, dict) or not isinstance(network.get(key), dict) or not network[key]
    ]
    if not missing and not isinstance(network.get("preprocessing", {}), dict):
        missing = ["preprocessing"]
    if missing:
        raise InputError(path, f"{where} lacks {', '.join(missing)} (or holds them empty)")
    network = {**network, "preprocessing": network.get("preprocessing") or {}}
    return {key: network[key] for key in ("config", "model", "preprocessing")} | {"meta": state.get("meta", {})}


def load_network_weights(model: torch.nn.Module, path: str | Path, config_name: str) -> dict[str, Any]:
    """Load the weights of `path` (see `load_network`) into `model`; InputError naming the file when the
    architecture differs. Returns the loaded network's record."""
    network = load_network(path)
    problem = weights_problem(model, network["model"])
    if problem is not None:
        raise InputError(path, f"weights do not fit config {config_name!r} ({problem})")
    return network


def weights_problem(model: torch.nn.Module, weights: dict[str, torch.Tensor]) -> str | None:
    """Load `weights` into `model`, or say why they do not fit (missing or unexpected keys, shapes), shortly."""
    try:
        model.load_state_dict({key: value.float() for key, value in weights.items()})
    except RuntimeError as error:
        return " ".join(str(error).split()[6:])[:150]  # after "Error(s) in loading state_dict for <Net>:"
    return None


# ---- RNG state as plain types -------------------------------------------------------------------------


def capture_rng_state() -> dict[str, Any]:
    """Torch (CPU and CUDA), NumPy and Python RNG states, as tensors and lists only."""
    np_state = np.random.get_state(legacy=True)  # noqa: NPY002 - the global legacy RNG is what user code seeds
    if isinstance(np_state, dict):  # only when the global RNG was given a bit generator other than MT19937
        raise RuntimeError("cannot capture the NumPy RNG state: the global RNG is not MT19937")
    py_version, py_internal, py_gauss = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": [np_state[0], np_state[1].tolist(), int(np_state[2]), int(np_state[3]), float(np_state[4])],
        "python": [py_version, list(py_internal), py_gauss],
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Inverse of `capture_rng_state`."""
    torch.set_rng_state(state["torch"].cpu())
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))  # noqa: NPY002
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        cuda_states = state["cuda"]
        if len(cuda_states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all([s.cpu() for s in cuda_states])


def seed_everything(seed: int) -> None:
    """Seed torch (all devices), NumPy and Python's `random` from one integer."""
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002
    torch.manual_seed(seed)
