"""Limits and attacks, each against the defence it must meet: rapid reset (CVE-2023-44487)
ends in GOAWAY ENHANCE_YOUR_CALM; a header block is bounded like an HTTP/1.1 head
(--max-header-bytes, --max-header-fields), however many CONTINUATION frames carry it
(CVE-2024-27316); an HPACK bomb is refused; PING, SETTINGS and empty-DATA floods from a client
that does not read do not grow the server without bound; SETTINGS_MAX_CONCURRENT_STREAMS is
advertised and enforced with REFUSED_STREAM. With --pid the server's RSS (and CPU time) are
read from /proc around each attack."""

import socket
import ssl

from h2client import (CANCEL, CONTINUATION, DATA, END_HEADERS, END_STREAM, ENHANCE_YOUR_CALM,
                      HEADER_TABLE_SIZE, HEADERS, INITIAL_WINDOW_SIZE, MAX_CONCURRENT_STREAMS,
                      MAX_FRAME_SIZE, PING, PRIORITY, REFUSED_STREAM, RST_STREAM, SETTINGS,
                      WINDOW_UPDATE, error_name, hpack_int, hpack_literal, plain_get_block,
                      raw_frame)
from suite import Fail, case, expect_refused, get_file

MIB = 1 << 20
# A connection that does not read gets a small receive buffer, so the kernel holds few of the
# server's frames and the server's own queue is what a flood fills.
SMALL_BUFFER = 16 * 1024
# How long a write may make no progress before the server counts as having stopped reading.
STALL_SECONDS = 1.5


