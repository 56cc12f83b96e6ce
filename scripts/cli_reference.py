"""Write docs/reference/cli.md from the argparse parser of `atrialjsq`, so that the reference cannot drift.

    python scripts/cli_reference.py           # rewrite docs/reference/cli.md
    python scripts/cli_reference.py --check   # exit 1, naming the file, when it differs from what would be written

Every command and sub-command gets its usage, its description and a table of its arguments (help and default).
The output depends on the parser only: the terminal width is fixed while the parser is built and formatted, and
the program name is the parser's own (`atrialjsq`). `tests/test_docs.py` runs the check, so a changed option
that is not regenerated fails the tests.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "docs" / "reference" / "cli.md"
WIDTH = 100  # characters per usage line, whatever the terminal
COMMAND = "python scripts/cli_reference.py"

HEADER = f"""# Command-line reference

Generated from the `atrialjsq` argument parser by `{COMMAND}`; do not edit by hand.
`make test` fails when this page differs from what the script writes (`tests/test_docs.py`). Every command
also takes `-h` / `--help`, which prints the same text in the terminal. Triples are written `X Y Z`
(millimetres for spacings). What each command is for, and what all commands share (errors, atomic outputs,
`--overwrite`): [commands](commands.md).
"""

_CODE_SPAN = re.compile(r"(`[^`]*`)")
_SPECIAL = re.compile(r"([\\*_<>\[\]|])")


@contextlib.contextmanager
def fixed_terminal(width: int = WIDTH) -> Iterator[None]:
    """argparse wraps at the terminal's width (read from COLUMNS): fix it, and turn colour off, while inside."""
    saved = {key: os.environ.get(key) for key in ("COLUMNS", "NO_COLOR", "PYTHON_COLORS")}
    os.environ.update(COLUMNS=str(width + 2), NO_COLOR="1", PYTHON_COLORS="0")  # argparse subtracts 2
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def inline(text: str, table: bool = False) -> str:
    """Plain text as one line of Markdown: whitespace collapsed, Markdown's special characters escaped outside
    `code spans`, and `|` escaped inside them too when the text goes into a table cell."""
    parts = _CODE_SPAN.split(" ".join(text.split()))
    out = []
    for i, part in enumerate(parts):
        if i % 2:  # a code span
            out.append(part.replace("|", "\\|") if table else part)
        else:
            out.append(_SPECIAL.sub(r"\\\1", part))
    return "".join(out)


def _subparsers(parser: argparse.ArgumentParser) -> list[argparse._SubParsersAction]:
    return [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]


def _commands(parser: argparse.ArgumentParser) -> Iterator[tuple[argparse.ArgumentParser, str]]:
    """Every parser below `parser` (depth first, in the order of --help) with its one-line help."""
    for group in _subparsers(parser):
        helps = {action.dest: _help(action, parser.prog) for action in group._choices_actions}
        for name, sub in group.choices.items():
            yield sub, helps.get(name, "")
            yield from _commands(sub)


def _description(parser: argparse.ArgumentParser) -> list[str]:
    text = parser.description or ""
    if not text:
        return []
    text = text.replace("%(prog)s", parser.prog)
    if not issubclass(parser.formatter_class, argparse.RawDescriptionHelpFormatter):
        return [inline(text), ""]
    lines = []
    for paragraph in re.split(r"\n\s*\n", text.strip("\n")):
        rows = paragraph.splitlines()
        if any(row.startswith((" ", "\t")) for row in rows):  # laid out by hand: keep it as it is
            lines += ["```text", *rows, "```", ""]
        else:
            lines += [inline(paragraph), ""]
    return lines


def _default(action: argparse.Action) -> str:
    if action.required:
        return "required"
    value = action.default
    if value is None or value is False or value is argparse.SUPPRESS or value == []:
        return ""
    shown = " ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
    return f"`{shown}`"


def _help(action: argparse.Action, prog: str) -> str:
    """The option's help with argparse's %(...)s fields filled in, as argparse's own formatter fills them."""
    text = action.help or ""
    if "%" not in text:
        return text
    params = {key: value for key, value in vars(action).items() if value is not argparse.SUPPRESS}
    params["prog"] = prog
    for key in ("default", "choices", "metavar"):
        value = params.get(key)
        if isinstance(value, (list, tuple)):
            params[key] = ", ".join(map(str, value))
    return text % params


def _arguments(parser: argparse.ArgumentParser) -> list[str]:
    formatter = parser._get_formatter()
    rows = []
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        invocation = formatter._format_action_invocation(action)
        cell = f"`{invocation}`".replace("|", "\\|")
        rows.append(f"| {cell} | {inline(_help(action, parser.prog), table=True)} | {_default(action)} |")
    if not rows:
        return []
    return ["| argument | what it does | default |", "|---|---|---|", *rows, ""]


def _section(parser: argparse.ArgumentParser, summary: str, level: int) -> list[str]:
    lines = [f"{'#' * level} `{parser.prog}`", ""]
    if summary:
        lines += [inline(summary[0].upper() + summary[1:]) + ("" if summary.endswith(".") else "."), ""]
    lines += ["```text", parser.format_usage().strip(), "```", ""]
    lines += _description(parser)
    lines += _arguments(parser)
    subcommands = [sub.prog.split()[-1] for group in _subparsers(parser) for sub in group.choices.values()]
    if subcommands:
        lines += ["Sub-commands: " + ", ".join(f"`{name}`" for name in subcommands) + ".", ""]
    return lines


def render() -> str:
    """The whole page, as the script writes it."""
    with fixed_terminal():
        from atrialjsq.cli import build_parser

        parser = build_parser()
        lines = [*HEADER.splitlines(), ""]
        contents = []
        sections = []
        for command, summary in _commands(parser):
            depth = len(command.prog.split()) - 1  # 1: a command, 2: a sub-command
            anchor = re.sub(r"[^\w\- ]", "", command.prog.lower()).replace(" ", "-")
            contents.append(f"{'  ' * (depth - 1)}- [`{command.prog}`](#{anchor})")
            sections += _section(command, summary, level=1 + depth)
        lines += ["## Commands", "", *contents, ""]
        lines += ["## `atrialjsq`", "", "```text", parser.format_usage().strip(), "```", ""]
        lines += _arguments(parser)
        lines += sections
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines) + "\n"


def stale(path: Path = OUTPUT) -> str | None:
    """Why `path` is not what `render()` writes, or None when it is."""
    if not path.is_file():
        return f"{path} is missing: run {COMMAND}"
    if path.read_text(encoding="utf-8") != render():
        return f"{path} is stale: run {COMMAND}"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the file differs, without writing it")
    parser.add_argument("--out", type=Path, default=OUTPUT, help="page to write or check")
    args = parser.parse_args(argv)
    if args.check:
        problem = stale(args.out)
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return 1
        print(f"{args.out} is up to date")
        return 0
    text = render()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, args.out)
    print(f"{args.out}: {text.count(chr(10))} lines")
    return 0


if __name__ == "__main__":
    sys.exit(main())
