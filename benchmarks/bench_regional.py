"""Time the regional breakdown of one phantom case (`analyse_regions`) and its ring-gap search against a naive
baseline in the same run.

The baseline widest-gap search is the textbook one: add the scar-free vertices in decreasing distance to the
scar, merging them with a Python union–find until a distal-sleeve and a far-wall vertex share a set. Ours finds
the same bottleneck on a maximum spanning tree (scipy.sparse.csgraph). Both run on every ring of the case, the
script checks they return the same vertex and distance, and prints machine, times and ratio. The phantom is
the demo's clinical grid (576×576×44 at 0.625×0.625×2.5 mm) with its wide-area rings as the scar.

    .venv/bin/python benchmarks/bench_regional.py
"""

from __future__ import annotations

import os
import platform
import time

import numpy as np

from atrialjsq.phantom import anatomy as anat
from atrialjsq.phantom.generate import generate_phantom
from atrialjsq.phantom.scar import ring_label
from atrialjsq.quantify import ring_gaps
from atrialjsq.quantify.breakdown import analyse_regions
from atrialjsq.quantify.regions import EXCLUDED, LEFT_VEINS, RIGHT_VEINS
from atrialjsq.surface.mesh import extract_mesh
from atrialjsq.surface.mesh_graph import adjacency


def union_find_widest_gap(mesh, graph, wall, scar, source, sink):
    """The naive baseline: vertices in decreasing distance, Python union–find."""
    from scipy.spatial import cKDTree

    free = wall & ~scar
    distance, _ = cKDTree(mesh.vertices_mm[scar]).query(mesh.vertices_mm)
    parent = np.arange(mesh.n_vertices)
    has_source, has_sink = source.copy(), sink.copy()
    active = np.zeros(mesh.n_vertices, dtype=bool)

    def root(v):
        while parent[v] != v:
            parent[v] = parent[parent[v]]
            v = parent[v]
        return v

    for v in np.flatnonzero(free)[np.argsort(-distance[free], kind="stable")].tolist():
        active[v] = True
        rv = root(v)
        for u in graph.indices[graph.indptr[v] : graph.indptr[v + 1]].tolist():
            if active[u] and (ru := root(u)) != rv:
                parent[ru] = rv
                has_source[rv] |= has_source[ru]
                has_sink[rv] |= has_sink[ru]
        if has_source[rv] and has_sink[rv]:
            return v, float(distance[v])
    return None


def main() -> int:
    case, params = generate_phantom(0, scar_kind="post-ablation")
    la = case.labels["la"]
    mesh = extract_mesh(la, smooth_sigma_mm=1.0)
    q = anat.warp(params["anatomy"], tuple(mesh.vertices_mm[:, i].astype(np.float32) for i in range(3)))
    scar = ring_label(params["scar"], q)
    started = time.perf_counter()
    result = analyse_regions(case.image, la, mesh, scar)
    whole = time.perf_counter() - started
    graph = adjacency(mesh)
    ours = baseline = 0.0
    for side, veins in (("left_antrum", LEFT_VEINS), ("right_antrum", RIGHT_VEINS)):
        sleeve = np.isin(result.regions, veins)
        rim = sleeve & (graph @ (~sleeve).astype(float) > 0)
        from scipy.spatial import cKDTree

        from_rim, _ = cKDTree(mesh.vertices_mm[rim]).query(mesh.vertices_mm)
        wall = ~np.isin(result.regions, EXCLUDED) | sleeve
        band = wall & (from_rim <= ring_gaps.RING_REACH_MM)
        source = sleeve & ~band
        if not source.any():
            source = sleeve & (from_rim >= np.quantile(from_rim[sleeve], 0.8))
        sink = wall & ~sleeve & ~band
        ring = scar & wall
        t0 = time.perf_counter()
        fast = ring_gaps.widest_gap(mesh, graph, wall, ring, source, sink)
        t1 = time.perf_counter()
        slow = union_find_widest_gap(mesh, graph, wall, ring, source, sink)
        t2 = time.perf_counter()
        ours, baseline = ours + t1 - t0, baseline + t2 - t1
        same = (fast is None and slow is None) or (
            fast is not None and slow is not None and abs(fast[1] - slow[1]) < 1e-9
        )
        print(f"{side}: spanning tree {fast}, union-find {slow}: {'same bottleneck distance' if same else 'DIFFER'}")
        if not same:
            return 1
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; {mesh.n_vertices} vertices")
    print(f"analyse_regions (whole breakdown): {whole:.2f} s")
    print(
        f"widest gap, both sides: spanning tree {ours * 1000:.0f} ms, union-find {baseline * 1000:.0f} ms, "
        f"ratio {baseline / max(ours, 1e-9):.1f}x"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