def flood(c, unit, total):
    """Writes unit (bytes) over and over, total bytes at most, reading nothing. Returns
    (bytes written, "stalled" | "closed" | "done")."""
    chunk = unit * max(1, (256 * 1024) // len(unit))
    total -= total % len(unit)
    sent = pos = 0
    c.sock.settimeout(STALL_SECONDS)
    while sent < total:
        try:
            n = c.sock.send(memoryview(chunk)[pos:min(len(chunk), pos + total - sent)])
        except (socket.timeout, ssl.SSLWantWriteError):
            return sent, "stalled"
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            return sent, "closed"
        sent += n
        pos = (pos + n) % len(chunk)
    return sent, "done"


def kernel_buffers():
    """The most the kernel may hold for one loopback connection: the server's receive buffer
    and its send buffer at their autotuning maximums (tcp_rmem, tcp_wmem)."""
    total = 0
    for name in ("tcp_rmem", "tcp_wmem"):
        try:
            with open(f"/proc/sys/net/ipv4/{name}") as f:
                total += int(f.read().split()[2])
        except (OSError, IndexError, ValueError):
            total += 32 * MIB
    return total


def unread_flood(t, unit, what):
    """The flood-without-reading attack: the server must stop reading or close before
    --flood-mib, or (with --pid) stay within --rss-limit-mib."""
    c = t.connect(rcvbuf=SMALL_BUFFER, sndbuf=64 * 1024)
    before = t.rss_kib()
    sent, outcome = flood(c, unit, t.opts.flood_mib * MIB)
    t.note(f"{outcome} after {sent / MIB:.1f} MiB of {what}")
    t.check_rss(before, what)
    if outcome == "done" and before is None:
        if sent <= kernel_buffers() + 8 * MIB:
            raise Fail(f"inconclusive: the kernel alone may hold {kernel_buffers() / MIB:.0f} "
                       f"MiB; give --pid or a --flood-mib well above that")
        raise Fail(f"the server read {sent / MIB:.0f} MiB of {what} from a client that read "
                   "nothing, without stopping or closing (--pid would measure its memory)")
    c.close()
    t.server_alive()


@case
def a_ping_flood_from_a_client_that_does_not_read_is_bounded(t):
    unread_flood(t, raw_frame(PING, 0, 0, b"floodpng"), "PINGs")


@case
def a_settings_flood_from_a_client_that_does_not_read_is_bounded(t):
    unread_flood(t, raw_frame(SETTINGS, 0, 0), "SETTINGS")


@case
def an_empty_data_flood_is_cut_off(t):
    """Empty DATA frames (CVE-2019-9518) cost the server work and bring it nothing: after
    --flood-mib of them it must have ended the stream or the connection, or stopped reading."""
    # A zero window: the server cannot finish its answer and close the stream itself.
    c = t.connect({INITIAL_WINDOW_SIZE: 0}, rcvbuf=SMALL_BUFFER, sndbuf=64 * 1024)
    sid = c.request(t.opts.path_1k, end_stream=False)
    st = c.stream(sid)
    cpu = t.cpu_seconds()
    sent, outcome = flood(c, raw_frame(DATA, 0, sid), t.opts.flood_mib * MIB)
    t.note(f"{outcome} after {sent // 9} empty DATA frames")
    if outcome == "done":
        # The kernel may hold much of the flood unread: a PING behind it comes back only once
        # the server has read every frame.
        c.auto_window = False
        opaque = b"afterall"
        c.ping(opaque)
        c.wait_for(lambda: c.goaways or st.reset is not None or opaque in c.ping_acks,
                   "GOAWAY, RST_STREAM or the PING ACK behind the flood",
                   max(10.0, t.opts.wait * 5), allow_close=True)
        if cpu is not None:
            t.note(f"{t.cpu_seconds() - cpu:.2f}s of server CPU")
        if c.goaways:
            t.note(str(c.goaways[-1]))
        elif st.reset is not None:
            t.note(f"RST_STREAM {error_name(st.reset)}")
        elif not c.closed:
            raise Fail(f"the server read {sent // 9} empty DATA frames without ending the "
                       "stream or the connection")
    c.close()
    t.server_alive()


def reset_loop(t, path, after):
    """Opens streams in bursts, each request followed by the frame after(sid) that ends it at
    once, until GOAWAY ENHANCE_YOUR_CALM (within --rapid-reset-streams streams)."""
    c = t.connect()
    block = plain_get_block(t.opts, path)
    cpu = t.cpu_seconds()
    sid, batch = 1, 100
    while sid < 2 * t.opts.rapid_reset_streams and not c.goaways and not c.closed:
        burst = bytearray()
        for s in range(sid, sid + 2 * batch, 2):
            burst += raw_frame(HEADERS, END_STREAM | END_HEADERS, s, block) + after(s)
        c.send(bytes(burst))
        sid += 2 * batch
        c.drain(0)
    c.wait_for(lambda: c.goaways, "GOAWAY", allow_close=True)
    opened = sid // 2
    if cpu is not None:
        t.note(f"{t.cpu_seconds() - cpu:.2f}s of server CPU")
    if not c.goaways:
        raise Fail(f"{opened} streams opened and reset, and "
                   f"{'the connection closed without GOAWAY' if c.closed else 'no GOAWAY'}")
    g = c.goaways[-1]
    if g.code != ENHANCE_YOUR_CALM:
        raise Fail(f"GOAWAY {error_name(g.code)} after {opened} streams, expected "
                   "ENHANCE_YOUR_CALM")
    t.note(f"GOAWAY ENHANCE_YOUR_CALM by stream {opened} (last id {g.last_sid})")
    t.server_alive()


@case
def a_rapid_reset_loop_ends_in_goaway_enhance_your_calm(t):
    cancel = CANCEL.to_bytes(4, "big")
    reset_loop(t, t.opts.path_1k, lambda s: raw_frame(RST_STREAM, 0, s, cancel))


@case
def streams_the_server_must_reset_at_once_end_in_goaway_enhance_your_calm(t):
    """CVE-2025-8671 ("MadeYouReset"): each request is followed by a WINDOW_UPDATE that takes
    its window past 2^31-1, so the server resets the stream it has just begun to answer: the
    rapid reset made by the server's own hand must count as one."""
    overflow = (2**31 - 1).to_bytes(4, "big")
    reset_loop(t, t.opts.path_big, lambda s: raw_frame(WINDOW_UPDATE, 0, s, overflow))


def nothing_flood(t, unit, what, setup=None):
    """A flood of frames that cost the server work and bring it nothing (RFC 9113 §10.5): after
    --flood-mib of them it must have sent GOAWAY, closed, or stopped reading."""
    c = t.connect(rcvbuf=SMALL_BUFFER, sndbuf=64 * 1024)
    if setup:
        setup(c)
    cpu = t.cpu_seconds()
    sent, outcome = flood(c, unit, t.opts.flood_mib * MIB)
    t.note(f"{outcome} after {sent // len(unit)} frames of {what}")
    if outcome == "done":
        # The kernel may hold much of the flood unread: a PING behind it comes back only once
        # the server has read every frame.
        opaque = b"afterall"
        c.ping(opaque)
        c.wait_for(lambda: c.goaways or opaque in c.ping_acks, "GOAWAY or the PING ACK behind "
                   "the flood", max(10.0, t.opts.wait * 5), allow_close=True)
        if c.goaways:
            t.note(str(c.goaways[-1]))
        elif not c.closed:
            raise Fail(f"the server read {sent // len(unit)} frames of {what} without ending "
                       "the connection")
    if cpu is not None:
        t.note(f"{t.cpu_seconds() - cpu:.2f}s of server CPU")
    c.close()
    t.server_alive()


@case
def a_priority_flood_is_cut_off(t):
    nothing_flood(t, raw_frame(PRIORITY, 0, 1, b"\0\0\0\0\x0f"), "PRIORITY")


@case
def a_flood_of_frames_of_an_unknown_type_is_cut_off(t):
    nothing_flood(t, raw_frame(0xbb, 0, 0), "an unknown type")


@case
def a_reset_flood_on_a_closed_stream_is_cut_off(t):
    nothing_flood(t, raw_frame(RST_STREAM, 0, 1, CANCEL.to_bytes(4, "big")),
                  "RST_STREAM on a closed stream", setup=lambda c: get_file(c, t.opts.path_1k))


# ---- header blocks ----

def field(i, size):
    """A literal field without indexing of about size bytes (name plus value)."""
    name = b"x-h2check-%04d" % i
    return hpack_literal(name, b"v" * max(1, size - len(name)))


def send_block(c, t, sid, block, frame_size=4096):
    """block as HEADERS plus CONTINUATION frames of frame_size bytes."""
    parts = [block[i:i + frame_size] for i in range(0, len(block), frame_size)] or [b""]
    c.send(raw_frame(HEADERS, END_STREAM | (END_HEADERS if len(parts) == 1 else 0), sid,
                     parts[0]))
    for i, part in enumerate(parts[1:], 1):
        c.send(raw_frame(CONTINUATION, END_HEADERS if i == len(parts) - 1 else 0, sid, part))
    return len(parts) - 1


@case
def a_header_block_within_the_limits_is_served(t):
    c = t.connect()
    n = t.opts.max_header_fields // 2
    size = t.opts.max_header_bytes // 2 // n
    block = plain_get_block(t.opts, t.opts.path_1k) + b"".join(field(i, size) for i in range(n))
    conts = send_block(c, t, 1, block)
    st = c.response(1)
    if st.status != 200:
        raise Fail(f"{n} fields of {size} bytes: {st.describe()}, expected 200")
    return f"{n} fields, {n * size} bytes, {conts} CONTINUATION frames"


@case
def a_header_block_over_the_byte_limit_is_refused(t):
    c = t.connect()
    n = 20
    size = (t.opts.max_header_bytes + 1024) // n + 1
    block = plain_get_block(t.opts, t.opts.path_1k) + b"".join(field(i, size) for i in range(n))
    send_block(c, t, 1, block)
    seen = expect_refused(t, c, 1, f"{n * size} bytes of fields")
    t.server_alive()
    return seen


@case
def a_header_block_over_the_field_limit_is_refused(t):
    c = t.connect()
    n = t.opts.max_header_fields + 1
    block = plain_get_block(t.opts, t.opts.path_1k) + b"".join(field(i, 20) for i in range(n))
    send_block(c, t, 1, block)
    seen = expect_refused(t, c, 1, f"{n} fields")
    t.server_alive()
    return seen


@case
def a_continuation_flood_is_cut_off(t):
    c = t.connect(rcvbuf=SMALL_BUFFER, sndbuf=64 * 1024)
    frame_size = min(c.server_settings.get(MAX_FRAME_SIZE, 16384), 16384)
    fields = b"".join(field(i, 1000) for i in range(frame_size // 1020))
    before = t.rss_kib()
    c.send(raw_frame(HEADERS, END_STREAM, 1, plain_get_block(t.opts, t.opts.path_1k)))
    sent, outcome = flood(c, raw_frame(CONTINUATION, 0, 1, fields), t.opts.flood_mib * MIB)
    t.note(f"{outcome} after {sent / MIB:.1f} MiB of CONTINUATION")
    t.check_rss(before, "a CONTINUATION flood")
    if outcome == "done":
        c.continuation(1, b"", end_headers=True)
        t.note(expect_refused(t, c, 1, "the flooded header block", max(10.0, t.opts.wait * 5)))
    c.close()
    t.server_alive()


@case
def an_hpack_bomb_is_refused(t):
    c = t.connect()
    table = c.server_settings.get(HEADER_TABLE_SIZE, 4096)
    name = b"x-bomb"
    size = min(4000, table - 32 - len(name))
    if size < 100:
        return f"skipped: the server's HPACK table holds {table} bytes, too few for a bomb"
    refs = t.opts.max_header_bytes // 2  # one byte each, each worth size bytes decoded
    block = (plain_get_block(t.opts, t.opts.path_1k) + hpack_literal(name, b"b" * size, True)
             + hpack_int(62, 7, 0x80) * refs)
    before = t.rss_kib()
    send_block(c, t, 1, block, frame_size=16384)
    seen = expect_refused(t, c, 1, f"a {len(block)}-byte block that decodes to "
                                   f"{refs * size / MIB:.0f} MiB")
    t.check_rss(before, "an HPACK bomb")
    t.server_alive()
    return seen


# ---- concurrent streams ----

@case
def the_server_advertises_a_concurrent_stream_limit(t):
    c = t.connect()
    n = c.first_settings.get(MAX_CONCURRENT_STREAMS)
    if n is None:
        raise Fail("no SETTINGS_MAX_CONCURRENT_STREAMS in the server's first SETTINGS "
                   "(unlimited)")
    if not 1 <= n <= t.opts.max_concurrent_streams:
        raise Fail(f"SETTINGS_MAX_CONCURRENT_STREAMS {n}, expected 1 to "
                   f"{t.opts.max_concurrent_streams}")
    return f"SETTINGS_MAX_CONCURRENT_STREAMS {n}"


@case
def a_stream_past_the_concurrent_stream_limit_is_refused(t):
    c = t.connect({INITIAL_WINDOW_SIZE: 0})  # responses cannot finish: every stream stays open
    n = c.server_settings.get(MAX_CONCURRENT_STREAMS)
    if n is None or n > 10000:
        raise Fail(f"SETTINGS_MAX_CONCURRENT_STREAMS {n}: nothing to enforce")
    block = plain_get_block(t.opts, t.opts.path_1k)
    sids = list(range(1, 2 * n, 2))
    c.send(b"".join(raw_frame(HEADERS, END_STREAM | END_HEADERS, s, block) for s in sids))
    c.sync()
    early = [s for s in sids if c.stream(s).reset is not None]
    if early:
        raise Fail(f"streams within the limit of {n} were reset: {early[:5]}")
    extra = sids[-1] + 2
    c.send(raw_frame(HEADERS, END_STREAM | END_HEADERS, extra, block))
    st = c.stream(extra)
    c.wait_for(lambda: st.reset is not None or st.headers is not None or c.goaways,
               f"RST_STREAM on stream {extra}")
    if st.reset != REFUSED_STREAM:
        raise Fail(f"stream {n + 1} of {n}: {st.describe()}, expected RST_STREAM REFUSED_STREAM")
    c.settings({INITIAL_WINDOW_SIZE: 65535})
    for s in sids:
        if c.response(s).status != 200:
            raise Fail(f"stream {s} within the limit: {c.stream(s).describe()}")
    c.next_sid = extra + 2
    get_file(c, t.opts.path_1k)
    return f"limit {n}"
