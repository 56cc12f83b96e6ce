"""`atrialjsq bundle`: package a localiser and a fine model (two trainer checkpoints) into one shippable file."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "bundle",
        help="package a localiser and a fine checkpoint into one fp16 model file for predict",
        description=(
            "Build the model file `atrialjsq predict --model` reads: the coarse LA localiser and the fine "
            "network in fp16, loaded with torch.load(weights_only=True); refused above 16 MB."
        ),
    )
    parser.add_argument(
        "--localizer",
        type=Path,
        default=None,
        help="checkpoint of the coarse LA network (default: none; predict then tiles the whole volume)",
    )
    parser.add_argument("--fine", type=Path, required=True, help="checkpoint of the fine (joint) network")
    parser.add_argument("--out", type=Path, required=True, help="model file to write (.pt)")
    parser.add_argument("--name", help="model name stored in the file and in every report")
    parser.add_argument("--meta", type=Path, help="JSON file: what the model was trained on, how, results")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from atrialjsq.errors import InputError
    from atrialjsq.infer.bundles import make_bundle
    from atrialjsq.io.output_check import check_output_file

    check_output_file(args.out, inputs=(args.fine, args.localizer, args.meta))  # never over its own checkpoint
    meta = None
    if args.meta is not None:
        try:
            meta = json.loads(args.meta.read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise InputError(args.meta, f"not a readable JSON file ({error.__class__.__name__})") from None
    path = make_bundle(args.localizer, args.fine, args.out, meta=meta, name=args.name)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0
