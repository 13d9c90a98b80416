#!/usr/bin/env python3
"""What a site file with many rules costs a plain request (issue 24: 100 header rules and 100
redirects must keep the 1 KiB keep-alive case at 0.95x or more of its speed without rules).

    scripts/bench/site_rules.py [BIN]      (ROUNDS=5 SECS=5; BIN: target/release/http-server)

Serves one root two ways, alternating, ROUNDS times: without a site file, and with one holding
100 `[[headers]]` rules (`/sectionN/**`), 100 `[[redirects]]` and 100 `[[rewrites]]` (none of
which match the file asked for) and one `/**` header rule (which does, as a real site's
security headers do). Each run is pinned as scripts/bench/pinned.py runs them (the server with
one worker on CPU 0, wrk -t1 -c100 on CPU 1, keep-alive). Prints requests a second and server
CPU µs per request, medians, and the ratios with rules / without."""
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pinned import run  # noqa: E402

ROUNDS = int(os.environ.get("ROUNDS", "5"))
SECS = int(os.environ.get("SECS", "5"))
binary = sys.argv[1] if len(sys.argv) > 1 else "target/release/http-server"

with tempfile.TemporaryDirectory(prefix="site-rules-") as tmp:
    root = os.path.join(tmp, "root")
    os.makedirs(root)
    with open(os.path.join(root, "1k.html"), "wb") as f:
        f.write(b"x" * 1024)
    toml = []
    for i in range(100):
        toml.append(f"[[headers]]\nmatch = '/section{i}/**'\nset = {{ X-Rule-{i} = 'v' }}\n")
        toml.append(f"[[redirects]]\nfrom = '^/old{i}/(.*)$'\nto = '/new{i}/$1'\n")
        toml.append(f"[[rewrites]]\nfrom = '^/app{i}/(.*)$'\nto = '/spa{i}/$1'\n")
    toml.append("[[headers]]\nmatch = '/**'\nset = { X-Content-Type-Options = 'nosniff' }\n")
    site = os.path.join(tmp, "site.toml")
    with open(site, "w") as f:
        f.write("\n".join(toml))
    results = {"without rules": [], "with 301 rules": []}
    for r in range(ROUNDS):
        order = list(results) if r % 2 == 0 else list(reversed(results))
        for name in order:
            args = ("--config", site) if name == "with 301 rules" else ()
            results[name].append(run(binary, root, "/1k.html", 100, SECS, args=args))
    medians = {}
    for name, runs in results.items():
        rps = statistics.median(x[0] for x in runs)
        cpu = statistics.median(x[1] for x in runs)
        medians[name] = (rps, cpu)
        print(f"{name:>16}: {rps:>9.0f} req/s, {cpu:5.2f} µs of server CPU per request "
              f"(runs: {', '.join(f'{x[0]:.0f}' for x in runs)})")
    (a, ca), (b, cb) = medians["without rules"], medians["with 301 rules"]
    print(f"with / without: {b / a:.3f}x requests a second, {cb / ca:.3f}x CPU per request")
