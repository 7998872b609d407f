#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Tests of how `make check` reaches its verdicts, on committed synthetic logs.

Each case feeds the real scripts (scripts/verdict.py, scripts/verdicts.sh,
the run scripts' TAP framing and leak_test.sh) a log or a situation that
must, or must not, fail, and checks the outcome: the counts, the exit status
and the reason given. Prints TAP; exits 1 if a case fails.
"""

import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
LOGS = os.path.join(HERE, "logs")
VERDICT = os.path.join(TOP, "scripts", "verdict.py")
SUMMARY = re.compile(r"^(\S+): (\d+) passed, (\d+) failed, (\d+) skipped, (\d+) xfail$")


def log(name):
    return os.path.join(LOGS, name)


def run(args, env=None, shell=False):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run(args, capture_output=True, text=True, env=e, cwd=TOP, shell=shell)
    return p.returncode, p.stdout + p.stderr


def judged(args):
    """Run verdict.py; return (rc, (P, F, S, X), output)."""
    rc, out = run([sys.executable, VERDICT] + args)
    m = SUMMARY.match(out.strip().splitlines()[-1]) if out.strip() else None
    counts = tuple(int(m.group(i)) for i in range(2, 6)) if m else None
    return rc, counts, out


class Failure(Exception):
    pass


def expect(cond, why, out=""):
    if not cond:
        raise Failure(why + ("\n" + out if out else ""))


def fails(args, reason, failed=None):
    """The judge must fail the log, and say why."""
    rc, counts, out = judged(args)
    expect(counts is not None, "no summary line", out)
    expect(rc == 1, f"exit {rc}, want 1", out)
    expect(counts[1] >= 1, f"failed = {counts[1]}", out)
    if failed is not None:
        expect(counts[1] == failed, f"failed = {counts[1]}, want {failed}", out)
    expect(re.search(reason, out), f"no reason matching {reason!r}", out)
    return counts


def passes(args, want):
    rc, counts, out = judged(args)
    expect(rc == 0 and counts == want, f"exit {rc}, counts {counts}, want {want}", out)


CASES = []


def case(f):
    CASES.append(f)
    return f


# Positive controls: a judge that fails everything proves nothing.
@case
def good_log_passes():
    passes(["tap", "t", log("good.tap"), "--skip", log("packed.skip")], (3, 0, 1, 0))


@case
def good_log_with_xfail_passes():
    # alpha.net.two fails here and is an expected failure.
    with tempfile.TemporaryDirectory() as d:
        with open(f"{d}/x", "w") as f:
            f.write("alpha.net.two\n")
        passes(["tap", "t", log("good-peer.tap"), "--xfail", f"{d}/x"], (3, 0, 0, 1))


@case
def every_case_skipped_fails():
    fails(["tap", "t", log("all-skipped.tap")], r"SKIP, not on the expected-skip list", failed=3)


@case
def unlisted_skip_fails():
    fails(["tap", "t", log("good.tap")], r"alpha.net.packed: SKIP, not on the expected-skip list")


@case
def listed_skip_that_runs_fails():
    fails(["tap", "t", log("good.tap"), "--skip", log("runs.skip")], r"alpha.net.one: ran \(pass\)")


@case
def listed_skip_that_is_absent_fails():
    fails(["tap", "t", log("good.tap"), "--skip", log("absent.skip")], r"alpha.net.gone: listed .* not run")


@case
def crash_before_plan_fails():
    fails(["tap", "t", log("crash-before-plan.tap")], r"section alpha: no plan")
    fails(["tap", "t", log("crash-before-plan.tap")], r"section alpha: killed \(exit status 139\)")


@case
def nonzero_exit_after_ok_lines_fails():
    fails(["tap", "t", log("crash-after-ok.tap")], r"exit status 1 with no failing result", failed=1)


@case
def fewer_results_than_planned_fails():
    fails(["tap", "t", log("stopped-early.tap")], r"2 of 3 results")


@case
def results_beyond_the_plan_fail():
    fails(["tap", "t", log("beyond-plan.tap")], r"2 results for a plan of 1")


@case
def empty_plan_fails():
    fails(["tap", "t", log("empty-plan.tap")], r"an empty plan")


@case
def nameless_result_fails():
    fails(["tap", "t", log("nameless.tap")], r"result 2 has no name")


@case
def xfail_xpass_todo_directives_fail():
    fails(["tap", "t", log("directives.tap")], r"# XFAIL is not a verdict", failed=7)
    fails(["tap", "t", log("directives.tap")], r"# XPASS is not a verdict")
    fails(["tap", "t", log("directives.tap")], r"# TODO is not a verdict")


@case
def vm_that_stopped_early_fails():
    fails(["tap", "t", log("vm-died.tap")], r"the run never completed")
    fails(["tap", "t", log("vm-died.tap")], r"section beta: declared but never ran")
    fails(["tap", "t", log("vm-died.tap")], r"section alpha: no exit status")


@case
def declared_section_missing_fails():
    fails(["tap", "t", log("section-missing.tap")], r"section beta: declared but never ran")


@case
def missing_log_fails():
    fails(["tap", "t", log("no-such.tap")], r"cannot read")


@case
def result_reported_twice_fails():
    fails(["tap", "t", log("twice.tap")], r"alpha.net.one: reported twice")


@case
def xfail_list_judged_both_ways():
    counts = fails(["tap", "t", log("xfail.tap"), "--xfail", log("xfail.list")], r"alpha.vsock.two: XPASS")
    expect(counts == (1, 1, 0, 1), f"counts {counts}")


@case
def peers_must_run_the_same_tests():
    # good.tap has alpha.net.packed, section-missing.tap lacks it and beta.x
    fails(["tap", "t", log("section-missing.tap"), "--peer", log("good.tap")], r"beta.x: ran in .* but not here")
    fails(["tap", "t", log("good.tap"), "--skip", log("packed.skip"), "--peer", log("section-missing.tap")],
          r"alpha.net.packed: ran here but not in")
    fails(["tap", "t", log("good.tap"), "--skip", log("packed.skip"), "--peer", log("good-peer.tap"),
           "--only", log("packed.only")], r"alpha.net.packed: on .* but ran in .* too")


@case
def cargo_good_passes():
    passes(["cargo", "host", log("cargo-good.log"), "0"], (2, 0, 0, 0))


@case
def cargo_aborted_binary_fails():
    fails(["cargo", "host", log("cargo-aborted.log"), "101"], r"ended without a result")


@case
def cargo_nonzero_exit_fails():
    fails(["cargo", "host", log("cargo-build-error.log"), "101"], r"cargo exited 101 without a failing test")
    fails(["cargo", "host", log("cargo-good.log"), "1"], r"cargo exited 1")


@case
def cargo_failed_test_counts():
    counts = fails(["cargo", "host", log("cargo-failed.log"), "101"], r"1 failed")
    expect(counts[:2] == (1, 1), f"counts {counts}")


@case
def cargo_unlisted_ignored_fails():
    fails(["cargo", "host", log("cargo-ignored.log"), "0"], r"slow: ignored, not on the expected-skip list")


@case
def program_that_never_started_fails():
    # It declared no section of its own: the committed list of a whole
    # run's sections is what shows it is missing.
    fails(["tap", "t", log("never-started.tap"), "--sections", log("run.sections")],
          r"section beta: expected in a whole run, never ran")
    passes(["tap", "t", log("good.tap"), "--skip", log("packed.skip"),
            "--sections", log("run.sections")], (3, 0, 1, 0))


@case
def section_not_on_the_list_fails():
    with tempfile.TemporaryDirectory() as d:
        with open(f"{d}/one", "w") as f:
            f.write("alpha\n")
        fails(["tap", "t", log("good.tap"), "--skip", log("packed.skip"), "--sections", f"{d}/one"],
              r"section beta: not on the list")


@case
def completion_line_only_at_the_end():
    fails(["tap", "t", log("complete-early.tap")], r"completion line inside section a")
    fails(["tap", "t", log("after-complete.tap")], r"output after the completion line")


@case
def bail_out_and_nested_results_fail():
    fails(["tap", "t", log("bail-out.tap")], r"Bail out!")
    fails(["tap", "t", log("nested-result.tap")], r"a nested result 'not ok 1 a.one.child'")


@case
def skip_spellings_are_skips():
    # "# Skipped: x" and "# SKIP: x" are skips (TAP matches the directive
    # by prefix, in any case), so they must be on the list too.
    fails(["tap", "t", log("skip-spellings.tap")], r"a.two: SKIP, not on the expected-skip list", failed=2)


@case
def todo_xfail_spellings_fail():
    fails(["tap", "t", log("directive-spellings.tap")], r"a.three: # TODO is not a verdict")


@case
def not_ok_with_skip_fails():
    with tempfile.TemporaryDirectory() as d:
        with open(f"{d}/two", "w") as f:
            f.write("a.two\n")
        fails(["tap", "t", log("not-ok-skip.tap"), "--skip", f"{d}/two"], r"a.two: 'not ok' with # SKIP")


@case
def description_with_spaces_is_judged():
    # A TAP description with spaces is a name; the judge must not break on it.
    passes(["tap", "t", log("description.tap")], (1, 0, 0, 0))


@case
def cargo_ignored_tests_are_all_counted():
    fails(["cargo", "host", log("cargo-doc-ignored.log"), "0"],
          r"Ring::push \(line 12\): ignored, not on the expected-skip list")
    fails(["cargo", "host", log("cargo-ignored-garbled.log"), "0"],
          r"1 ignored, but 0 ignored tests named")
    with tempfile.TemporaryDirectory() as d:
        with open(f"{d}/slow", "w") as f:
            f.write("tests::slow\n")
        passes(["cargo", "host", log("cargo-ignore-collide.log"), "0", "--skip", f"{d}/slow"], (1, 0, 2, 0))


def sh(script, env=None):
    """Run bash code with scripts/verdicts.sh sourced."""
    code = f'set -euo pipefail; . "{TOP}/scripts/verdicts.sh"; ' + script
    return run(["bash", "-c", code], env=env)


@case
def total_counts_xfail_apart_from_skips():
    with tempfile.TemporaryDirectory() as d:
        with open(f"{d}/x", "w") as f:
            f.write("alpha.net.two\n")
        rc, out = sh(
            f'verdicts_init {d}/v; judge tap a {log("good.tap")} --skip {log("packed.skip")}; '
            f'judge tap b {log("good-peer.tap")} --xfail {d}/x; verdicts_total'
        )
        lines = out.strip().splitlines()
        expect(rc == 0, f"exit {rc}", out)
        expect(lines[-2:] == ["expected failures: 1 xfail", "6 passed, 0 failed, 1 skipped"], "totals", out)


@case
def missing_list_is_a_failure():
    # A skip list that is not there (a typo, a file not committed) must not
    # pass the run as if nothing were expected: judge() records a failure.
    with tempfile.TemporaryDirectory() as d:
        rc, out = sh(f'verdicts_init {d}/v; judge tap a {log("good.tap")} --skip {d}/none.skip; '
                     f'cat {d}/v; verdicts_total')
        expect("cannot read the list" in out, "no reason", out)
        expect(out.strip().splitlines()[-1] == "0 passed, 1 failed, 0 skipped", "not a failure", out)


@case
def total_of_nothing_or_of_a_broken_line_fails():
    # The last line is only as good as the file it adds up: a part whose
    # line has another shape, or no part at all, is a failure.
    with tempfile.TemporaryDirectory() as d:
        for body, why in (("", "no part reported"),
                          ("a: 1 passed, 0 failed, 0 skipped, 0 xfail\nb: broke\n", "not a part's summary")):
            with open(f"{d}/v", "w") as f:
                f.write(body)
            rc, out = sh(f"verdicts={d}/v; verdicts_total")
            expect(rc == 1, f"exit {rc}", out)
            expect(why in out, "no reason", out)
            expect(re.match(r"\d+ passed, [1-9]\d* failed, \d+ skipped$", out.strip().splitlines()[-1]),
                   "not a failure", out)


@case
def crashing_judge_is_a_failure():
    with tempfile.TemporaryDirectory() as d:
        crash = os.path.join(d, "crash.py")
        with open(crash, "w") as f:
            f.write("#!/usr/bin/env python3\nimport sys\nprint('t: 9 passed, 0 failed, 0 skipped, 0 xfail')\n"
                    "raise SystemExit(3)\n")
        os.chmod(crash, 0o755)
        rc, out = sh(f"verdicts_init {d}/v; judge tap t whatever.tap; cat {d}/v",
                     env={"RVHOST_VERDICT": crash})
        expect(rc == 0, f"exit {rc}", out)
        expect("the judge broke: exit 3" in out, "no broken-judge failure", out)
        with open(crash, "w") as f:
            f.write("#!/usr/bin/env python3\nraise RuntimeError('boom')\n")
        rc, out = sh(f"verdicts_init {d}/v; judge tap t whatever.tap; verdicts_total",
                     env={"RVHOST_VERDICT": crash})
        expect(rc != 0 and out.strip().splitlines()[-1] == "0 passed, 1 failed, 0 skipped",
               f"exit {rc}", out)


@case
def judge_whose_status_and_counts_disagree_is_a_failure():
    with tempfile.TemporaryDirectory() as d:
        liar = os.path.join(d, "liar.py")
        with open(liar, "w") as f:
            f.write("#!/usr/bin/env python3\nprint('t: 3 passed, 2 failed, 0 skipped, 0 xfail')\n")
        os.chmod(liar, 0o755)
        rc, out = sh(f"verdicts_init {d}/v; judge tap t x; cat {d}/v", env={"RVHOST_VERDICT": liar})
        expect("the judge broke: exit 0" in out, "a judge saying 2 failed with exit 0 was believed", out)


@case
def run_sh_frames_a_crash_and_a_missing_binary():
    with tempfile.TemporaryDirectory() as d:
        with open(f"{d}/owner", "w") as f:
            f.write("#!/bin/sh\necho 'TAP version 13'\nkill -SEGV $$\n")
        os.chmod(f"{d}/owner", 0o755)
        rc, out = run(["bash", "tools/testing/selftests/rvhost/run.sh", d, "owner", "features"])
        with open(f"{d}/log.tap", "w") as f:
            f.write(out + "# rvhost-run-complete\n")
        expect(rc == 1, f"run.sh exit {rc}", out)
        fails(["tap", "t", f"{d}/log.tap"], r"section owner: killed")
        fails(["tap", "t", f"{d}/log.tap"], r"features.built")


LEAK_TEST = "tools/testing/selftests/rvhost/leak_test.sh"
CYCLES_PROGRAMS = ("net_cycles", "vsock_cycles")
GOOD_SLABINFO = ("slabinfo - version: 2.1\n# name <active_objs>\n" +
                 "".join(f"cache-{i} 10 20 32 1 1\n" for i in range(30)) + "kmalloc-64 5 5 64 1 1\n")


def fake_program(d, name, body):
    with open(f"{d}/{name}", "w") as f:
        f.write("#!/bin/sh\n" + body)
    os.chmod(f"{d}/{name}", 0o755)


def leak_test(d, cycles=None):
    """Run leak_test.sh on the programs in d and a fake slabinfo; no waiting."""
    env = {"RVHOST_SLABINFO": f"{d}/slabinfo", "RVHOST_SLABDIR": f"{d}/none",
           "RVHOST_VMALLOCINFO": f"{d}/vmallocinfo", "RVHOST_SLAB_WAITS": "0 0 0"}
    if cycles:
        env["RVHOST_CYCLES"] = str(cycles)
    return run(["bash", LEAK_TEST, d], env=env)


@case
def leak_test_fails_when_cycles_cannot_run():
    # Each program's leak verdict stands on its own runs: one that failed
    # fails its verdict, the other's passes.
    for bad in CYCLES_PROGRAMS:
        with tempfile.TemporaryDirectory() as d:
            for p in CYCLES_PROGRAMS:
                fake_program(d, p, f"echo '1..1'\necho 'not ok 1 {p}.x.cycles'\nexit 1\n" if p == bad
                             else f"echo '1..1'\necho 'ok 1 {p}.x.cycles'\n")
            with open(f"{d}/slabinfo", "w") as f:
                f.write(GOOD_SLABINFO)
            rc, out = leak_test(d, 4)
            with open(f"{d}/log.tap", "w") as f:
                f.write(out + "# rvhost-run-complete\n")
            expect(rc == 1, f"leak_test.sh exit {rc}", out)
            expect(f"not ok 1 {bad}.slab_no_growth # {bad} failed" in out,
                   f"{bad}.slab_no_growth passed without cycles", out)
            for p in CYCLES_PROGRAMS:
                if p != bad:
                    expect(re.search(f"^ok 1 {p}.slab_no_growth$", out, re.M), f"{p} failed too", out)
            fails(["tap", "t", f"{d}/log.tap"], rf"{bad}.slab_no_growth: FAIL", failed=2)


@case
def leak_test_fails_when_slabinfo_measures_nothing():
    # An empty or reformatted slabinfo gives empty snapshots: "no growth"
    # would be a verdict on nothing. A good one (positive control) passes.
    with tempfile.TemporaryDirectory() as d:
        for p in CYCLES_PROGRAMS:
            fake_program(d, p, f"echo '1..1'\necho 'ok 1 {p}.x.cycles'\n")
        for body, want in (("", "not ok 1 {}.slab_no_growth"),
                           ("slabinfo - version: 2.1\n# name <active_objs>\n" + "kmalloc-32 10 20 32 1 1\n",
                            "not ok 1 {}.slab_no_growth"),
                           (GOOD_SLABINFO, "ok 1 {}.slab_no_growth")):
            with open(f"{d}/slabinfo", "w") as f:
                f.write(body)
            rc, out = leak_test(d, 4)
            for p in CYCLES_PROGRAMS:
                expect(re.search(f"^{want.format(p)}", out, re.M), f"want {want.format(p)!r}", out)


@case
def leak_test_fails_when_a_cache_grows_every_run():
    # A cache that grows by every run's cycles is a leak, pinned on the
    # program that ran; one that grew once (a burst) is not. The fake
    # programs grow the counts of a fake slabinfo.
    grow = ("f=$RVHOST_SLABINFO; n=$(($(cat $0.runs 2>/dev/null || echo 0) + 1)); echo $n >$0.runs\n"
            "if [ {when} ]; then awk -v c={cache} -v add=$RVHOST_CYCLES "
            "'$1 == c {{ $2 += add }} {{ print }}' $f >$f.new && mv $f.new $f; fi\n"
            "echo '1..1'\necho 'ok 1 {prog}.x.cycles'\n")
    for leaky in CYCLES_PROGRAMS:
        with tempfile.TemporaryDirectory() as d:
            for p in CYCLES_PROGRAMS:
                # run 1 warms up, run 2 is measured, run 3 is the run again
                fake_program(d, p, grow.format(prog=p, cache=f"{p}-cache",
                                               when="$n -ge 2" if p == leaky else "$n = 2"))
            with open(f"{d}/slabinfo", "w") as f:
                f.write(GOOD_SLABINFO + "".join(f"{p}-cache 0 0 64 1 1\n" for p in CYCLES_PROGRAMS))
            rc, out = leak_test(d, 4)
            with open(f"{d}/log.tap", "w") as f:
                f.write(out + "# rvhost-run-complete\n")
            expect(rc == 1, f"leak_test.sh exit {rc}", out)
            expect(re.search(rf"^not ok 1 {leaky}.slab_no_growth # grew in both runs: {leaky}-cache \+4 \+4",
                             out, re.M), f"the leak in {leaky} was not found", out)
            for p in CYCLES_PROGRAMS:
                if p != leaky:
                    expect(re.search(f"^# {p} grew over 4 cycles: {p}-cache 4", out, re.M),
                           f"{p}'s burst was not seen", out)
                    expect(re.search(f"^ok 1 {p}.slab_no_growth$", out, re.M), f"{p}'s burst failed it", out)
            fails(["tap", "t", f"{d}/log.tap"], rf"{leaky}.slab_no_growth: FAIL", failed=1)


@case
def leak_test_counts_vmalloc_areas_in_use():
    # vmap_area also counts areas freed but not yet purged, which pile up
    # (kernel stacks with CONFIG_VMAP_STACK): its growth with as many
    # "unpurged" lines in vmallocinfo is no leak. An area still in use after
    # every run is one, named vmalloc_busy.
    add = ("n=$(($(cat $0.runs 2>/dev/null || echo 0) + 1)); echo $n >$0.runs\n"
           "if [ $n -ge 2 ]; then\n"
           "  awk -v add=$RVHOST_CYCLES '$1 == \"vmap_area\" {{ $2 += add }} {{ print }}' $RVHOST_SLABINFO >$0.s && mv $0.s $RVHOST_SLABINFO\n"
           "  for i in $(seq $RVHOST_CYCLES); do echo '0x1-0x2 8192 {what}' >>$RVHOST_VMALLOCINFO; done\n"
           "fi\necho '1..1'\necho 'ok 1 {prog}.x.cycles'\n")
    for what, leaks in (("unpurged vm_area", False), ("copy_process+0x1/0x2 pages=1 vmalloc", True)):
        with tempfile.TemporaryDirectory() as d:
            for p in CYCLES_PROGRAMS:
                fake_program(d, p, add.format(prog=p, what=what if p == "net_cycles" else "unpurged vm_area"))
            with open(f"{d}/slabinfo", "w") as f:
                f.write(GOOD_SLABINFO + "vmap_area 100 100 64 1 1\n")
            with open(f"{d}/vmallocinfo", "w") as f:
                f.write("0x1-0x2 8192 start_kernel+0x1/0x2 pages=1 vmalloc\n")
            rc, out = leak_test(d, 4)
            if leaks:
                expect(re.search(r"^not ok 1 net_cycles.slab_no_growth # grew in both runs: vmalloc_busy \+4 \+4",
                                 out, re.M), "areas in use every run were not a leak", out)
            else:
                expect(rc == 0 and re.search("^ok 1 net_cycles.slab_no_growth$", out, re.M),
                       "unpurged areas counted as a leak", out)
            expect(re.search("^ok 1 vsock_cycles.slab_no_growth$", out, re.M), "vsock_cycles failed", out)


@case
def nested_run_that_crashed_fails():
    # nested.sh printed its ok lines, then QEMU died: no pass.
    with tempfile.TemporaryDirectory() as d:
        os.makedirs(f"{d}/scripts/vm")
        with open(f"{d}/scripts/vm/nested.sh", "w") as f:
            f.write("#!/bin/sh\necho 'nested: ping: ok'\necho 'nested: tcp: ok'\nexit 134\n")
        os.chmod(f"{d}/scripts/vm/nested.sh", 0o755)
        p = subprocess.run(["bash", f"{TOP}/tools/testing/e2e/nested_test.sh"], cwd=d,
                           capture_output=True, text=True)
        out = p.stdout + p.stderr
        expect(p.returncode == 1, f"nested_test.sh exit {p.returncode}", out)
        expect(re.search(r"^not ok 1 nested.ping # .*nested.sh exited 134", out, re.M), "ping passed", out)
        expect(re.search(r"^not ok 2 nested.tcp", out, re.M), "tcp passed", out)


VT_DRIVER = """
set -u
vt_name=("A test" "B test" "C test" "D test")
vt_cases=(a_test b_test c_test d_test)
declare -A vt_skipwhy=([host_client.d_test]="timing")
verdict() {
	case $2 in
	ok) echo "nested: $1: ok ($3)" ;;
	skip) echo "nested: $1: SKIP ($3)" ;;
	*) echo "nested: $1: FAILED ($3)" ;;
	esac
}
. scripts/vm/vsock_test_judge.sh
vt_judge host_client "$1" "$2"
"""


def vt_judged(host, guest):
    """scripts/vm/vsock_test_judge.sh on two ends' vsock_test output."""
    with tempfile.TemporaryDirectory() as d:
        for name, text in (("host", host), ("guest", guest)):
            with open(f"{d}/{name}", "w") as f:
                f.write(text)
        rc, out = run(["bash", "-c", VT_DRIVER, "judge", f"{d}/host", f"{d}/guest"])
    expect(rc == 0, f"the judge exited {rc}", out)
    return out


