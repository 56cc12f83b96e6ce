"""`atrialjsq configs`: the named training presets (`train --config NAME`) with a one-line description each."""

from __future__ import annotations

import argparse


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "configs",
        help="list the training presets with a one-line description each",
        description="List the presets `train --config` and `experiment` use: the paper's baselines (U-Net LA or "
        "scar only), AtrialJSQnet with its losses, and the Table 4 variants.",
    )
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from atrialjsq.model.configs import CPU_CONFIG, DEFAULT_CONFIG, get_config, list_configs

    defaults = {DEFAULT_CONFIG: " (train's default on a GPU)", CPU_CONFIG: " (train's default on a CPU)"}
    labels = {name: f"{name}{defaults.get(name, '')}" for name in list_configs()}
    width = max(len(label) for label in labels.values())
    for name, label in labels.items():
        print(f"{label:<{width}}  {get_config(name).description}")
    return 0
