#!/usr/bin/env python3
"""What a TLS connection costs the server in memory, ours against nginx: idle (handshake done, one
request answered, kept alive) and stalled (a large file requested and never read, so the
response waits in the server's buffers).

    scripts/bench/tls_memory.py BIN [BIN...]      (IDLE=1000 STALLED=100 NGINX=1)

Each server runs with one worker on 127.0.0.1, port 0 (nginx on a free port), with the same
ECDSA P-256 certificate, TLS 1.3, and is started afresh for each kind of connection (memory
freed by one phase would otherwise be reused by the next and hide its cost). After 20
connections that come and go (so that what every connection shares is there), the growth of
the server's RSS (summed over its processes; nginx's master and worker) while IDLE idle
connections, or STALLED stalled ones, are held is divided by their number: KiB per
connection. A stalled client requests a 64 MiB file and reads nothing; the server fills the
socket (the kernel's buffers, not counted in RSS) and then holds what it has read and
encrypted beyond that. Every server is stopped by its PID."""
import os
import re
import resource
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from http1 import read_response  # noqa: E402
from pinned import stop  # noqa: E402

IDLE = int(os.environ.get("IDLE", "1000"))
STALLED = int(os.environ.get("STALLED", "100"))
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def rss_kib(pids):
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as f:
            total += next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return total


def settle(pids):
    """RSS once it has stopped moving (the server finishes what the clients started)."""
    last = rss_kib(pids)
    for _ in range(20):
        time.sleep(0.25)
        now = rss_kib(pids)
        if now == last:
            return now
        last = now
    return last


def connect(port, context):
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    return context.wrap_socket(raw, server_hostname="localhost")


def hold(port, context, stalled):
    """A connection that has been answered and idles, or one whose download stalls."""
    s = connect(port, context)
    if stalled:
        s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:  # the head only, then nothing more is read
            head += s.recv(256)
    else:
        s.sendall(b"GET /1k.html HTTP/1.1\r\nHost: localhost\r\n\r\n")
        head, _ = read_response(s)
    if not head.startswith(b"HTTP/1.1 200"):
        sys.exit(f"tls_memory.py: {head.splitlines()[0]!r}")
    return s


def per_connection(port, pids, context, stalled):
    """KiB of RSS per connection held, idle or stalled."""
    for _ in range(20):
        hold(port, context, False).close()
    base = settle(pids)
    count = STALLED if stalled else IDLE
    held = []
    try:
        for _ in range(count):
            held.append(hold(port, context, stalled))
        # Stalled ones: the server goes on filling the sockets' buffers for a while.
        time.sleep(3 if stalled else 1)
        grown = settle(pids)
    finally:
        for s in held:
            s.close()
    return base, (grown - base) / count


def report(name, start, context):
    """Starts the server twice with `start() -> (port, pids, stop)`, once for each kind."""
    results = []
    for stalled in (False, True):
        port, pids, stop_it = start()
        try:
            results.append(per_connection(port, pids, context, stalled))
        finally:
            stop_it()
    (base, idle), (_, stalled) = results
    print(f"{name:>24} {base / 1024:>9.1f} {idle:>14.1f} {stalled:>17.1f}", flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def children(pid):
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(p) for p in f.read().split()]


def main():
    bins = sys.argv[1:]
    if not bins:
        sys.exit(__doc__)
    with tempfile.TemporaryDirectory(prefix="tls-memory.") as tmp:
        root = os.path.join(tmp, "root")
        os.makedirs(root)
        with open(os.path.join(root, "1k.html"), "wb") as f:
            f.write(b"x" * 1024)
        with open(os.path.join(root, "big.bin"), "wb") as f:
            f.write(os.urandom(64 << 20))
        cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost", "-keyout", key, "-out", cert],
                       check=True, capture_output=True)
        context = ssl.create_default_context(cafile=cert)
        context.minimum_version = ssl.TLSVersion.TLSv1_3
        print(f"{'server':>24} {'base MiB':>9} {'KiB per idle':>14} {'KiB per stalled':>17}"
              f"   ({IDLE} idle, or {STALLED} stalled)")
        for binary in bins:
            def start_ours(binary=binary):
                proc = subprocess.Popen(
                    [binary, "--port", "0", "--threads", "1", "--access-log", "off",
                     "--idle-timeout", "120s", "--send-timeout", "120s", "--tls-cert", cert,
                     "--tls-key", key, root],
                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
                port = int(re.search(r":(\d+)$", proc.stdout.readline().strip()).group(1))
                return port, [proc.pid], lambda: stop(proc)
            report(binary, start_ours, context)
        if os.environ.get("NGINX", "1") != "1":
            return
        def start_nginx():
            port = free_port()
            prefix = os.path.join(tmp, f"nginx-{port}")
            os.makedirs(os.path.join(prefix, "logs"))
            with open(os.path.join(prefix, "nginx.conf"), "w") as f:
                f.write(f"""user root; worker_processes 1; worker_rlimit_nofile 20000;
pid {prefix}/nginx.pid; error_log {prefix}/logs/error.log warn;
events {{ worker_connections 16384; }}
http {{ access_log off; sendfile on; tcp_nopush on; keepalive_requests 100000;
 keepalive_timeout 120s; send_timeout 120s; default_type application/octet-stream;
 client_body_temp_path {prefix}/b; proxy_temp_path {prefix}/p; fastcgi_temp_path {prefix}/f;
 uwsgi_temp_path {prefix}/u; scgi_temp_path {prefix}/s;
 server {{ listen 127.0.0.1:{port} ssl; root {root}; ssl_certificate {cert};
  ssl_certificate_key {key}; ssl_protocols TLSv1.2 TLSv1.3; }} }}
""")
            proc = subprocess.Popen(
                ["nginx", "-p", prefix, "-c", "nginx.conf", "-g", "daemon off;"],
                stderr=subprocess.DEVNULL)
            for _ in range(50):
                try:
                    socket.create_connection(("127.0.0.1", port), 0.2).close()
                    break
                except OSError:
                    time.sleep(0.1)

            def stop_nginx():
                os.kill(proc.pid, signal.SIGTERM)
                proc.wait(10)
            return port, [proc.pid] + children(proc.pid), stop_nginx
        version = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr
        report(version.strip().split()[-1], start_nginx, context)


if __name__ == "__main__":
    main()
