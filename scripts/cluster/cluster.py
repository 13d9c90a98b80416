#!/usr/bin/env python3
"""Several http-server instances behind HAProxy on 127.0.0.1, and the check that restarting
them one by one under load loses no request.

    cluster.py run N                 serve until Ctrl-C (scripts/cluster.sh N)
    cluster.py check [--prometheus]  the cluster check (scripts/cluster-check.sh)

Everything listens on 127.0.0.1 only, every process started here is stopped by PID on exit, and
the load is bounded in count and time. Standard library only."""
import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target"), "release", "http-server")
PAGE = b"<h1>cluster</h1>\n" * 20


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port, path, timeout=2):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
        return r.status, r.read()


class Instance:
    """One http-server process; restarting it keeps its port."""

    def __init__(self, name, root, port=0):
        self.name, self.root, self.port = name, root, port
        self.proc, self.summaries, self._err = None, [], []

    def start(self):
        args = [BIN, "--port", str(self.port), "--threads", "1", "--access-log", "off",
                "--shutdown-timeout", "5s", self.root]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        match = re.match(r"listening on http://127\.0\.0\.1:(\d+)", line)
        if not match:
            raise SystemExit(f"{self.name} did not start: {line!r} {self.proc.stderr.read()}")
        self.port = int(match.group(1))
        err = []
        self._err = err
        threading.Thread(target=lambda p=self.proc: err.extend(p.stderr), daemon=True).start()
        threading.Thread(target=lambda p=self.proc: p.stdout.read(), daemon=True).start()
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                if get(self.port, "/-/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.05)
        raise SystemExit(f"{self.name} is not healthy")

    def stop(self):
        """SIGTERM, wait for the drain, keep the shutdown summary. Returns the exit status."""
        if not self.proc or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=20)
        time.sleep(0.1)
        self.summaries.append("".join(self._err))
        return code

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def served(self, path):
        """Responses for `path` counted in the summaries of every process this instance ran."""
        total = 0
        for text in self.summaries:
            for line in text.splitlines():
                parts = line.split()
                if len(parts) == 2 and parts[1] == path and parts[0].isdigit():
                    total += int(parts[0])
        return total

    def scrape(self, path):
        _, body = get(self.port, "/-/metrics")
        name = f'http_server_resource_requests_total{{path="{path}"}} '
        for line in body.decode().splitlines():
            if line.startswith(name):
                return int(float(line[len(name):]))
        return 0


