"""JSON reports, PNG figures and mesh files."""
