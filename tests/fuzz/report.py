"""The fuzz report: outcome counts by category, a layout × category table, and every non-passing case."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from .cases import Case
from .classify import OUTCOMES, Result
from .corruptions import CORRUPTIONS
from .layouts import LAYOUTS

__all__ = ["Report"]

CATEGORIES = list(dict.fromkeys(c.category for c in CORRUPTIONS))


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    fmt = lambda row: "  ".join(str(v).ljust(w) if i == 0 else str(v).rjust(w)  # noqa: E731
                                for i, (v, w) in enumerate(zip(row, widths)))
    return "\n".join([fmt(header), fmt(["-" * w for w in widths])] + [fmt(r) for r in rows])


@dataclass
class Report:
    """All results of a run; ``failures`` are the non-passing ones."""

    cases: list[Case]
    results: list[Result]
    seconds: float
    seed: int
    long: bool

    @property
    def failures(self) -> list[Result]:
        return [r for r in self.results if not r.passed]

    def by_category(self) -> str:
        """Rows: corruption category; columns: the outcome classes (counted per command run)."""
        counts: dict[str, Counter] = defaultdict(Counter)
        for r in self.results:
            counts[r.case.category][r.outcome] += 1
        rows = [[cat] + [str(counts[cat][o]) for o in OUTCOMES] + [str(sum(counts[cat].values()))]
                for cat in CATEGORIES if counts[cat]]
        total = Counter(r.outcome for r in self.results)
        rows.append(["all"] + [str(total[o]) for o in OUTCOMES] + [str(len(self.results))])
        return _table(["category"] + list(OUTCOMES) + ["runs"], rows)

    def by_layout(self) -> str:
        """Rows: layout; columns: category; cells: ``passed/runs``."""
        cells: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
        for r in self.results:
            cell = cells[(r.case.layout, r.case.category)]
            cell[0] += r.passed
            cell[1] += 1
        rows = []
        for layout in LAYOUTS:
            row = [layout]
            for cat in CATEGORIES:
                ok, n = cells.get((layout, cat), (0, 0))
                row.append(f"{ok}/{n}" if n else "·")
            rows.append(row)
        return _table(["layout \\ category"] + CATEGORIES, rows)

    def failure_groups(self) -> dict[tuple[str, str, str], list[Result]]:
        """Non-passing results grouped by (layout, corruption, command), in case order."""
        groups: dict[tuple[str, str, str], list[Result]] = defaultdict(list)
        for r in self.failures:
            groups[(r.case.layout, r.case.corruption, r.command)].append(r)
        return dict(groups)

    def failure_summary(self) -> str:
        """One line per failing group: its outcome(s), how many runs, and the first message line."""
        lines = []
        for (layout, corruption, command), results in self.failure_groups().items():
            outcomes = "/".join(sorted({r.outcome for r in results}))
            first = results[0].message.splitlines()[0] if results[0].message else ""
            lines.append(f"{layout:9} {corruption:28} {command:11} {outcomes:9} ×{len(results)}  {first[:220]}")
        return "\n".join(lines)

    def assertion_message(self) -> str:
        """The failing cases grouped by (layout, corruption): each command's outcome and first message line."""
        groups: dict[tuple[str, str], list[Result]] = defaultdict(list)
        for r in self.failures:
            groups[(r.case.layout, r.case.corruption)].append(r)
        lines = [f"{len(self.failures)} failing command runs in {len(groups)} (layout, corruption) groups "
                 f"of {len(self.cases)} cases (seed {self.seed}):"]
        for (layout, corruption), results in groups.items():
            lines.append(f"{layout} / {corruption}:")
            for r in results:
                first = r.message.splitlines()[0] if r.message else ""
                lines.append(f"    {r.case.label} {r.command}: {r.outcome}: {first[:240]}")
        return "\n".join(lines)

    def failure_list(self) -> str:
        """Every non-passing case: label, command, outcome, message, what the byte/path step did."""
        lines = []
        for r in self.failures:
            detail = f"  [{r.case.detail}]" if r.case.detail else ""
            first = r.message.splitlines()[0][:300] if r.message else ""
            lines.append(f"{r.case.label} {r.command}: {r.outcome}: {first}{detail}")
        return "\n".join(lines)

    def render(self) -> str:
        n_sub = sum(c.subprocess for c in self.cases)
        head = (f"recon fuzz: {len(self.cases)} cases ({n_sub} in subprocesses), {len(self.results)} command runs, "
                f"seed {self.seed}{' (long)' if self.long else ''}, {self.seconds:.1f} s; "
                f"{len(self.failures)} failing runs")
        parts = [head, "", "outcomes by category (command runs):", self.by_category(), "",
                 "passed/runs by layout × category:", self.by_layout()]
        if self.failures:
            parts += ["", "failing groups (layout, corruption, command):", self.failure_summary(),
                      "", "every non-passing case:", self.failure_list()]
        return "\n".join(parts)
