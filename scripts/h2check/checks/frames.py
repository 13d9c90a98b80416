"""Frame rules: unknown types and flags, the reserved bit, frame size, padding, the fields of
PRIORITY, RST_STREAM and WINDOW_UPDATE, and header blocks split over CONTINUATION
(RFC 9113 §4, §5.5, §6)."""

import struct

from h2client import (CONTINUATION, DATA, END_HEADERS, END_STREAM, FRAME_SIZE_ERROR, HEADERS,
                      INITIAL_WINDOW_SIZE, MAX_FRAME_SIZE, NO_ERROR, PADDED, PING, PRIORITY,
                      PROTOCOL_ERROR,
                      PUSH_PROMISE, RST_STREAM, WINDOW_UPDATE, hpack_literal, raw_frame)
from suite import (Fail, Skip, case, expect_connection_error, expect_stream_error,
                   get_file)


def open_stream(t):
    """A connection and a GET whose HEADERS do not end the stream, on a zero window: the
    server cannot finish its response (and reset the stream with NO_ERROR, as §8.1 lets it
    when the response is complete), so the stream stays open for our frames."""
    c = t.connect({INITIAL_WINDOW_SIZE: 0})
    return c, c.request(t.opts.path_1k, end_stream=False)


def no_larger_frame(size):
    if size >= (1 << 24) - 1:
        raise Skip(f"the server takes frames of {size} bytes, the most a frame can hold")


@case
def a_frame_of_unknown_type_is_ignored(t):
    c = t.connect()
    c.frame(0xBB, 0xFF, 0, b"unknown on stream 0")
    c.frame(0xBB, 0, 1, b"unknown on an idle stream")
    c.sync()
    get_file(c, t.opts.path_1k, 1024)


@case
def undefined_flags_are_ignored(t):
    c = t.connect()
    c.frame(PING, 0xFE, 0, b"flags!!!")
    c.wait_for(lambda: b"flags!!!" in c.ping_acks, "PING ACK")


@case
def the_reserved_bit_of_a_stream_id_is_ignored(t):
    c = t.connect()
    c.frame(PING, 0, 0x80000000, b"reserve!")
    c.wait_for(lambda: b"reserve!" in c.ping_acks, "PING ACK")


@case
def a_data_frame_over_the_max_frame_size_is_a_frame_size_error(t):
    c, sid = open_stream(t)
    size = c.server_settings.get(MAX_FRAME_SIZE, 16384)
    no_larger_frame(size)
    c.frame(DATA, END_STREAM, sid, b"x" * (size + 1))
    return expect_stream_error(c, sid, [FRAME_SIZE_ERROR])


@case
def a_headers_frame_over_the_max_frame_size_is_a_connection_error(t):
    c = t.connect()
    size = c.server_settings.get(MAX_FRAME_SIZE, 16384)
    no_larger_frame(size)
    block = c.encode(c.request_headers(t.opts.path_1k)) + hpack_literal(b"x-big", b"a" * size)
    c.frame(HEADERS, END_STREAM | END_HEADERS, 1, block)
    return expect_connection_error(c, [FRAME_SIZE_ERROR])


@case
def a_data_frame_whose_padding_is_its_whole_length_is_a_protocol_error(t):
    c, sid = open_stream(t)
    c.frame(DATA, END_STREAM | PADDED, sid, bytes([6]) + b"\0" * 5)
    return expect_connection_error(c, [PROTOCOL_ERROR])


@case
def a_headers_frame_whose_padding_is_its_whole_length_is_a_protocol_error(t):
    c = t.connect()
    block = c.encode(c.request_headers(t.opts.path_1k))
    c.frame(HEADERS, END_STREAM | END_HEADERS | PADDED, 1,
            bytes([len(block) + 1]) + block)
    return expect_connection_error(c, [PROTOCOL_ERROR])


@case
def a_data_frame_of_exactly_16384_bytes_is_accepted(t):
    c, sid = open_stream(t)
    c.frame(DATA, END_STREAM, sid, b"x" * 16384)
    c.sync()
    st = c.stream(sid)
    if c.goaways or (st.reset is not None and st.reset != NO_ERROR):
        raise Fail(f"{c.recent(3)}")


@case
def a_padded_headers_frame_is_served(t):
    c = t.connect()
    c.headers(1, c.request_headers(t.opts.path_1k), pad=20)
    c.response(1)
    if c.stream(1).status != 200:
        raise Fail(f"stream 1: {c.stream(1).describe()}")


@case
def a_padded_data_frame_is_accepted(t):
    c, sid = open_stream(t)
    c.data(sid, b"", end_stream=True, pad=10)
    c.sync()
    c.settings({INITIAL_WINDOW_SIZE: 65535})
    st = c.response(sid)
    if st.reset is not None or st.status is None:
        raise Fail(f"stream {sid}: {st.describe()}")
    return f":status {st.status}"


@case
def a_headers_frame_with_the_priority_flag_is_served(t):
    c = t.connect()
    c.headers(1, c.request_headers(t.opts.path_1k), priority=(0, 200))
    if c.response(1).status != 200:
        raise Fail(f"stream 1: {c.stream(1).describe()}")


