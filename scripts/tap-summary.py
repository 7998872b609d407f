#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Judge a TAP log of the conformance suite.

Usage: tap-summary.py [--xfail FILE] NAME LOG

Prints one line per problem and a summary line
  "NAME: P passed, F failed, S skipped, X xfail"
and exits 1 if anything failed. With --xfail, a listed test that fails is an
expected failure (XFAIL); a listed test that passes (XPASS), or is missing
from the log, is a failure, so the list can only shrink; an unlisted failure
is a failure. A test binary that stopped before its plan was done is a
failure too.
"""

import argparse
import re
import sys

RESULT = re.compile(r"^\s*(not ok|ok) (\d+) ([^#]*?)\s*(#\s*(\w+).*)?$")
PLAN = re.compile(r"^\s*1\.\.(\d+)")
# kselftest_harness.h names each test file's output with this line.
TEST_FILE = re.compile(r"^# (?:Running|rvhost-selftest:) (.*)$")


def parse(path):
    """Return ({name: 'pass'|'fail'|'skip'}, [problems])."""
    results, problems = {}, []
    plan, seen, section = None, 0, path

    def close_section():
        if plan is not None and seen < plan:
            problems.append(f"{section}: {seen} of {plan} results: the test binary stopped early")

    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            m = TEST_FILE.match(line)
            if m:
                close_section()
                plan, seen, section = None, 0, m.group(1)
                continue
            m = PLAN.match(line)
            if m and plan is None:
                plan = int(m.group(1))
                continue
            m = RESULT.match(line)
            if not m:
                continue
            seen += 1
            status, name, directive = m.group(1), m.group(3), (m.group(5) or "").upper()
            if directive == "SKIP":
                outcome = "skip"
            elif status == "ok":
                outcome = "pass"
            else:
                outcome = "fail"
            if name in results:
                problems.append(f"{name}: reported twice")
            results[name] = outcome
    close_section()
    if not results:
        problems.append(f"{path}: no test results")
    return results, problems


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--xfail")
    ap.add_argument("name")
    ap.add_argument("log")
    args = ap.parse_args()

    results, problems = parse(args.log)
    xfail = set()
    if args.xfail:
        with open(args.xfail) as f:
            for line in f:
                line = line.split("#", 1)[0].strip()
                if line:
                    xfail.add(line)

    # Problems that are no single test's failure still fail the run.
    counts = {"pass": 0, "fail": len(problems), "skip": 0, "xfail": 0}
    for name, outcome in sorted(results.items()):
        listed = name in xfail
        if outcome == "skip":
            counts["skip"] += 1
            if listed:
                counts["fail"] += 1
                problems.append(f"{name}: skipped, but on the expected-failures list")
        elif outcome == "pass" and listed:
            counts["fail"] += 1
            problems.append(f"{name}: XPASS: passes now, remove it from {args.xfail}")
        elif outcome == "pass":
            counts["pass"] += 1
        elif listed:
            counts["xfail"] += 1
        else:
            counts["fail"] += 1
            problems.append(f"{name}: FAIL")
    for name in sorted(xfail - results.keys()):
        counts["fail"] += 1
        problems.append(f"{name}: on the expected-failures list but not run")

    for p in problems:
        print(f"{args.name}: {p}")
    print(
        f"{args.name}: {counts['pass']} passed, {counts['fail']} failed, "
        f"{counts['skip']} skipped, {counts['xfail']} xfail"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
