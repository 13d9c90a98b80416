#!/usr/bin/env python3
"""One client loops over the listing of a huge directory through many connections; how long do
everyone else's requests wait? (Issue 27, finding 4.)

Usage: listing_attack.py BIN [--names 300000] [--attackers 16] [--secs 10] [--threads 2]

Starts BIN --listing --threads N on 127.0.0.1 (port 0) over a temporary root holding a directory
of NAMES empty files and a small file; ATTACKERS keep-alive connections fetch the listing in a
loop (cycling through its six orders); meanwhile one keep-alive client and one client opening a
new connection per request fetch the small file. Prints the listings served, the 503s, and the
bystanders' p50 and max latency. The server is stopped by PID."""
import argparse, http.client, os, re, signal, statistics, subprocess, sys, tempfile, threading, time

ap = argparse.ArgumentParser()
ap.add_argument("bin")
ap.add_argument("--names", type=int, default=300_000)
ap.add_argument("--attackers", type=int, default=16)
ap.add_argument("--secs", type=float, default=10)
ap.add_argument("--threads", type=int, default=2)
a = ap.parse_args()

tmp = tempfile.mkdtemp(prefix="listing-attack-")
root = os.path.join(tmp, "root")
big = os.path.join(root, "big")
os.makedirs(big)
for i in range(a.names):
    open(os.path.join(big, f"file-{i}.txt"), "w").close()
with open(os.path.join(root, "small.txt"), "w") as f:
    f.write("hello\n")

server = subprocess.Popen([a.bin, "--port", "0", "--listing", "--access-log", "off",
                           "--threads", str(a.threads), root],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
port = None
try:
    line = server.stdout.readline()
    port = int(re.search(r":(\d+)$", line.strip()).group(1))
    orders = ["", "?sort=name&order=desc", "?sort=size&order=asc", "?sort=size&order=desc",
              "?sort=modified&order=asc", "?sort=modified&order=desc"]
    stop = time.monotonic() + a.secs
    counts = {"listings": 0, "503": 0, "other": 0}
    lock = threading.Lock()

    def attacker(n):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        i = n
        while time.monotonic() < stop:
            try:
                conn.request("GET", "/big/" + orders[i % len(orders)])
                r = conn.getresponse()
                r.read()
                key = "listings" if r.status == 200 else "503" if r.status == 503 else "other"
            except (OSError, http.client.HTTPException):
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                key = "other"
            with lock:
                counts[key] += 1
            i += 1

    def bystander(keep_alive, out):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.monotonic() < stop:
            if not keep_alive:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            t = time.monotonic()
            conn.request("GET", "/small.txt")
            r = conn.getresponse()
            r.read()
            out.append(time.monotonic() - t)
            if not keep_alive:
                conn.close()
            time.sleep(0.02)

    kept, fresh = [], []
    workers = [threading.Thread(target=attacker, args=(n,)) for n in range(a.attackers)]
    workers += [threading.Thread(target=bystander, args=(True, kept)),
                threading.Thread(target=bystander, args=(False, fresh))]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    ms = lambda xs, f: f(xs) * 1000 if xs else float("nan")
    print(f"{a.names} names, {a.attackers} attacking connections, --threads {a.threads}, "
          f"{a.secs:g} s: {counts['listings']} listings served, {counts['503']} answered 503, "
          f"{counts['other']} other")
    print(f"keep-alive bystander: p50 {ms(kept, statistics.median):.1f} ms, "
          f"max {ms(kept, max):.1f} ms over {len(kept)} requests")
    print(f"new-connection bystander: p50 {ms(fresh, statistics.median):.1f} ms, "
          f"max {ms(fresh, max):.1f} ms over {len(fresh)} requests")
finally:
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(10)
    except subprocess.TimeoutExpired:
        server.kill()
    subprocess.run(["rm", "-rf", tmp])
