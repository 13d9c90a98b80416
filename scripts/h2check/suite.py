"""What the check files share: the @case registry, the per-case context (options, connections
to clean up, notes, the server's process) and the expectations that several areas use (a
connection error, a stream error, a malformed request, a served file)."""

import os
import time

from h2client import (CONNECTION_SPECIFIC, INITIAL_WINDOW_SIZE, PROTOCOL_ERROR, Conn, Fail,
                      Skip, error_name, fixture)

CASES = []  # (area, function), in definition order


def case(fn=None, *, needs=()):
    """Registers a check: a function of one argument (the Context) named as a sentence. It
    fails by raising Fail, is skipped by raising Skip, and may return a note. needs names
    options without which it is skipped ("pid", "tls")."""

    def register(f):
        f.needs = tuple(needs)
        CASES.append((f.__module__.rsplit(".", 1)[-1], f))
        return f

    return register(fn) if fn else register


class Context:
    def __init__(self, opts):
        self.opts = opts
        self.conns = []
        self.notes = []

    def connect(self, settings=None, handshake=True, **kw):
        c = Conn(self.opts, **kw)
        self.conns.append(c)
        if handshake:
            c.handshake(settings)
        return c

    def note(self, text):
        self.notes.append(text)

    def close(self):
        for c in self.conns:
            c.close()
        self.conns.clear()

    # ---- the server's process (--pid) ----

    def pids(self):
        """The server's process and all its descendants (nginx's workers, say)."""
        todo, seen = [self.opts.pid], []
        while todo:
            pid = todo.pop()
            seen.append(pid)
            try:
                for task in os.listdir(f"/proc/{pid}/task"):
                    with open(f"/proc/{pid}/task/{task}/children") as f:
                        todo.extend(int(p) for p in f.read().split())
            except OSError:
                pass
        return seen

    def rss_kib(self):
        """The resident memory of the server's process tree, in KiB (None without --pid)."""
        if not self.opts.pid:
            return None
        total = 0
        for pid in self.pids():
            try:
                with open(f"/proc/{pid}/status") as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            total += int(line.split()[1])
            except OSError:
                pass
        return total

    def cpu_seconds(self):
        """User plus system CPU time of the server's process tree (None without --pid)."""
        if not self.opts.pid:
            return None
        tick = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in self.pids():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
            except (OSError, IndexError, ValueError):
                pass
        return total / tick

    def peak_rss_kib(self, settle=5.0):
        """The server's largest RSS until its CPU time stops growing (it has worked through
        what the kernel still held for it), settle seconds at most."""
        peak, cpu = self.rss_kib(), self.cpu_seconds()
        deadline = time.monotonic() + settle
        while time.monotonic() < deadline:
            time.sleep(0.2)
            peak = max(peak, self.rss_kib())
            now = self.cpu_seconds()
            if now == cpu:
                break
            cpu = now
        return peak

    def check_rss(self, before_kib, what):
        """Fails if the server grew by more than --rss-limit-mib since before_kib."""
        if before_kib is None:
            return
        grown = (self.peak_rss_kib() - before_kib) / 1024
        self.note(f"RSS {grown:+.1f} MiB")
        if grown > self.opts.rss_limit_mib:
            raise Fail(f"{what}: the server's RSS grew by {grown:.1f} MiB "
                       f"(limit --rss-limit-mib {self.opts.rss_limit_mib})")

    def server_alive(self):
        """A fresh connection is served: the server survived whatever the case did."""
        c = self.connect()
        get_file(c, self.opts.path_1k, 1024)


# ---- expectations ----

def expect_connection_error(c, codes, what="a connection error", timeout=None):
    """GOAWAY with one of codes, or the connection closed (RFC 9113 §5.4.1 says SHOULD send
    GOAWAY first). Returns what was seen."""
    codes = tuple(codes)
    c.wait_for(lambda: c.goaways, f"GOAWAY ({what})", timeout, allow_close=True)
    if c.goaways:
        g = c.goaways[-1]
        if g.code not in codes:
            raise Fail(f"GOAWAY {error_name(g.code)}, expected "
                       f"{' or '.join(error_name(x) for x in codes)}; {c.recent()}")
        return f"GOAWAY {error_name(g.code)}"
    return "closed without GOAWAY"


def expect_stream_error(c, sid, codes, what="a stream error", timeout=None,
                        connection_ok=True):
    """RST_STREAM on sid with one of codes; also a connection error with one of them (an
    endpoint may treat a stream error as a connection error, §5.4.1) unless not
    connection_ok."""
    codes = tuple(codes)
    st = c.stream(sid)
    c.wait_for(lambda: st.reset is not None or c.goaways, f"RST_STREAM ({what})", timeout,
               allow_close=True)
    names = " or ".join(error_name(x) for x in codes)
    if st.reset is not None:
        if st.reset not in codes:
            raise Fail(f"RST_STREAM {error_name(st.reset)}, expected {names}")
        return f"RST_STREAM {error_name(st.reset)}"
    if not connection_ok:
        raise Fail(f"the connection was ended (a stream error was due); {c.recent()}")
    if c.goaways:
        g = c.goaways[-1]
        if g.code not in codes:
            raise Fail(f"GOAWAY {error_name(g.code)}, expected {names}; {c.recent()}")
        return f"connection error GOAWAY {error_name(g.code)} (a stream error was enough)"
    return "connection closed (a stream error was enough)"


