#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn test logs into verdicts for `make check`.

    verdict.py tap NAME LOG [--xfail F] [--skip F] [--peer LOG --only F]
                            [--sections F]
    verdict.py cargo NAME LOG RC [--skip F]
    verdict.py total FILE [--also TEXT]

`tap` and `cargo` print one line per problem, then the summary line
    NAME: P passed, F failed, S skipped, X xfail
and exit 1 if F > 0, else 0. Any other exit status, or a last line that is
not a summary, means the judge itself broke: scripts/verdicts.sh counts that
as a failure. `total` adds up every summary line in FILE and prints
    expected failures: X xfail[; TEXT]
    P passed, F failed, S skipped
(the last line is what CI reads); a line of another shape, or no line at
all, is a failure.

What a TAP log must look like (the producers are the run scripts under
tools/testing/):
    # rvhost-sections: A B ...     sections the run will produce (may repeat)
    # rvhost-selftest: A           a section: one test program's output
    1..N                           its plan, exactly one
    ok 1 name [# SKIP reason]      N results, numbered 1..N in order
    # rvhost-selftest-exit: A RC   the program's exit status
    # rvhost-run-complete          the run reached its end: the last line

Every way a log can fail to give a verdict is a failure: a declared section
that is missing, a section on the --sections list (the committed sections
of a whole run) that is missing or one that is not on it, a section without
a plan or exit status, a `1..0` plan, fewer or more results than planned, a
nameless or misnumbered result, a nested result or `Bail out!`, a program
that exited non-zero (or by a signal) with no failing result, a result
reported twice, a run that never completed or whose completion line is not
its last. Directives are matched by prefix in any case, as TAP does: a
`# TODO`, `# XFAIL` or `# XPASS` is a failure (nothing here uses them), and
so is `not ok ... # SKIP`. A skip counts as skipped only if it is on the
--skip list; a listed test that ran, or that is absent, is a failure, so the
list can only shrink. The --xfail list works the same way for failures.
With --peer, both logs must hold the same test names, except those on the
--only list (tests that exist for this implementation alone, such as the
packed ring).
"""

import argparse
import re
import sys

SECTION = re.compile(r"^# rvhost-selftest: (\S+)\s*$")
EXIT = re.compile(r"^# rvhost-selftest-exit: (\S+) (-?\d+)\s*$")
DECLARE = re.compile(r"^# rvhost-sections:(.*)$")
COMPLETE = "# rvhost-run-complete"
PLAN = re.compile(r"^1\.\.(\d+)\b")
RESULT = re.compile(r"^(not ok|ok)\b\s*(\d+)?\s*(.*)$")
# A result's name (everything before the first '#') and its directive.
DIRECTIVE = re.compile(r"^([^#]*?)\s*(?:#\s*(.*))?$")
# TAP directives are matched case-insensitively by prefix ("# Skipped: x").
DIRECTIVE_WORD = re.compile(r"(?i)^(skip|todo|xfail|xpass)")
# kselftest prints flat TAP: a nested result or a bail-out is a log this
# judge cannot read, and so a failure.
NESTED = re.compile(r"^\s+(not ok|ok)\b")
BAIL = re.compile(r"^\s*Bail out!")
# One part's line in the verdicts file; the name may have spaces (a reason).
PART = re.compile(r"^(.+?): (\d+) passed, (\d+) failed, (\d+) skipped, (\d+) xfail$")

# kselftest's exit statuses (tools/testing/selftests/kselftest.h).
KSFT_PASS, KSFT_FAIL, KSFT_SKIP = 0, 1, 4


class Section:
    def __init__(self, name):
        self.name = name
        self.plan = None
        self.results = []  # (number, name, outcome)
        self.exit = None
        self.problems = []


def parse_tap(path, expected_sections=None):
    """Return ({test: outcome}, [problems]); outcome is pass|fail|skip.

    expected_sections: the committed list of sections a whole run has; a
    program that never started declares nothing, so the list is what tells
    its absence."""
    sections, problems, declared = [], [], []
    complete = None  # the line index of the completion line
    cur = None
    try:
        with open(path, errors="replace") as f:
            lines = f.read().splitlines()
    except OSError as e:
        return {}, [f"{path}: cannot read ({e.strerror}): the run left no log"]
    for i, line in enumerate(lines):
        m = DECLARE.match(line)
        if m:
            declared += m.group(1).split()
            continue
        if line.rstrip() == COMPLETE:
            if cur is not None:
                problems.append(f"the completion line inside section {cur.name}")
            elif complete is not None:
                problems.append("a second completion line")
            complete = i
            continue
        if BAIL.match(line):
            problems.append(f"{cur.name if cur else 'the run'}: {line.strip()!r}")
            continue
        m = NESTED.match(line)
        if m:
            problems.append(f"{cur.name if cur else 'the run'}: a nested result {line.strip()!r}")
            continue
        m = SECTION.match(line)
        if m:
            cur = Section(m.group(1))
            sections.append(cur)
            continue
        m = EXIT.match(line)
        if m:
            if cur is None or cur.name != m.group(1):
                problems.append(f"exit status of {m.group(1)} outside its section")
            else:
                cur.exit = int(m.group(2))
                cur = None
            continue
        if line.startswith("#"):
            continue
        m = PLAN.match(line)
        if m:
            if cur is None:
                problems.append(f"a plan outside any section: {line!r}")
            elif cur.plan is not None:
                cur.problems.append(f"a second plan {line!r}")
            else:
                cur.plan = int(m.group(1))
            continue
        m = RESULT.match(line)
        if not m:
            continue
        if cur is None:
            problems.append(f"a result outside any section: {line!r}")
            continue
        status, num, rest = m.group(1), m.group(2), m.group(3)
        d = DIRECTIVE.match(rest.strip())
        name, directive = d.group(1).strip(), (d.group(2) or "").strip()
        w = DIRECTIVE_WORD.match(directive)
        word = w.group(1).upper() if w else ""
        expect = len(cur.results) + 1
        if num is None or int(num) != expect:
            cur.problems.append(f"result {num or '(no number)'} where {expect} was due")
        if not name:
            cur.problems.append(f"result {expect} has no name")
            name = f"{cur.name}#{expect}"
        if word in ("TODO", "XFAIL", "XPASS"):
            outcome = "fail"
            cur.problems.append(f"{name}: # {word} is not a verdict here")
        elif word == "SKIP" and status == "not ok":
            outcome = "fail"
            cur.problems.append(f"{name}: 'not ok' with # SKIP")
        elif word == "SKIP":
            outcome = "skip"
        elif status == "ok":
            outcome = "pass"
        else:
            outcome = "fail"
        cur.results.append((expect, name, outcome))

    results = {}
    seen_sections = set()
    for s in sections:
        where = f"section {s.name}"
        if s.name in seen_sections:
            problems.append(f"{where}: appears twice")
        seen_sections.add(s.name)
        problems += [f"{where}: {p}" for p in s.problems]
        n = len(s.results)
        if s.plan is None:
            problems.append(f"{where}: no plan (the program died before starting?)")
        elif s.plan == 0:
            problems.append(f"{where}: an empty plan (1..0)")
        elif n < s.plan:
            problems.append(f"{where}: {n} of {s.plan} results: the program stopped early")
        elif n > s.plan:
            problems.append(f"{where}: {n} results for a plan of {s.plan}")
        failing = any(o == "fail" for _, _, o in s.results)
        skipping = any(o == "skip" for _, _, o in s.results)
        if s.exit is None:
            problems.append(f"{where}: no exit status (the run stopped inside it?)")
        elif s.exit < 0 or s.exit >= 128:
            problems.append(f"{where}: killed (exit status {s.exit})")
        elif s.exit == KSFT_SKIP and skipping and not failing:
            pass
        elif s.exit != KSFT_PASS and not failing:
            problems.append(f"{where}: exit status {s.exit} with no failing result")
        elif s.exit == KSFT_PASS and failing:
            problems.append(f"{where}: exit status 0 with failing results")
        for _, name, outcome in s.results:
            if name in results:
                problems.append(f"{name}: reported twice")
                outcome = "fail"
            results[name] = outcome
    for d in declared:
        if d not in seen_sections:
            problems.append(f"section {d}: declared but never ran")
    if expected_sections is not None:
        for d in expected_sections:
            if d not in seen_sections:
                problems.append(f"section {d}: expected in a whole run, never ran")
        for d in sorted(seen_sections - set(expected_sections)):
            problems.append(f"section {d}: not on the list of sections of a run")
    if complete is None:
        problems.append(f"{path}: the run never completed (no '{COMPLETE}')")
    elif any(l.strip() for l in lines[complete + 1:]):
        problems.append(f"{path}: output after the completion line: the run went on")
    if not results:
        problems.append(f"{path}: no test results")
    return results, problems


def list_lines(path):
    """The lines of a committed list, comments ('#' on) and blanks left out."""
    if not path:
        return []
    try:
        f = open(path)
    except OSError as e:
        sys.exit(f"verdict.py: cannot read the list {path}: {e.strerror}")
    with f:
        lines = [l.split("#", 1)[0].strip() for l in f]
    return [l for l in lines if l]


def read_list(path):
    return set(list_lines(path))


def read_sections(path):
    """The first word of each line, in order."""
    return [l.split()[0] for l in list_lines(path)]


def judge(results, problems, xfail=frozenset(), skip=frozenset(), xfail_file="", skip_file=""):
    counts = {"pass": 0, "fail": 0, "skip": 0, "xfail": 0}
    for name, outcome in sorted(results.items()):
        if name in xfail and name in skip:
            problems.append(f"{name}: on both {xfail_file} and {skip_file}")
        if outcome == "skip":
            if name in skip:
                counts["skip"] += 1
            elif name in xfail:
                problems.append(f"{name}: skipped, but on {xfail_file}")
            else:
                problems.append(f"{name}: SKIP, not on the expected-skip list {skip_file or '(none)'}")
        elif name in skip:
            problems.append(f"{name}: ran ({outcome}); remove it from {skip_file}")
        elif outcome == "pass":
            if name in xfail:
                problems.append(f"{name}: XPASS: passes now, remove it from {xfail_file}")
            else:
                counts["pass"] += 1
        elif name in xfail:
            counts["xfail"] += 1
        else:
            problems.append(f"{name}: FAIL")
    for name in sorted((xfail | skip) - results.keys()):
        problems.append(f"{name}: listed in {xfail_file if name in xfail else skip_file} but not run")
    counts["fail"] = len(problems)
    return counts


def report(name, counts, problems):
    for p in problems:
        print(f"{name}: {p}")
    print(
        f"{name}: {counts['pass']} passed, {counts['fail']} failed, "
        f"{counts['skip']} skipped, {counts['xfail']} xfail"
    )
    return 1 if counts["fail"] else 0


def cmd_tap(a):
    results, problems = parse_tap(a.log, read_sections(a.sections) if a.sections else None)
    if a.peer:
        peer, _ = parse_tap(a.peer)
        only = read_list(a.only)
        for n in sorted(peer.keys() - results.keys()):
            problems.append(f"{n}: ran in {a.peer} but not here")
        for n in sorted(results.keys() - peer.keys() - only):
            problems.append(f"{n}: ran here but not in {a.peer}, and is not on {a.only or 'an only-here list'}")
        for n in sorted(only & peer.keys()):
            problems.append(f"{n}: on {a.only} but ran in {a.peer} too")
        for n in sorted(only - results.keys()):
            problems.append(f"{n}: on {a.only} but not run here")
    counts = judge(results, problems, read_list(a.xfail), read_list(a.skip), a.xfail, a.skip)
    return report(a.name, counts, problems)


CARGO_RESULT = re.compile(
    r"^test result: (\w+)\. (\d+) passed; (\d+) failed; (\d+) ignored; (\d+) measured"
)
CARGO_RUNNING = re.compile(r"^running (\d+) tests?$")
# Doctest names have spaces: "src/lib.rs - f (line 3)".
CARGO_TEST = re.compile(r"^test (.+?) \.\.\. (ok|FAILED|ignored)\b")
CARGO_BINARY = re.compile(r"^\s*(Running|Doc-tests)\s+(.*?)\s*$")


def cmd_cargo(a):
    """cargo test --no-fail-fast: every `running N tests` needs its
    `test result:` with N outcomes, each ignored test named (and on the
    --skip list), and a non-zero exit needs a failure."""
    problems, counts = [], {"pass": 0, "fail": 0, "skip": 0, "xfail": 0}
    failed_lines = []
    skip = read_list(a.skip)
    ignored = []  # (binary, name), one per ignored test
    binary, pending, named = "(first binary)", None, 0
    with open(a.log, errors="replace") as f:
        for line in f.read().splitlines():
            m = CARGO_BINARY.match(line)
            if m:
                binary = f"{m.group(1)} {m.group(2)}"
                continue
            m = CARGO_RUNNING.match(line)
            if m:
                if pending is not None:
                    problems.append(f"{binary}: a test binary of {pending} tests ended without a result")
                pending, named = int(m.group(1)), 0
                continue
            m = CARGO_TEST.match(line)
            if m and m.group(2) == "ignored":
                ignored.append((binary, m.group(1)))
                named += 1
                continue
            m = CARGO_RESULT.match(line)
            if m:
                p, f_, i = int(m.group(2)), int(m.group(3)), int(m.group(4))
                if pending is None:
                    problems.append(f"a result without 'running N tests': {line!r}")
                elif p + f_ + i + int(m.group(5)) != pending:
                    problems.append(f"{binary}: {pending} tests ran but the result counts {p + f_ + i}")
                if i != named:
                    problems.append(f"{binary}: {i} ignored, but {named} ignored tests named in the log")
                pending, named = None, 0
                counts["pass"] += p
                if f_:
                    failed_lines.append(f"{f_} failed: {line}")
                    counts["fail"] += f_
    if pending is not None:
        problems.append(f"{binary}: a test binary of {pending} tests ended without a result (aborted?)")
    for b, n in ignored:
        if n not in skip:
            problems.append(f"{b}: {n}: ignored, not on the expected-skip list {a.skip or '(none)'}")
    for n in sorted(skip - {n for _, n in ignored}):
        problems.append(f"{n}: on {a.skip} but not ignored")
    counts["skip"] = sum(1 for _, n in ignored if n in skip)
    if a.rc != 0 and counts["fail"] == 0:
        problems.append(f"cargo exited {a.rc} without a failing test (a build error or an aborted binary)")
    if counts["pass"] == 0 and counts["fail"] == 0:
        problems.append("no test ran")
    counts["fail"] += len(problems)
    problems = failed_lines + problems
    return report(a.name, counts, problems)


def cmd_total(a):
    # Every line is a part's summary; anything else (a part that wrote a
    # line of another shape, a name the pattern cannot hold) is a failure,
    # and so is a file with no part in it.
    tot = [0, 0, 0, 0]
    parts = 0
    with open(a.file) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            m = PART.match(line)
            if not m:
                print(f"{a.file}: not a part's summary: {line!r}")
                tot[1] += 1
                continue
            parts += 1
            for i in range(4):
                tot[i] += int(m.group(i + 2))
    if not parts:
        print(f"{a.file}: no part reported a verdict")
        tot[1] += 1
    print(f"expected failures: {tot[3]} xfail" + (f"; {a.also}" if a.also else ""))
    print(f"{tot[0]} passed, {tot[1]} failed, {tot[2]} skipped")
    return 1 if tot[1] else 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("tap")
    t.add_argument("name")
    t.add_argument("log")
    t.add_argument("--xfail")
    t.add_argument("--skip")
    t.add_argument("--peer")
    t.add_argument("--sections")
    t.add_argument("--only")
    c = sub.add_parser("cargo")
    c.add_argument("name")
    c.add_argument("log")
    c.add_argument("rc", type=int)
    c.add_argument("--skip")
    s = sub.add_parser("total")
    s.add_argument("file")
    s.add_argument("--also")
    a = ap.parse_args()
    return {"tap": cmd_tap, "cargo": cmd_cargo, "total": cmd_total}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
