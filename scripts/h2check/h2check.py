#!/usr/bin/env python3
"""Runs the HTTP/2 checks against a server that is already listening: one line per case
(ok, FAIL or skip, its area, its name, what the server did), then a total; exits 1 if any case
failed. See README.md for the fixture the server must serve and what each option is for."""

import argparse
import importlib
import os
import re
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from h2client import Fail, Skip  # noqa: E402
from suite import CASES, Context  # noqa: E402

# Run in this order: the attacks after the conformance checks, timeouts after those, and the
# shutdown (which ends the server) last.
AREAS = ["preface", "frames", "streams", "flow", "compression", "malformed", "responses",
         "attacks", "timeouts", "shutdown"]


def options(argv):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--tls", action="store_true", help="TLS with ALPN h2 (certificate unchecked)")
    p.add_argument("--sni", help="TLS server name [host]")
    p.add_argument("--authority", help=":authority of the requests [host:port]")
    p.add_argument("--only", metavar="PATTERN",
                   help="run the cases whose 'area: name in words' matches this regex "
                        "(case-insensitive; '^(?!shutdown)' leaves that area out)")
    p.add_argument("--list", action="store_true", help="list the cases and exit")
    p.add_argument("-v", "--verbose", action="store_true", help="tracebacks for errors")
    p.add_argument("--wait", type=float, default=2.0,
                   help="seconds to wait for a frame the server owes")
    g = p.add_argument_group("the fixture (see README.md)")
    g.add_argument("--path-1k", default="/1k.bin", help="a 1024-byte fixture file")
    g.add_argument("--path-big", default="/big.bin",
                   help="a fixture file of at least 1 MiB (4 MiB suggested)")
    g.add_argument("--path-missing", default="/h2check-no-such-file", help="a path that is 404")
    g = p.add_argument_group("the server's limits")
    g.add_argument("--max-header-bytes", type=int, default=16384,
                   help="a request head (names and values) over this is refused")
    g.add_argument("--max-header-fields", type=int, default=100,
                   help="a request head with more fields than this is refused")
    g.add_argument("--max-concurrent-streams", type=int, default=100,
                   help="the most SETTINGS_MAX_CONCURRENT_STREAMS may be")
    g.add_argument("--rapid-reset-streams", type=int, default=10000,
                   help="streams opened and reset before GOAWAY ENHANCE_YOUR_CALM is due")
    g.add_argument("--flood-mib", type=int, default=64,
                   help="MiB of PING/SETTINGS/empty DATA/CONTINUATION sent by a flood (well "
                        "above what the kernel can buffer, tcp_rmem + tcp_wmem maximums)")
    g.add_argument("--rss-limit-mib", type=float, default=32,
                   help="how much the server's RSS may grow during an attack (with --pid)")
    g.add_argument("--idle-timeout", type=float, default=5)
    g.add_argument("--header-timeout", type=float, default=10)
    g.add_argument("--send-timeout", type=float, default=30)
    g.add_argument("--shutdown-timeout", type=float, default=10)
    g = p.add_argument_group("the server's process")
    g.add_argument("--pid", type=int,
                   help="its PID: RSS and CPU checks during attacks, and the shutdown case "
                        "(which signals it, so it runs last)")
    g.add_argument("--shutdown-signal", default="TERM", choices=["TERM", "INT", "QUIT"],
                   help="the signal for a graceful shutdown")
    g.add_argument("--exit-status-file", metavar="FILE",
                   help="where the server's wrapper writes its exit status; the shutdown case "
                        "then checks it is 0")
    opts = p.parse_args(argv)
    opts.scheme = "https" if opts.tls else "http"
    if opts.authority is None:
        host = f"[{opts.host}]" if ":" in opts.host else opts.host
        opts.authority = f"{host}:{opts.port}"
    return opts


def title(area, fn):
    return f"{area}: {fn.__name__.replace('_', ' ')}"


def run_one(opts, fn):
    ctx = Context(opts)
    missing = [n for n in fn.needs if not getattr(opts, n)]
    if missing:
        return "skip", "needs " + ", ".join("--" + n for n in missing)
    try:
        note = fn(ctx)
        if note:
            ctx.notes.insert(0, note)
        return "ok", "; ".join(ctx.notes)
    except Fail as e:
        return "FAIL", "; ".join([str(e)] + ctx.notes)
    except Skip as e:
        return "skip", str(e)
    except Exception as e:  # a socket error or a bug in a case: the case failed
        if opts.verbose:
            traceback.print_exc()
        return "FAIL", f"error: {type(e).__name__}: {e}"
    finally:
        ctx.close()


def main(argv):
    opts = options(argv)
    for area in AREAS:
        importlib.import_module(f"checks.{area}")
    cases = [(a, f) for a, f in CASES]
    cases.sort(key=lambda af: AREAS.index(af[0]))  # stable: definition order within an area
    if opts.only:
        pattern = re.compile(opts.only, re.I)
        cases = [(a, f) for a, f in cases if pattern.search(title(a, f))]
        if not cases:
            print(f"h2check: no case matches {opts.only!r}", file=sys.stderr)
            return 2
    if opts.list:
        for a, f in cases:
            print(title(a, f))
        return 0
    counts = {"ok": 0, "FAIL": 0, "skip": 0}
    start = time.monotonic()
    for area, fn in cases:
        t0 = time.monotonic()
        result, detail = run_one(opts, fn)
        counts[result] += 1
        line = f"{result:<5} {title(area, fn)} ({time.monotonic() - t0:.2f}s)"
        print(line + (f": {detail}" if detail else ""), flush=True)
    where = f"{opts.host}:{opts.port}{' (TLS)' if opts.tls else ''}"
    print(f"h2check: {len(cases)} cases against {where} in {time.monotonic() - start:.1f}s")
    print(f"h2check: {counts['ok']} passed, {counts['FAIL']} failed, {counts['skip']} skipped")
    return 1 if counts["FAIL"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
