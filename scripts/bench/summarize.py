#!/usr/bin/env python3
"""Turns the raw files of a scripts/bench.sh run into its report.

    summarize.py OUTDIR

Reads machine.tsv, settings.tsv, cases.tsv, results.tsv, idle.tsv and failures.tsv from OUTDIR;
prints the report (Markdown: the machine, then per mode the throughput, p99 and idle tables);
writes OUTDIR/summary.json, OUTDIR/readme.md (the ratios per case and mode in one table, for
the README), and for scripts/bench/chart.gp the files chart-MODE.dat, chart-idle.dat and
chart-vars.gp. Medians over rounds; "ours / best peer" divides our median
by the best peer's median (highest throughput, lowest latency or memory)."""
import csv
import json
import math
import os
import statistics
import sys

OUT = sys.argv[1]
COLOURS = {"ours": "#c0392b", "nginx": "#2e7d32", "h2o": "#1f77b4", "lighttpd": "#f39c12", "caddy": "#8e8e8e"}
# Variants of ours measured in one case each (scripts/bench.sh): what the table calls them and
# their ratio's key in summary.json.
VARIANTS = {
    "ours+log": ("with access log on", "ours_access_log_over_best_peer"),
    "ours+defer": ("on a TCP_DEFER_ACCEPT socket (systemd DeferAcceptSec=1)",
                   "ours_deferred_accept_over_best_peer"),
}
MODE_TITLES = {
    "pinned": "Pinned: every server one worker on CPU 0, wrk -t1 on CPU 1",
    "shared": "Shared: every server {cores} workers, wrk -t2, all {cores} cores shared",
}


def read_tsv(name):
    path = os.path.join(OUT, name)
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def number(text):
    try:
        value = float(text)
    except (TypeError, ValueError):
        return math.nan
    return value


def median(values):
    values = [v for v in values if not math.isnan(v)]
    return statistics.median(values) if values else math.nan


def fmt(value, digits=0):
    if value is None or math.isnan(value):
        return "—"
    return f"{value:,.{digits}f}"


def ratio_text(ours, best, best_name):
    if math.isnan(ours) or math.isnan(best) or best == 0:
        return "—"
    return f"{ours / best:.2f} ({best_name})"


machine = {r["key"]: r["value"] for r in read_tsv("machine.tsv")}
settings = {r["key"]: r["value"] for r in read_tsv("settings.tsv")}
cases = read_tsv("cases.tsv")
results = read_tsv("results.tsv")
idle_rows = read_tsv("idle.tsv")
failures = read_tsv("failures.tsv")
modes = settings.get("modes", "").split()
peers = settings.get("peers", "").split()
servers = ["ours"] + peers
cores = settings.get("cores", "?")
rounds, secs = settings.get("rounds", "?"), settings.get("seconds_per_run", "?")

summary = {"machine": machine, "settings": settings, "modes": {}, "failures": failures}
lines = []
say = lines.append

say("## Machine")
say("")
for key in ("date", "cores", "cpu", "memory", "kernel", "os", "load at start", "load at end"):
    if key in machine:
        say(f"- {key}: {machine[key]}")
say("- versions: " + ", ".join(f"{machine[k]}" for k in ["ours"] + peers + ["wrk"] if k in machine))
say("")

