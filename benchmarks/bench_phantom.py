"""Time one phantom at the default clinical geometry and one scar injection, next to a naive baseline.

Phantom: ours renders the heart on the 1.25 mm acquisition grid with shapes evaluated inside their bounding
boxes and reaches the stored 0.625 mm grid by k-space zero-filling; the baseline renders the same phantom
directly at the stored resolution with every shape evaluated over the whole heart region. Injection: on the
first real LASC 2018 case when the release is present ($LASC2018, or ../shared/data next to the repository),
else on a phantom used as a stand-in.
Targets: phantom ≤ 5 s, injection ≤ 3 s per case on the 2-core dev machine.

    /tmp/v0/bin/python benchmarks/bench_phantom.py [--skip-baseline]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from atrialjsq.phantom.generate import generate_phantom
from atrialjsq.phantom.inject import inject_scar
from atrialjsq.phantom.writer import write_case

# the LASC 2018 release: $LASC2018, else next to the repository as the study scripts expect it
LASC = Path(os.environ.get("LASC2018", Path(__file__).resolve().parents[1].parent / "shared" / "data" / "lasc2018"))


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result


def injection_case():
    if (LASC / "cases").is_dir():
        from atrialjsq.data.layouts import index_dataset, load_case

        return "LASC 2018 case 0", load_case(index_dataset(LASC)[0])
    case, _ = generate_phantom(99, shape=(192, 160, 88), spacing=(0.625, 0.625, 1.25))
    return "phantom stand-in 192x160x88", case


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-baseline", action="store_true", help="time ours only")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, numpy {np.__version__}")
    generate_phantom(0, shape=(64, 64, 32), spacing=(2.0, 2.0, 3.0))  # warm-up: imports and caches

    t_ours, (case, params) = timed(generate_phantom, 1)
    with tempfile.TemporaryDirectory() as tmp:
        t_write, _ = timed(write_case, case, params, Path(tmp) / "phantom_0000")
    shape = "x".join(map(str, case.image.geometry.shape))
    print(f"phantom {shape}: ours {t_ours:.2f} s (+ {t_write:.2f} s to write the LAScarQS folder)")
    if not args.skip_baseline:
        t_naive, (naive, _) = timed(generate_phantom, 1, naive=True)
        agree = np.mean(naive.la.array == case.la.array)
        print(
            f"phantom {shape}: naive baseline {t_naive:.2f} s; ratio {t_naive / t_ours:.1f}x "
            f"(LA labels agree on {100 * agree:.2f}% of voxels)"
        )

    name, source = injection_case()
    inject_scar(source, seed=0)  # warm-up (sklearn import)
    t_inject, (_, inj) = timed(inject_scar, source, 1)
    print(
        f"inject-scar on {name} {'x'.join(map(str, source.image.geometry.shape))}: {t_inject:.2f} s "
        f"(burden {inj['scar']['burden_measured']:.3f} of {inj['scar']['burden']:.3f} requested)"
    )


if __name__ == "__main__":
    main()
