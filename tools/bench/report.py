#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The results of tools/bench/run.sh, side by side.

    report.py BENCH_JSONL OUT_DIR

For each workload: the median of each side's runs, and the median, min and
max of the per-pair ratios, for two figures: the throughput (rvhost/C:
net_bench's frames per second, vsock_bench's bytes or transactions per
second) and the vhost worker's CPU time per unit (C/rvhost: per frame, per
KiB, per transaction). Kernel memory per device (mem) and module sizes
(modsize) get a table of their own, ratios C/rvhost. Both ratios are above
1 where rvhost does better. A workload C cannot run (the packed ring, or
rvhost with another fetch_batch) is compared with C's split ring run of
the same size, in order or not, and pair ("vs C split", "vs C
split-inorder"). The nested guest's TCP
transfers (nested-tcp-tx, nested-tcp-rx) get a table of their own, in
bytes: bytes per second (rvhost/C), the vhost worker's CPU time per byte
(C/rvhost), the worker's share of QEMU's CPU time, and the worker's runs
(it sleeps when it has run out of work) per MiB and their cost. Writes
OUT_DIR/summary.json and OUT_DIR/summary.txt (the tables it prints), and
OUT_DIR/ratios.png (the throughput workloads, frames and bytes) when
matplotlib is there.
"""

import json
import os
import re
import statistics
import sys


# What a throughput run's line holds: the key of its rate and of the
# worker's CPU time per unit, and their units.
FIGURES = (
    # net_bench
    {"rate": "pps", "cpu": "worker_ns_per_frame", "rate_unit": "frames/s",
     "cpu_unit": "ns/frame"},
    # vsock_bench, streams (the table shows MiB/s)
    {"rate": "bytes_per_s", "cpu": "worker_ns_per_kib", "rate_unit": "B/s",
     "cpu_unit": "ns/KiB"},
    # vsock_bench, request/response
    {"rate": "tps", "cpu": "worker_ns_per_transaction", "rate_unit": "tr/s",
     "cpu_unit": "ns/tr"},
)


def figure(run):
    """The FIGURES entry of a throughput run, or None (the nested guest's
    transfers, summarize_bytes(), have bytes_per_s but no CPU per KiB)."""
    for f in FIGURES:
        if f["rate"] in run and f["cpu"] in run:
            return f
    return None


def median(v):
    return statistics.median(v) if v else None


def load(path):
    runs = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                runs.append(json.loads(line))
    return runs


def c_counterparts(workload):
    """The C workloads a rvhost-only one may be compared with, closest
    first: the same on the split ring, then the plain split ring."""
    same = re.sub(r"-(packed|split)(-inorder)?(-batch\d+)?$", r"-split\2", workload)
    return [same, re.sub(r"-(packed|split)(-inorder)?(-batch\d+)?$", "-split", workload)]


def sizes(runs, key):
    """Rows of a figure where smaller is better (kernel memory per device,
    module size): each side's median and the per-pair ratios C/rvhost."""
    by = {}
    for r in runs:
        if key in r and not figure(r):
            by.setdefault(r["workload"], {}).setdefault(r["impl"], {})[r["pair"]] = r[key]
    rows = []
    for w, sides in by.items():
        c, rv = sides.get("c", {}), sides.get("rvhost", {})
        ratios = [c[p] / rv[p] for p in sorted(set(c) & set(rv)) if rv[p]]
        rows.append({
            "workload": w, "figure": key, "pairs": len(ratios),
            "c": median(list(c.values())), "rvhost": median(list(rv.values())),
            "ratio": {"median": median(ratios), "min": min(ratios, default=None),
                      "max": max(ratios, default=None)},
        })
    return rows


def sizes_table(rows):
    head = ("workload", "figure", "pairs", "C", "rvhost", "C/rvhost (min-max)")
    lines = [head]
    for r in rows:
        q = r["ratio"]
        lines.append((r["workload"], r["figure"], str(r["pairs"]), fmt(r["c"], ".1f"),
                      fmt(r["rvhost"], ".1f"),
                      f"{fmt(q['median'], '.3f')} ({fmt(q['min'], '.2f')}-{fmt(q['max'], '.2f')})"))
    width = [max(len(l[i]) for l in lines) for i in range(len(head))]
    return "\n".join("  ".join(x.ljust(width[i]) for i, x in enumerate(l)).rstrip()
                     for l in lines)


def summarize(runs):
    """Rows of the throughput workloads. The keys say "pps" and "frame"
    for every benchmark; rate_unit and cpu_unit say what they count."""
    runs = [r for r in runs if figure(r)]
    by = {}
    for r in runs:
        by.setdefault((r["workload"], r["impl"]), {})[r["pair"]] = r
    rows = []
    for w in dict.fromkeys(r["workload"] for r in runs):
        rv = by.get((w, "rvhost"), {})
        cw = next((x for x in [w] + c_counterparts(w) if (x, "c") in by), w)
        c = by.get((cw, "c"), {})
        f = figure(next(iter((rv or c).values())))
        rate, ns = f["rate"], f["cpu"]
        pairs = sorted(set(rv) & set(c))
        pps = [rv[p][rate] / c[p][rate] for p in pairs if c[p][rate]]
        cpu = [c[p][ns] / rv[p][ns] for p in pairs if rv[p][ns]]
        rows.append({
            "workload": w,
            "compared_with": "C" if cw == w else "C " + cw.split("-", 2)[2],
            "pairs": len(pairs),
            "rate_unit": f["rate_unit"],
            "cpu_unit": f["cpu_unit"],
            "c_pps": median([c[p][rate] for p in c]),
            "rvhost_pps": median([rv[p][rate] for p in rv]),
            "c_ns_per_frame": median([c[p][ns] for p in c]),
            "rvhost_ns_per_frame": median([rv[p][ns] for p in rv]),
            "pps_ratio": {"median": median(pps), "min": min(pps, default=None),
                          "max": max(pps, default=None)},
            "cpu_ratio": {"median": median(cpu), "min": min(cpu, default=None),
                          "max": max(cpu, default=None)},
        })
    return rows


def spread(v):
    return {"median": median(v), "min": min(v, default=None), "max": max(v, default=None)}


def summarize_bytes(runs):
    """The nested guest's transfers: like summarize(), in bytes; a run
    without the worker's CPU time (null) counts for bytes per second only."""
    runs = [r for r in runs if "bytes_per_s" in r and "worker_ns_per_byte" in r]
    by = {}
    for r in runs:
        if r.get("worker_sleeps") and r.get("worker_ns"):
            r = dict(r, runs_per_mib=r["worker_sleeps"] * (1 << 20) / r["size"],
                     us_per_run=r["worker_ns"] / r["worker_sleeps"] / 1000)
        if r.get("frames") and r.get("worker_ns"):
            r = dict(r, bytes_per_frame=r["size"] / r["frames"],
                     us_per_frame=r["worker_ns"] / r["frames"] / 1000)
        by.setdefault((r["workload"], r["impl"]), {})[r["pair"]] = r
    rows = []
    for w in dict.fromkeys(r["workload"] for r in runs):
        c, rv = by.get((w, "c"), {}), by.get((w, "rvhost"), {})
        pairs = sorted(set(rv) & set(c))
        rate = [rv[p]["bytes_per_s"] / c[p]["bytes_per_s"] for p in pairs if c[p]["bytes_per_s"]]
        cpu = [c[p]["worker_ns_per_byte"] / rv[p]["worker_ns_per_byte"] for p in pairs
               if c[p].get("worker_ns_per_byte") is not None and rv[p].get("worker_ns_per_byte")]

        def med(side, key):
            return median([r[key] for r in side.values() if r.get(key) is not None])
        rows.append({
            "workload": w, "compared_with": "C", "pairs": len(pairs),
            "c_bytes_per_s": med(c, "bytes_per_s"), "rvhost_bytes_per_s": med(rv, "bytes_per_s"),
            "c_ns_per_byte": med(c, "worker_ns_per_byte"),
            "rvhost_ns_per_byte": med(rv, "worker_ns_per_byte"),
            "c_worker_share": med(c, "worker_share"), "rvhost_worker_share": med(rv, "worker_share"),
            # The worker's runs (it sleeps when out of work): how many per
            # MiB, and what one costs.
            "c_runs_per_mib": med(c, "runs_per_mib"), "rvhost_runs_per_mib": med(rv, "runs_per_mib"),
            "c_us_per_run": med(c, "us_per_run"), "rvhost_us_per_run": med(rv, "us_per_run"),
            # The frames the tap passed (TCP's segments, as large as the
            # MTU and the sender make them), and what one cost the worker.
            "c_bytes_per_frame": med(c, "bytes_per_frame"),
            "rvhost_bytes_per_frame": med(rv, "bytes_per_frame"),
            "c_us_per_frame": med(c, "us_per_frame"), "rvhost_us_per_frame": med(rv, "us_per_frame"),
            "bps_ratio": spread(rate), "cpu_ratio": spread(cpu),
        })
    return rows


def bytes_table(rows):
    head = ("workload", "pairs", "C B/s", "rvhost B/s", "B/s rv/C (min-max)", "C ns/B",
            "rvhost ns/B", "cpu C/rv (min-max)", "C worker/QEMU", "rvhost worker/QEMU",
            "C runs/MiB", "rvhost runs/MiB", "C us/run", "rvhost us/run",
            "C B/frame", "rvhost B/frame", "C us/frame", "rvhost us/frame")
    lines = [head]
    for r in rows:
        p, c = r["bps_ratio"], r["cpu_ratio"]
        pct = lambda v: "-" if v is None else f"{100 * v:.2f}%"
        lines.append((
            r["workload"], str(r["pairs"]),
            fmt(r["c_bytes_per_s"], ".0f"), fmt(r["rvhost_bytes_per_s"], ".0f"),
            f"{fmt(p['median'], '.3f')} ({fmt(p['min'], '.2f')}-{fmt(p['max'], '.2f')})",
            fmt(r["c_ns_per_byte"], ".2f"), fmt(r["rvhost_ns_per_byte"], ".2f"),
            f"{fmt(c['median'], '.3f')} ({fmt(c['min'], '.2f')}-{fmt(c['max'], '.2f')})",
            pct(r["c_worker_share"]), pct(r["rvhost_worker_share"]),
            fmt(r["c_runs_per_mib"], ".0f"), fmt(r["rvhost_runs_per_mib"], ".0f"),
            fmt(r["c_us_per_run"], ".1f"), fmt(r["rvhost_us_per_run"], ".1f"),
            fmt(r.get("c_bytes_per_frame"), ".0f"), fmt(r.get("rvhost_bytes_per_frame"), ".0f"),
            fmt(r.get("c_us_per_frame"), ".1f"), fmt(r.get("rvhost_us_per_frame"), ".1f"),
        ))
    width = [max(len(l[i]) for l in lines) for i in range(len(head))]
    return "\n".join("  ".join(x.ljust(width[i]) for i, x in enumerate(l)).rstrip()
                     for l in lines)


def nested_runs_table(runs):
    """Each nested download on its own (the medians hide its two patterns):
    the worker's runs and the tap's frames per MiB, the nested guest's
    receive interrupts per frame, what held the VM's TCP sender back (share
    of its busy time), and the worker's time per frame."""
    rx = [r for r in runs if r.get("workload") == "nested-tcp-rx" and r.get("frames")]
    if not rx:
        return ""
    head = ("nested-tcp-rx", "pair", "runs/MiB", "frames/MiB", "irqs/frame",
            "rwnd-limited", "sndbuf-limited", "cwnd", "us/frame", "ns/B")
    lines = [head]
    mib = lambda r, k: r[k] * (1 << 20) / r["size"] if r.get(k) is not None else None
    share = lambda r, k: (f"{100 * r[k] / r['tcp_busy_us']:.0f}%"
                          if r.get("tcp_busy_us") and r.get(k) is not None else "-")
    for r in sorted(rx, key=lambda r: (r["pair"], r["impl"])):
        lines.append((
            r["impl"], str(r["pair"]), fmt(mib(r, "worker_sleeps"), ".1f"),
            fmt(mib(r, "frames"), ".1f"),
            fmt(r["guest_irqs"] / r["frames"] if r.get("guest_irqs") is not None else None, ".2f"),
            share(r, "tcp_rwnd_limited_us"), share(r, "tcp_sndbuf_limited_us"),
            fmt(r.get("tcp_cwnd"), "d"),
            fmt(r["worker_ns"] / r["frames"] / 1000 if r.get("worker_ns") else None, ".0f"),
            fmt(r.get("worker_ns_per_byte"), ".2f"),
        ))
    width = [max(len(l[i]) for l in lines) for i in range(len(head))]
    return "\n".join("  ".join(x.ljust(width[i]) for i, x in enumerate(l)).rstrip()
                     for l in lines)


def scaled(v, unit):
    """A rate as the table shows it (bytes per second in MiB/s)."""
    if v is None:
        return None
    return v / 2**20 if unit == "B/s" else v


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def table(rows):
    head = ("workload", "vs", "pairs", "unit", "C rate", "rvhost rate",
            "rate rv/C (min-max)", "C ns", "rvhost ns", "ns per", "cpu C/rv (min-max)")
    lines = [head]
    for r in rows:
        p, c = r["pps_ratio"], r["cpu_ratio"]
        unit = r["rate_unit"]
        spec = ".1f" if unit == "B/s" else ".0f"
        lines.append((
            r["workload"], r["compared_with"], str(r["pairs"]),
            "MiB/s" if unit == "B/s" else unit,
            fmt(scaled(r["c_pps"], unit), spec), fmt(scaled(r["rvhost_pps"], unit), spec),
            f"{fmt(p['median'], '.3f')} ({fmt(p['min'], '.2f')}-{fmt(p['max'], '.2f')})",
            fmt(r["c_ns_per_frame"], ".0f"), fmt(r["rvhost_ns_per_frame"], ".0f"),
            r["cpu_unit"][len("ns/"):],
            f"{fmt(c['median'], '.3f')} ({fmt(c['min'], '.2f')}-{fmt(c['max'], '.2f')})",
        ))
    width = [max(len(l[i]) for l in lines) for i in range(len(head))]
    return "\n".join("  ".join(s.ljust(width[i]) for i, s in enumerate(l)).rstrip()
                     for l in lines)


def plot(rows, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    names = [r["workload"] for r in rows]
    fig, ax = plt.subplots(figsize=(max(6, len(rows) * 1.2), 4))
    x = range(len(rows))
    # The nested guest's rows have bytes per second and CPU per byte.
    rate = [r.get("pps_ratio") or r["bps_ratio"] for r in rows]
    cpu = [r["cpu_ratio"] for r in rows]
    for off, ratios, label in (
            (-0.2, rate, "throughput (frames, bytes, transactions/s), rvhost/C"),
            (0.2, cpu, "worker CPU per frame, byte, KiB, transaction, C/rvhost")):
        med = [q["median"] or 0 for q in ratios]
        lo = [m - (q["min"] or m) for m, q in zip(med, ratios)]
        hi = [(q["max"] or m) - m for m, q in zip(med, ratios)]
        ax.bar([i + off for i in x], med, width=0.4, yerr=[lo, hi], capsize=3, label=label)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xticks(list(x))
    ax.set_xticklabels(names, rotation=30, ha="right")
    ax.set_ylabel("median ratio (bars: min-max of the pairs)")
    ax.set_title("rvhost against the C vhost driver (above 1: rvhost better)")
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return True


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    runs = load(sys.argv[1])
    if not runs:
        print(f"{sys.argv[1]}: no runs", file=sys.stderr)
        return 1
    rows = summarize(runs)
    byte_rows = summarize_bytes(runs)
    size_rows = sizes(runs, "kib_per_device") + sizes(runs, "bytes")
    os.makedirs(sys.argv[2], exist_ok=True)
    with open(os.path.join(sys.argv[2], "summary.json"), "w") as f:
        json.dump(rows + byte_rows + size_rows, f, indent=1)
    text = table(rows) if rows else ""
    if byte_rows:
        text += ("\n\n" if text else "") + bytes_table(byte_rows)
    nested = nested_runs_table(runs)
    if nested:
        text += ("\n\n" if text else "") + nested
    if size_rows:
        text += ("\n\n" if text else "") + sizes_table(size_rows)
    with open(os.path.join(sys.argv[2], "summary.txt"), "w") as f:
        f.write(text + "\n")
    print(text)
    png = os.path.join(sys.argv[2], "ratios.png")
    if not rows + byte_rows:
        print("plot: no throughput workload, none drawn")
    elif plot(rows + byte_rows, png):
        print(f"plot: {png}")
    else:
        print("plot: no matplotlib, none drawn")
    return 0


if __name__ == "__main__":
    sys.exit(main())
