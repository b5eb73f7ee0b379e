"""The report's model: outcomes, one testcase (`TestResult`), one target (`Run`), drift items.

Nothing here reads files or renders anything; `junit` fills these, `verdict`, `page` and
`markdown` read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PASS = "PASS"
FAIL = "FAIL"
DIFFERS = "DIFFERS"  # an `inferred` requirement that did not hold on a vendor target
ERROR = "ERROR"      # setup/teardown error, or the suite's own live-safety guard refused
KNOWN = "KNOWN"      # known deviation (strict xfail)
SKIP = "SKIP"
#: Column order everywhere (HTML, Markdown, counts): what did not pass first after PASS.
OUTCOMES = (PASS, FAIL, DIFFERS, ERROR, KNOWN, SKIP)
#: Which result wins when one target reports the same test twice (shards overlapping).
SEVERITY = {ERROR: 5, FAIL: 4, DIFFERS: 3, KNOWN: 2, PASS: 1, SKIP: 0}
#: Outcomes in which the test did exercise the target (a SKIP did not).
EXERCISED = frozenset({PASS, FAIL, DIFFERS, KNOWN, ERROR})

OTHER = "other"  # operation group of a testcase that recorded no `operations`
GRADES = ("documented", "observed", "inferred")
DIFFERS_PREFIX = "differs from our inference:"


def first_line(s: str | None) -> str:
    for line in (s or "").splitlines():
        if line.strip():
            return line.strip()
    return ""


def first_error_line(text: str) -> str:
    """The first `E   ...` line of a pytest traceback, without the `E`."""
    for line in (text or "").splitlines():
        if line.startswith("E "):
            return line[1:].strip()
    return ""


@dataclass
class TestResult:
    """One JUnit testcase."""

    __test__ = False  # not a pytest test class

    classname: str
    name: str
    node_id: str
    outcome: str
    time: float = 0.0
    message: str = ""  # failure/skip message attribute (or reason)
    text: str = ""  # failure/error element text (traceback)
    error: bool = False  # a JUnit <error> element rather than <failure>
    operations: tuple[str, ...] = ()  # operationIds the test exercised (property)
    requirement_id: str = ""
    requirement_grade: str = ""
    requirement: str = ""  # the requirement's sentence
    request: str = ""
    response: str = ""
    violated_rule: str = ""
    guard_rule: str = ""
    issue_url: str = ""
    output: str = ""  # captured system-out / system-err, if any
    properties: list[tuple[str, str]] = field(default_factory=list)

    @property
    def operation(self) -> str:
        """The first operation exercised, or "other": a label, not the whole story."""
        return self.operations[0] if self.operations else OTHER

    @property
    def reason(self) -> str:
        """First meaningful line of the failure / skip reason."""
        if self.outcome == DIFFERS and self.message.lower().startswith(DIFFERS_PREFIX):
            return self.message[len(DIFFERS_PREFIX):].strip() or first_line(self.message)
        return first_line(self.message) or first_error_line(self.text) or first_line(self.text)

    @property
    def requirement_key(self) -> str:
        """What the matrix groups by: the id, else the sentence, else ''."""
        return self.requirement_id or self.requirement


@dataclass
class Drift:
    """Something the target sent that the bundled spec does not declare."""

    kind: str  # response-property | header | status | content-type | enum-value
    operation: str
    where: str  # JSON pointer, header name or status
    first_seen: str  # node id of the first test that saw it
    count: int = 1
    hint: str = ""
    seen_at: str = ""  # timestamp of the JUnit suite that saw it first (for shard merges)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind, self.operation, self.where)


@dataclass
class Run:
    """One target: one JUnit file, or several shards of the same target merged."""

    target: str
    path: str  # the file(s) it was read from, comma-separated
    tests: list[TestResult] = field(default_factory=list)
    collection_errors: list[TestResult] = field(default_factory=list)
    error: str = ""  # file missing / unreadable / not JUnit
    coverage: dict = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    requirements: dict[str, dict] = field(default_factory=dict)  # id -> text/grade/source
    drift: list[Drift] = field(default_factory=list)
    timestamp: str = ""  # earliest testsuite timestamp
    #: The live run's pushback, summed over its processes (`pressure` properties): sent,
    #: rate_limited, by_status, retried, transport_errors, waited_s, gave_up.
    pressure: dict = field(default_factory=dict)

    def pressure_line(self) -> str:
        """One line: how often the server pushed back and how long the run waited."""
        p = self.pressure
        if not p:
            return ""
        statuses = ", ".join(f"{k} {v}" for k, v in sorted(p.get("by_status", {}).items()))
        line = (f"{p.get('sent', 0)} requests sent; rate limited {p.get('rate_limited', 0)} "
                f"times{f' ({statuses})' if statuses else ''}, waited "
                f"{p.get('waited_s', 0):.1f} s, {p.get('retried', 0)} sent again, "
                f"{p.get('transport_errors', 0)} transport errors")
        if p.get("gave_up"):
            line += f"; gave up: {p['gave_up']}"
        return line

    def counts(self) -> dict[str, int]:
        c = dict.fromkeys(OUTCOMES, 0)
        for t in self.tests:
            c[t.outcome] += 1
        return c

    @property
    def errors(self) -> list[TestResult]:
        return [t for t in self.tests if t.outcome == ERROR]

    @property
    def could_not_run(self) -> bool:
        return bool(self.error or self.collection_errors or not self.tests or self.errors)

    def problem(self) -> str:
        """Why this run could not run, in one line ('' if it ran)."""
        if self.error:
            return self.error
        if self.collection_errors:
            n = len(self.collection_errors)
            names = ", ".join(t.name or t.classname for t in self.collection_errors[:3])
            return f"{n} collection error{'s' if n != 1 else ''} ({names})"
        if not self.tests:
            return "no test cases in report"
        if self.errors:
            n = len(self.errors)
            first = self.errors[0]
            why = (f"guard refused a request (rule {first.guard_rule})" if first.guard_rule
                   else first.reason or "error")
            return f"{n} test error{'s' if n != 1 else ''} (first: {first.node_id}: {why})"
        return ""

    def unexercised_requirements(self) -> list[str]:
        """Ids of the suite's requirement table that no test exercised on this target."""
        hit = {t.requirement_id for t in self.tests if t.outcome in EXERCISED}
        return [rid for rid in self.requirements if rid not in hit]