chart_modes = []
for mode in modes:
    mode_rows = [r for r in results if r["mode"] == mode]
    mode_summary = {"cases": {}, "idle": {}}
    summary["modes"][mode] = mode_summary
    down = {f["server"]: f["what"] for f in failures if f["mode"] == mode}
    header = "| case | " + " | ".join(servers) + " | ours / best peer |"
    rule = "|---|" + "---:|" * (len(servers) + 1)

    say(f"## {MODE_TITLES[mode].format(cores=cores)}")
    say("")
    say(f"Throughput, req/s (MB/s for 100 MiB); medians of {rounds} round(s) of {secs} s:")
    say("")
    say(header)
    say(rule)
    p99_lines = []
    cpu_lines = []
    error_notes = []
    chart_rows = []
    for case in cases:
        rows = [r for r in mode_rows if r["case"] == case["id"]]
        if not rows:
            continue
        per = {}
        for name in servers + list(VARIANTS):
            mine = [r for r in rows if r["server"] == name]
            if not mine:
                continue
            per[name] = {
                "values": [number(r["throughput"]) for r in mine],
                "p99_ms": [number(r["p99_ms"]) for r in mine],
                "cpu_us": [number(r.get("cpu_us")) for r in mine],
                "errors": int(sum(0 if math.isnan(number(r["errors"])) else number(r["errors"]) for r in mine)),
            }
            per[name]["median"] = median(per[name]["values"])
            per[name]["p99_ms_median"] = median(per[name]["p99_ms"])
            per[name]["cpu_us_median"] = median(per[name]["cpu_us"])
            if per[name]["errors"]:
                error_notes.append(f"{name}, {case['label']}: {per[name]['errors']}")
        measured = [p for p in peers if p in per and not math.isnan(per[p]["median"])]
        best = max(measured, key=lambda p: per[p]["median"], default=None)
        lowest = min((p for p in measured if not math.isnan(per[p]["p99_ms_median"])),
                     key=lambda p: per[p]["p99_ms_median"], default=None)
        ours = per.get("ours", {}).get("median", math.nan)
        ours_p99 = per.get("ours", {}).get("p99_ms_median", math.nan)
        best_value = per[best]["median"] if best else math.nan
        lowest_value = per[lowest]["p99_ms_median"] if lowest else math.nan
        cells = [fmt(per[s]["median"]) if s in per else "—" for s in servers]
        say(f"| {case['label']} | " + " | ".join(cells) + f" | {ratio_text(ours, best_value, best)} |")
        entry = {"label": case["label"], "unit": case["unit"], "servers": per, "best_peer": best,
                 "ours_over_best_peer": ours / best_value if best else None,
                 "lowest_p99_peer": lowest,
                 "p99_ours_over_lowest_peer": ours_p99 / lowest_value if lowest else None}
        for variant, (what, key) in VARIANTS.items():
            if variant not in per:
                continue
            value = per[variant]["median"]
            say(f"| {case['label']}, ours {what} | " + fmt(value) + " |" * len(servers)
                + f" {ratio_text(value, best_value, best)} |")
            entry[key] = value / best_value if best else None
        mode_summary["cases"][case["id"]] = entry
        p99_cells = [fmt(per[s]["p99_ms_median"], 2) if s in per else "—" for s in servers]
        p99_lines.append(f"| {case['label']} | " + " | ".join(p99_cells)
                         + f" | {ratio_text(ours_p99, lowest_value, lowest)} |")
        frugal = min((p for p in measured if not math.isnan(per[p]["cpu_us_median"])),
                     key=lambda p: per[p]["cpu_us_median"], default=None)
        ours_cpu = per.get("ours", {}).get("cpu_us_median", math.nan)
        frugal_value = per[frugal]["cpu_us_median"] if frugal else math.nan
        entry["least_cpu_peer"] = frugal
        entry["cpu_ours_over_least_peer"] = ours_cpu / frugal_value if frugal else None
        cpu_cells = [fmt(per[s]["cpu_us_median"], 1) if s in per else "—" for s in servers]
        cpu_lines.append(f"| {case['label']} | " + " | ".join(cpu_cells)
                         + f" | {ratio_text(ours_cpu, frugal_value, frugal)} |")
        ours_text = f"ours {ours / 1000:,.1f}k {case['unit']}" if ours >= 10000 else f"ours {fmt(ours)} {case['unit']}"
        chart_rows.append([case["label"], ours_text]
                          + [per[s]["median"] / ours if s in per and ours and not math.isnan(ours) else math.nan
                             for s in servers])
    say("")
    say("p99 latency, ms (medians over rounds; ours / lowest peer):")
    say("")
    say(header.replace("best peer", "lowest peer"))
    say(rule)
    lines.extend(p99_lines)
    say("")
    say("Server CPU time per request, µs (user + system of the server's processes during the run,")
    say("whichever side was the bottleneck; medians over rounds; ours / least peer):")
    say("")
    say(header.replace("best peer", "least peer"))
    say(rule)
    lines.extend(cpu_lines)
    say("")
    if error_notes:
        say("Errors counted by wrk (connect, read, write, timeout, non-2xx/3xx), summed over rounds: "
            + "; ".join(error_notes) + ".")
        say("")

    idle = [r for r in idle_rows if r["mode"] == mode]
    if idle:
        conns = int(settings.get("idle_connections") or idle[0]["connections"])
        idle_per = {}
        fewer = []
        for name in servers:
            mine = [r for r in idle if r["server"] == name]
            if mine:
                idle_per[name] = {k: median([number(r.get(k)) for r in mine])
                                  for k in ("connections", "held", "median_ms", "p99_ms", "rss_mib", "peak_mib", "pss_mib")}
                if idle_per[name]["connections"] != conns:
                    fewer.append(f"{name} was given {idle_per[name]['connections']:,.0f}")
        mode_summary["idle"] = {"connections": conns, "servers": idle_per}
        say(f"{conns:,} idle keep-alive connections, each server started afresh (ours / lowest peer):")
        say("")
        say(f"| {conns:,} idle connections | " + " | ".join(servers) + " | ours / lowest peer |")
        say(rule)
        for key, label, digits in (("held", "held and still answering", 0),
                                   ("median_ms", "new client, median ms", 3),
                                   ("p99_ms", "new client, p99 ms", 3),
                                   ("rss_mib", "RSS (summed over processes), MiB", 1),
                                   ("peak_mib", "peak RSS, MiB", 1),
                                   ("pss_mib", "PSS (shared pages split), MiB", 1)):
            cells = [fmt(idle_per[s][key], digits) if s in idle_per else "—" for s in servers]
            ratio = ""
            if key != "held":
                measured = [p for p in peers if p in idle_per and not math.isnan(idle_per[p][key])]
                lowest = min(measured, key=lambda p: idle_per[p][key], default=None)
                ours = idle_per.get("ours", {}).get(key, math.nan)
                ratio = ratio_text(ours, idle_per[lowest][key] if lowest else math.nan, lowest)
            say(f"| {label} | " + " | ".join(cells) + f" | {ratio} |")
        say("")
        if fewer:
            say("Fewer connections: " + "; ".join(fewer) + " (lighttpd serves at most half its open-file "
                "limit as connections, and this machine's hard limit is below twice the count).")
            say("")
    if down:
        for name, what in down.items():
            say(f"Not measured: {name}: {what}")
        say("")
    chart_modes.append((mode, chart_rows))



