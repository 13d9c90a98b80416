"""Timeouts per connection, as for HTTP/1.1: an idle connection is closed after
--idle-timeout, one whose request head is never finished after --header-timeout, and one whose
client holds a zero window after --send-timeout, while other clients are served meanwhile;
PINGs keep neither a request whose body never ends nor a shut window waiting past its timeout.
Each is allowed half its timeout (at least 2 s) of slack."""

import time

from h2client import INITIAL_WINDOW_SIZE, plain_get_block
from suite import Fail, case, get_file, wait_closed


def slack(seconds):
    return seconds + max(2.0, seconds / 2)


@case
def an_idle_connection_is_closed_after_the_idle_timeout(t):
    c = t.connect()
    get_file(c, t.opts.path_1k)
    took, seen = wait_closed(c, slack(t.opts.idle_timeout), "end of the idle connection")
    if not c.closed and not c.goaways:
        raise Fail(f"still open {took:.1f}s after its last response")
    return f"{seen} after {took:.1f}s"


@case
def a_connection_that_sends_nothing_is_closed(t):
    c = t.connect(handshake=False)
    limit = max(t.opts.header_timeout, t.opts.idle_timeout)
    took, seen = wait_closed(c, slack(limit), "end of the silent connection")
    if not c.closed and not c.goaways:
        raise Fail(f"a connection that sent no preface is still open after {took:.1f}s")
    return f"{seen} after {took:.1f}s"


@case
def an_unfinished_header_block_is_closed_after_the_header_timeout(t):
    c = t.connect()
    # A whole GET, but without END_HEADERS: the server waits for a CONTINUATION that never
    # comes.
    c.headers(1, plain_get_block(t.opts, t.opts.path_1k), end_headers=False)
    took, seen = wait_closed(c, slack(t.opts.header_timeout), "end of the connection")
    if not c.closed and not c.goaways:
        raise Fail(f"a header block left unfinished is still open after {took:.1f}s")
    return f"{seen} after {took:.1f}s"


@case
def a_zero_window_held_past_the_send_timeout_is_closed_while_others_are_served(t):
    c = t.connect({INITIAL_WINDOW_SIZE: 0})
    sid = c.request(t.opts.path_big)
    st = c.stream(sid)
    c.sync()  # the request has been read (a server may hold its HEADERS back until DATA fits)
    start = time.monotonic()
    other = t.connect()
    get_file(other, t.opts.path_1k)
    served_in = time.monotonic() - start
    c.wait_for(lambda: st.done or c.goaways, "end of the stalled stream",
               slack(t.opts.send_timeout), allow_close=True)
    took = time.monotonic() - start
    if st.ended:
        raise Fail(f"stream {sid} ended with a zero window: {st.describe()}, "
                   f"{len(st.data)} bytes")
    seen = (st.describe() if st.reset is not None else
            str(c.goaways[-1]) if c.goaways else "closed")
    # Served again, on a new connection: the first may have idled past the idle timeout while
    # this one waited out the send timeout.
    get_file(t.connect(), t.opts.path_1k)
    return f"{seen} after {took:.1f}s; another client was served in {served_in:.2f}s"


def keep_busy(c, st, timeout, what, answered):
    """PINGs four times a timeout until answered(st) holds, the stream is reset or the
    connection ends; the frames must not keep the stream waiting past the timeout. Returns
    what ended it and when."""
    start = time.monotonic()
    opaque = 0
    while time.monotonic() - start < slack(timeout):
        opaque += 1
        c.ping(opaque.to_bytes(8, "big"))
        c.drain(timeout / 4)
        if answered(st) or st.reset is not None or c.goaways or c.closed:
            break
    took = time.monotonic() - start
    if st.reset is not None or c.goaways or c.closed:
        seen = (st.describe() if st.reset is not None else
                str(c.goaways[-1]) if c.goaways else "closed")
        return f"{seen} after {took:.1f}s"
    if answered(st):
        return f":status {st.status} after {took:.1f}s"
    raise Fail(f"{what} still waits {took:.1f}s later, kept busy by PINGs")


@case
def a_request_whose_body_never_ends_is_not_kept_waiting_by_pings(t):
    c = t.connect()
    sid = c.request(t.opts.path_1k, end_stream=False)
    return keep_busy(c, c.stream(sid), t.opts.header_timeout, f"stream {sid}'s request",
                     lambda st: st.headers is not None)


@case
def a_zero_window_is_not_kept_open_by_pings(t):
    c = t.connect({INITIAL_WINDOW_SIZE: 0})
    sid = c.request(t.opts.path_big)
    return keep_busy(c, c.stream(sid), t.opts.send_timeout, f"stream {sid}, its window shut,",
                     lambda st: st.done)
