#!/usr/bin/env python3
"""User-space instructions per request, for each server binary given, under callgrind: a figure a
busy machine does not blur, for comparing two builds of ours (a refactor, a change to the hot
path) before running the timed benchmarks.

    scripts/bench/instructions.py BIN [BIN...]      (CASES=1k,64k,404 REQUESTS=10000)
    CASES=h2-1k,h2-1k-m100,h2-1k-m1,h2-64k scripts/bench/instructions.py BIN [BIN...]

For each case each BIN runs twice under `valgrind --tool=callgrind` with one worker, serving
2,000 and then 2,000 + REQUESTS keep-alive requests; the difference over REQUESTS is what one
request costs. HTTP/1.1 cases (`ab -k -c 1`): `1k` a 1 KiB file from the small-file cache,
`64k` a 64 KiB file, `404` a missing file. HTTP/2 cases (h2load over h2c, prior knowledge):
`h2-1k` the 1 KiB file on 10 connections with 10 streams each in flight (`h2-1k-m100`: 100
streams each), `h2-1k-m1` on 10
connections with one stream each, `h2-64k` the 64 KiB file on 10 connections. System calls are
not counted (the kernel's work is not seen by callgrind); `strace -c` tells those. Every server
is started on 127.0.0.1, port 0, and stopped by its PID."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

# case: (path, client command before the request count and URL)
AB = ["ab", "-q", "-k", "-c", "1", "-n"]
H2LOAD = ["h2load", "-t", "1", "-c", "10", "-n"]
CASES = {
    "1k": ("/1k.html", AB),
    "64k": ("/64k.bin", AB),
    "404": ("/missing.html", AB),
    "h2-1k": ("/1k.html", ["h2load", "-t", "1", "-c", "10", "-m", "10", "-n"]),
    "h2-1k-m100": ("/1k.html", ["h2load", "-t", "1", "-c", "10", "-m", "100", "-n"]),
    "h2-1k-m1": ("/1k.html", H2LOAD),
    "h2-64k": ("/64k.bin", H2LOAD),
}
WARM = 2000
REQUESTS = int(os.environ.get("REQUESTS", "10000"))


def instructions(binary, root, case, requests):
    """Callgrind's instruction count of `binary` serving `requests` requests, start to exit."""
    proc = subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", binary, "--port", "0",
         "--threads", "1", "--access-log", "off", root],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = int(re.search(r":(\d+)$", proc.stdout.readline().strip()).group(1))
        path, client = CASES[case]
        url = f"http://127.0.0.1:{port}{path}"
        subprocess.run(["curl", "-s", "-o", "/dev/null", url], check=True)
        time.sleep(1.2)  # past the small-file cache's racy window
        subprocess.run(client + [str(requests), url], capture_output=True, check=True)
    finally:
        proc.terminate()
    _, err = proc.communicate(timeout=120)
    return int(re.search(r"Collected : (\d+)", err).group(1))


def main():
    binaries = sys.argv[1:]
    if not binaries:
        sys.exit(__doc__)
    cases = os.environ.get("CASES", "1k,64k,404").split(",")
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        sys.exit(f"instructions.py: unknown case {unknown[0]} (one of: {', '.join(CASES)})")
    clients = {CASES[c][1][0] for c in cases}
    if not all(map(shutil.which, ["valgrind", *clients])):
        sys.exit(f"instructions.py: needs valgrind and {' and '.join(clients)} "
                 "(apache2-utils for ab, nghttp2-client for h2load)")
    with tempfile.TemporaryDirectory(prefix="instructions.") as root:
        with open(os.path.join(root, "1k.html"), "w") as f:
            f.write("x" * 1024)
        with open(os.path.join(root, "64k.bin"), "wb") as f:
            f.write(os.urandom(64 * 1024))
        width = max(len(c) for c in ["case", *cases])
        print(f"{'case':{width}} " + " ".join(f"{os.path.basename(os.path.dirname(os.path.dirname(b))) or b:>14}"
                                       for b in binaries) + "   (instructions per request)")
        for case in cases:
            counts = []
            for binary in binaries:
                few = instructions(binary, root, case, WARM)
                many = instructions(binary, root, case, WARM + REQUESTS)
                counts.append((many - few) / REQUESTS)
            print(f"{case:{width}} " + " ".join(f"{c:14.0f}" for c in counts))


if __name__ == "__main__":
    main()