def vt_verdict(out, case):
    m = re.search(rf"^nested: vsock_test\.host_client{case}: (\S+) \((.*)\)$", out, re.M)
    expect(m, f"no verdict for vsock_test.host_client{case}", out)
    return m.group(1), m.group(2)


# The VM's lines are stamped, the nested guest's are not; the C test ends
# the first run on both, and is run again.
VT_HOST = """1.0 Control socket connected to 10.23.0.2:5003.
1.1 0 - A test...ok
1.2 1 - B test...ok
1.3 2 - C test...expected "RECEIVED" on control socket, got "x"
1.4 rvhost-exit 1
1.5 rvhost-rerun from test 2
1.6 control connection tries: 2
1.7 Control socket connected to 10.23.0.2:5003.
1.8 0 - A test...skipped
1.9 1 - B test...skipped
2.0 2 - C test...{rerun}
2.1 3 - D test...skipped
2.2 All tests have been executed. Waiting other peer...ok
2.3 rvhost-exit 0
"""
VT_GUEST = """- Control socket listening on 0.0.0.0:5003
- 0 - A test...ok
- 1 - B test...ok
- 2 - C test...unexpected EOF on control socket
- rvhost-exit 1
- rvhost-rerun
- 0 - A test...skipped
- 1 - B test...skipped
- 2 - C test...ok
- 3 - D test...skipped
- All tests have been executed. Waiting other peer...ok
- rvhost-exit 0
"""


