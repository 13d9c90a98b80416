#!/usr/bin/env python3
"""Holds N idle keep-alive connections to a server (each has made one request), then measures
a new client's latency over fresh connections, and reports the server's memory.

    idle.py PORT N PID [PID...]   ->  RESULT <held> <median ms> <p99 ms> <rss MiB> <peak MiB> <pss MiB>

RSS is summed over the PIDs (a master and its workers); peak is the sum of VmHWM. The sums count
pages that processes share (the binary, libraries, a master's memory its workers inherited) once
per process; PSS (proportional set size, from smaps_rollup) splits them instead. A response
other than 200 (such as a 503 at a connection limit) counts as a failure."""
import resource
import socket
import statistics
import sys
import time

from http1 import read_response
from procmem import memory_kib

port, n, pids = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
REQUEST = b"GET /1k.html HTTP/1.1\r\nHost: bench\r\n\r\n"


def read_ok(sock):
    head, _ = read_response(sock)
    if not head.startswith((b"HTTP/1.1 200 ", b"HTTP/1.0 200 ")):
        raise ConnectionError(head.split(b"\r\n")[0].decode(errors="replace"))


def memory_mib(field, source="status"):
    return memory_kib(pids, field, source) / 1024


held = []
try:
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(REQUEST)
        read_ok(s)
        held.append(s)
except OSError as e:
    sys.exit(f"idle.py: connection {len(held) + 1} of {n} failed: {e!r}")
time.sleep(0.5)

latencies = []
for _ in range(100):
    start = time.perf_counter()
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(REQUEST)
    read_ok(s)
    latencies.append((time.perf_counter() - start) * 1000)
    s.close()
latencies.sort()
alive = 0
for s in held:  # every held connection must still be usable
    try:
        s.sendall(REQUEST)
        read_ok(s)
        alive += 1
    except OSError:
        pass
print(f"RESULT {alive} {statistics.median(latencies):.3f} {latencies[98]:.3f} "
      f"{memory_mib('VmRSS'):.1f} {memory_mib('VmHWM'):.1f} {memory_mib('Pss', 'smaps_rollup'):.1f}")
for s in held:
    s.close()
