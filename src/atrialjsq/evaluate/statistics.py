"""Summary statistics of per-case metrics, and paired comparison of two methods: Wilcoxon signed-rank and paired
t-test, per metric.

`summary_stats` is the one mean/SD/median/n summary of the package (evaluation summaries, the paper tables, the
real-data scoring); `mean_sd_text` prints it as "mean ± SD" with "–" for an undefined value, never "nan".

The paper marks significant differences with asterisks (Table 4 caption: * p < 0.01, ** p < 0.001). Cases are
paired by id (inner join); for each metric, cases where either value is NaN or infinite are left out, and the
number of pairs used is reported next to the p-values.
"""

from __future__ import annotations

import csv
import math
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy import stats

from atrialjsq.errors import InputError
from atrialjsq.io import atomic_path

# Columns that describe the case rather than a method's quality (comparing them tests nothing).
NOT_COMPARED = frozenset({"n_surface"})


# What a table prints for a value that is not defined (no case, or the SD of a single case).
NO_VALUE = "–"


def summary_stats(values: Iterable[float]) -> dict[str, float]:
    """{"mean", "std", "median", "n"} of `values` with NaN left out; `std` is the sample SD (ddof = 1).

    n counts the values that are not NaN. With n = 0 mean, std and median are NaN. With n = 1 the std is NaN,
    not 0: the sample SD of one value is undefined (n − 1 = 0 degrees of freedom), and 0 would claim a spread
    had been measured. An infinite value (a distance to an empty prediction) is kept: the mean becomes ±inf
    and the std NaN, so a failed case shows in the summary instead of vanishing from it.
    """
    array = np.asarray([float(value) for value in values], dtype=np.float64)
    array = array[~np.isnan(array)]
    n = int(array.size)
    if n == 0:
        return {"mean": math.nan, "std": math.nan, "median": math.nan, "n": 0}
    with np.errstate(invalid="ignore"):  # +inf and -inf together: NaN mean
        mean = float(array.mean())
    std = float(array.std(ddof=1)) if n > 1 and np.isfinite(array).all() else math.nan
    return {"mean": mean, "std": std, "median": float(np.median(array)), "n": n}


def mean_sd_text(stats: Mapping[str, float], number: Callable[[float], str] = "{:.3f}".format) -> str:
    """A `summary_stats` result as "mean ± SD", each through `number`: "–" when there is no mean (n = 0),
    "mean ± –" when the SD is undefined (one value, or an infinite one)."""
    mean, std = float(stats["mean"]), float(stats["std"])
    if math.isnan(mean):
        return NO_VALUE
    return f"{number(mean)} ± {NO_VALUE if math.isnan(std) else number(std)}"


@dataclass(frozen=True)
class MetricComparison:
    metric: str
    n: int
    mean_a: float
    mean_b: float
    wilcoxon_p: float
    ttest_p: float


def significance_stars(p: float) -> str:
    """The paper's marks: ** for p < 0.001, * for p < 0.01, nothing otherwise (or when p is undefined)."""
    if math.isnan(p):
        return ""
    return "**" if p < 0.001 else "*" if p < 0.01 else ""


def read_metric_csv(path: str | Path) -> dict[str, dict[str, float]]:
    """A per-case CSV (`case` column + numeric columns) as {case: {metric: value}}.

    Empty and "nan" cells are NaN, and a column with no number at all (a note, a layout name) is read as NaN
    throughout; a word in a numeric column or a row shorter than the header is refused, naming the row, since
    dropping that case silently would change which cases are paired."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "is a folder, not a per-case CSV" if path.is_dir() else "no such file")
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if not reader.fieldnames or "case" not in reader.fieldnames:
                raise InputError(
                    path, "expected a per-case CSV with a 'case' column (as written by atrialjsq evaluate)"
                )
            raw: dict[str, dict[str, str]] = {}
            for line, row in enumerate(reader, start=2):
                case = row.pop("case")
                if case in raw:
                    raise InputError(path, f"case {case!r} appears twice")
                if None in row.values():  # csv.DictReader fills a short row's missing cells with None
                    raise InputError(path, f"line {line} (case {case!r}) has fewer cells than the header")
                raw[case] = {key: value for key, value in row.items() if key is not None and value is not None}
    except UnicodeDecodeError:
        raise InputError(path, "is not a UTF-8 text CSV") from None
    if not raw:
        raise InputError(path, "holds no cases")
    numbers = {case: {key: _number(value) for key, value in row.items()} for case, row in raw.items()}
    for column in dict.fromkeys(key for row in raw.values() for key in row):
        if all(math.isnan(row[column]) for row in numbers.values() if column in row):
            continue  # a text column
        for case, row in raw.items():
            text = row.get(column, "")
            if math.isnan(numbers[case].get(column, math.nan)) and text.strip().lower() not in ("", "nan"):
                raise InputError(path, f"case {case!r}: {column} is {text!r}, not a number")
    return numbers


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


def _ranked_infinities(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`a` and `b` with ±inf (a failed case's distance: the worst result) moved just beyond every finite value, so
    the signed-rank test sees a failure as the largest difference instead of dropping the pair."""
    finite = np.concatenate([a[np.isfinite(a)], b[np.isfinite(b)]])
    span = float(np.ptp(finite)) if finite.size else 0.0
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    beyond = 10.0 * (span + 1.0)
    return (
        np.where(a == np.inf, high + beyond, np.where(a == -np.inf, low - beyond, a)),
        np.where(b == np.inf, high + beyond, np.where(b == -np.inf, low - beyond, b)),
    )