@case
def vsock_test_rerun_passes_with_its_first_run_said():
    out = vt_judged(VT_HOST.format(rerun="ok"), VT_GUEST)
    kind, text = vt_verdict(out, "")
    expect(kind == "ok" and "runs: 2 in this VM, 2 in the nested guest" in text, "whole run", out)
    # What ran before the rerun keeps its result; its SKIPs are not results.
    for c in ("a_test", "b_test"):
        kind, text = vt_verdict(out, "." + c)
        expect(kind == "ok" and "rerun" not in text, c, out)
    kind, text = vt_verdict(out, ".c_test")
    expect(kind == "ok", "c_test", out)
    expect(re.search(r"passed on a rerun, the first run: this VM.s failed: expected .RECEIVED."
                     r".*the nested guest.s failed: unexpected EOF", text), "c_test's first run", out)
    expect(vt_verdict(out, ".d_test") == ("SKIP", "timing"), "d_test", out)


@case
def vsock_test_rerun_that_fails_again_fails():
    out = vt_judged(VT_HOST.format(rerun="expected \"RECEIVED\" again"), VT_GUEST)
    kind, text = vt_verdict(out, ".c_test")
    expect(kind == "FAILED" and "again" in text, "c_test passed", out)


@case
def vsock_test_without_rerun_loses_what_follows():
    # A run that stops, and no rerun: what it did not get to fails.
    host = VT_HOST.split("1.5 ")[0]
    guest = VT_GUEST.split("- rvhost-rerun")[0]
    out = vt_judged(host, guest)
    expect(vt_verdict(out, "")[0] == "FAILED", "whole run passed", out)
    expect(vt_verdict(out, ".c_test")[0] == "FAILED", "c_test passed", out)
    kind, text = vt_verdict(out, ".d_test")
    expect(kind == "FAILED" and "did not get to it" in text, "d_test", out)


