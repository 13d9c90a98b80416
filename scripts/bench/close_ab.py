#!/usr/bin/env python3
"""A new connection per request (1 KiB, `Connection: close`, 50 connections), two or more builds
of the server taking turns, pinned (each server one worker on CPU 0, wrk -t1 on CPU 1):

    scripts/bench/close_ab.py BIN [BIN...]      (ROUNDS=8 SECS=3)

Prints each run's requests a second, the server's CPU µs per request and its wake-ups (context
switches) per request, then the medians per build. Wake-ups per request show what
`TCP_DEFER_ACCEPT` changes (one wake-up per connection with its request, instead of one for the
handshake and one for the request); CPU time and throughput show what that is worth. Every server
listens on 127.0.0.1, port 0, and is stopped by its PID."""
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pinned import run  # noqa: E402

ROUNDS = int(os.environ.get("ROUNDS", "8"))
SECS = int(os.environ.get("SECS", "3"))


def main():
    bins = sys.argv[1:]
    if not bins:
        sys.exit(__doc__)
    results = {b: [] for b in bins}
    with tempfile.TemporaryDirectory(prefix="close-ab.") as root:
        with open(os.path.join(root, "1k.html"), "wb") as f:
            f.write(b"x" * 1024)
        for r in range(ROUNDS):
            # Rotated, so that no build always follows the same one.
            for b in bins[r % len(bins):] + bins[:r % len(bins)]:
                rps, cpu, woken = run(b, root, "/1k.html", 50, SECS, "Connection: close")
                results[b].append((rps, cpu, woken))
                print(f"round {r + 1} {b}: {rps:,.0f} req/s, {cpu:.1f} us/req, "
                      f"{woken:.2f} wake-ups/req", flush=True)
    print(f"{'build':>40} {'req/s':>9} {'cpu us/req':>10} {'wake-ups/req':>12}   (medians of {ROUNDS})")
    for b, runs in results.items():
        med = [statistics.median(x[i] for x in runs) for i in range(3)]
        print(f"{b:>40} {med[0]:>9,.0f} {med[1]:>10.1f} {med[2]:>12.2f}")


if __name__ == "__main__":
    main()
