"""Writing DICOM files with SimpleITK (GDCM) sets the process locale to "C"; after that Python writes text
files as ASCII by default and a later test writing "±" fails. Test helpers that write DICOM restore it."""

from __future__ import annotations

import contextlib
import locale
from collections.abc import Iterator


@contextlib.contextmanager
def keeping_locale() -> Iterator[None]:
    saved = locale.setlocale(locale.LC_ALL)
    try:
        yield
    finally:
        locale.setlocale(locale.LC_ALL, saved)
