"""atrialjsq: left-atrium segmentation and atrial scar quantification from 3D LGE MRI (AtrialJSQnet).

The Python API (docs/how-to/python-api.md), imported on first use so that `import atrialjsq` stays light:

- `predict_file(path, out, model=None)`: one scan to every output, as `atrialjsq predict`; returns the outcome;
- `Predictor`: the network for your own loops (`Predictor.from_checkpoint(model).predict_volume(volume)`);
- `read_volume`, `write_volume`, `Volume`: images with their geometry;
- `scar_from_probabilities`, `analyse_case`, `Provenance`, `write_case_outputs`: the steps after the network
  (scar on the LA surface, burden and regional analysis, the files), for maps of your own;
- `out_of_domain_warnings`: why a model's numbers on an image are not to be trusted (they withhold the stage).
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_API = {
    "predict_file": "atrialjsq.workflows.predict",
    "Predictor": "atrialjsq.infer.predictor",
    "read_volume": "atrialjsq.io",
    "write_volume": "atrialjsq.io",
    "Volume": "atrialjsq.io",
    "scar_from_probabilities": "atrialjsq.quantify.surface_scar",
    "analyse_case": "atrialjsq.quantify.analysis",
    "out_of_domain_warnings": "atrialjsq.infer.domain",
    "Provenance": "atrialjsq.quantify.analysis",
    "write_case_outputs": "atrialjsq.report.outputs",
}
__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    """Load an API name's module on first use (torch and SimpleITK are heavy)."""
    if name not in _API:
        raise AttributeError(f"module 'atrialjsq' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_API[name]), name)