@case
def a_priority_frame_on_an_idle_stream_is_accepted(t):
    c = t.connect()
    c.priority(3, 0, 100)
    c.sync()
    c.request(t.opts.path_1k, sid=3)
    if c.response(3).status != 200:
        raise Fail(f"stream 3: {c.stream(3).describe()}")


@case
def a_priority_frame_of_4_bytes_is_a_frame_size_error(t):
    c, sid = open_stream(t)
    c.frame(PRIORITY, 0, sid, b"\0\0\0\0")
    return expect_stream_error(c, sid, [FRAME_SIZE_ERROR])


@case
def a_priority_frame_on_stream_0_is_a_protocol_error(t):
    c = t.connect()
    c.frame(PRIORITY, 0, 0, struct.pack(">IB", 1, 15))
    return expect_connection_error(c, [PROTOCOL_ERROR])


@case
def an_rst_stream_on_stream_0_is_a_protocol_error(t):
    c = t.connect()
    c.frame(RST_STREAM, 0, 0, struct.pack(">I", 8))
    return expect_connection_error(c, [PROTOCOL_ERROR])


@case
def an_rst_stream_of_3_bytes_is_a_frame_size_error(t):
    c, sid = open_stream(t)
    c.frame(RST_STREAM, 0, sid, b"\0\0\x08")
    return expect_connection_error(c, [FRAME_SIZE_ERROR])


@case
def a_window_update_of_3_bytes_is_a_frame_size_error(t):
    c = t.connect()
    c.frame(WINDOW_UPDATE, 0, 0, b"\0\0\x01")
    return expect_connection_error(c, [FRAME_SIZE_ERROR])


@case
def data_on_stream_0_is_a_protocol_error(t):
    c = t.connect()
    c.frame(DATA, 0, 0, b"stream 0")
    return expect_connection_error(c, [PROTOCOL_ERROR])


@case
def headers_on_stream_0_is_a_protocol_error(t):
    c = t.connect()
    c.headers(0, c.request_headers(t.opts.path_1k))
    return expect_connection_error(c, [PROTOCOL_ERROR])


@case
def a_push_promise_from_the_client_is_a_protocol_error(t):
    c, sid = open_stream(t)
    block = c.encode(c.request_headers(t.opts.path_1k))
    c.frame(PUSH_PROMISE, END_HEADERS, sid, struct.pack(">I", 2) + block)
    return expect_connection_error(c, [PROTOCOL_ERROR])


@case
def a_header_block_split_over_continuation_frames_is_served(t):
    c = t.connect()
    block = c.encode(c.request_headers(t.opts.path_1k, extra=[("x-h2check", "v" * 300)]))
    parts = [block[i:i + 100] for i in range(0, len(block), 100)]
    c.headers(1, parts[0], end_headers=False)
    for i, part in enumerate(parts[1:], 1):
        c.continuation(1, part, end_headers=i == len(parts) - 1)
    if c.response(1).status != 200:
        raise Fail(f"stream 1: {c.stream(1).describe()}")
    return f"{len(parts) - 1} CONTINUATION frames"


@case
def a_continuation_without_headers_is_a_protocol_error(t):
    c = t.connect()
    c.continuation(1, c.encode(c.request_headers(t.opts.path_1k)))
    return expect_connection_error(c, [PROTOCOL_ERROR])


@case
def a_continuation_after_end_headers_is_a_protocol_error(t):
    c = t.connect()
    block = c.encode(c.request_headers(t.opts.path_1k))
    c.headers(1, block, end_stream=False)
    c.continuation(1, c.encode([("x-late", "1")]))
    return expect_connection_error(c, [PROTOCOL_ERROR])


@case
def a_continuation_on_another_stream_is_a_protocol_error(t):
    c = t.connect()
    block = c.encode(c.request_headers(t.opts.path_1k))
    c.headers(1, block[:5], end_headers=False)
    c.continuation(3, block[5:])
    return expect_connection_error(c, [PROTOCOL_ERROR])


@case
def a_ping_inside_a_header_block_is_a_protocol_error(t):
    c = t.connect()
    block = c.encode(c.request_headers(t.opts.path_1k))
    c.headers(1, block[:5], end_headers=False)
    c.ping()
    c.continuation(1, block[5:])
    return expect_connection_error(c, [PROTOCOL_ERROR])


@case
def a_priority_frame_inside_a_header_block_is_a_protocol_error(t):
    c = t.connect()
    block = c.encode(c.request_headers(t.opts.path_1k))
    c.headers(1, block[:5], end_headers=False)
    c.priority(1, 0, 15)
    c.continuation(1, block[5:])
    return expect_connection_error(c, [PROTOCOL_ERROR])


@case
def an_unknown_frame_inside_a_header_block_is_a_protocol_error(t):
    c = t.connect()
    block = c.encode(c.request_headers(t.opts.path_1k))
    c.headers(1, block[:5], end_headers=False)
    c.frame(0xBB, 0, 1, b"extension")
    c.continuation(1, block[5:])
    return expect_connection_error(c, [PROTOCOL_ERROR])


@case
def a_continuation_on_stream_0_is_a_protocol_error(t):
    c = t.connect()
    block = c.encode(c.request_headers(t.opts.path_1k))
    c.headers(1, block[:5], end_headers=False)
    c.send(raw_frame(CONTINUATION, END_HEADERS, 0, block[5:]))
    return expect_connection_error(c, [PROTOCOL_ERROR])
