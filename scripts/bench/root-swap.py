#!/usr/bin/env python3
"""What a swappable document root costs, and how soon a swap is served (issue 28).

    scripts/bench/root-swap.py BIN [BIN...]        (ROUNDS=5 SECONDS_PER_RUN=5 in the environment)

1. Per request: each BIN serves a 1 KiB file (from its small-file cache) with one worker on
   CPU 0 while `wrk -t1 -c32` on CPU 1 asks for it; the binaries take turns, ROUNDS times.
   Prints each run's requests per second and the server's CPU time per request (user + system,
   from /proc), then the medians per binary. CPU time per request is the steadier figure on a
   shared machine.
2. Swap delay (last BIN only): the root is a symlink `current`, renamed over 20 times between
   two releases as deploy tools do; a client on one keep-alive connection asks for /version
   without pause and notes the time from the rename to the first answer of the new release.
3. Idle cost (last BIN only): CPU time of the `root-watch` thread over 10 s with no traffic.
4. Instructions per request, when valgrind is installed: each BIN under callgrind serves 2,000
   and then 12,000 keep-alive requests (`ab -k -c 1`) for the cached file; the difference over
   10,000 is the user-space instructions one request costs, a figure a busy machine does not
   blur.

Every server is started on 127.0.0.1, port 0, and stopped by its PID."""
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROUNDS = int(os.environ.get("ROUNDS", "5"))
SECONDS = int(os.environ.get("SECONDS_PER_RUN", "5"))
TICK = os.sysconf("SC_CLK_TCK")


def start(binary, root, threads=1):
    proc = subprocess.Popen(
        ["taskset", "-c", "0", binary, "--port", "0", "--threads", str(threads),
         "--access-log", "off", root],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    match = re.match(r"listening on http://(\S+):(\d+)", line)
    if not match:
        proc.kill()
        sys.exit(f"root-swap: {binary} did not start: {line!r}")
    return proc, int(match.group(2))


def stop(proc):
    proc.terminate()
    proc.wait(timeout=20)


def cpu_seconds(pid, task=None):
    path = f"/proc/{pid}/task/{task}/stat" if task else f"/proc/{pid}/stat"
    with open(path) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def throughput(binaries, root):
    runs = {b: [] for b in binaries}
    for r in range(ROUNDS):
        order = binaries if r % 2 == 0 else list(reversed(binaries))
        for binary in order:
            proc, port = start(binary, root)
            url = f"http://127.0.0.1:{port}/1k.html"
            subprocess.run(["curl", "-s", "-o", "/dev/null", url], check=True)
            time.sleep(1.1)  # past the small-file cache's racy window
            subprocess.run(["taskset", "-c", "1", "wrk", "-t1", "-c32", "-d1s", url],
                           capture_output=True, check=True)
            before = cpu_seconds(proc.pid)
            out = subprocess.run(
                ["taskset", "-c", "1", "wrk", "-t1", "-c32", f"-d{SECONDS}s", url],
                capture_output=True, text=True, check=True).stdout
            cpu = cpu_seconds(proc.pid) - before
            stop(proc)
            requests = int(re.search(r"(\d+) requests in", out).group(1))
            rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
            runs[binary].append((rps, cpu / requests * 1e6))
            print(f"round {r + 1} {binary}: {rps:.0f} req/s, "
                  f"{cpu / requests * 1e6:.2f} us CPU/request", flush=True)
    for binary, results in runs.items():
        print(f"median {binary}: {statistics.median(r[0] for r in results):.0f} req/s, "
              f"{statistics.median(r[1] for r in results):.2f} us CPU/request")


def read_body(sock):
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(4096)
    head, body = head.split(b"\r\n\r\n", 1)
    length = int(re.search(rb"Content-Length: (\d+)", head, re.I).group(1))
    while len(body) < length:
        body += sock.recv(4096)
    return body


def swap_delay(binary, deploy):
    current = os.path.join(deploy, "current")
    proc, port = start(binary, current, threads=2)
    sock = socket.create_connection(("127.0.0.1", port))
    request = b"GET /version HTTP/1.1\r\nHost: bench\r\n\r\n"
    delays = []
    for i in range(20):
        target = "releases/2" if i % 2 == 0 else "releases/1"
        new = target[-1].encode()
        staged = os.path.join(deploy, "current.new")
        os.symlink(target, staged)
        swapped = time.monotonic()
        os.rename(staged, current)
        while True:
            sock.sendall(request)
            if read_body(sock) == new:
                delays.append(time.monotonic() - swapped)
                break
            if time.monotonic() - swapped > 5:
                sys.exit("root-swap: a swap was not served within 5 s")
        time.sleep(0.05)
    sock.close()
    print(f"swap delay over {len(delays)} swaps: median {statistics.median(delays) * 1e3:.2f} ms, "
          f"max {max(delays) * 1e3:.2f} ms")
    watcher = next(t for t in os.listdir(f"/proc/{proc.pid}/task")
                   if open(f"/proc/{proc.pid}/task/{t}/comm").read().strip() == "root-watch")
    before = cpu_seconds(proc.pid, watcher)
    time.sleep(10)
    idle = cpu_seconds(proc.pid, watcher) - before
    print(f"root-watch CPU over 10 s idle: {idle * 1e3:.0f} ms (clock ticks of {1e3 / TICK:.0f} ms)")
    stop(proc)


def instructions(binary, root, requests):
    """Callgrind's instruction count of `binary` serving `requests` requests, start to exit."""
    proc = subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", binary, "--port", "0",
         "--threads", "1", "--access-log", "off", root],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    port = int(re.search(r":(\d+)$", proc.stdout.readline().strip()).group(1))
    url = f"http://127.0.0.1:{port}/1k.html"
    subprocess.run(["curl", "-s", "-o", "/dev/null", url], check=True)
    time.sleep(1.2)  # past the small-file cache's racy window
    subprocess.run(["ab", "-q", "-k", "-n", str(requests), "-c", "1", url],
                   capture_output=True, check=True)
    proc.terminate()
    _, err = proc.communicate(timeout=60)
    return int(re.search(r"Collected : (\d+)", err).group(1))


def per_request_instructions(binaries, root):
    if not (shutil.which("valgrind") and shutil.which("ab")):
        print("instructions per request: skipped (needs valgrind and ab)")
        return
    for binary in binaries:
        few, many = instructions(binary, root, 2000), instructions(binary, root, 12000)
        print(f"instructions {binary}: {(many - few) / 10000:.0f} per request")


def main():
    binaries = sys.argv[1:]
    if not binaries:
        sys.exit(__doc__)
    with tempfile.TemporaryDirectory(prefix="root-swap.") as tmp:
        root = os.path.join(tmp, "site")
        os.mkdir(root)
        with open(os.path.join(root, "1k.html"), "w") as f:
            f.write("x" * 1024)
        for n in ("1", "2"):
            os.makedirs(os.path.join(tmp, "releases", n))
            with open(os.path.join(tmp, "releases", n, "version"), "w") as f:
                f.write(n)
        os.symlink("releases/1", os.path.join(tmp, "current"))
        throughput(binaries, root)
        swap_delay(binaries[-1], tmp)
        per_request_instructions(binaries, root)


main()
