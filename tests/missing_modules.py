"""Run Python code as on a machine without some packages (the bare GPU training image has no SimpleITK, meshio)."""

from __future__ import annotations

GPU_IMAGE_LACKS = ("SimpleITK", "meshio")


def without(code: str, modules: tuple[str, ...] = GPU_IMAGE_LACKS) -> str:
    """`code` (for `python -c`) preceded by an import hook that makes `modules` (and their submodules) absent."""
    return f"""
import importlib.abc, sys
class Missing(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in {modules!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, Missing())
{code}
"""
