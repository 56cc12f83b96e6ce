"""atrialjsq: left-atrium segmentation and atrial scar quantification from 3D LGE MRI (AtrialJSQnet)."""

__version__ = "0.1.0"
