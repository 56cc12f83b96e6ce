"""Synthetic LGE MRI phantoms of the left atrium and scar injection onto real anatomy."""
