"""Studies of one data set each (their splits, scoring and tables), apart from the product: they import
`atrialjsq`, never the reverse. Run from the repository root, e.g. ``python -m studies.lasc2018 --help``."""
