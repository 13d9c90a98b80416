"""A raw HTTP/2 client for the checks: it writes whatever frames a case asks for, well-formed
(through hyperframe and hpack) or not (raw bytes), and reads the server's frames into events and
per-stream state. It answers the server's SETTINGS and PING and, unless told not to, returns
flow-control credit for the DATA it receives; it never hides what the server sent."""

import os
import socket
import ssl
import struct
import time

import hpack
from h2.errors import ErrorCodes
from h2.settings import SettingCodes
from hyperframe import frame as hf
from hyperframe.exceptions import HyperframeError

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, \
    CONTINUATION = range(10)
END_STREAM = 0x1
ACK = 0x1
END_HEADERS = 0x4
PADDED = 0x8
PRIORITY_FLAG = 0x20

NO_ERROR = ErrorCodes.NO_ERROR
PROTOCOL_ERROR = ErrorCodes.PROTOCOL_ERROR
FLOW_CONTROL_ERROR = ErrorCodes.FLOW_CONTROL_ERROR
STREAM_CLOSED = ErrorCodes.STREAM_CLOSED
FRAME_SIZE_ERROR = ErrorCodes.FRAME_SIZE_ERROR
REFUSED_STREAM = ErrorCodes.REFUSED_STREAM
CANCEL = ErrorCodes.CANCEL
COMPRESSION_ERROR = ErrorCodes.COMPRESSION_ERROR
ENHANCE_YOUR_CALM = ErrorCodes.ENHANCE_YOUR_CALM

HEADER_TABLE_SIZE = SettingCodes.HEADER_TABLE_SIZE
ENABLE_PUSH = SettingCodes.ENABLE_PUSH
MAX_CONCURRENT_STREAMS = SettingCodes.MAX_CONCURRENT_STREAMS
INITIAL_WINDOW_SIZE = SettingCodes.INITIAL_WINDOW_SIZE
MAX_FRAME_SIZE = SettingCodes.MAX_FRAME_SIZE
MAX_HEADER_LIST_SIZE = SettingCodes.MAX_HEADER_LIST_SIZE

MAX_WINDOW = 2**31 - 1
# The largest frame this client accepts: the protocol's default, which it never raises.
CLIENT_MAX_FRAME = 16384

# Fields that RFC 9113 §8.2.2 forbids in HTTP/2 (te is allowed only as "trailers").
CONNECTION_SPECIFIC = (b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding",
                       b"upgrade")


class Fail(Exception):
    """The server did something the case does not allow."""


class Skip(Exception):
    """The case cannot run with these options (say a --pid it needs)."""


def error_name(code):
    try:
        return ErrorCodes(code).name
    except ValueError:
        return f"0x{code:x}"


def raw_frame(ftype, flags, sid, payload=b""):
    """Any frame at all, even one the protocol forbids; sid may carry the reserved bit."""
    assert len(payload) < 1 << 24, "a frame's length has 24 bits"
    return struct.pack(">I", len(payload))[1:] + struct.pack(">BBI", ftype, flags, sid) + payload


def settings_payload(settings):
    return b"".join(struct.pack(">HI", k, v) for k, v in settings.items())


def hpack_int(value, prefix_bits, first_byte_flags=0):
    """An HPACK integer (RFC 7541 §5.1) with the representation's flag bits in its first byte."""
    out = bytearray(hpack.hpack.encode_integer(value, prefix_bits))
    out[0] |= first_byte_flags
    return bytes(out)


def hpack_literal(name, value, indexing=False):
    """A literal field with a literal (not Huffman) name and value: with incremental indexing
    (0x40) or without indexing (0x00). Independent of any encoder state."""
    return (b"\x40" if indexing else b"\x00") + hpack_int(len(name), 7) + name \
        + hpack_int(len(value), 7) + value


def hpack_indexed_name(index, value):
    """A literal without indexing whose name is static-table entry index."""
    return hpack_int(index, 4) + hpack_int(len(value), 7) + value


