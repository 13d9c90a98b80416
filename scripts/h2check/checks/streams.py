"""Stream states and identifiers (RFC 9113 §5.1, §5.1.1): even and lower ids, reuse, frames
on idle, half-closed and closed streams, RST_STREAM from the client, and many streams at once."""

import time

from h2client import CANCEL, INITIAL_WINDOW_SIZE, PROTOCOL_ERROR, STREAM_CLOSED, fixture
from suite import (Fail, case, expect_connection_error, expect_stream_error, get_file)


def stalled_download(c, t):
    """A GET of the big file on a connection that returns no flow-control credit: the server
    fills the first 65,535-byte window and the stream stays half-closed (remote)."""
    c.auto_window = False
    sid = c.request(t.opts.path_big)
    st = c.stream(sid)
    c.wait_for(lambda: st.data or st.done, f"DATA on stream {sid}")
    if st.done:
        raise Fail(f"stream {sid} ended ({st.describe()}); is --path-big at least 1 MiB?")
    return sid


@case
def an_even_stream_id_is_a_protocol_error(t):
    c = t.connect()
    c.request(t.opts.path_1k, sid=2)
    return expect_connection_error(c, [PROTOCOL_ERROR])


@case
def a_stream_id_lower_than_one_already_opened_is_a_protocol_error(t):
    c = t.connect()
    get_file(c, t.opts.path_1k)  # stream 1
    c.request(t.opts.path_1k, sid=5)
    c.response(5)
    c.request(t.opts.path_1k, sid=3)
    return expect_connection_error(c, [PROTOCOL_ERROR])


@case
def reusing_a_closed_stream_id_is_a_connection_error(t):
    c = t.connect()
    get_file(c, t.opts.path_1k)
    c.request(t.opts.path_1k, sid=1)
    # §5.1.1 (an id not above the last one: PROTOCOL_ERROR) or §5.1 (a frame after
    # END_STREAM: STREAM_CLOSED) both apply.
    return expect_connection_error(c, [PROTOCOL_ERROR, STREAM_CLOSED])


@case
def data_on_an_idle_stream_is_a_protocol_error(t):
    c = t.connect()
    c.data(1, b"idle", end_stream=True)
    return expect_connection_error(c, [PROTOCOL_ERROR])


@case
def a_window_update_on_an_idle_stream_is_a_protocol_error(t):
    c = t.connect()
    c.window_update(1, 100)
    return expect_connection_error(c, [PROTOCOL_ERROR])


@case
def an_rst_stream_on_an_idle_stream_is_a_protocol_error(t):
    c = t.connect()
    c.rst(1, CANCEL)
    return expect_connection_error(c, [PROTOCOL_ERROR])


@case
def data_after_end_stream_is_a_stream_closed_error(t):
    c = t.connect()
    sid = stalled_download(c, t)
    c.data(sid, b"late", end_stream=True)
    return expect_stream_error(c, sid, [STREAM_CLOSED])


@case
def headers_after_end_stream_are_a_stream_closed_error(t):
    c = t.connect()
    sid = stalled_download(c, t)
    c.headers(sid, [("x-trailer", "late")])
    return expect_stream_error(c, sid, [STREAM_CLOSED])


@case
def data_after_our_rst_stream_is_a_stream_closed_error(t):
    c = t.connect({INITIAL_WINDOW_SIZE: 0})  # the server cannot end the stream first
    sid = c.request(t.opts.path_1k, end_stream=False)
    c.rst(sid, CANCEL)
    c.data(sid, b"late", end_stream=True)
    return expect_stream_error(c, sid, [STREAM_CLOSED])


@case
def headers_after_our_rst_stream_are_a_stream_closed_error(t):
    c = t.connect({INITIAL_WINDOW_SIZE: 0})  # the server cannot end the stream first
    sid = c.request(t.opts.path_1k, end_stream=False)
    c.rst(sid, CANCEL)
    c.headers(sid, [("x-trailer", "late")])
    return expect_stream_error(c, sid, [STREAM_CLOSED])


@case
def an_rst_stream_with_an_unknown_error_code_is_accepted(t):
    c = t.connect()
    sid = c.request(t.opts.path_1k, end_stream=False)
    c.rst(sid, 0xBABA)
    c.sync()
    if c.goaways:
        raise Fail(str(c.goaways[-1]))
    get_file(c, t.opts.path_1k)


@case
def a_priority_frame_on_a_closed_stream_is_accepted(t):
    c = t.connect()
    get_file(c, t.opts.path_1k)
    c.priority(1, 0, 50)
    c.sync()
    get_file(c, t.opts.path_1k)


@case
def a_window_update_right_after_a_response_ended_is_ignored(t):
    c = t.connect()
    get_file(c, t.opts.path_1k)
    c.window_update(1, 1000)
    c.sync()
    get_file(c, t.opts.path_1k)


@case
def an_rst_stream_from_the_client_stops_the_response(t):
    # The stream window is large, so only the connection window holds the server back, and
    # opening that after the RST_STREAM would let a server that ignored it send more.
    c = t.connect({INITIAL_WINDOW_SIZE: 1 << 20})
    sid = stalled_download(c, t)
    c.rst(sid, CANCEL)
    c.window_update(0, 10 << 20)
    c.sync()
    before = len(c.stream(sid).data)
    c.drain(0.5)
    got = len(c.stream(sid).data) - before
    if got:
        raise Fail(f"{got} bytes of DATA on stream {sid} after our RST_STREAM was processed")
    get_file(c, t.opts.path_1k)


@case
def twenty_concurrent_streams_are_all_served(t):
    c = t.connect()
    sids = [c.request(t.opts.path_1k) for _ in range(20)]
    deadline = time.monotonic() + t.opts.wait * 2
    for sid in sids:
        st = c.response(sid, max(deadline - time.monotonic(), 0.1))
        if st.status != 200 or bytes(st.data) != fixture(0, 1024):
            raise Fail(f"stream {sid}: {st.describe()}, {len(st.data)} bytes")
