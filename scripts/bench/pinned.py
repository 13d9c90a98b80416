"""One server build under wrk, pinned, as the side benchmarks run it (cache_size.py, close_ab.py):
the server with one worker on CPU 0, `wrk -t1` on CPU 1, and what the run cost the server read
from /proc: CPU time (user + system, all threads) and wake-ups (context switches, all threads)
per request. On a shared machine these two move less than requests a second, which follow the
client's core as much as the server's."""
import os
import re
import subprocess
import time

TICK = os.sysconf("SC_CLK_TCK")


def start(binary, root, wrapper=(), args=()):
    """`binary` under `wrapper` on 127.0.0.1, port 0, one worker, log off: its process and
    port."""
    proc = subprocess.Popen(
        [*wrapper, binary, "--port", "0", "--threads", "1", "--access-log", "off", *args, root],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    port = int(re.search(r":(\d+)$", proc.stdout.readline().strip()).group(1))
    return proc, port


def stop(proc):
    """Stops the server by its PID."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime: the whole process


def switches(pid):
    """Context switches of every thread of `pid` so far."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/status") as f:
                total += sum(int(line.split()[1]) for line in f if "ctxt_switches" in line)
        except FileNotFoundError:
            pass  # a thread that ended meanwhile
    return total


def get(port, path, scheme="http"):
    """One request with curl, twice over a second: the small-file cache takes a file only once
    it has not changed for a second. (`-k`: an https server's certificate is self-signed.)"""
    url = f"{scheme}://127.0.0.1:{port}{path}"
    subprocess.run(["curl", "-sk", "-o", "/dev/null", url], check=True)
    time.sleep(1.2)
    subprocess.run(["curl", "-sk", "-o", "/dev/null", url], check=True)
    return url


def run(binary, root, path, connections, secs, header=None, tls=False, args=()):
    """A fresh server (with `tls`, on a self-signed certificate; with `args`, more flags), a 1 s
    warm-up, then a pinned wrk run of `secs`: requests a second, server CPU µs per request,
    server wake-ups per request."""
    args = (*args, "--tls-self-signed") if tls else tuple(args)
    proc, port = start(binary, root, ("taskset", "-c", "0"), args)
    try:
        url = get(port, path, "https" if tls else "http")
        cmd = ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}"]
        if header:
            cmd += ["-H", header]
        subprocess.run(cmd + ["-d1s", url], capture_output=True, check=True)
        cpu, woken = cpu_seconds(proc.pid), switches(proc.pid)
        out = subprocess.run(cmd + [f"-d{secs}s", url], capture_output=True, text=True,
                             check=True).stdout
        cpu, woken = cpu_seconds(proc.pid) - cpu, switches(proc.pid) - woken
    finally:
        stop(proc)
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return rps, cpu / requests * 1e6, woken / requests