def paired_tests(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(Wilcoxon signed-rank p, paired t-test p), two-sided. Identical samples give p = 1; n < 2 gives NaN.

    An infinite value (a distance of a case with an empty mask) counts as the worst result in the rank test and
    leaves the t-test undefined (NaN). Differences are rounded to 12 digits first, so values equal but for
    float noise tie (SciPy then uses a permutation test, not the exact table that assumes no ties)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.size < 2:
        return math.nan, math.nan
    if np.array_equal(a, b):
        return 1.0, 1.0
    infinite = not (np.isfinite(a).all() and np.isfinite(b).all())
    ranked_a, ranked_b = _ranked_infinities(a, b)
    differences = np.round(ranked_a - ranked_b, 12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        wilcoxon_p = float(stats.wilcoxon(differences).pvalue) if differences.any() else 1.0
        # the t-test on the same rounded differences (ttest_rel(a, b) is ttest_1samp(a - b, 0)), so noise ties
        ttest_p = (
            math.nan if infinite else (float(stats.ttest_1samp(differences, 0.0).pvalue) if differences.any() else 1.0)
        )
    return wilcoxon_p, ttest_p


def compare_tables(
    table_a: Mapping[str, Mapping[str, float]],
    table_b: Mapping[str, Mapping[str, float]],
    metrics: Sequence[str] | None = None,
) -> tuple[list[MetricComparison], list[str]]:
    """Per metric shared by both tables (or the given ones): means and paired p-values over common cases.

    Returns the comparisons and the sorted list of paired case ids.
    """
    cases = sorted(set(table_a) & set(table_b))
    if metrics is None:
        first = next(iter(table_a.values()))
        shared = set(next(iter(table_b.values())))
        metrics = [m for m in first if m in shared and m not in NOT_COMPARED]
    results = []
    for metric in metrics:
        a = np.array([table_a[c].get(metric, math.nan) for c in cases], dtype=np.float64)
        b = np.array([table_b[c].get(metric, math.nan) for c in cases], dtype=np.float64)
        keep = ~(np.isnan(a) | np.isnan(b))  # an undefined value drops the pair; an infinite one is the worst
        a, b = a[keep], b[keep]
        mean_a, mean_b = summary_stats(a)["mean"], summary_stats(b)["mean"]
        results.append(MetricComparison(metric, int(a.size), mean_a, mean_b, *paired_tests(a, b)))
    return results, cases


def _p_text(p: float) -> str:
    return "n/a" if math.isnan(p) else f"{p:.3g}{significance_stars(p)}"


def format_markdown(results: Sequence[MetricComparison], name_a: str = "A", name_b: str = "B") -> str:
    """A markdown table of the comparison, p-values marked with the paper's asterisks."""
    lines = [
        f"| metric | n | mean {name_a} | mean {name_b} | Wilcoxon p | paired t p |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.metric} | {r.n} | {r.mean_a:.4g} | {r.mean_b:.4g} | {_p_text(r.wilcoxon_p)} | {_p_text(r.ttest_p)} |"
        )
    lines.append("")
    lines.append("\\* p < 0.01, \\*\\* p < 0.001 (two-sided, paired by case).")
    return "\n".join(lines)


def write_comparison_csv(results: Sequence[MetricComparison], path: str | Path) -> None:
    fields = [*MetricComparison.__dataclass_fields__, "wilcoxon_stars", "ttest_stars"]
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        for r in results:
            row = asdict(r)
            row["wilcoxon_stars"] = significance_stars(r.wilcoxon_p)
            row["ttest_stars"] = significance_stars(r.ttest_p)
            writer.writerow(row)
