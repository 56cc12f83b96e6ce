"""`atrialjsq predict` on a batch of real scans, wall clock with start-up, this tree against an older revision.

Both trees run the same command on the same NIfTI copies of LASC 2018 cases (written to a temporary folder,
deleted afterwards), in alternating order (A B A B ...) so that drift in the machine's load hits both, once
with every output and once with `--no-regional --no-figure`. The older tree is a `git worktree` of --baseline
in a temporary folder. Besides the times (the median of the repeats, per case: batch time / cases), every number
of each case's report.json is compared between the two: burden, volume, area, regional burdens, ring status and
gap sizes within their stated precision, landmark positions within 1 mm. Goals (issue: every output of a real
case): ≤ 3.5 s per case with every output, ≤ 1.5 s with --no-regional --no-figure.

    python benchmarks/bench_case_outputs.py --baseline REV [--cases 4] [--repeats 2] [--json out.json] \
        [--variant "1 worker=--output-workers 1" ...]

Each --variant NAME=OPTIONS is one more run of this tree with those `predict` options, in the same alternation.

Needs the LASC 2018 release (--data, or $LASC2018, or ../shared/data/lasc2018 next to the repository).
Numbers only leave the machine: no image, mask or figure of the data is kept.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
import torch  # noqa: E402

from bench_train import machine  # noqa: E402

GOALS = {"all outputs": 3.5, "--no-regional --no-figure": 1.5}
MODES = {"all outputs": [], "--no-regional --no-figure": ["--no-regional", "--no-figure"]}
LANDMARK_MM = 1.0  # landmark positions must agree within this


def default_data() -> Path:
    return Path(os.environ.get("LASC2018", ROOT.parent / "shared" / "data" / "lasc2018"))


def write_inputs(data: Path, folder: Path, n: int) -> list[Path]:
    """The first n cases of the release as NIfTI (the format a user brings)."""
    from atrialjsq.data.layouts import index_dataset, load_case
    from atrialjsq.io import write_volume

    paths = []
    for ref in index_dataset(data, layout="lasc2018-h5")[:n]:
        path = folder / f"{ref.case_id}.nii.gz"
        write_volume(load_case(ref).image, path)
        paths.append(path)
    return paths


def run_predict(tree: Path, inputs: list[Path], out: Path, model: Path, extra: list[str]) -> float:
    """Wall seconds of one `atrialjsq predict` batch run from `tree`'s sources (start-up included)."""
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    command = [sys.executable, "-m", "atrialjsq.cli", "predict", *map(str, inputs), "--out", str(out), "--quiet"]
    command += ["--model", str(model)]
    started = time.perf_counter()
    subprocess.run([*command, *extra], env=env, check=True, capture_output=True)
    return time.perf_counter() - started


# report.json's stages in the order a case passes them (older trees may lack some, newer ones add none here).
STAGE_ORDER = dict.fromkeys(
    (
        "read",
        "localize",
        "resample_normalise",
        "network",
        "to_input_grid",
        "largest_component",
        "quantify",
        "regional",
        "figure",
        "files",
        "dicom_seg",
        "html",
        "outputs",
    )
)


def stage_seconds(out: Path, inputs: list[Path]) -> dict[str, float]:
    """Mean seconds per stage over the cases of one run, as each case's report.json `timings_s` records them."""
    totals: dict[str, list[float]] = {}
    for path in inputs:
        report = json.loads((out / path.name.removesuffix(".nii.gz") / "report.json").read_text())
        for stage, seconds in report.get("timings_s", {}).items():
            if stage in STAGE_ORDER:
                totals.setdefault(stage, []).append(float(seconds))
    return {stage: round(statistics.mean(values), 3) for stage, values in totals.items()}


def report_numbers(report: dict) -> dict[str, object]:
    """The numbers of report.json a faster path must keep."""
    numbers: dict[str, object] = {
        "burden_percent": report["scar"]["burden_percent"],
        "la_volume_ml": report["la"]["volume_ml"],
        "surface_area_cm2": report["la"]["surface_area_cm2"],
        "utah": report["stage"]["utah"],
    }
    regional = report.get("regional") or {}
    if "unavailable" in regional:
        numbers["regional"] = regional["unavailable"]
        return numbers
    numbers["burden_percent_clipped"] = regional.get("burden_percent_clipped")
    numbers["regions"] = {name: region["burden_percent"] for name, region in regional.get("regions", {}).items()}
    numbers["rings"] = {
        side: (ring.get("closed"), sorted(round(gap["size_mm"]) for gap in ring.get("gaps", [])))
        for side, ring in (regional.get("antrum_rings") or {}).items()
    }
    numbers["landmarks"] = {name: mark["ostium_mm"] for name, mark in (regional.get("landmarks") or {}).items()}
    return numbers


