"""Flow control (RFC 9113 §5.2, §6.9): WINDOW_UPDATE of 0, windows past 2^31-1, the server
keeping within our windows, and changes of SETTINGS_INITIAL_WINDOW_SIZE on open streams."""

from h2client import (FLOW_CONTROL_ERROR, INITIAL_WINDOW_SIZE, MAX_WINDOW, PROTOCOL_ERROR,
                      SETTINGS, fixture, settings_payload)
from suite import Fail, case, expect_connection_error, expect_stream_error


def open_download(c, t, path=None):
    """A GET that the server cannot finish because we return no credit."""
    c.auto_window = False
    sid = c.request(path or t.opts.path_big)
    c.sync()
    return sid


def data_len(c, sid):
    return len(c.stream(sid).data)


@case
def a_window_update_of_0_on_the_connection_is_a_protocol_error(t):
    c = t.connect()
    c.window_update(0, 0)
    return expect_connection_error(c, [PROTOCOL_ERROR])


@case
def a_window_update_of_0_on_a_stream_is_a_protocol_error(t):
    c = t.connect()
    sid = open_download(c, t)
    c.window_update(sid, 0)
    return expect_stream_error(c, sid, [PROTOCOL_ERROR])


@case
def a_connection_window_over_2_31_minus_1_is_a_flow_control_error(t):
    c = t.connect()
    c.window_update(0, MAX_WINDOW)
    c.window_update(0, MAX_WINDOW)
    return expect_connection_error(c, [FLOW_CONTROL_ERROR])


@case
def a_stream_window_over_2_31_minus_1_is_a_flow_control_error(t):
    c = t.connect()
    sid = open_download(c, t)
    c.window_update(sid, MAX_WINDOW)
    c.window_update(sid, MAX_WINDOW)
    return expect_stream_error(c, sid, [FLOW_CONTROL_ERROR])


@case
def the_server_sends_no_more_than_the_stream_window(t):
    c = t.connect({INITIAL_WINDOW_SIZE: 1000})
    sid = open_download(c, t, t.opts.path_1k)
    c.drain(0.3)
    if data_len(c, sid) > 1000:
        raise Fail(f"{data_len(c, sid)} bytes with a 1000-byte stream window")
    c.window_update(sid, 1024 - data_len(c, sid))
    st = c.response(sid)
    if bytes(st.data) != fixture(0, 1024):
        raise Fail(f"{len(st.data)} bytes after the window grew to 1024")


@case
def the_server_sends_no_more_than_the_connection_window(t):
    c = t.connect({INITIAL_WINDOW_SIZE: MAX_WINDOW})
    sid = open_download(c, t)
    c.drain(0.3)
    first = data_len(c, sid)
    if first > 65535:
        raise Fail(f"{first} bytes with a 65,535-byte connection window")
    c.window_update(0, 10000)
    c.sync()
    c.drain(0.3)
    if data_len(c, sid) > 75535:
        raise Fail(f"{data_len(c, sid)} bytes after 10,000 more credit, at most 75,535 allowed")
    return f"{first} bytes, then {data_len(c, sid)}"


@case
def the_last_of_two_values_of_a_setting_applies(t):
    c = t.connect(handshake=False)
    c.send_preface()
    c.frame(SETTINGS, 0, 0, settings_payload({INITIAL_WINDOW_SIZE: 100}) +
            settings_payload({INITIAL_WINDOW_SIZE: 10}))
    c.wait_for(lambda: c.settings_acks >= 2, "SETTINGS ACK")
    sid = open_download(c, t, t.opts.path_1k)
    c.drain(0.3)
    if data_len(c, sid) > 10:
        raise Fail(f"{data_len(c, sid)} bytes; SETTINGS_INITIAL_WINDOW_SIZE 100 then 10 in one "
                   "frame leaves a window of 10")


@case
def an_initial_window_size_change_applies_to_open_streams(t):
    c = t.connect({INITIAL_WINDOW_SIZE: 0})
    sid = open_download(c, t, t.opts.path_1k)
    c.drain(0.3)
    if data_len(c, sid):
        raise Fail(f"{data_len(c, sid)} bytes of DATA with a window of 0")
    c.settings({INITIAL_WINDOW_SIZE: 1024})
    st = c.response(sid)
    if bytes(st.data) != fixture(0, 1024):
        raise Fail(f"{len(st.data)} bytes after SETTINGS_INITIAL_WINDOW_SIZE 1024")


@case
def a_window_made_negative_by_settings_needs_credit_before_more_data(t):
    c = t.connect({INITIAL_WINDOW_SIZE: 100})
    sid = open_download(c, t, t.opts.path_1k)
    c.wait_for(lambda: data_len(c, sid) >= 100, "100 bytes of DATA")
    c.settings({INITIAL_WINDOW_SIZE: 1})  # the window is now 1 - 100 = -99
    c.window_update(sid, 99)  # 0
    c.sync()
    c.drain(0.3)
    if data_len(c, sid) != 100:
        raise Fail(f"{data_len(c, sid) - 100} bytes sent from a window of -99 + 99 = 0")
    c.window_update(sid, 1)
    c.wait_for(lambda: data_len(c, sid) > 100, "1 byte of DATA")
    c.drain(0.3)
    if data_len(c, sid) != 101:
        raise Fail(f"{data_len(c, sid) - 100} bytes sent from a window of 1")


@case
def an_initial_window_size_change_that_overflows_a_window_is_a_flow_control_error(t):
    c = t.connect()
    sid = open_download(c, t)
    c.window_update(sid, MAX_WINDOW - 65535)  # the stream window is now 2^31-1 minus what was sent
    c.sync()
    c.settings({INITIAL_WINDOW_SIZE: MAX_WINDOW})
    return expect_connection_error(c, [FLOW_CONTROL_ERROR])
