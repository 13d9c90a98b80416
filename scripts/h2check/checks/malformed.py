"""Request validation (RFC 9113 §8.1-§8.3): each malformed request must get RST_STREAM
PROTOCOL_ERROR or a 400 on its own stream, and the connection must go on serving (a second
request on it gets the file). Pseudo-header fields, field names and values, connection-specific
fields, te, :authority and host, and content-length against DATA."""

from h2client import INITIAL_WINDOW_SIZE
from suite import Fail, case, expect_malformed, get_file


def req(t, path=None, method="GET", authority=None):
    # `is None`, not `or`: an empty path or authority is a case of its own.
    return [(":method", method), (":scheme", t.opts.scheme),
            (":path", t.opts.path_1k if path is None else path),
            (":authority", t.opts.authority if authority is None else authority)]


def without(headers, name):
    return [(k, v) for k, v in headers if k != name]


def malformed(t, headers, body=None, trailers=None):
    if body is None and trailers is None:
        c = t.connect()
        return expect_malformed(t, c, c.request(headers=headers))
    # The flaw comes after the HEADERS: a zero window keeps the server from finishing its
    # answer (and resetting the stream with NO_ERROR, §8.1) before it sees the flaw.
    c = t.connect({INITIAL_WINDOW_SIZE: 0})
    sid = c.request(headers=headers, end_stream=False)
    c.sync()
    if body is not None:
        c.data(sid, body, end_stream=trailers is None)
    if trailers is not None:
        c.headers(sid, trailers)
    return expect_malformed(t, c, sid)


def served(t, headers):
    c = t.connect()
    st = c.response(c.request(headers=headers))
    if st.status != 200:
        raise Fail(f"{st.describe()}, expected 200")


# ---- pseudo-header fields (§8.3.1) ----

@case
def a_request_without_method_is_malformed(t):
    return malformed(t, without(req(t), ":method"))


@case
def a_request_without_scheme_is_malformed(t):
    return malformed(t, without(req(t), ":scheme"))


@case
def a_request_without_path_is_malformed(t):
    return malformed(t, without(req(t), ":path"))


@case
def a_request_with_an_empty_path_is_malformed(t):
    return malformed(t, req(t, path=""))


@case
def a_path_that_does_not_start_with_a_slash_is_malformed(t):
    return malformed(t, req(t, path=t.opts.path_1k.lstrip("/")))


@case
def a_request_with_two_methods_is_malformed(t):
    return malformed(t, req(t) + [(":method", "GET")])


@case
def a_request_with_two_paths_is_malformed(t):
    return malformed(t, req(t) + [(":path", t.opts.path_1k)])


@case
def an_unknown_pseudo_header_is_malformed(t):
    return malformed(t, req(t) + [(":h2check", "1")])


@case
def a_response_pseudo_header_in_a_request_is_malformed(t):
    return malformed(t, req(t) + [(":status", "200")])


@case
def a_pseudo_header_after_a_regular_field_is_malformed(t):
    h = req(t)
    return malformed(t, h[:3] + [("x-h2check", "1")] + h[3:])


@case
def a_pseudo_header_in_trailers_is_malformed(t):
    return malformed(t, req(t), trailers=[(":path", t.opts.path_1k)])


@case
def trailers_without_end_stream_are_malformed(t):
    c = t.connect({INITIAL_WINDOW_SIZE: 0})
    sid = c.request(headers=req(t), end_stream=False)
    c.sync()
    c.headers(sid, [("x-trailer", "1")], end_stream=False)
    return expect_malformed(t, c, sid)


# ---- field names and values (§8.2, §8.2.1) ----

@case
def an_uppercase_field_name_is_malformed(t):
    return malformed(t, req(t) + [("X-H2check", "1")])


@case
def a_field_name_with_a_space_is_malformed(t):
    return malformed(t, req(t) + [("x h2check", "1")])


@case
def a_field_name_with_a_colon_inside_is_malformed(t):
    return malformed(t, req(t) + [("x:h2check", "1")])


@case
def an_empty_field_name_is_malformed(t):
    return malformed(t, req(t) + [("", "1")])


@case
def a_field_name_with_a_del_is_malformed(t):
    return malformed(t, req(t) + [("x-h2check\x7f", "1")])


@case
def a_field_name_with_a_non_ascii_byte_is_malformed(t):
    return malformed(t, req(t) + [("x-h2check\xe9", "1")])


@case
def a_field_value_with_a_nul_is_malformed(t):
    return malformed(t, req(t) + [("x-h2check", "a\0b")])


