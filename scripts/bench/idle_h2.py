#!/usr/bin/env python3
"""Memory an idle HTTP/2 connection costs a server: N connections, each having made one request
and left open, and the growth of the server's memory over what it held before them.

    idle_h2.py PORT N h2c|tls PID [PID...]
      ->  RESULT <held> <rss KiB per connection> <pss KiB per connection> <rss MiB> <pss MiB>

Each connection sends the preface, an empty SETTINGS, a SETTINGS acknowledgement once the
server's SETTINGS arrive, and `GET /1k.html` on stream 1, and reads until that response has
ended (a status other than 200 is a failure). `tls` negotiates `h2` by ALPN (the certificate is
not checked: every server gets the same one). Memory is summed over the PIDs (a master and its
workers): RSS, and PSS (from smaps_rollup), which splits the pages processes share. It is read
once after one warm-up request, once with the N connections held; the difference over N is what
one idle connection costs (kernel socket buffers are not in it, and are the same for every
server). At the end every held connection makes a second request, which must succeed: a server
that closed idle connections is not measured as holding them. The client is hand-written (a
few frames, HPACK by static-table indices and literals) so that it needs nothing but Python."""
import resource
import socket
import ssl
import struct
import sys
import time

from procmem import memory_kib

DATA, HEADERS, SETTINGS, GOAWAY, RST_STREAM = 0x0, 0x1, 0x4, 0x7, 0x3
END_STREAM, ACK = 0x1, 0x1
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def literal(index, value):
    """A literal field without indexing whose name is static-table entry `index` (RFC 7541
    §6.2.2); `index` < 15 fits the four-bit prefix."""
    return bytes([index, len(value)]) + value


def request(stream, scheme):
    # :method GET (2), :scheme http (6) or https (7), :path, :authority (RFC 7541 Appendix A).
    block = bytes([0x82, 0x86 if scheme == "h2c" else 0x87])
    block += literal(4, b"/1k.html") + literal(1, b"bench")
    return frame(HEADERS, END_STREAM | 0x4, stream, block)


def first_field(block):
    """The first octet of a header block's first field, past any table size updates (RFC 7541
    §6.3); 0x88 is `:status: 200` by its static index, as every server measured here sends it."""
    at = 0
    while at < len(block) and block[at] & 0xE0 == 0x20:
        at += 1
        if block[at - 1] & 0x1F == 0x1F:  # the integer goes on while the high bit is set
            while at < len(block) and block[at] & 0x80:
                at += 1
            at += 1
    return block[at] if at < len(block) else None


def recv_exact(sock, n, buf):
    while len(buf) < n:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return buf


def read_response(sock, stream, buf=b""):
    """Reads frames until `stream` ends; acknowledges the server's SETTINGS. Returns what was
    read past that."""
    status = None
    while True:
        buf = recv_exact(sock, 9, buf)
        length = int.from_bytes(buf[:3], "big")
        kind, flags = buf[3], buf[4]
        sid = int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF
        buf = recv_exact(sock, 9 + length, buf)
        payload, buf = buf[9:9 + length], buf[9 + length:]
        if kind == SETTINGS and not flags & ACK:
            sock.sendall(frame(SETTINGS, ACK, 0))
        elif kind in (GOAWAY, RST_STREAM) and sid in (0, stream):
            raise ConnectionError(f"{'GOAWAY' if kind == GOAWAY else 'RST_STREAM'} {payload.hex()}")
        elif kind == HEADERS and sid == stream and status is None:
            status = first_field(payload)
            if status != 0x88:
                raise ConnectionError(f"a response other than 200 (first field octet {status})")
        if sid == stream and kind in (DATA, HEADERS) and flags & END_STREAM:
            return buf


def connect(port, scheme, context):
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    if scheme == "tls":
        sock = context.wrap_socket(sock, server_hostname="localhost")
        if sock.selected_alpn_protocol() != "h2":
            raise ConnectionError(f"ALPN chose {sock.selected_alpn_protocol()!r}, not h2")
    sock.sendall(PREFACE + frame(SETTINGS, 0, 0) + request(1, scheme))
    read_response(sock, 1)
    return sock


def main():
    port, n, scheme, pids = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4:]
    if scheme not in ("h2c", "tls") or not pids:
        sys.exit(__doc__)
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["h2"])

    connect(port, scheme, context).close()
    time.sleep(0.5)
    before = memory_kib(pids, "VmRSS", "status"), memory_kib(pids, "Pss", "smaps_rollup")
    held = []
    try:
        for _ in range(n):
            held.append(connect(port, scheme, context))
    except OSError as e:
        sys.exit(f"idle_h2.py: connection {len(held) + 1} of {n} failed: {e!r}")
    time.sleep(0.5)
    after = memory_kib(pids, "VmRSS", "status"), memory_kib(pids, "Pss", "smaps_rollup")
    alive = 0
    for sock in held:
        try:
            sock.sendall(request(3, scheme))
            read_response(sock, 3)
            alive += 1
        except OSError:
            pass
    for sock in held:
        sock.close()
    rss, pss = ((a - b) / n for a, b in zip(after, before))
    print(f"RESULT {alive} {rss:.2f} {pss:.2f} {after[0] / 1024:.1f} {after[1] / 1024:.1f}")


if __name__ == "__main__":
    main()