def differences(old: dict, new: dict) -> list[str]:
    """What differs beyond each number's precision (burdens 0.01 %, landmarks 1 mm, rings exactly)."""
    found = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if key == "landmarks" and isinstance(a, dict) and isinstance(b, dict):
            for name in sorted(set(a) | set(b)):
                if name not in a or name not in b:
                    found.append(f"landmark {name} found by one path only")
                elif max(abs(x - y) for x, y in zip(a[name], b[name], strict=True)) > LANDMARK_MM:
                    found.append(f"landmark {name}: {a[name]} vs {b[name]}")
        elif key == "regions" and isinstance(a, dict) and isinstance(b, dict):
            for name in sorted(set(a) | set(b)):
                if a.get(name) is None or b.get(name) is None or abs(a[name] - b[name]) > 0.01:
                    found.append(f"region {name}: {a.get(name)} vs {b.get(name)}")
        elif isinstance(a, float) and isinstance(b, float):
            if abs(a - b) > 0.01:
                found.append(f"{key}: {a} vs {b}")
        elif a != b:
            found.append(f"{key}: {a} vs {b}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", required=True, help="git revision of the older path")
    parser.add_argument("--data", type=Path, default=default_data(), help="LASC 2018 release folder")
    parser.add_argument("--cases", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME=OPTIONS",
        help="one more run of this tree with these predict options (e.g. '2 workers=--output-workers 2')",
    )
    parser.add_argument(
        "--model",
        type=Path,
        default=ROOT / "src" / "atrialjsq" / "assets" / "lasc2018-ajsq-sesa.pt",
        help="the model both trees run (default: this tree's shipped real-data model)",
    )
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(f"error: {args.data}: no LASC 2018 release here (--data or $LASC2018)", file=sys.stderr)
        return 1
    known = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{args.baseline}^{{commit}}"], cwd=ROOT)
    if known.returncode != 0:
        print(f"error: --baseline {args.baseline}: not a revision of this repository", file=sys.stderr)
        return 1
    if not args.model.is_file():
        print(f"error: {args.model}: no such model file (--model)", file=sys.stderr)
        return 1
    variants = {}
    for text in args.variant:
        name, _, options = text.partition("=")
        if not name or name in ("baseline", "this tree"):
            print(f"error: --variant {text!r}: give NAME=OPTIONS with a new name", file=sys.stderr)
            return 1
        variants[name] = shlex.split(options)
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        baseline = work / "baseline"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(baseline), args.baseline], cwd=ROOT, check=True)
        model = work / "model.pt"  # a copy: the same network for both trees whatever either ships
        model.write_bytes(args.model.read_bytes())
        try:
            inputs = write_inputs(args.data, work, args.cases)
            runs = {"baseline": (baseline, []), "this tree": (ROOT, []), **{n: (ROOT, o) for n, o in variants.items()}}
            results: dict[str, dict[str, list[float]]] = {mode: {r: [] for r in runs} for mode in GOALS}
            outs: dict[str, Path] = {}
            for repeat in range(args.repeats):
                for mode, extra in MODES.items():
                    order = list(runs) if repeat % 2 == 0 else list(reversed(runs))
                    for number, name in enumerate(order):
                        tree, options = runs[name]
                        out = work / f"out_{repeat}_{len(extra)}_{number}"
                        seconds = run_predict(tree, inputs, out, model, [*extra, *options])
                        results[mode][name].append(seconds / len(inputs))
                        if not extra:
                            outs[name] = out
            stages = {name: stage_seconds(outs[name], inputs) for name in runs}
            compared: dict[str, dict[str, list[str]]] = {}
            for path in inputs:
                case = path.name.removesuffix(".nii.gz")
                numbers = {
                    name: report_numbers(json.loads((outs[name] / case / "report.json").read_text())) for name in runs
                }
                compared[case] = {
                    name: differences(numbers["baseline"], numbers[name]) for name in runs if name != "baseline"
                }
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(baseline)], cwd=ROOT, check=False)
    summary = {
        "machine": machine(torch.device("cpu")),
        "baseline": args.baseline,
        "model": args.model.name,
        "cases": args.cases,
        "repeats": args.repeats,
        "seconds_per_case": {m: {t: round(statistics.median(v), 3) for t, v in r.items()} for m, r in results.items()},
        "goals_s": GOALS,
        "variants": {name: " ".join(options) for name, options in variants.items()},
        "stage_seconds_all_outputs": stages,
        "report_differences": compared,
    }
    for mode, by_run in summary["seconds_per_case"].items():
        old = by_run["baseline"]
        for name, new in by_run.items():
            if name != "baseline":
                verdict = "met" if new <= GOALS[mode] else "not met"
                print(
                    f"{mode}, {name}: {new:.2f} s per case (baseline {old:.2f} s, {old / new:.2f}x); goal "
                    f"{GOALS[mode]} s {verdict}"
                )
    names = sorted({stage for by_stage in stages.values() for stage in by_stage}, key=list(STAGE_ORDER).index)
    print("report.json timings_s, mean per case (every output): " + ", ".join(names))
    for name, by_stage in stages.items():
        print(f"  {name}: " + ", ".join(f"{by_stage.get(stage, 0.0):.2f}" for stage in names))
    same = all(not found for by_run in compared.values() for found in by_run.values())
    print("report.json numbers: " + ("the same on every case" if same else json.dumps(compared, indent=1)))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
