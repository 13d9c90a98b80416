#!/usr/bin/env python3
"""Peak memory of on-the-fly compression with a working set larger than the cache (issue 27, 3).

    compress_memory.py BINARY [THREADS ...]

Writes twelve 8 MiB barely compressible text files (random bytes from about 150 symbols: each
coding saves 5-10%, so every copy is worth keeping and would fill most of the cache; with
CONTENT=text, random words instead, which shrink to about a third) and, for each value of
THREADS (default: 4 8 64, a quarter of which were the compression threads before they were
capped at 4), starts BINARY with `--threads THREADS --compress-cache CACHE` (default 8MiB),
then sends HEAD requests
for every file in br, zstd and gzip over four keep-alive connections for LOAD_SECONDS (default
30). It polls the server's /proc/PID/status every 100 ms and prints, per run, the resident
memory before the load, the peak (VmHWM), what is still resident HOLD_SECONDS (default 5) after
the last request, and the compression CPU and evictions from /-/metrics during the load and
during the hold (a compression thread still busy after the clients have gone shows there).
One line per run: `RESULT threads=N compressors=C start_mib peak_mib held_mib cpu_load_s
cpu_hold_s evictions`. Everything is 127.0.0.1; the server is stopped by its PID.
"""

import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

FILES = 12
FILE_BYTES = 8 << 20
CODINGS = ("br", "zstd", "gzip")
CLIENTS = 4
LOAD_SECONDS = float(os.environ.get("LOAD_SECONDS", "30"))
HOLD_SECONDS = float(os.environ.get("HOLD_SECONDS", "5"))
CONTENT = os.environ.get("CONTENT", "barely")
CACHE = os.environ.get("CACHE", "8MiB")


def write_files(root):
    rng = random.Random(27)
    alphabet = bytes(range(0x20, 0x7F)) + bytes(range(0x80, 0xBB))
    table = bytes(alphabet[b % len(alphabet)] for b in range(256))
    words = [bytes(rng.choices(b"abcdefghijklmnopqrstuvwxyz_", k=rng.randint(2, 12)))
             for _ in range(4000)]
    for i in range(FILES):
        with open(os.path.join(root, f"f{i:02d}.txt"), "wb") as f:
            if CONTENT == "text":
                # Words in random order: shrinks to about a third.
                text = b" ".join(rng.choices(words, k=FILE_BYTES // 6))
                f.write(text[:FILE_BYTES].ljust(FILE_BYTES, b"\n"))
            else:
                f.write(rng.randbytes(FILE_BYTES).translate(table))
    # Compression waits until a file has not changed for a second.
    time.sleep(1.2)


def status_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def metric(port, name):
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(b"GET /-/metrics HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n")
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    sock.close()
    m = re.search(rb"^" + re.escape(name.encode()) + rb" ([0-9.e+-]+)$", data, re.M)
    return float(m.group(1)) if m else 0.0


def head_loop(port, start, stop):
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    pairs = [(f, c) for f in range(FILES) for c in CODINGS]
    i = start
    buf = b""
    while not stop.is_set():
        f, c = pairs[i % len(pairs)]
        i += 1
        sock.sendall(
            f"HEAD /f{f:02d}.txt HTTP/1.1\r\nHost: b\r\nAccept-Encoding: {c}\r\n\r\n".encode()
        )
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            if not chunk:
                return
            buf += chunk
        buf = buf.split(b"\r\n\r\n", 1)[1]
    sock.close()


def run(binary, root, threads):
    server = subprocess.Popen(
        [binary, "--port", "0", "--root", root, "--threads", str(threads),
         "--compress-cache", CACHE, "--access-log", "off"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        line = server.stdout.readline()
        port = int(line.rsplit(":", 1)[1])
        time.sleep(0.5)
        pid = server.pid
        compressors = sum(
            1 for t in os.listdir(f"/proc/{pid}/task")
            if open(f"/proc/{pid}/task/{t}/comm").read().startswith("compress-")
        )
        start_kib = status_kib(pid, "VmRSS")
        stop = threading.Event()
        clients = [threading.Thread(target=head_loop, args=(port, k * 9, stop))
                   for k in range(CLIENTS)]
        for c in clients:
            c.start()
        end = time.monotonic() + LOAD_SECONDS
        while time.monotonic() < end:
            time.sleep(0.1)
            status_kib(pid, "VmHWM")
        stop.set()
        for c in clients:
            c.join()
        cpu_load = metric(port, "http_server_compression_cpu_seconds_total")
        time.sleep(HOLD_SECONDS)
        held_kib = status_kib(pid, "VmRSS")
        peak_kib = status_kib(pid, "VmHWM")
        cpu_hold = metric(port, "http_server_compression_cpu_seconds_total") - cpu_load
        evictions = metric(port, "http_server_compression_evictions_total")
        print(
            f"RESULT threads={threads} compressors={compressors} start={start_kib / 1024:.0f}MiB "
            f"peak={peak_kib / 1024:.0f}MiB held={held_kib / 1024:.0f}MiB "
            f"cpu_load={cpu_load:.1f}s cpu_hold={cpu_hold:.1f}s evictions={evictions:.0f}",
            flush=True,
        )
    finally:
        server.kill()
        server.wait()


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    binary = os.path.abspath(sys.argv[1])
    threads = [int(t) for t in sys.argv[2:]] or [4, 8, 64]
    root = tempfile.mkdtemp(prefix="compress-memory-")
    try:
        write_files(root)
        for t in threads:
            run(binary, root, t)
    finally:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
