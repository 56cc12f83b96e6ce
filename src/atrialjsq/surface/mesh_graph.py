"""The mesh as a graph: vertex areas, connected patches of vertices, boundary loops of a patch.

What the regional analysis needs to reason about the LA surface as a surface (which scar patches touch, where
a clipped surface's rim runs) rather than as a cloud of vertices.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from atrialjsq.surface.mesh import Mesh, triangle_areas


def vertex_areas(mesh: Mesh) -> np.ndarray:
    """Area each vertex stands for (V,) in mm²: a third of every triangle around it (sums to the mesh area)."""
    areas = np.repeat(triangle_areas(mesh) / 3.0, 3)
    return np.bincount(mesh.faces.reshape(-1), weights=areas, minlength=mesh.n_vertices)


def adjacency(mesh: Mesh) -> sparse.csr_matrix:
    """Symmetric vertex adjacency (V, V) of the mesh's edges."""
    faces = mesh.faces
    rows = np.concatenate([faces[:, 0], faces[:, 1], faces[:, 2]])
    cols = np.concatenate([faces[:, 1], faces[:, 2], faces[:, 0]])
    graph = sparse.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(mesh.n_vertices,) * 2).tocsr()
    return ((graph + graph.T) > 0).astype(np.int8).tocsr()


def patches(mesh: Mesh, selected: np.ndarray, graph: sparse.csr_matrix | None = None) -> np.ndarray:
    """Edge-connected patches of the `selected` vertices: (V,) labels 0..n-1, −1 where not selected."""
    selected = np.asarray(selected, dtype=bool)
    labels = np.full(mesh.n_vertices, -1, dtype=np.int64)
    if not selected.any():
        return labels
    graph = adjacency(mesh) if graph is None else graph
    index = np.flatnonzero(selected)
    _, parts = connected_components(graph[index][:, index], directed=False)
    labels[index] = parts
    return labels


def faces_within(mesh: Mesh, keep: np.ndarray) -> np.ndarray:
    """The faces whose three vertices are all kept (the surface restricted to `keep`)."""
    keep = np.asarray(keep, dtype=bool)
    return mesh.faces[keep[mesh.faces].all(axis=1)]


def largest_face_component(faces: np.ndarray, n_vertices: int) -> np.ndarray:
    """The faces of the largest piece connected through faces (vertices kept on their own, or pieces that
    touch only along an edge whose triangles were cut away, are separate pieces)."""
    if len(faces) == 0:
        return faces
    rows = np.concatenate([faces[:, 0], faces[:, 1], faces[:, 2]])
    cols = np.concatenate([faces[:, 1], faces[:, 2], faces[:, 0]])
    graph = sparse.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_vertices, n_vertices))
    _, labels = connected_components(graph, directed=False)
    used = np.unique(faces)
    largest = np.bincount(labels[used]).argmax()
    return faces[labels[faces[:, 0]] == largest]


def boundary_loops(faces: np.ndarray) -> list[np.ndarray]:
    """The closed rims of a triangle patch, each an ordered array of vertex indices, longest first.

    A rim edge belongs to one face only. Where the rim touches itself at a vertex (a pinch), the walk may split
    or join loops there; the loops still cover every rim edge once.
    """
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    ends = np.sort(edges, axis=1).astype(np.int64)
    key = ends[:, 0] * (int(ends.max(initial=0)) + 1) + ends[:, 1]  # one integer per undirected edge
    _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    rim = edges[counts[inverse] == 1]  # oriented as in their face
    following: dict[int, list[int]] = {}
    for start, end in rim.tolist():
        following.setdefault(start, []).append(end)
    loops: list[np.ndarray] = []
    while following:
        first = next(iter(following))
        loop = [first]
        current = first
        while True:
            successors = following.get(current)
            if not successors:
                break
            nxt = successors.pop()
            if not successors:
                del following[current]
            if nxt == first:
                break
            loop.append(nxt)
            current = nxt
        if len(loop) >= 3:
            loops.append(np.asarray(loop, dtype=np.int64))
    return sorted(loops, key=len, reverse=True)
