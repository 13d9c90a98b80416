#!/usr/bin/env python3
"""Does a burst of new compressible files delay other clients? (issue 14)

    burst.py PORT FILES PROBE_PATH

A probe process asks for PROBE_PATH (a small file) every 5 ms on one keep-alive connection and
records each latency. After a 1 s baseline, a burst process asks once for each of FILES distinct
files /burst/fNNNNN.js with `Accept-Encoding: br, gzip` over 4 keep-alive connections: every one
is a miss, served as identity and queued for compression. The probe goes on while the burst runs
and then while the compression threads work through the queue (until the server's compression
CPU counter stops moving, at most 30 s). Prints the probe's latency in each phase and one line
`RESULT <baseline p99> <burst p99> <burst max> <drain p99> <drain max> <cpu s> <entries>` (ms).
Everything is 127.0.0.1, bounded in time, and stops by itself.
"""

import multiprocessing as mp
import os
import socket
import sys
import threading
import time

from http1 import read_response


def request(sock, path, extra=""):
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: b\r\n{extra}\r\n".encode())
    return read_response(sock)


def probe(port, path, stop, out):
    # Run ahead of the machine's other work (when allowed), so that what is measured is the
    # server's delay rather than the probe's own wait for a core.
    try:
        os.nice(-10)
    except OSError:
        pass
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    samples = []
    while not stop.is_set():
        started = time.perf_counter()
        request(sock, path)
        samples.append((time.monotonic(), (time.perf_counter() - started) * 1e3))
        time.sleep(0.005)
    out.put(samples)


def burst(port, files):
    def one(start):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        for i in range(start, files, 4):
            request(sock, f"/burst/f{i:05d}.js", "Accept-Encoding: br, gzip\r\n")

    threads = [threading.Thread(target=one, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def metric(port, name):
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    _, body = request(sock, "/-/metrics")
    sock.close()
    for line in body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def stats(samples):
    if not samples:
        return "no samples", 0.0, 0.0
    lat = sorted(s for _, s in samples)
    p50 = lat[len(lat) // 2]
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    return f"n={len(lat)} p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {lat[-1]:.2f} ms", p99, lat[-1]


def main():
    port, files, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    stop, out = mp.Event(), mp.Queue()
    prober = mp.Process(target=probe, args=(port, path, stop, out))
    prober.start()
    time.sleep(1.0)
    burst_start = time.monotonic()
    burster = mp.Process(target=burst, args=(port, files))
    burster.start()
    burster.join(timeout=120)
    burst_end = time.monotonic()
    # The queue drains: wait until the compression CPU counter stops moving.
    cpu, deadline = -1.0, time.monotonic() + 30
    while time.monotonic() < deadline:
        now = metric(port, "http_server_compression_cpu_seconds_total")
        if now == cpu:
            break
        cpu = now
        time.sleep(0.5)
    drain_end = time.monotonic()
    stop.set()
    samples = out.get(timeout=30)
    prober.join(timeout=10)
    entries = metric(port, "http_server_compression_cache_entries")
    base = [s for s in samples if s[0] < burst_start]
    during = [s for s in samples if burst_start <= s[0] < burst_end]
    drain = [s for s in samples if burst_end <= s[0] < drain_end]
    text_b, base_p99, _ = stats(base)
    text_d, burst_p99, burst_max = stats(during)
    text_r, drain_p99, drain_max = stats(drain)
    print(f"probe {path}: baseline {text_b}")
    print(f"  during the burst of {files} files ({burst_end - burst_start:.1f} s): {text_d}")
    print(f"  while compressing ({drain_end - burst_end:.1f} s): {text_r}")
    print(f"  compression CPU {cpu:.2f} s, {int(entries)} cache entries")
    print(f"RESULT {base_p99:.2f} {burst_p99:.2f} {burst_max:.2f} {drain_p99:.2f} "
          f"{drain_max:.2f} {cpu:.2f} {int(entries)}")


if __name__ == "__main__":
    main()