def no_nan(value):
    """JSON has no NaN: a value that could not be measured is null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: no_nan(v) for k, v in value.items()}
    if isinstance(value, list):
        return [no_nan(v) for v in value]
    return value


with open(os.path.join(OUT, "summary.json"), "w") as f:
    json.dump(no_nan(summary), f, indent=2, allow_nan=False)
    f.write("\n")

print("\n".join(lines))


# ---- the README's table: ours / best peer per case and mode -------------------------------------
def ratio_cell(value, who):
    return f"{value:.2f}× ({who})" if value is not None and not math.isnan(value) else "—"


readme = [f"| case | " + " | ".join(f"{m}: ours / best peer" for m in modes) + " |",
          "|---|" + "---:|" * len(modes)]
for case in cases:
    cells = []
    for mode in modes:
        entry = summary["modes"].get(mode, {}).get("cases", {}).get(case["id"])
        cells.append(ratio_cell(entry["ours_over_best_peer"], entry["best_peer"]) if entry and entry["best_peer"] else "—")
    if any(c != "—" for c in cells):
        unit = f" ({case['unit']})" if case["unit"] != "req/s" else ""
        readme.append(f"| {case['label']}{unit} | " + " | ".join(cells) + " |")
idle_lines = []
for key, label in (("peak_mib", "peak RSS"), ("median_ms", "a new client's median latency")):
    cells = []
    for mode in modes:
        per = summary["modes"].get(mode, {}).get("idle", {}).get("servers", {})
        ours = per.get("ours", {}).get(key, math.nan)
        lowest = min((p for p in peers if p in per and not math.isnan(per[p][key])),
                     key=lambda p: per[p][key], default=None)
        cells.append(ratio_cell(ours / per[lowest][key], lowest) if lowest and per[lowest][key] else "—")
    if any(c != "—" for c in cells):
        idle_conns_text = f"{int(settings.get('idle_connections') or 0):,}"
        readme.append(f"| {idle_conns_text} idle connections: {label}, ours / lowest peer | " + " | ".join(cells) + " |")
versions = ", ".join(machine[k] for k in peers if k in machine)
readme.append("")
readme.append(f"Measured {machine.get('date', '?')} on {machine.get('cores', '?')} cores ({machine.get('cpu', '?')}, "
              f"{machine.get('kernel', '?')}, {machine.get('os', '?')}; load average {machine.get('load at start', '?')} "
              f"before the run), against {versions}; medians of {rounds} round(s) of {secs} s.")
with open(os.path.join(OUT, "readme.md"), "w") as f:
    f.write("\n".join(readme) + "\n")


# ---- data for chart.gp --------------------------------------------------------------------------
def gp_string(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_dat(name, rows):
    with open(os.path.join(OUT, name), "w") as f:
        f.write("case ours_value " + " ".join(servers) + "\n")
        for row in rows:
            f.write(" ".join([gp_string(row[0]), gp_string(row[1])]
                             + ["NaN" if math.isnan(v) else f"{v:.4f}" for v in row[2:]]) + "\n")


drawn = []
for mode, rows in chart_modes:
    if rows:
        write_dat(f"chart-{mode}.dat", rows)
        drawn.append(mode)
idle_chart = []
for key, label, unit, digits in (("peak_mib", "peak RSS", "MiB", 1), ("median_ms", "new client, median", "ms", 3)):
    for mode in modes:
        per = summary["modes"].get(mode, {}).get("idle", {}).get("servers", {})
        ours = per.get("ours", {}).get(key)
        if not ours or math.isnan(ours):
            continue
        idle_chart.append([f"{label}, {mode}", f"ours {ours:.{digits}f} {unit}"]
                          + [per[s][key] / ours if s in per and not math.isnan(per[s][key]) else math.nan
                             for s in servers])
if idle_chart:
    write_dat("chart-idle.dat", idle_chart)
idle_conns = int(settings.get("idle_connections", "0") or 0)
missing = {}
for f in failures:
    missing.setdefault(f["server"], []).append(f["mode"])
not_measured = ", ".join(f"{name} ({', '.join(dict.fromkeys(ms))})" for name, ms in missing.items())
with open(os.path.join(OUT, "chart-vars.gp"), "w") as f:
    f.write(f"title = {gp_string('http-server and its peers, each relative to http-server (ours = 1)')}\n")
    f.write("subtitle = " + gp_string(
        f"{machine.get('cores', '?')} cores, {machine.get('cpu', '?')}, {machine.get('kernel', '?')}, "
        f"{machine.get('date', '?')}; medians of {rounds} round(s) of {secs} s"
        + (f"; not measured: {not_measured}" if not_measured else "")) + "\n")
    f.write(f"modes = {gp_string(' '.join(drawn))}\n")
    f.write(f"idle = {1 if idle_chart else 0}\n")
    for mode, rows in chart_modes:
        f.write(f"rows_{mode} = {len(rows)}\n")
    f.write(f"rows_idle = {len(idle_chart)}\n")
    f.write(f"nservers = {len(servers)}\n")
    f.write(f"colours = {gp_string(' '.join(COLOURS[s] for s in servers))}\n")
    for mode in modes:
        f.write(f"title_{mode} = " + gp_string(MODE_TITLES[mode].format(cores=cores)
                                               + ": throughput, higher is better") + "\n")
    f.write("title_idle = " + gp_string(f"{idle_conns:,} idle connections: memory and a new client's "
                                        "latency, lower is better (log scale)") + "\n")
