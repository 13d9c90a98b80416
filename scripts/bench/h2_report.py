#!/usr/bin/env python3
"""The report of a scripts/bench/h2.sh run, in Markdown, from its raw files.

    h2_report.py OUTDIR

Reads h2-machine.tsv, h2-results.tsv, h2-idle.tsv and h2-failures.tsv from OUTDIR. Per mode and
transport: the median throughput of each server over the rounds, ours / best peer (above 1 we
are ahead), every round's ratio (to judge the noise), and each server's CPU time per request;
then the idle case: memory per held connection, ours / nginx (below 1 we use less)."""
import csv
import math
import os
import statistics
import sys

OUT = sys.argv[1]
PEERS = ("h2o", "nginx")
CASES = {
    "1k-c10-m10": "1 KiB, 10 conns x 10 streams",
    "1k-c100-m1": "1 KiB, 100 conns x 1 stream",
    "1k-c100-m10": "1 KiB, 100 conns x 10 streams",
    "1k-c100-m100": "1 KiB, 100 conns x 100 streams",
    "64k-c50": "64 KiB, 50 conns",
    "1m-c10": "1 MiB, 10 conns",
}
MODES = {
    "pinned": "every server one worker on CPU 0, h2load -t1 on CPU 1",
    "shared": "every server a worker per core, h2load -t2, all cores shared",
}


def rows(name):
    path = os.path.join(OUT, name)
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def med(values):
    """The median of the values that are numbers, or NaN."""
    finite = []
    for v in values:
        try:
            f = float(v)
        except (TypeError, ValueError):
            continue
        if not math.isnan(f):
            finite.append(f)
    return statistics.median(finite) if finite else math.nan


def show(value, digits=0):
    return "—" if math.isnan(value) else f"{value:,.{digits}f}"


def ordered(servers):
    """Ours, then its variants, then the peers."""
    return sorted(set(servers), key=lambda s: (s != "ours", s in PEERS, s))


def throughput_tables(results):
    for mode in dict.fromkeys(r["mode"] for r in results):
        for transport in dict.fromkeys(r["transport"] for r in results if r["mode"] == mode):
            sel = [r for r in results if r["mode"] == mode and r["transport"] == transport]
            servers = ordered(r["server"] for r in sel)
            print(f"\n### {mode}, {transport}: {MODES.get(mode, '')}\n")
            print("| case | unit | " + " | ".join(servers) + " | ours / best peer | per round |")
            print("|---|---|" + "---:|" * len(servers) + "---:|---|")
            cpu_lines = []
            for case in dict.fromkeys(r["case"] for r in sel):
                here = [r for r in sel if r["case"] == case]
                by = {s: [r for r in here if r["server"] == s] for s in servers}
                medians = {s: med(r["throughput"] for r in by[s]) for s in servers}
                peers = {s: v for s, v in medians.items() if s in PEERS and not math.isnan(v)}
                ratio, best = "—", ""
                rounds = ""
                if peers and not math.isnan(medians.get("ours", math.nan)):
                    best = max(peers, key=peers.get)
                    ratio = f"{medians['ours'] / peers[best]:.2f} ({best})"
                    per_round = {r["round"]: float(r["throughput"]) for r in by[best] if r["throughput"] != "nan"}
                    rounds = " ".join(f"{float(r['throughput']) / per_round[r['round']]:.2f}"
                                      for r in by["ours"] if r["round"] in per_round and r["throughput"] != "nan")
                print(f"| {CASES.get(case, case)} | {here[0]['unit']} | "
                      + " | ".join(show(medians[s]) for s in servers) + f" | {ratio} | {rounds} |")
                cpu_lines.append(f"| {CASES.get(case, case)} | "
                                 + " | ".join(show(med(r["cpu_us"] for r in by[s]), 1) for s in servers) + " |")
                failed = {s: sum(int(r["failed"]) for r in by[s] if r["failed"].isdigit()) for s in servers}
                if any(failed.values()):
                    print("| (failed or non-2xx responses: "
                          + ", ".join(f"{s} {n}" for s, n in failed.items() if n) + ") |")
            print("\nServer CPU time per response, µs (user + system of its processes):\n")
            print("| case | " + " | ".join(servers) + " |")
            print("|---|" + "---:|" * len(servers))
            print("\n".join(cpu_lines))


def idle_table(idle):
    if not idle:
        return
    servers = ordered(r["server"] for r in idle)
    print("\n### Idle connections: memory per connection, KiB (RSS growth; PSS growth)\n")
    print("| mode | transport | " + " | ".join(servers) + " | ours / nginx (RSS) |")
    print("|---|---|" + "---:|" * len(servers) + "---:|")
    for mode, transport in dict.fromkeys((r["mode"], r["transport"]) for r in idle):
        sel = [r for r in idle if r["mode"] == mode and r["transport"] == transport]
        rss = {s: med(r["rss_kib_per_conn"] for r in sel if r["server"] == s) for s in servers}
        pss = {s: med(r["pss_kib_per_conn"] for r in sel if r["server"] == s) for s in servers}
        ratio = rss.get("ours", math.nan) / rss["nginx"] if rss.get("nginx") else math.nan
        print(f"| {mode} | {transport} | "
              + " | ".join(f"{show(rss[s], 2)}; {show(pss[s], 2)}" for s in servers)
              + f" | {show(ratio, 2)} |")
    held = {(r["server"], r["held"]) for r in idle}
    print("\nConnections still answering at the end: "
          + ", ".join(f"{s} {h}" for s, h in sorted(held)) + ".")


def main():
    print("## HTTP/2: http-server against h2o and nginx (h2load)\n")
    for r in rows("h2-machine.tsv"):
        print(f"- {r['key']}: {r['value']}")
    throughput_tables(rows("h2-results.tsv"))
    idle_table(rows("h2-idle.tsv"))
    failures = open(os.path.join(OUT, "h2-failures.tsv")).read().strip() \
        if os.path.exists(os.path.join(OUT, "h2-failures.tsv")) else ""
    if failures:
        print("\nNot measured: " + "; ".join(line.replace("\t", " ") for line in failures.splitlines()))


if __name__ == "__main__":
    main()