@case
def a_field_value_with_a_cr_is_malformed(t):
    return malformed(t, req(t) + [("x-h2check", "a\rb")])


@case
def a_field_value_with_a_lf_is_malformed(t):
    return malformed(t, req(t) + [("x-h2check", "a\nb")])


@case
def a_field_value_with_a_leading_space_is_malformed(t):
    return malformed(t, req(t) + [("x-h2check", " a")])


@case
def a_field_value_with_a_trailing_tab_is_malformed(t):
    return malformed(t, req(t) + [("x-h2check", "a\t")])


@case
def a_connect_request_with_a_path_is_malformed(t):
    return malformed(t, [(":method", "CONNECT"), (":authority", t.opts.authority),
                         (":path", "/")])


@case
def a_connect_request_without_authority_is_malformed(t):
    return malformed(t, [(":method", "CONNECT")])


# ---- connection-specific fields and te (§8.2.2) ----

def connection_specific(t, name):
    value = {b"connection": "close", b"keep-alive": "timeout=5", b"proxy-connection":
             "keep-alive", b"transfer-encoding": "chunked", b"upgrade": "h2c"}[name]
    return malformed(t, req(t) + [(name.decode(), value)])


@case
def a_connection_field_is_malformed(t):
    return connection_specific(t, b"connection")


@case
def a_keep_alive_field_is_malformed(t):
    return connection_specific(t, b"keep-alive")


@case
def a_proxy_connection_field_is_malformed(t):
    return connection_specific(t, b"proxy-connection")


@case
def a_transfer_encoding_field_is_malformed(t):
    return connection_specific(t, b"transfer-encoding")


@case
def an_upgrade_field_is_malformed(t):
    return connection_specific(t, b"upgrade")


@case
def te_other_than_trailers_is_malformed(t):
    return malformed(t, req(t) + [("te", "gzip")])


@case
def te_trailers_is_served(t):
    served(t, req(t) + [("te", "trailers")])


@case
def te_trailers_in_capitals_is_served(t):
    # A token compares without regard to case (RFC 9110 §10.1.4).
    served(t, req(t) + [("te", "Trailers")])


# ---- :authority and host (§8.3.1; RFC 9110 §4.2, §7.2) ----

@case
def a_request_with_neither_authority_nor_host_is_malformed(t):
    return malformed(t, without(req(t), ":authority"))


@case
def a_host_that_differs_from_authority_is_malformed(t):
    return malformed(t, req(t) + [("host", "other.invalid")])


@case
def an_authority_with_userinfo_is_malformed(t):
    return malformed(t, req(t, authority="user:pass@" + t.opts.authority))


@case
def an_authority_that_is_not_host_and_port_is_malformed(t):
    return malformed(t, req(t, authority="exa mple/x"))


@case
def an_empty_authority_is_malformed(t):
    return malformed(t, req(t, authority="-")[:3] + [(":authority", "")])


@case
def a_request_with_host_and_no_authority_is_served(t):
    served(t, without(req(t), ":authority") + [("host", t.opts.authority)])


@case
def a_request_with_host_equal_to_authority_is_served(t):
    served(t, req(t) + [("host", t.opts.authority)])


@case
def a_second_host_field_that_differs_is_malformed(t):
    # Each host must agree with :authority (§8.3.1), not only the first.
    return malformed(t, req(t) + [("host", t.opts.authority), ("host", "other.example")])


@case
def a_method_that_is_not_a_token_is_malformed(t):
    # :method is a method (RFC 9110 §9.1), a token: "G T" is none, not an unknown method.
    return malformed(t, req(t, method="G T"))


# ---- content-length against the DATA frames (§8.1.1) ----

@case
def a_body_shorter_than_content_length_is_malformed(t):
    return malformed(t, req(t) + [("content-length", "10")], body=b"abc")


@case
def a_body_longer_than_content_length_is_malformed(t):
    return malformed(t, req(t) + [("content-length", "2")], body=b"abcdef")


@case
def a_malformed_request_leaves_the_other_streams_alone(t):
    c = t.connect()
    c.auto_window = False
    big = c.request(t.opts.path_big)
    bad = c.request(headers=req(t) + [("connection", "close")])
    # The big stream may have taken the whole connection window: the second request that
    # expect_malformed makes needs some.
    c.window_update(0, 1 << 24)
    seen = expect_malformed(t, c, bad)
    c.auto_window = True
    st = c.stream(big)
    c.window_update(big, 1 << 24)
    c.response(big, t.opts.wait * 5)
    if st.status != 200 or st.reset is not None:
        raise Fail(f"the other stream: {st.describe()}")
    get_file(c, t.opts.path_1k)
    return seen
