"""scripts/readme_table.py: the README block between markers is replaced by a results table and nothing else."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from script_loader import load_script

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "readme_table.py"
readme_table = load_script(SCRIPT)

TABLE_MD = "## A title\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nMarks: none.\nPooled: fold(s) 0\n"


def test_block_between_markers_is_replaced_and_the_rest_kept() -> None:
    readme = "intro\n<!-- t -->\nold table\nold note\n<!-- /t -->\nafter\n"
    out = readme_table.replace_block(readme, "t", readme_table.table_body(TABLE_MD))
    assert out == (
        "intro\n<!-- t -->\n| a | b |\n|---|---|\n| 1 | 2 |\n\nMarks: none. Pooled: fold(s) 0.\n<!-- /t -->\nafter\n"
    )


@pytest.mark.parametrize(
    "readme", ["no markers\n", "<!-- /t -->\n<!-- t -->\n", "<!-- t -->\n<!-- /t -->\n<!-- t -->\n"]
)
def test_missing_misordered_or_repeated_markers_are_refused(readme: str) -> None:
    with pytest.raises(ValueError, match="t -->"):
        readme_table.replace_block(readme, "t", ["x"])


def test_command_line_rewrites_the_readme_and_leaves_it_alone_on_error(tmp_path: Path) -> None:
    table, readme = tmp_path / "table.md", tmp_path / "README.md"
    table.write_text(TABLE_MD)
    readme.write_text("<!-- t -->\n<!-- /t -->\n")
    ok = subprocess.run([sys.executable, str(SCRIPT), str(table), "t", "--readme", str(readme)], check=False)
    assert ok.returncode == 0 and "| 1 | 2 |" in readme.read_text()
    before = readme.read_text()
    bad = subprocess.run(
        [sys.executable, str(SCRIPT), str(table), "other", "--readme", str(readme)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 1 and bad.stderr.startswith("error:") and len(bad.stderr.splitlines()) == 1
    assert readme.read_text() == before and sorted(p.name for p in tmp_path.iterdir()) == ["README.md", "table.md"]
