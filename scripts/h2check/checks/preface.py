"""The connection preface and the SETTINGS and PING exchange (RFC 9113 §3.4, §6.5, §6.7, §6.8),
and ALPN over TLS (§3.2)."""

import struct

from h2client import (ENABLE_PUSH, FLOW_CONTROL_ERROR, FRAME_SIZE_ERROR, GOAWAY,
                      INITIAL_WINDOW_SIZE, MAX_FRAME_SIZE, PING, PREFACE, PROTOCOL_ERROR,
                      SETTINGS, raw_frame, settings_payload)
from suite import Fail, case, expect_connection_error, get_file


@case(needs=("tls",))
def the_tls_handshake_selects_h2_by_alpn(t):
    c = t.connect()  # Conn fails unless ALPN chose h2
    return f"ALPN {c.sock.selected_alpn_protocol()}, {c.sock.version()}"


@case
def the_server_sends_settings_as_its_first_frame(t):
    c = t.connect(handshake=False)
    c.send_preface()
    ev = c.next_event(t.opts.wait)
    if ev is None or ev.kind != "settings":
        raise Fail(f"first frame: {ev or 'none'}")
    return str(ev)


@case
def the_server_acknowledges_our_settings(t):
    c = t.connect(handshake=False)
    c.send_preface({INITIAL_WINDOW_SIZE: 100000, MAX_FRAME_SIZE: 16384})
    c.wait_for(lambda: c.settings_acks >= 1, "SETTINGS ACK")


@case
def a_settings_frame_after_the_preface_is_acknowledged(t):
    c = t.connect()
    c.settings({INITIAL_WINDOW_SIZE: 70000})
    c.wait_for(lambda: c.settings_acks >= 2, "SETTINGS ACK")


@case
def an_invalid_connection_preface_is_a_connection_error(t):
    c = t.connect(handshake=False)
    c.send(b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n" + raw_frame(SETTINGS, 0, 0))
    return expect_connection_error(c, [PROTOCOL_ERROR])


@case
def a_preface_followed_by_a_ping_instead_of_settings_is_a_connection_error(t):
    c = t.connect(handshake=False)
    c.send(PREFACE + raw_frame(PING, 0, 0, b"h2check!"))
    return expect_connection_error(c, [PROTOCOL_ERROR])


@case
def a_settings_ack_with_a_payload_is_a_frame_size_error(t):
    c = t.connect()
    c.frame(SETTINGS, 0x1, 0, settings_payload({ENABLE_PUSH: 0}))
    return expect_connection_error(c, [FRAME_SIZE_ERROR])


@case
def a_settings_frame_on_a_stream_is_a_protocol_error(t):
    c = t.connect()
    c.frame(SETTINGS, 0, 1, settings_payload({ENABLE_PUSH: 0}))
    return expect_connection_error(c, [PROTOCOL_ERROR])


@case
def a_settings_frame_whose_length_is_not_a_multiple_of_6_is_a_frame_size_error(t):
    c = t.connect()
    c.frame(SETTINGS, 0, 0, settings_payload({ENABLE_PUSH: 0})[:5])
    return expect_connection_error(c, [FRAME_SIZE_ERROR])


@case
def enable_push_of_2_is_a_protocol_error(t):
    c = t.connect()
    c.settings({ENABLE_PUSH: 2})
    return expect_connection_error(c, [PROTOCOL_ERROR])


@case
def an_initial_window_size_over_2_31_minus_1_is_a_flow_control_error(t):
    c = t.connect()
    c.settings({INITIAL_WINDOW_SIZE: 2**31})
    return expect_connection_error(c, [FLOW_CONTROL_ERROR])


@case
def a_max_frame_size_below_16384_is_a_protocol_error(t):
    c = t.connect()
    c.settings({MAX_FRAME_SIZE: 16383})
    return expect_connection_error(c, [PROTOCOL_ERROR])


@case
def a_max_frame_size_over_2_24_minus_1_is_a_protocol_error(t):
    c = t.connect()
    c.settings({MAX_FRAME_SIZE: 2**24})
    return expect_connection_error(c, [PROTOCOL_ERROR])


@case
def an_unknown_setting_is_ignored(t):
    c = t.connect()
    c.settings({0xBABA: 7})
    c.wait_for(lambda: c.settings_acks >= 2, "SETTINGS ACK")
    get_file(c, t.opts.path_1k, 1024)


@case
def a_ping_is_answered_with_its_payload(t):
    c = t.connect()
    c.ping(b"\x01\x02\x03\x04\x05\x06\x07\x08")
    c.wait_for(lambda: c.ping_acks, "PING ACK")
    if c.ping_acks[0] != b"\x01\x02\x03\x04\x05\x06\x07\x08":
        raise Fail(f"PING ACK carries {c.ping_acks[0]!r}, not the PING's payload")


@case
def a_ping_ack_is_not_answered(t):
    c = t.connect()
    c.ping(b"unasked!", ack=True)
    c.sync()
    if b"unasked!" in c.ping_acks:
        raise Fail("the server answered a PING ACK")


@case
def a_ping_on_a_stream_is_a_protocol_error(t):
    c = t.connect()
    c.frame(PING, 0, 1, b"h2check!")
    return expect_connection_error(c, [PROTOCOL_ERROR])


@case
def a_ping_of_7_bytes_is_a_frame_size_error(t):
    c = t.connect()
    c.frame(PING, 0, 0, b"h2check")
    return expect_connection_error(c, [FRAME_SIZE_ERROR])


@case
def a_goaway_on_a_stream_is_a_protocol_error(t):
    c = t.connect()
    c.frame(GOAWAY, 0, 1, struct.pack(">II", 0, 0))
    return expect_connection_error(c, [PROTOCOL_ERROR])