def plain_get_block(opts, path):
    """GET path as a header block that leaves the dynamic table alone: :method GET (static 2),
    :scheme (6 or 7), :path and :authority as literals without indexing. It can be sent any
    number of times, interleaved with blocks from Conn.encode."""
    return (b"\x82" + (b"\x87" if opts.tls else b"\x86") + hpack_indexed_name(4, path.encode())
            + hpack_indexed_name(1, opts.authority.encode()))


def fixture(offset, length):
    """The fixture files' bytes: byte i of a file is i % 251 (see README.md)."""
    return bytes((offset + i) % 251 for i in range(length))


class Event:
    """One frame from the server, decoded; kind "closed" when the connection ended and
    "garbage" when the bytes were not HTTP/2 frames."""

    def __init__(self, kind, sid=0, flags=(), **fields):
        self.kind = kind
        self.sid = sid
        self.flags = set(flags)
        self.length = 0
        self.headers = None
        self.data = b""
        self.code = None
        self.last_sid = None
        self.debug = b""
        self.increment = None
        self.settings = {}
        self.opaque = b""
        self.__dict__.update(fields)

    def __str__(self):
        s = self.kind.upper()
        if self.sid:
            s += f"[{self.sid}]"
        if self.kind == "headers":
            status = dict(self.headers).get(b":status")
            if status:
                s += " :status " + status.decode("latin-1")
        if self.kind == "data":
            s += f" {len(self.data)} bytes"
        if self.code is not None:
            s += " " + error_name(self.code)
        if self.kind == "goaway":
            s += f" last={self.last_sid}"
            if self.debug:
                s += f" {self.debug[:60]!r}"
        if self.increment is not None:
            s += f" +{self.increment}"
        if self.kind == "settings" and self.settings:
            s += " " + ",".join(f"{_setting_name(k)}={v}" for k, v in self.settings.items())
        if "END_STREAM" in self.flags:
            s += " END_STREAM"
        if self.kind == "garbage":
            s += f" {self.data[:40]!r}"
        return s


def _setting_name(code):
    try:
        return SettingCodes(code).name
    except ValueError:
        return f"0x{code:x}"


class Stream:
    """What the server sent on one stream."""

    def __init__(self, sid):
        self.sid = sid
        self.headers = None  # the final (non-1xx) response head, a list of (bytes, bytes)
        self.informational = []
        self.trailers = None
        self.data = bytearray()
        self.data_frames = []  # the length of each DATA frame's payload
        self.ended = False  # END_STREAM seen
        self.reset = None  # RST_STREAM error code

    @property
    def status(self):
        if self.headers is None:
            return None
        value = dict(self.headers).get(b":status")
        return int(value) if value and value.isdigit() else value

    def header(self, name):
        """The value of a regular response field (bytes), or None."""
        for k, v in self.headers or []:
            if k == name:
                return v
        return None

    @property
    def done(self):
        return self.ended or self.reset is not None

    def describe(self):
        if self.reset is not None:
            before = f" after :status {self.status}" if self.headers else ""
            return f"RST_STREAM {error_name(self.reset)}{before}"
        if self.headers is not None:
            return f":status {self.status}" + (" (ended)" if self.ended else " (open)")
        return "nothing"


