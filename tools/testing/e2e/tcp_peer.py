#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The first VM's end of the nested guest's TCP test (scripts/vm/nested.sh).

Usage: tcp_peer.py ADDR PORT SIZE SEED READY_FILE

Listens on ADDR:PORT and ADDR:PORT+1 and serves one connection on each:
  PORT    sends SIZE pseudo-random bytes (a PRNG seeded with SEED) and
          closes: the nested guest downloads them;
  PORT+1  reads until EOF: the nested guest uploads its own data.
Writes READY_FILE once both sockets listen, then one line per connection:
  sent BYTES SHA256 SECONDS
  received BYTES SHA256 SECONDS
The caller compares the checksums with those the nested guest printed. Gives
up after 600 seconds without a connection or data.
"""

import hashlib
import random
import socket
import sys
import threading
import time

CHUNK = 1 << 16
TIMEOUT = 600


def listen(addr, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(1)
    s.settimeout(TIMEOUT)
    return s


def send(lsock, size, seed, results):
    conn, _ = lsock.accept()
    conn.settimeout(TIMEOUT)
    rng = random.Random(seed)
    h = hashlib.sha256()
    t0 = time.monotonic()
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
    results["sent"] = f"sent {size} {h.hexdigest()} {time.monotonic() - t0:.1f}"


def receive(lsock, results):
    conn, _ = lsock.accept()
    conn.settimeout(TIMEOUT)
    h = hashlib.sha256()
    n = 0
    t0 = time.monotonic()
    with conn:
        while True:
            data = conn.recv(CHUNK)
            if not data:
                break
            h.update(data)
            n += len(data)
    results["received"] = f"received {n} {h.hexdigest()} {time.monotonic() - t0:.1f}"


def main():
    addr, port, size, seed, ready = sys.argv[1:6]
    port, size, seed = int(port), int(size), int(seed)
    tx, rx = listen(addr, port), listen(addr, port + 1)
    with open(ready, "w") as f:
        f.write("ready\n")
    results = {}
    threads = [
        threading.Thread(target=send, args=(tx, size, seed, results)),
        threading.Thread(target=receive, args=(rx, results)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for key in ("sent", "received"):
        print(results.get(key, f"{key} nothing"), flush=True)
    return 0 if len(results) == 2 else 1


if __name__ == "__main__":
    sys.exit(main())
