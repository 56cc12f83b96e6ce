"""`atrialjsq models`: the shipped models and what each was trained on, so a user can tell what to trust."""

from __future__ import annotations

import argparse


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "models",
        help="list the shipped models with what each was trained on",
        description="List the model files installed with the package (usable as `predict --model NAME`): "
        "name, version, size, what each was trained on and what it must not be used for.",
    )
    parser.set_defaults(func=run)
    return parser


def describe(name: str, bundle: dict, size_bytes: int, default: bool) -> list[str]:
    """The lines `atrialjsq models` prints for one model."""
    from atrialjsq.infer.domain import model_domain

    meta = bundle.get("meta") or {}
    version = f" {bundle['version']}" if bundle.get("version") else ""
    header = f"{name}{' (default)' if default else ''}: version{version or ' unknown'}, {size_bytes / 1e6:.1f} MB"
    lines = [header]
    if meta.get("weights"):  # which release of the weights: the package version does not change with them
        lines.append(f"  weights:    {meta['weights']}")
    lines.append(f"  trained on: {meta.get('trained_on') or 'not recorded in the model file'}")
    if meta.get("not_trained_on"):
        lines.append(f"  not for:    {meta['not_trained_on']}")
    if model_domain(meta) == "phantom":
        lines.append("  domain:     synthetic phantoms; its numbers on a real scan are not measurements")
    return lines


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from atrialjsq.infer.bundles import DEFAULT_MODEL, load_bundle, resolve_model, shipped_models

    names = shipped_models()
    if not names:
        print("no shipped models installed; pass a model file to predict --model")
        return 0
    for name in names:
        bundle = load_bundle(name)
        size = Path(resolve_model(name)).stat().st_size
        print("\n".join(describe(name, bundle, size, name == DEFAULT_MODEL)))
    print("all models: research use only, not for clinical decisions")
    return 0
