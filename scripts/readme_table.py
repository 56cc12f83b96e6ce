"""Copy a results table written by `atrialjsq` (a Markdown file) into a documentation page between its markers.

    python scripts/readme_table.py docs/results/table5_real/table5_real.md table5-real

The page (`--readme`, default docs/results/paper-tables.md, where the study tables live) holds `<!-- NAME -->` and
`<!-- /NAME -->` on lines of their own; everything between them is replaced by the table and the lines under it
(the file's heading is dropped: the page's section has its own). The page is written to a temporary name and
renamed, so an interrupted run leaves it as it was.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def table_body(markdown: str) -> list[str]:
    """The table and its notes: every line but the headings, with the leading/trailing blank lines dropped and
    the notes (lines after the table) joined into one paragraph, each ending as a sentence."""
    lines = [line for line in markdown.splitlines() if not line.startswith("#")]
    while lines and not lines[0].strip():
        lines.pop(0)
    table = [line for line in lines if line.startswith("|")]
    notes = " ".join(_sentence(line) for line in lines if line.strip() and not line.startswith("|"))
    return table + (["", notes] if notes else [])


def _sentence(line: str) -> str:
    """A note line as a sentence, so that lines joined into one paragraph still read apart."""
    line = line.strip()
    return line if line.endswith((".", ":", ";")) else line + "."


def replace_block(readme: str, name: str, body: list[str]) -> str:
    """The README with the lines between `<!-- name -->` and `<!-- /name -->` replaced by `body`."""
    lines = readme.splitlines()
    start, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    if lines.count(start) != 1 or lines.count(end) != 1:
        raise ValueError(f"README needs exactly one {start!r} and one {end!r} line")
    i, j = lines.index(start), lines.index(end)
    if j < i:
        raise ValueError(f"{end!r} comes before {start!r}")
    return "\n".join(lines[: i + 1] + body + lines[j:]) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("table", type=Path, help="Markdown table written by an atrialjsq experiment")
    parser.add_argument("name", help="marker name in the README (<!-- NAME --> ... <!-- /NAME -->)")
    parser.add_argument(
        "--readme",
        type=Path,
        default=Path("docs/results/paper-tables.md"),
        help="Markdown page holding the markers (default: docs/results/paper-tables.md)",
    )
    args = parser.parse_args()
    try:
        body = table_body(args.table.read_text())
        text = replace_block(args.readme.read_text(), args.name, body)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    tmp = args.readme.with_name(args.readme.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, args.readme)
    print(f"{args.readme}: {args.name} block now holds {args.table}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