@case
def vsock_test_rerun_rule():
    # Both ends' rule (POSIX sh, as the nested guest's busybox runs it): the
    # test a run stopped in once more, then the next; none past the last.
    script = """
. scripts/vm/vsock_test_rerun.sh
printf '1.0 0 - A...ok\\n1.1 1 - B...\\n' >"$1/host"
printf '0 - A...ok\\n1 - B...ok\\n2 - C...\\n' >"$1/guest"
for f in host host host; do
	if vt_next "$1/$f" 2; then echo "$f $vt_from"; else echo "$f none"; fi
done
vt_retried=" "
for f in guest guest; do
	if vt_next "$1/$f" 2; then echo "$f $vt_from"; else echo "$f none"; fi
done
: >"$1/empty"
vt_next "$1/empty" 2 && echo "empty $vt_from" || echo "empty none"
"""
    with tempfile.TemporaryDirectory() as d:
        rc, out = run(["sh", "-c", script, "rule", d])
    want = "host 1\nhost 2\nhost 2\nguest 2\nguest none\nempty none\n"
    expect(rc == 0 and out == want, f"exit {rc}, want {want!r}", out)


@case
def every_test_program_is_on_the_section_list():
    # A program the Makefile builds (TEST_GEN_PROGS) but no run lists would
    # never run, and nothing would miss it. The other .c files are helper
    # objects ($(OUTPUT)/NAME.o), compat32.c is compat32_test.
    sel = os.path.join(TOP, "tools/testing/selftests/rvhost")
    with open(os.path.join(sel, "Makefile")) as f:
        mk = f.read()
    m = re.search(r"^TEST_GEN_PROGS\s*:?=((?:.*\\\n)*.*)$", mk, re.M)
    progs = set(m.group(1).replace("\\\n", " ").split()) if m else set()
    expect(len(progs) > 1, "no TEST_GEN_PROGS in the Makefile")
    helpers = set(re.findall(r"\$\(OUTPUT\)/(\w+)\.o\b", mk))
    srcs = {f[:-2] for f in os.listdir(sel) if f.endswith(".c")}
    unbuilt = srcs - progs - helpers - {"compat32"}
    expect(not unbuilt, f"neither a program nor a helper: {sorted(unbuilt)}")
    with open(os.path.join(sel, "suite.sections")) as f:
        listed = {l.split()[0] for l in f if l.strip() and not l.startswith("#")}
    missing = progs - listed
    expect(not missing, f"not on suite.sections: {sorted(missing)}")


def main():
    print("1..%d" % len(CASES))
    bad = 0
    for i, c in enumerate(CASES, 1):
        try:
            c()
            print(f"ok {i} verdicts.{c.__name__}")
        except Exception as e:  # a broken case is a failed case
            bad += 1
            for line in str(e).splitlines() or [type(e).__name__]:
                print(f"# {line}")
            print(f"not ok {i} verdicts.{c.__name__}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
