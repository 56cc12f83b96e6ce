"""docs/phantom.png: what a phantom looks like — raw axial slice, axial and sagittal slices with the LA and scar
contours, and the scar on the 3D LA surface.

Run `python -m atrialjsq.report.phantom_figure --seed 0 --out docs/phantom.png` (phantoms only: figures of real
patient images stay out of the repository).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import edt
import numpy as np
from scipy import ndimage

from atrialjsq.data.case import Case
from atrialjsq.io.atomic import save_figure
from atrialjsq.phantom.generate import generate_phantom
from atrialjsq.report.figures import draw_scar_surface
from atrialjsq.surface.mesh import extract_mesh

LA_COLOUR = "#ffd23f"
SCAR_COLOUR = "#ff2a6d"
HALF_FIELD_MM = 70.0


def _window(image: np.ndarray, la: np.ndarray) -> tuple[float, float]:
    return 0.0, float(np.percentile(image[la > 0], 50) * 2.4)


def _slice_panel(ax, image2d, la2d, scar2d, spacing2d, title, contours=True, second_axis_down=False) -> None:
    """Show a 2D slice (first axis horizontal) in mm, optionally with LA and scar contours.

    `second_axis_down` puts index 0 of the second axis at the top: anterior up for axial LPS slices."""
    extent = (0, image2d.shape[0] * spacing2d[0], 0, image2d.shape[1] * spacing2d[1])
    ax.imshow(image2d.T, cmap="gray", origin="lower", extent=extent, vmin=0, vmax=1, interpolation="bilinear")
    if contours:
        x = (np.arange(image2d.shape[0]) + 0.5) * spacing2d[0]
        y = (np.arange(image2d.shape[1]) + 0.5) * spacing2d[1]
        if la2d.any():
            ax.contour(x, y, la2d.T, levels=[0.5], colors=LA_COLOUR, linewidths=0.9)
        if scar2d.any():
            ax.contour(x, y, scar2d.T, levels=[0.5], colors=SCAR_COLOUR, linewidths=0.9)
    if second_axis_down:
        ax.invert_yaxis()
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def _crop(centre: int, half: int, n: int) -> slice:
    return slice(max(centre - half, 0), min(centre + half, n))


def _surface_panel(ax, case: Case) -> None:
    """LA surface (mesh of the label) coloured where scar lies within 3 mm of it."""

    spacing = case.image.geometry.spacing
    mesh = extract_mesh(case.label("la"), level=0.5, smooth_sigma_mm=1.0)
    to_scar = edt.edt((1 - case.label("scar").array).astype(np.uint8), anisotropy=spacing)
    near = ndimage.map_coordinates(to_scar, mesh.vertices_index.T, order=1, mode="nearest") <= 3.0
    # Seen from behind (posterior, +y in LPS) and a little above: the view of the PV antra and posterior wall.
    draw_scar_surface(
        ax, mesh.vertices_mm, mesh.faces, near.astype(float), elev=25, azim=70, zoom=1.3, target_faces=9000
    )
    ax.set_title("scar on the LA surface (postero-lateral view, red = scar)", fontsize=9)


def make_phantom_figure(case: Case, params: dict, path: str | Path) -> Path:
    """Write the four-panel figure of one phantom to `path` (PNG, atomically)."""
    import matplotlib  # figures only: deferred, slow to import

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # figures only: deferred, slow to import

    image, la, scar = case.image.array, case.label("la").array, case.label("scar").array
    spacing = case.image.geometry.spacing
    low, high = _window(image, la)
    scaled = np.clip((image - low) / (high - low), 0, 1)
    centre = np.round(np.argwhere(la).mean(axis=0)).astype(int)
    hx, hy = (int(HALF_FIELD_MM / s) for s in spacing[:2])
    sx, sy = _crop(centre[0], hx, la.shape[0]), _crop(centre[1], hy, la.shape[1])
    z = int(np.argmax((scar[sx, sy] > 0).sum(axis=(0, 1)) + (la[sx, sy] > 0).sum(axis=(0, 1)) * 0.05))

    fig = plt.figure(figsize=(12, 9.6), dpi=100)
    axial = (scaled[sx, sy, z], la[sx, sy, z], scar[sx, sy, z], spacing[:2])
    _slice_panel(
        fig.add_subplot(2, 2, 1),
        *axial,
        f"axial slice {z} as generated (anterior up, patient left right)",
        contours=False,
        second_axis_down=True,
    )
    _slice_panel(fig.add_subplot(2, 2, 2), *axial, "axial, LA (yellow) and scar (pink) labels", second_axis_down=True)
    x = centre[0]
    sagittal = (scaled[x, sy, :], la[x, sy, :], scar[x, sy, :], (spacing[1], spacing[2]))
    _slice_panel(fig.add_subplot(2, 2, 3), *sagittal, f"sagittal slice {x} (anterior left, superior up)")
    _surface_panel(fig.add_subplot(2, 2, 4, projection="3d"), case)
    look, scar_params = params["appearance"], params["scar"]
    fig.suptitle(
        f"phantom seed {params['seed']} ({params['difficulty']}): {scar_params['kind']} scar, "
        f"{100 * scar_params['burden']:.0f}% of the LA surface, IIR {look['iir']:.2f}, SNR {look['snr']:.0f}; "
        f"{'x'.join(map(str, case.image.geometry.shape))} at {'x'.join(f'{s:g}' for s in spacing)} mm",
        fontsize=10,
    )
    fig.tight_layout()
    return save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Render the documentation figure of one phantom.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--difficulty", default="medium")
    parser.add_argument("--scar", default="post-ablation")
    parser.add_argument("--burden", type=float, default=0.25)
    parser.add_argument("--out", type=Path, default=Path("docs/phantom.png"))
    args = parser.parse_args(argv)
    case, params = generate_phantom(args.seed, args.difficulty, scar_kind=args.scar, burden=args.burden)
    print(make_phantom_figure(case, params, args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
