"""Responses to well-formed requests: a GET and a HEAD of the fixture with the right :status,
content-length and bytes, a 404, ranges (206, 416), a big file in frames within our
SETTINGS_MAX_FRAME_SIZE, and response heads free of connection-specific fields (RFC 9113 §8.2.2,
§8.3.2)."""

from h2client import CLIENT_MAX_FRAME, fixture
from suite import Fail, case, check_response_head, get_file


def fetch(c, path, method="GET", extra=()):
    st = c.response(c.request(path, method=method, extra=extra))
    if st.reset is not None:
        raise Fail(f"{method} {path}: {st.describe()}")
    check_response_head(st)
    return st


@case
def a_get_of_the_1k_file_is_a_200_with_its_length_and_bytes(t):
    c = t.connect()
    st = get_file(c, t.opts.path_1k, 1024)
    return f"content-type {st.header(b'content-type')!r}"


@case
def a_head_of_the_1k_file_has_its_length_and_no_body(t):
    c = t.connect()
    get_file(c, t.opts.path_1k, 1024, method="HEAD")


@case
def a_get_with_a_query_string_is_served(t):
    c = t.connect()
    get_file(c, t.opts.path_1k + "?h2check=1", 1024)


@case
def a_missing_file_is_a_404(t):
    c = t.connect()
    st = fetch(c, t.opts.path_missing)
    if st.status != 404:
        raise Fail(f":status {st.status}, expected 404")
    length = st.header(b"content-length")
    if length is not None and int(length) != len(st.data):
        raise Fail(f"content-length {length.decode()} but {len(st.data)} body bytes")


@case
def a_range_request_is_a_206_with_those_bytes(t):
    c = t.connect()
    st = fetch(c, t.opts.path_1k, extra=[("range", "bytes=100-199")])
    if st.status != 206:
        raise Fail(f":status {st.status}, expected 206")
    if st.header(b"content-range") != b"bytes 100-199/1024":
        raise Fail(f"content-range {st.header(b'content-range')!r}")
    if st.header(b"content-length") != b"100" or bytes(st.data) != fixture(100, 100):
        raise Fail(f"content-length {st.header(b'content-length')!r}, {len(st.data)} bytes, "
                   "or not bytes 100-199 of the fixture")


@case
def a_suffix_range_is_a_206_with_the_last_bytes(t):
    c = t.connect()
    st = fetch(c, t.opts.path_1k, extra=[("range", "bytes=-24")])
    if st.status != 206 or bytes(st.data) != fixture(1000, 24):
        raise Fail(f":status {st.status}, {len(st.data)} bytes; expected 206 with bytes 1000-1023")


@case
def an_unsatisfiable_range_is_a_416(t):
    c = t.connect()
    st = fetch(c, t.opts.path_1k, extra=[("range", "bytes=5000-6000")])
    if st.status != 416:
        raise Fail(f":status {st.status}, expected 416")
    if st.header(b"content-range") != b"bytes */1024":
        raise Fail(f"content-range {st.header(b'content-range')!r}, expected 'bytes */1024'")


@case
def the_big_file_arrives_whole_in_frames_within_our_max_frame_size(t):
    c = t.connect()
    st = get_file(c, t.opts.path_big, timeout=t.opts.wait * 10)
    if len(st.data) < 1 << 20:
        raise Fail(f"--path-big has {len(st.data)} bytes; the fixture needs at least 1 MiB")
    biggest = max(st.data_frames)
    if biggest > CLIENT_MAX_FRAME:
        raise Fail(f"a DATA frame of {biggest} bytes, over our SETTINGS_MAX_FRAME_SIZE")
    return f"{len(st.data)} bytes in {len(st.data_frames)} DATA frames"


@case
def no_response_carries_a_connection_specific_field(t):
    c = t.connect()
    heads = [fetch(c, t.opts.path_1k), fetch(c, t.opts.path_1k, "HEAD"),
             fetch(c, t.opts.path_missing),
             fetch(c, t.opts.path_1k, extra=[("range", "bytes=0-0")]),
             fetch(c, t.opts.path_1k, extra=[("range", "bytes=9000-")]),
             fetch(c, t.opts.path_1k, extra=[("te", "trailers")]),
             fetch(c, t.opts.path_1k, "POST")]
    return "checked " + ", ".join(str(st.status) for st in heads)
