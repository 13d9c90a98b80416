#!/usr/bin/env python3
"""How long a file edited through a shared mapping is served with its old bytes (issue 27, 1).

    mmap_stale.py BINARY

Only the first write to a page mapped with MAP_SHARED updates the file's times; later writes to
the same dirty page change no metadata and raise no inotify event. For a 200 KiB script (too
large for the small-file cache) and a 16 KiB one (small enough for it), this writes once through
a mapping, waits until the server has made the gzip copy, writes again through the mapping
(same size, new bytes) and then polls identity and gzip every 50 ms for up to TIMEOUT_SECONDS
(default 20). Prints, per file and coding, the seconds until every response showed the new
bytes, and one line `RESULT file coding seconds` each (`never` past the timeout). Everything is
127.0.0.1; the server is stopped by its PID.
"""

import mmap
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import zlib

TIMEOUT_SECONDS = float(os.environ.get("TIMEOUT_SECONDS", "20"))


def get(port, path, coding):
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: s\r\nAccept-Encoding: {coding}\r\n"
        "Connection: close\r\n\r\n".encode()
    )
    data = b""
    while chunk := sock.recv(1 << 20):
        data += chunk
    sock.close()
    head, body = data.split(b"\r\n\r\n", 1)
    encoded = b"content-encoding: gzip" in head.lower()
    if encoded:
        body = zlib.decompress(body, 16 + zlib.MAX_WBITS)
    return encoded, body


def script(size, mark):
    line = b"export function f(a, b) { return a + b; } // " + mark + b"\n"
    return (line * (size // len(line) + 1))[:size]


def trial(port, root, name, size):
    path = os.path.join(root, name)
    with open(path, "wb") as f:
        f.write(script(size, b"v0"))
    with open(path, "r+b") as f:
        mapped = mmap.mmap(f.fileno(), 0, mmap.MAP_SHARED)
        first = script(size, b"v1")
        # The first write through the mapping dirties the pages and updates the times.
        mapped[:] = first
        time.sleep(1.3)
        end = time.monotonic() + 15
        while not get(port, "/" + name, "gzip")[0]:
            assert time.monotonic() < end, "no gzip copy within 15 s"
            time.sleep(0.05)
        assert get(port, "/" + name, "identity")[1] == first
        # The same pages again: no time changes, no event.
        second = script(size, b"v2")
        mapped[:] = second
        changed = time.monotonic()
        late = {}
        while len(late) < 2 and time.monotonic() - changed < TIMEOUT_SECONDS:
            for coding in ("identity", "gzip"):
                if coding in late:
                    continue
                if get(port, "/" + name, coding)[1] == second:
                    late[coding] = time.monotonic() - changed
            time.sleep(0.05)
        mapped.close()
    for coding in ("identity", "gzip"):
        seconds = f"{late[coding]:.2f}" if coding in late else "never"
        print(f"RESULT {name} {coding} {seconds}", flush=True)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    root = tempfile.mkdtemp(prefix="mmap-stale-")
    server = subprocess.Popen(
        [os.path.abspath(sys.argv[1]), "--port", "0", "--root", root, "--threads", "1",
         "--access-log", "off"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        port = int(server.stdout.readline().rsplit(":", 1)[1])
        trial(port, root, "big.js", 200 * 1024)
        trial(port, root, "small.js", 16 * 1024)
    finally:
        server.kill()
        server.wait()
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