class Conn:
    """One connection to the server under test."""

    def __init__(self, opts, connect_timeout=5.0, rcvbuf=None, sndbuf=None):
        self.opts = opts
        self.events = []  # every event, for failure messages
        self.streams = {}
        self.goaways = []
        self.closed = False
        self.server_settings = {}
        self.server_settings_seen = False
        self.settings_acks = 0
        self.ping_acks = []
        self.auto_window = True  # return credit for received DATA
        self.auto_ack = True  # acknowledge SETTINGS, answer PING
        self.next_sid = 1
        self.enc = hpack.Encoder()
        self.dec = hpack.Decoder(max_header_list_size=1 << 30)
        self._buf = bytearray()
        self._block = None  # (HEADERS event, bytearray) while CONTINUATION frames are due
        sock = socket.socket(socket.AF_INET6 if ":" in opts.host else socket.AF_INET)
        if rcvbuf:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if sndbuf:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
        sock.settimeout(connect_timeout)
        sock.connect((opts.host, opts.port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if opts.tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            ctx.set_alpn_protocols(["h2"])
            sock = ctx.wrap_socket(sock, server_hostname=opts.sni or opts.host)
            if sock.selected_alpn_protocol() != "h2":
                sock.close()
                raise Fail(f"TLS: ALPN selected {sock.selected_alpn_protocol()!r}, not 'h2'")
        self.sock = sock

    # ---- sending ----

    def send(self, data):
        """Writes all of data; a connection the server already closed is noted, not raised."""
        try:
            self.sock.settimeout(self.opts.wait * 5)
            self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            # The server may close while a case is still writing (it found the error early);
            # what it sent before that is still read by the case.
            return False

    def send_preface(self, settings=None, preface=PREFACE):
        s = {ENABLE_PUSH: 0}
        s.update(settings or {})
        self.send(preface + raw_frame(SETTINGS, 0, 0, settings_payload(s)))

    def handshake(self, settings=None):
        """Sends the preface and our SETTINGS; waits for the server's SETTINGS and its ACK."""
        self.send_preface(settings)
        self.wait_for(lambda: self.server_settings_seen and self.settings_acks >= 1,
                      "the server's SETTINGS and its ACK of ours")

    def frame(self, ftype, flags, sid, payload=b""):
        return self.send(raw_frame(ftype, flags, sid, payload))

    def settings(self, settings, ack=False):
        return self.frame(SETTINGS, ACK if ack else 0, 0, settings_payload(settings))

    def ping(self, opaque=b"h2check!", ack=False):
        return self.frame(PING, ACK if ack else 0, 0, opaque)

    def window_update(self, sid, increment):
        return self.frame(WINDOW_UPDATE, 0, sid, struct.pack(">I", increment))

    def rst(self, sid, code=CANCEL):
        return self.frame(RST_STREAM, 0, sid, struct.pack(">I", code))

    def priority(self, sid, depends_on=0, weight=15, exclusive=False):
        dep = depends_on | (0x80000000 if exclusive else 0)
        return self.frame(PRIORITY, 0, sid, struct.pack(">IB", dep, weight))

    def goaway(self, last_sid=0, code=NO_ERROR):
        return self.frame(GOAWAY, 0, 0, struct.pack(">II", last_sid, code))

    def data(self, sid, data=b"", end_stream=False, pad=None):
        flags = END_STREAM if end_stream else 0
        if pad is not None:
            flags |= PADDED
            data = bytes([pad]) + data + b"\0" * pad
        return self.frame(DATA, flags, sid, data)

    def encode(self, headers):
        """A header block from this connection's HPACK encoder (names and values as given)."""
        return self.enc.encode([(_b(k), _b(v)) for k, v in headers])

    def headers(self, sid, block, end_stream=True, end_headers=True, pad=None, priority=None):
        """One HEADERS frame carrying block (bytes) or a header list, encoded."""
        if not isinstance(block, (bytes, bytearray)):
            block = self.encode(block)
        flags = (END_STREAM if end_stream else 0) | (END_HEADERS if end_headers else 0)
        payload = bytes(block)
        if priority is not None:
            flags |= PRIORITY_FLAG
            dep, weight = priority
            payload = struct.pack(">IB", dep, weight) + payload
        if pad is not None:
            flags |= PADDED
            payload = bytes([pad]) + payload + b"\0" * pad
        self._note_sid(sid)
        return self.frame(HEADERS, flags, sid, payload)

    def continuation(self, sid, block, end_headers=True):
        return self.frame(CONTINUATION, END_HEADERS if end_headers else 0, sid, bytes(block))

    def request_headers(self, path, method="GET", extra=(), authority=None):
        """The usual request head: the four pseudo-header fields, then extra."""
        return [(":method", method), (":scheme", self.opts.scheme), (":path", path),
                (":authority", authority or self.opts.authority)] + list(extra)

    def request(self, path=None, method="GET", extra=(), end_stream=True, sid=None,
                headers=None):
        """Opens a stream (the next odd id unless sid is given) and returns its id."""
        if sid is None:
            sid = self.next_sid
        if headers is None:
            headers = self.request_headers(path or self.opts.path_1k, method, extra)
        self.headers(sid, headers, end_stream=end_stream)
        return sid

    def _note_sid(self, sid):
        if sid % 2 == 1 and sid >= self.next_sid:
            self.next_sid = sid + 2

    # ---- receiving ----

    def stream(self, sid):
        if sid not in self.streams:
            self.streams[sid] = Stream(sid)
        return self.streams[sid]

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0 and not (isinstance(self.sock, ssl.SSLSocket) and self.sock.pending()):
            return False
        try:
            self.sock.settimeout(max(remaining, 0.001))
            chunk = self.sock.recv(1 << 20)
        except (socket.timeout, ssl.SSLWantReadError):
            return False
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError, OSError):
            chunk = b""
        if not chunk:
            self.closed = True
            return False
        self._buf += chunk
        return True

    def next_event(self, timeout):
        """The next event, or None if nothing arrived in time; "closed" once the server closed
        (then again on every call)."""
        deadline = time.monotonic() + timeout
        while True:
            ev = self._parse_one()
            if ev is not None:
                self.events.append(ev)
                self._dispatch(ev)
                return ev
            if self.closed:
                return Event("closed")
            if not self._fill(deadline):
                if self.closed:
                    continue
                return None

    def _parse_one(self):
        if len(self._buf) < 9:
            return None
        length = int.from_bytes(self._buf[:3], "big")
        if length > CLIENT_MAX_FRAME:
            # Not a frame we allowed: most likely an HTTP/1.1 answer to a broken preface.
            ev = Event("garbage", data=bytes(self._buf[:200]))
            self._buf.clear()
            self.closed = True
            return ev
        if len(self._buf) < 9 + length:
            return None
        head, payload = bytes(self._buf[:9]), bytes(self._buf[9:9 + length])
        del self._buf[:9 + length]
        try:
            frame, _ = hf.Frame.parse_frame_header(memoryview(head))
            frame.parse_body(memoryview(payload))
        except HyperframeError as e:
            raise Fail(f"the server sent an invalid frame ({e}): {head.hex()} {payload[:32].hex()}")
        return self._event(frame, length)

    def _event(self, f, length):
        flags = set(f.flags)
        sid = f.stream_id
        if self._block is not None and not isinstance(f, hf.ContinuationFrame):
            raise Fail(f"the server sent {type(f).__name__} inside a header block")
        if isinstance(f, (hf.HeadersFrame, hf.PushPromiseFrame)):
            ev = Event("headers" if isinstance(f, hf.HeadersFrame) else "push_promise", sid, flags,
                       length=length)
            if "END_HEADERS" in flags:
                ev.headers = self._decode(f.data)
                return ev
            self._block = (ev, bytearray(f.data))
            return self._parse_one()
        if isinstance(f, hf.ContinuationFrame):
            if self._block is None or self._block[0].sid != sid:
                raise Fail("the server sent CONTINUATION without a header block")
            self._block[1].extend(f.data)
            if "END_HEADERS" not in flags:
                return self._parse_one()
            ev, block = self._block
            self._block = None
            ev.headers = self._decode(bytes(block))
            return ev
        if isinstance(f, hf.DataFrame):
            return Event("data", sid, flags, length=length, data=bytes(f.data),
                         flow=f.flow_controlled_length)
        if isinstance(f, hf.RstStreamFrame):
            return Event("rst", sid, flags, code=f.error_code)
        if isinstance(f, hf.GoAwayFrame):
            return Event("goaway", sid, flags, code=f.error_code, last_sid=f.last_stream_id,
                         debug=bytes(f.additional_data))
        if isinstance(f, hf.SettingsFrame):
            return Event("settings_ack" if "ACK" in flags else "settings", sid, flags,
                         settings=dict(f.settings), length=length)
        if isinstance(f, hf.PingFrame):
            return Event("ping_ack" if "ACK" in flags else "ping", sid, flags,
                         opaque=bytes(f.opaque_data))
        if isinstance(f, hf.WindowUpdateFrame):
            return Event("window_update", sid, flags, increment=f.window_increment)
        if isinstance(f, hf.PriorityFrame):
            return Event("priority", sid, flags)
        return Event(f"frame type {f.type}", sid, flags, length=length)

    def _decode(self, block):
        try:
            return self.dec.decode(block, raw=True)
        except hpack.HPACKError as e:
            raise Fail(f"the server's header block does not decode: {e}")

    def _dispatch(self, ev):
        if ev.kind == "headers":
            st = self.stream(ev.sid)
            status = dict(ev.headers).get(b":status", b"")
            if st.headers is None and status.startswith(b"1"):
                st.informational.append(ev.headers)
            elif st.headers is None:
                st.headers = ev.headers
            else:
                st.trailers = ev.headers
            if "END_STREAM" in ev.flags:
                st.ended = True
        elif ev.kind == "data":
            st = self.stream(ev.sid)
            st.data += ev.data
            st.data_frames.append(len(ev.data))
            if "END_STREAM" in ev.flags:
                st.ended = True
            if self.auto_window and ev.flow:
                self.window_update(0, ev.flow)
                if not st.ended:
                    self.window_update(ev.sid, ev.flow)
        elif ev.kind == "rst":
            self.stream(ev.sid).reset = ev.code
        elif ev.kind == "goaway":
            self.goaways.append(ev)
        elif ev.kind == "settings":
            if not self.server_settings_seen:
                self.first_settings = dict(ev.settings)
            self.server_settings_seen = True
            self.server_settings.update(ev.settings)
            if MAX_FRAME_SIZE in ev.settings:
                pass  # the server's limit for what we send; cases read server_settings
            if self.auto_ack:
                self.settings({}, ack=True)
        elif ev.kind == "settings_ack":
            self.settings_acks += 1
        elif ev.kind == "ping":
            if self.auto_ack:
                self.ping(ev.opaque, ack=True)
        elif ev.kind == "ping_ack":
            self.ping_acks.append(ev.opaque)

    def wait_for(self, cond, what, timeout=None, allow_close=False):
        """Reads events until cond() holds; fails on timeout, and on the connection's end
        unless allow_close (then returns False)."""
        timeout = self.opts.wait if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while not cond():
            if self.closed:
                if allow_close:
                    return False
                raise Fail(f"the connection closed while waiting for {what}; {self.recent()}")
            left = deadline - time.monotonic()
            if left <= 0:
                raise Fail(f"no {what} within {timeout:g}s; {self.recent()}")
            self.next_event(left)
        return True

    def drain(self, timeout=0.0):
        """Reads whatever arrives within timeout (0: only what is already here)."""
        deadline = time.monotonic() + timeout
        while not self.closed:
            if self.next_event(max(deadline - time.monotonic(), 0.0001)) is None:
                if time.monotonic() >= deadline:
                    return

    def recent(self, n=8):
        evs = [str(e) for e in self.events[-n:]]
        return "saw: " + (", ".join(evs) if evs else "no frames") + \
            (" (connection closed)" if self.closed else "")

    def response(self, sid, timeout=None):
        """Waits for the stream to end (or be reset); returns its Stream."""
        st = self.stream(sid)
        self.wait_for(lambda: st.done, f"end of stream {sid}", timeout)
        return st

    def sync(self, timeout=None):
        """A PING round trip: every frame we sent before it has been processed when its ACK
        comes back, so a case can tell that the server ignored (or accepted) them."""
        opaque = os.urandom(8)
        self.ping(opaque)
        self.wait_for(lambda: opaque in self.ping_acks, "PING ACK", timeout)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def _b(x):
    return x if isinstance(x, bytes) else x.encode("latin-1")
