#!/usr/bin/env python3
"""What a request for a file of 16, 32, 64 or 128 KiB costs served from the small-file cache (the
head and the cached bytes copied into the socket by one `writev`) against served by `sendfile`
from the page cache (`openat2`, `fstat`, the head with `MSG_MORE`, `sendfile`, `close`): the
measurement behind the cache's `MAX_FILE` (`crates/server-bin/src/files/cache.rs`).

    scripts/bench/cache_size.py CACHED SENDFILE     (SIZES=16,32,64,128 ROUNDS=3 SECS=5 TLS=0)

CACHED and SENDFILE are two builds of the server that differ only in the cache's limits
(`MAX_FILE` and `MAX_FILE_SENDFILE`): one with both large enough to cache every size measured
(256 KiB), one with both too small for any (8 KiB). Per size:

- wrk -t1 -c50 keep-alive, pinned (the server on CPU 0 with one worker, wrk on CPU 1), ROUNDS
  runs of SECS alternating the builds: requests a second (medians), and the server's CPU time
  per request (user + system from /proc/PID/stat over the run; this is where the kernel's copy
  or page references show, which callgrind does not see);
- `strace -c -f`: system calls per request (2,000 then 4,000 requests with `ab -k -c 1`, the
  difference over 2,000);
- callgrind: user-space instructions per request (as scripts/bench/instructions.py counts them).

With TLS=1 the wrk runs go over TLS (a self-signed certificate), where a miss reads the file in
16 KiB chunks into rustls instead of `sendfile`; the system call and instruction counts, which
are for plain HTTP, are left out.

Every server listens on 127.0.0.1, port 0, and is stopped by its PID."""
import os
import signal
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from instructions import instructions  # noqa: E402
from pinned import get, run, start  # noqa: E402

SIZES = [int(s) for s in os.environ.get("SIZES", "16,32,64,128").split(",")]
ROUNDS = int(os.environ.get("ROUNDS", "3"))
SECS = int(os.environ.get("SECS", "5"))
TLS = os.environ.get("TLS", "0") == "1"


def syscalls(binary, root, path, requests):
    """System calls by name over a run of `requests` keep-alive requests, start to exit."""
    with tempfile.NamedTemporaryFile(prefix="strace.") as out:
        proc, port = start(binary, root, ("strace", "-f", "-c", "-o", out.name))
        try:
            url = get(port, path)
            subprocess.run(["ab", "-q", "-k", "-n", str(requests), "-c", "1", url],
                           capture_output=True, check=True)
        finally:
            # strace would detach on SIGTERM and leave the server running: the server is told.
            with open(f"/proc/{proc.pid}/task/{proc.pid}/children") as f:
                children = [int(pid) for pid in f.read().split()]
            for pid in children:
                os.kill(pid, signal.SIGTERM)
            proc.wait(30)
        counts = {}
        for line in open(out.name):
            cols = line.split()
            if len(cols) >= 5 and cols[-1] not in ("total", "syscall") and cols[0][0].isdigit():
                counts[cols[-1]] = int(cols[3])
        return counts


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    builds = {"cache": sys.argv[1], "sendfile": sys.argv[2]}
    with tempfile.TemporaryDirectory(prefix="cache-size.") as root:
        for size in SIZES:
            with open(os.path.join(root, f"{size}k.bin"), "wb") as f:
                f.write(os.urandom(size * 1024))
        print(f"{'size':>5} {'build':>8} {'req/s':>9} {'cpu us/req':>10} {'syscalls/req':>12} "
              f"{'instr/req':>9}  system calls per request")
        for size in SIZES:
            path = f"/{size}k.bin"
            runs = {name: [] for name in builds}
            for r in range(ROUNDS):
                for name in (list(builds) if r % 2 == 0 else list(builds)[::-1]):
                    runs[name].append(run(builds[name], root, path, 50, SECS, tls=TLS))
            for name, binary in builds.items():
                rps = statistics.median(r for r, _, _ in runs[name])
                cpu = statistics.median(c for _, c, _ in runs[name])
                per, instr, detail = {}, 0, "(TLS)"
                if not TLS:
                    few, many = (syscalls(binary, root, path, n) for n in (2000, 4000))
                    per = {k: (many.get(k, 0) - few.get(k, 0)) / 2000 for k in many}
                    per = {k: v for k, v in per.items() if v >= 0.05}
                    instr = (instructions(binary, root, path, 4000)
                             - instructions(binary, root, path, 2000)) / 2000
                    detail = " ".join(f"{k} {v:.2f}" for k, v in sorted(per.items()))
                print(f"{size:>4}k {name:>8} {rps:>9,.0f} {cpu:>10.1f} {sum(per.values()):>12.2f} "
                      f"{instr:>9,.0f}  {detail}", flush=True)


if __name__ == "__main__":
    main()
