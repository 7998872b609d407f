#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The first VM's end of the nested guest's TCP test (scripts/vm/nested.sh).

Usage: tcp_peer.py ADDR PORT SIZE SEED READY_FILE [--cpu]

Listens on ADDR:PORT and ADDR:PORT+1 and serves one connection on each:
  PORT    sends SIZE pseudo-random bytes (a PRNG seeded with SEED) and
          closes: the nested guest downloads them;
  PORT+1  reads until EOF: the nested guest uploads its own data.
Writes READY_FILE once both sockets listen, then one line per connection:
  sent BYTES SHA256 SECONDS
  received BYTES SHA256 SECONDS
The caller compares the checksums with those the nested guest printed. Gives
up after 600 seconds without a connection or data.

With --cpu (make bench's nested-tcp, tools/bench/run.sh), also what each
connection cost, from its accept to its end:
  cpu sent|received SECONDS WORKER_NS WORKER_TICKS PROCESS_TICKS WORKERS SLEEPS FRAMES
SECONDS with microseconds; WORKER_NS the se.sum_exec_runtime and
WORKER_TICKS the utime + stime (clock ticks) of the vhost worker threads
("vhost-PID", a vhost_task in QEMU's thread group), PROCESS_TICKS the
utime + stime of the processes they belong to (QEMU, the worker included),
WORKERS how many such threads there were at the start and at the end
(normally "1/1"), SLEEPS how often they went to sleep (their
nr_voluntary_switches: a worker sleeps when it has run out of work),
FRAMES the frames that this VM's tun/tap devices passed on in that
direction (their tx_packets for "sent", to the guest, rx_packets for
"received"). The CPU fields are "-" when there was no worker thread.
And, from the sending socket's TCP_INFO once the guest has closed:
  tcp sent BUSY_US RWND_LIMITED_US SNDBUF_LIMITED_US SND_CWND SND_WND SEGS
how long the connection had data to send, how much of that the guest's
receive window and this end's send buffer held it back (microseconds), its
last congestion window (segments), send window (bytes), and the data
segments it sent.
"""

import hashlib
import os
import random
import socket
import struct
import sys
import threading
import time

CHUNK = 1 << 16
TIMEOUT = 600


def vhost_cpu():
    """The CPU time of every vhost worker thread, "vhost-PID" in PID's
    thread group: (workers, their sum_exec_runtime in ns, their utime +
    stime in ticks, utime + stime of their processes in ticks, their
    voluntary context switches)."""
    workers = ns = ticks = pticks = sleeps = 0

    def stat_ticks(path):
        with open(path) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime, stime

    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        found = False
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                task = f"/proc/{pid}/task/{tid}"
                with open(f"{task}/comm") as f:
                    if f.read().strip() != f"vhost-{pid}":
                        continue
                with open(f"{task}/sched") as f:
                    for line in f:
                        if line.startswith("se.sum_exec_runtime "):
                            ns += round(float(line.split(":")[1]) * 1e6)
                        elif line.startswith("nr_voluntary_switches "):
                            sleeps += int(line.split(":")[1])
                ticks += stat_ticks(f"{task}/stat")
                workers += 1
                found = True
            if found:
                pticks += stat_ticks(f"/proc/{pid}/stat")
        except OSError:
            continue  # a process or thread that just exited
    return workers, ns, ticks, pticks, sleeps


def tap_frames():
    """The frames every tun/tap device sent (to its guest) and received."""
    sent = received = 0
    for dev in os.listdir("/sys/class/net"):
        d = f"/sys/class/net/{dev}"
        try:
            if not os.path.exists(f"{d}/tun_flags"):
                continue
            with open(f"{d}/statistics/tx_packets") as f:
                sent += int(f.read())
            with open(f"{d}/statistics/rx_packets") as f:
                received += int(f.read())
        except OSError:
            continue  # a device that just went away
    return sent, received


def cpu_line(what, t0, c0, t1, c1):
    """The "cpu" line of one connection (see above)."""
    i = 0 if what == "sent" else 1
    frames = c1[1][i] - c0[1][i]
    c0, c1 = c0[0], c1[0]
    if not c0[0] or not c1[0]:
        return f"cpu {what} {t1 - t0:.6f} - - - {c0[0]}/{c1[0]} - {frames}"
    return (f"cpu {what} {t1 - t0:.6f} {c1[1] - c0[1]} {c1[2] - c0[2]} "
            f"{c1[3] - c0[3]} {c0[0]}/{c1[0]} {c1[4] - c0[4]} {frames}")


def tcp_line(conn):
    """The "tcp sent" line (see above), from struct tcp_info."""
    info = conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 232)
    if len(info) < 232:
        return "tcp sent - - - - - -"
    # include/uapi/linux/tcp.h: tcpi_snd_cwnd at 80, tcpi_data_segs_out at
    # 156, tcpi_busy_time, tcpi_rwnd_limited, tcpi_sndbuf_limited at 168,
    # tcpi_snd_wnd at 228.
    cwnd, = struct.unpack_from("I", info, 80)
    segs, = struct.unpack_from("I", info, 156)
    busy, rwnd, sndbuf = struct.unpack_from("QQQ", info, 168)
    wnd, = struct.unpack_from("I", info, 228)
    return f"tcp sent {busy} {rwnd} {sndbuf} {cwnd} {wnd} {segs}"


def sample(cpu):
    """The clock and, with --cpu, the vhost workers' CPU time and the tap
    devices' frames."""
    return time.monotonic(), (vhost_cpu(), tap_frames()) if cpu else None


def listen(addr, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(1)
    s.settimeout(TIMEOUT)
    return s


def send(lsock, size, seed, results, cpu):
    conn, _ = lsock.accept()
    conn.settimeout(TIMEOUT)
    rng = random.Random(seed)
    h = hashlib.sha256()
    t0, c0 = sample(cpu)
    left = size
    with conn:
        while left:
            data = rng.randbytes(min(CHUNK, left))
            h.update(data)
            conn.sendall(data)
            left -= len(data)
        conn.shutdown(socket.SHUT_WR)
        # Wait for the guest to close too: then everything has arrived.
        while conn.recv(CHUNK):
            pass
        if cpu:
            results["tcp sent"] = tcp_line(conn)
    t1, c1 = sample(cpu)
    results["sent"] = f"sent {size} {h.hexdigest()} {t1 - t0:.1f}"
    if cpu:
        results["cpu sent"] = cpu_line("sent", t0, c0, t1, c1)


def receive(lsock, results, cpu):
    conn, _ = lsock.accept()
    conn.settimeout(TIMEOUT)
    h = hashlib.sha256()
    n = 0
    t0, c0 = sample(cpu)
    with conn:
        while True:
            data = conn.recv(CHUNK)
            if not data:
                break
            h.update(data)
            n += len(data)
    t1, c1 = sample(cpu)
    results["received"] = f"received {n} {h.hexdigest()} {t1 - t0:.1f}"
    if cpu:
        results["cpu received"] = cpu_line("received", t0, c0, t1, c1)


def main():
    addr, port, size, seed, ready = sys.argv[1:6]
    port, size, seed = int(port), int(size), int(seed)
    cpu = sys.argv[6:] == ["--cpu"]
    tx, rx = listen(addr, port), listen(addr, port + 1)
    with open(ready, "w") as f:
        f.write("ready\n")
    results = {}
    threads = [
        threading.Thread(target=send, args=(tx, size, seed, results, cpu)),
        threading.Thread(target=receive, args=(rx, results, cpu)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for key in ("sent", "received"):
        print(results.get(key, f"{key} nothing"), flush=True)
    for key in ("cpu sent", "cpu received", "tcp sent"):
        if key in results:
            print(results[key], flush=True)
    return 0 if "sent" in results and "received" in results else 1


if __name__ == "__main__":
    sys.exit(main())
