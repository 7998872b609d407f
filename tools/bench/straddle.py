#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Samples on module instructions that cross a 4 KiB page, per profile.

    straddle.py KO_DIR... -- PROFILE...

Under QEMU TCG a guest instruction whose bytes lie on two pages costs far
more than its neighbours (a translation block cannot span pages freely, so
it ends there and is looked up again each time), and the sampling timer,
taken at block boundaries, piles samples on it. Where it lands depends only
on the module's layout, so it is an artefact of the emulator, not work real
hardware would do; a profile's share of such samples says how much of a
driver's cost is that artefact.

Reads the "samples in the vhost modules by symbol+offset" section of each
PROFILE (tools/bench/run.sh), finds each sampled instruction in the module
(MODULE.ko in one of the KO_DIRs, disassembled with objdump) and prints,
per profile, the module samples, those on page-crossing instructions, and
the instructions. An instruction's address is its offset in .text plus
the .text address the profile records for its module (run.sh); symbols
outside .text are skipped.
"""

import os
import re
import subprocess
import sys

PAGE = 4096
LINE = re.compile(r"^\s*(\d+)\s+(\S+) \[([\w-]+)\]\+([0-9a-f]+)$")
# "# MODULE /proc/modules-address size .text-address .data-address"
SECTIONS = re.compile(r"^# ([\w-]+) 0x[0-9a-f]+ \d+ 0x([0-9a-f]+)")
INSN = re.compile(r"^\s*([0-9a-f]+):\s+((?:[0-9a-f]{2} )+)")


class Module:
    """One .ko: its .text symbols and instruction lengths, read lazily."""

    def __init__(self, path):
        self.path = path
        self.syms = {}
        out = subprocess.run(["nm", "--defined-only", path], capture_output=True,
                             text=True, check=True).stdout
        for line in out.splitlines():
            f = line.split()
            if len(f) == 3 and f[1] in "tT":
                self.syms.setdefault(f[2], int(f[0], 16))
        self.text = set(self.section_syms(".text"))

    def section_syms(self, section):
        out = subprocess.run(["objdump", "-t", "-j", section, self.path],
                             capture_output=True, text=True).stdout
        return [l.split()[-1] for l in out.splitlines() if " F " in l]

    def insn(self, sym, off):
        """(address in .text, length) of the instruction at sym+off."""
        if sym not in self.syms or sym not in self.text:
            return None
        start = self.syms[sym] + off
        out = subprocess.run(["objdump", "-d", "-j", ".text", "--insn-width=16",
                              f"--start-address={start}", f"--stop-address={start + 16}",
                              self.path], capture_output=True, text=True).stdout
        for line in out.splitlines():
            m = INSN.match(line)
            if m and int(m.group(1), 16) == start:
                return start, len(m.group(2).split())
        return None


def find_ko(dirs, name):
    for d in dirs:
        for root, _, files in os.walk(d):
            if f"{name}.ko" in files:
                return os.path.join(root, f"{name}.ko")
    return None


def profile_samples(path):
    """The profile's module samples, and each module's .text address."""
    rows, text, on = [], {}, False
    with open(path) as f:
        for line in f:
            m = SECTIONS.match(line)
            if m and not on:
                text[m.group(1)] = int(m.group(2), 16)
            if line.startswith("# samples in the vhost modules by symbol+offset"):
                on = True
                continue
            if on and line.startswith("#"):
                break
            m = LINE.match(line.rstrip("\n")) if on else None
            if m:
                rows.append((int(m.group(1)), m.group(2), m.group(3), int(m.group(4), 16)))
    return rows, text


def main(argv):
    if "--" not in argv:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    cut = argv.index("--")
    dirs, profiles = argv[:cut], argv[cut + 1:]
    mods = {}
    for p in profiles:
        total = crossing = unknown = 0
        hot = []
        rows, text = profile_samples(p)
        for n, sym, mod, off in rows:
            total += n
            if mod not in mods:
                ko = find_ko(dirs, mod)
                mods[mod] = Module(ko) if ko else None
            at = mods[mod].insn(sym, off) if mods[mod] and mod in text else None
            if at is None:
                unknown += n
                continue
            addr, size = at
            if (text[mod] + addr) % PAGE + size > PAGE:
                crossing += n
                hot.append((n, f"{sym} [{mod}]+{off:x} (.text+{addr:x}, {size} bytes)"))
        share = f"{100.0 * crossing / total:.0f} %" if total else "-"
        print(f"{os.path.basename(p)}: {total} module samples, {crossing} ({share}) on "
              f"instructions crossing a page, {unknown} not resolved")
        for n, what in sorted(hot, reverse=True):
            print(f"    {n:5d}  {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