def expect_malformed(ctx, c, sid):
    """RFC 9113 §8.1.1: a malformed request is a stream error of type PROTOCOL_ERROR, and the
    server may first answer it (400). The connection must stay up: a second request on it is
    served. Returns what was seen."""
    st = c.stream(sid)
    c.wait_for(lambda: st.done or c.goaways, f"400 or RST_STREAM on stream {sid}")
    if c.goaways:
        raise Fail(f"the connection was ended: {c.goaways[-1]} (a malformed request is a "
                   "stream error)")
    if st.reset is None and st.status != 400:
        # A response that went out before the flaw showed (a body that does not match
        # content-length) still needs the RST_STREAM that follows it.
        c.wait_for(lambda: st.reset is not None or c.goaways, "RST_STREAM after the response",
                   allow_close=True)
    if st.status == 400:
        seen = "400" + (f" then RST_STREAM {error_name(st.reset)}" if st.reset is not None
                        else "")
    elif st.reset == PROTOCOL_ERROR:
        seen = "RST_STREAM PROTOCOL_ERROR"
    else:
        raise Fail(f"stream {sid}: {st.describe()}, expected 400 or RST_STREAM PROTOCOL_ERROR")
    # Some cases hold the window at 0 while the flaw arrives; open it for the second request.
    c.settings({INITIAL_WINDOW_SIZE: 65535})
    try:
        get_file(c, ctx.opts.path_1k, 1024)
    except Fail as e:
        raise Fail(f"{seen}, but then the connection did not serve a second request: {e}")
    return seen


def expect_refused(ctx, c, sid, what, timeout=None):
    """A request over a limit: any refusal (a 4xx such as 431, RST_STREAM, GOAWAY or a closed
    connection), never a 2xx. Returns what was seen."""
    st = c.stream(sid)
    c.wait_for(lambda: st.done or st.headers is not None or c.goaways,
               f"refusal of {what}", timeout, allow_close=True)
    if st.headers is not None and 200 <= (st.status or 0) < 300:
        raise Fail(f"{what} was served: {st.describe()}")
    if st.headers is not None:
        return f":status {st.status}"
    if st.reset is not None:
        return f"RST_STREAM {error_name(st.reset)}"
    if c.goaways:
        return f"GOAWAY {error_name(c.goaways[-1].code)}"
    return "connection closed"


def check_response_head(st):
    """RFC 9113 §8.2 and §8.3.2 for a response head: lowercase names, exactly one :status
    first, no other pseudo-header, no connection-specific field."""
    names = [k for k, _ in st.headers]
    if not names or names[0] != b":status" or names.count(b":status") != 1:
        raise Fail(f"stream {st.sid}: response head must start with one :status: {names}")
    for k, v in st.headers:
        if k.startswith(b":") and k != b":status":
            raise Fail(f"stream {st.sid}: response pseudo-header {k!r}")
        if k != k.lower():
            raise Fail(f"stream {st.sid}: uppercase field name {k!r}")
        if k in CONNECTION_SPECIFIC or (k == b"te" and v != b"trailers"):
            raise Fail(f"stream {st.sid}: connection-specific field {k.decode()}: {v!r}")


def get_file(c, path, size=None, extra=(), method="GET", timeout=None):
    """Requests path and checks a 200 whose content-length and body agree with the fixture
    (byte i is i % 251); size, if given, is the file's expected size. Returns the Stream."""
    sid = c.request(path, method=method, extra=extra)
    st = c.response(sid, timeout)
    if st.reset is not None or st.status != 200:
        raise Fail(f"{method} {path}: {st.describe()}, expected 200")
    check_response_head(st)
    length = st.header(b"content-length")
    if length is None or not length.isdigit():
        raise Fail(f"{method} {path}: content-length {length!r}")
    length = int(length)
    if size is not None and length != size:
        raise Fail(f"{method} {path}: content-length {length}, the fixture has {size} bytes")
    want = 0 if method == "HEAD" else length
    if len(st.data) != want:
        raise Fail(f"{method} {path}: {len(st.data)} body bytes, content-length {length}")
    if method != "HEAD" and bytes(st.data) != fixture(0, length):
        first = next(i for i, (a, b) in enumerate(zip(st.data, fixture(0, length))) if a != b)
        raise Fail(f"{method} {path}: body differs from the fixture at byte {first}")
    return st


def wait_closed(c, timeout, what):
    """Waits until the server closes the connection (or sends GOAWAY); returns the elapsed
    seconds and what was seen."""
    start = time.monotonic()
    c.wait_for(lambda: c.goaways, what, timeout, allow_close=True)
    seen = f"GOAWAY {error_name(c.goaways[-1].code)}" if c.goaways else "closed"
    return time.monotonic() - start, seen


__all__ = ["CASES", "Context", "Fail", "Skip", "case", "check_response_head",
           "expect_connection_error", "expect_malformed", "expect_refused",
           "expect_stream_error", "get_file", "wait_closed"]
