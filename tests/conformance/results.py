"""Results of the conformance runner, the known-failure bookkeeping, and the table."""

import fnmatch
import re
from dataclasses import dataclass, field

from known_failures import KNOWN_FAILURES


def known_reason(key, detail=None):
    """The KNOWN_FAILURES reason for a case or test id (keys may be fnmatch patterns).

    An entry may be (reason, regex): then a failure is known only when its detail
    (traceback, output) matches the regex, so that another failure of the same
    test still counts as unexpected. With detail None (a pass) the regex is ignored."""
    for pattern, entry in KNOWN_FAILURES.items():
        if key == pattern or fnmatch.fnmatchcase(key, pattern):
            reason, regex = entry if isinstance(entry, tuple) else (entry, None)
            if regex and detail is not None and not re.search(regex, detail):
                continue
            return reason
    return None


@dataclass
class TestOutcome:
    """One test of a QA file: outcome is passed, failed (failures and errors) or skipped."""
    id: str
    outcome: str
    detail: str = ""
    known: str = None  # the KNOWN_FAILURES reason, for a failure that is expected


@dataclass
class Result:
    """One row of the table: an example run, a QA test file, or a group of checks."""
    name: str
    status: str  # passed | failed | skipped (for files: computed from tests)
    reason: str = ""
    seconds: float = 0.0
    tests: list = field(default_factory=list)  # TestOutcome, for QA files
    known: str = None  # the KNOWN_FAILURES reason when status is failed and expected

    @property
    def is_file(self):
        return bool(self.tests)

    def counts(self):
        c = {"passed": 0, "failed": 0, "skipped": 0, "known": 0}
        for t in self.tests:
            c[t.outcome] += 1
            if t.outcome == "failed" and t.known:
                c["known"] += 1
        return c

    def unexpected(self):
        """Failures that are not in KNOWN_FAILURES."""
        if self.is_file:
            return [t for t in self.tests if t.outcome == "failed" and not t.known]
        return [self] if self.status == "failed" and not self.known else []

    def names(self):
        """(name, outcome, detail) of what this row ran: its tests, or itself."""
        if self.is_file:
            return [(f"{self.name}::{t.id}", t.outcome, t.detail) for t in self.tests]
        return [(self.name, self.status, self.reason)]

    def summary(self):
        if not self.is_file:
            return f"{self.status} (known)" if self.known else self.status
        c = self.counts()
        failed = f"{c['failed']} failed" + (f" ({c['known']} known)" if c["known"] else "")
        return f"{c['passed']} passed, {failed}, {c['skipped']} skipped"


def _matches(key, pattern):
    return key == pattern or fnmatch.fnmatchcase(key, pattern)


def stale_entries(results):
    """KNOWN_FAILURES keys that matched something that passed and no failure this run
    (entries for intermittent failures excepted)."""
    ran = [n for r in results for n in r.names()]
    stale = []
    for pattern, entry in KNOWN_FAILURES.items():
        reason = entry[0] if isinstance(entry, tuple) else entry
        if reason.startswith("intermittent:"):
            continue
        outcomes = [outcome for key, outcome, _ in ran if _matches(key, pattern)]
        if "passed" in outcomes and "failed" not in outcomes:
            stale.append(pattern)
    return stale


def mark_known(result):
    """Fills in the known-failure reasons of a result (and of its tests)."""
    if result.is_file:
        for t in result.tests:
            if t.outcome == "failed":
                t.known = known_reason(f"{result.name}::{t.id}", t.detail or "")
        c = result.counts()
        result.status = "failed" if c["failed"] else ("passed" if c["passed"] else "skipped")
    elif result.status == "failed":
        result.known = known_reason(result.name, result.reason or "")
    return result


def _first_line(text, limit=160):
    for line in (text or "").strip().splitlines():
        line = line.strip()
        if line:
            return line if len(line) <= limit else line[: limit - 3] + "..."
    return ""


def _cell(text):
    return (text or "").replace("|", "\\|").replace("\n", " ")


def _names(tests, limit=6):
    names = [t.id.split(".")[-1] if "/" not in t.id else t.id for t in tests]
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def row_details(r):
    """The table's third column: why it skipped, why it failed, what is known."""
    if not r.is_file:
        if r.status == "failed":
            return ("known: " + r.known) if r.known else _first_line(r.reason)
        return _first_line(r.reason)  # for a pass, a note on how it ran (or nothing)
    parts = []
    unexpected = r.unexpected()
    if unexpected:
        parts.append("unexpected: " + _names(unexpected))
    known = [t for t in r.tests if t.outcome == "failed" and t.known]
    if known:
        parts.append("known: " + _names(known))
    if r.reason:
        parts.append(_first_line(r.reason))
    return "; ".join(parts)


def table(results):
    lines = ["| test | result | details |", "| --- | --- | --- |"]
    for r in results:
        lines.append(f"| {_cell(r.name)} | {_cell(r.summary())} | {_cell(row_details(r))} |")
    return "\n".join(lines)


def totals(results):
    t = {"passed": 0, "failed": 0, "known": 0, "skipped": 0}
    for r in results:
        if r.is_file:
            c = r.counts()
            for k in t:
                t[k] += c[k]
        else:
            t[r.status] += 1
            if r.status == "failed" and r.known:
                t["known"] += 1
    return t


def report(results, header=""):
    """The markdown report: totals, the table, then every failure and skip reason."""
    t = totals(results)
    out = [header.rstrip(), "",
           f"Totals (examples and QA test cases): {t['passed']} passed, {t['failed']} failed "
           f"({t['known']} known, {t['failed'] - t['known']} unexpected), {t['skipped']} skipped.", "",
           table(results), ""]
    failures = []
    for r in results:
        if r.is_file:
            for tc in r.tests:
                if tc.outcome == "failed":
                    failures.append((f"{r.name}::{tc.id}", tc.known, tc.detail))
        elif r.status == "failed":
            failures.append((r.name, r.known, r.reason))
    if failures:
        out += ["## Failures", ""]
        for name, known, detail in failures:
            out.append(f"### {name}" + (" (known)" if known else " (UNEXPECTED)"))
            if known:
                out.append(f"Known: {known}")
            tail = "\n".join((detail or "").strip().splitlines()[-15:])
            out += ["", "```", tail, "```", ""]
    skips = []
    for r in results:
        if r.is_file:
            by_reason = {}
            for tc in r.tests:
                if tc.outcome == "skipped":
                    by_reason.setdefault(_first_line(tc.detail, 300), []).append(tc.id)
            for reason, ids in by_reason.items():
                skips.append(f"- {r.name}: {', '.join(ids)}: {reason}")
        elif r.status == "skipped":
            skips.append(f"- {r.name}: {_first_line(r.reason, 300)}")
    if skips:
        out += ["## Skipped", ""] + skips + [""]
    stale = stale_entries(results)
    if stale:
        out += ["## KNOWN_FAILURES entries that passed (remove them)", ""] + [f"- {s}" for s in stale] + [""]
    return "\n".join(out)