class Cluster:
    def __init__(self, n, workdir):
        self.workdir = workdir
        self.root = os.path.join(workdir, "root")
        os.makedirs(self.root, exist_ok=True)
        with open(os.path.join(self.root, "index.html"), "wb") as f:
            f.write(b"<!doctype html><title>cluster</title><p>served by an http-server instance</p>\n")
        with open(os.path.join(self.root, "test.html"), "wb") as f:
            f.write(PAGE)
        self.instances = [Instance(f"s{i + 1}", self.root) for i in range(n)]
        self.front = free_port()
        self.haproxy = None
        self.prometheus = None

    def start(self):
        for instance in self.instances:
            instance.start()
        cfg = os.path.join(self.workdir, "haproxy.cfg")
        servers = "\n".join(f"    server {i.name} 127.0.0.1:{i.port}" for i in self.instances)
        with open(cfg, "w") as f:
            f.write(f"""global
    maxconn 4096

defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout http-keep-alive 10s
    option http-keep-alive
    # A refused connection or a keep-alive connection closed by a draining instance is
    # retried, on another server when needed.
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response response-timeout

frontend web
    bind 127.0.0.1:{self.front}
    default_backend servers

backend servers
    balance roundrobin
    option httpchk GET /-/healthz
    http-check expect status 200
    default-server check inter 300ms fall 1 rise 1
{servers}
""")
        self.haproxy = subprocess.Popen(["haproxy", "-db", "-f", cfg], stdout=subprocess.DEVNULL,
                                        stderr=open(os.path.join(self.workdir, "haproxy.log"), "w"))
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                if get(self.front, "/-/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.1)
        raise SystemExit("haproxy did not start; see " + os.path.join(self.workdir, "haproxy.log"))

    def start_prometheus(self):
        port = free_port()
        cfg = os.path.join(self.workdir, "prometheus.yml")
        targets = ", ".join(f'"127.0.0.1:{i.port}"' for i in self.instances)
        with open(cfg, "w") as f:
            f.write(f"""global:
  scrape_interval: 1s
scrape_configs:
  - job_name: http-server
    metrics_path: /-/metrics
    static_configs:
      - targets: [{targets}]
""")
        self.prometheus = subprocess.Popen(
            ["prometheus", f"--config.file={cfg}", f"--storage.tsdb.path={self.workdir}/tsdb",
             f"--web.listen-address=127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.workdir, "prometheus.log"), "w"))
        self.prometheus_port = port
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                if get(port, "/-/ready")[0] == 200:
                    return
            except OSError:
                time.sleep(0.2)
        raise SystemExit("prometheus did not start; see " + os.path.join(self.workdir, "prometheus.log"))

    def query(self, promql):
        url = f"/api/v1/query?query={urllib.parse.quote(promql)}"
        _, body = get(self.prometheus_port, url)
        result = json.loads(body)["data"]["result"]
        return float(result[0]["value"][1]) if result else None

    def stop(self):
        codes = [i.stop() for i in self.instances]
        for proc in (self.haproxy, self.prometheus):
            if proc and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
        return codes

    def kill(self):
        for instance in self.instances:
            instance.kill()
        for proc in (self.haproxy, self.prometheus):
            if proc and proc.poll() is None:
                proc.kill()


class Load:
    """Clients through HAProxy, keep-alive, each request checked; bounded by count and time."""

    def __init__(self, port, clients=4, limit=200_000, seconds=120):
        self.port, self.limit, self.deadline = port, limit, time.time() + seconds
        self.ok = self.failed = self.issued = 0
        self.lock = threading.Lock()
        self.running = True
        self.errors = []
        self.threads = [threading.Thread(target=self._client, daemon=True) for _ in range(clients)]

    def _client(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        while self.running and time.time() < self.deadline:
            with self.lock:
                # Reserve the request before sending it, so the limit is exact.
                if self.issued >= self.limit:
                    return
                self.issued += 1
            try:
                conn.request("GET", "/test.html")
                response = conn.getresponse()
                body = response.read()
                good = response.status == 200 and body == PAGE
                if not good:
                    self.errors.append(f"status {response.status}")
            except (OSError, http.client.HTTPException) as e:
                good = False
                self.errors.append(repr(e))
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            with self.lock:
                if good:
                    self.ok += 1
                else:
                    self.failed += 1

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def stop(self):
        self.running = False
        for t in self.threads:
            t.join()


def run(n):
    workdir = tempfile.mkdtemp(prefix="http-server-cluster-")
    cluster = Cluster(n, workdir)
    try:
        cluster.start()
        print(f"HAProxy:   http://127.0.0.1:{cluster.front}/")
        for i in cluster.instances:
            print(f"{i.name}:        http://127.0.0.1:{i.port}/  (metrics: /-/metrics)")
        print("Ctrl-C stops everything.")
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        cluster.stop()
        cluster.kill()
        shutil.rmtree(workdir, ignore_errors=True)


def check(with_prometheus):
    workdir = tempfile.mkdtemp(prefix="http-server-cluster-check-")
    cluster = Cluster(2, workdir)
    failures = []
    try:
        cluster.start()
        print(f"cluster-check: 2 instances ({', '.join(str(i.port) for i in cluster.instances)}) "
              f"behind HAProxy on {cluster.front}")
        # Phase 1: restart each instance in turn while clients keep requesting.
        load = Load(cluster.front).start()
        time.sleep(2)
        for instance in cluster.instances:
            code = instance.stop()
            if code != 0:
                failures.append(f"{instance.name} exited {code} after SIGTERM")
            instance.start()
            time.sleep(2)  # HAProxy sees it healthy again before the next one goes
        time.sleep(1)
        load.stop()
        print(f"  phase 1, restarts under load: {load.ok} requests completed, {load.failed} failed")
        if load.failed:
            failures.append(f"{load.failed} failed requests during restarts: {load.errors[:5]}")
        completed = load.ok

        # Phase 2: a fixed number of requests, counted by Prometheus when asked.
        if with_prometheus:
            cluster.start_prometheus()
        before = sum(i.scrape("/test.html") for i in cluster.instances)
        fixed = Load(cluster.front, limit=3000).start()
        for t in fixed.threads:
            t.join()
        completed += fixed.ok
        print(f"  phase 2, a fixed load: {fixed.ok} requests completed, {fixed.failed} failed")
        if fixed.failed or fixed.ok != 3000:
            failures.append(f"fixed load: {fixed.ok} ok, {fixed.failed} failed")
        if with_prometheus:
            expected = before + fixed.ok
            seen, deadline = None, time.time() + 20
            while time.time() < deadline:
                seen = cluster.query('sum(http_server_resource_requests_total{path="/test.html"})')
                if seen == expected:
                    break
                time.sleep(0.5)
            print(f"  Prometheus: sum of /test.html across the running processes = {seen} (expected "
                  f"{expected}: {before} they had counted since their restart + {fixed.ok} in phase 2)")
            if seen != expected:
                failures.append(f"Prometheus summed {seen}, expected {expected}")
            _, body = get(cluster.prometheus_port, "/api/v1/query?query=" + urllib.parse.quote(
                "topk(1, sum by (path) (http_server_resource_requests_total))"))
            top = json.loads(body)["data"]["result"]
            print(f"  Prometheus: busiest resource across the cluster: "
                  f"{[(r['metric'].get('path'), r['value'][1]) for r in top]}")

        # Every process's own count, from its shutdown summary.
        codes = [i.stop() for i in cluster.instances]
        if any(codes):
            failures.append(f"instances exited {codes}")
        served = {i.name: i.served("/test.html") for i in cluster.instances}
        print(f"  served per instance (all its processes, from their summaries): {served}, "
              f"{sum(served.values())} in all; the client completed {completed} "
              f"({load.ok} in phase 1 + {fixed.ok} in phase 2)")
        if sum(served.values()) != completed:
            failures.append(f"instances counted {sum(served.values())}, the client completed {completed}")
        if not all(served.values()):
            failures.append(f"an instance served nothing: {served}")
    finally:
        cluster.stop()
        cluster.kill()
        shutil.rmtree(workdir, ignore_errors=True)
    if failures:
        print("cluster-check: FAILED\n  " + "\n  ".join(failures))
        return 1
    print("cluster-check: passed")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run_parser = sub.add_parser("run")
    run_parser.add_argument("n", type=int)
    check_parser = sub.add_parser("check")
    check_parser.add_argument("--prometheus", action="store_true")
    args = parser.parse_args()
    if not os.access(BIN, os.X_OK):
        raise SystemExit(f"{BIN} is missing: run `cargo build --release` first")
    if args.command == "run":
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        run(max(1, args.n))
        return 0
    return check(args.prometheus)


if __name__ == "__main__":
    sys.exit(main())
