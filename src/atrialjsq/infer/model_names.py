"""The shipped models' names, apart from `bundles` so that the command line can name its defaults without
importing torch (which takes over a second: every `atrialjsq --help` would pay it)."""

DEFAULT_MODEL = "lasc2018-ajsq-sesa"  # real LGE MRI: what `atrialjsq predict` runs
PHANTOM_MODEL = "phantom-ajsq-sesa"  # synthetic phantoms: `atrialjsq demo` and the tests
