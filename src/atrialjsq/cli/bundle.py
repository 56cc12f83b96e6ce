"""`atrialjsq bundle`: package a localiser and a fine model (two trainer checkpoints) into one shippable file."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from atrialjsq.cli.text import add_overwrite_file_argument


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
    parser.add_argument(
        "--meta",
        type=Path,
        help="JSON object merged over what the trainer recorded in the fine checkpoint (trained_on, domain: "
        "'real LGE MRI' or 'phantom', trained_spacing_mm, max_input_spacing_mm, max_field_of_view_mm: [x, y, z] "
        "in mm); add what it cannot know, e.g. weights (a release name that `models` prints), acquired_spacing_mm, "
        "not_trained_on, licence, recipe, validation. "
        "predict stages a model only when trained_on or domain is known, and warns above max_input_spacing_mm and "
        "well above max_field_of_view_mm",
    )
    add_overwrite_file_argument(parser)
    parser.set_defaults(func=run)
    return parser


SPACING_KEYS = ("trained_spacing_mm", "max_input_spacing_mm", "acquired_spacing_mm", "max_field_of_view_mm")


def meta_problem(meta: object) -> str | None:
    """Why a --meta file cannot describe a model (None when it can): it must be an object, its text keys text
    and its voxel sizes three positive numbers, since `predict` judges scans against them."""
    from atrialjsq.infer.domain import MODEL_DOMAINS

    if not isinstance(meta, dict):
        return f"must hold a JSON object, not {type(meta).__name__}"
    for key in ("trained_on", "domain", "not_trained_on", "weights"):
        if key in meta and not (isinstance(meta[key], str) and meta[key].strip()):
            return f"{key} must be non-empty text"
    if "domain" in meta and meta["domain"].strip().lower() not in {d.lower() for d in MODEL_DOMAINS}:
        # predict's warnings key on it (a phantom model on a real scan); describe the data in trained_on
        return f"domain must be one of {', '.join(repr(d) for d in MODEL_DOMAINS)}, got {meta['domain']!r}"
    for key in SPACING_KEYS:
        value = meta.get(key)
        if value is None:
            continue
        numbers = value if isinstance(value, list) else []
        ok = len(numbers) == 3 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in numbers)
        if not ok or not all(math.isfinite(v) and v > 0 for v in numbers):  # json reads NaN and Infinity
            return f"{key} must be three positive numbers [x, y, z] in mm, got {json.dumps(value)}"
    return None


def run(args: argparse.Namespace) -> int:
    from atrialjsq.errors import InputError
    from atrialjsq.infer.bundles import make_bundle
    from atrialjsq.io.output_check import check_output_file

    # never over its own checkpoint, nor over an existing file unless --overwrite
    check_output_file(args.out, inputs=(args.fine, args.localizer, args.meta), overwrite=args.overwrite)
    meta = None
    if args.meta is not None:
        try:
            meta = json.loads(args.meta.read_text())
        except (OSError, ValueError) as error:  # unreadable, not UTF-8, or not JSON
            raise InputError(args.meta, f"not a readable JSON file ({error.__class__.__name__})") from None
        problem = meta_problem(meta)
        if problem is not None:
            raise InputError(args.meta, problem)
    path = make_bundle(args.localizer, args.fine, args.out, meta=meta, name=args.name)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0
