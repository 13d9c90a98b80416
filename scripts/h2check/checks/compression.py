"""HPACK (RFC 7541, and RFC 9113 §4.3: a decoding error is a connection error of type
COMPRESSION_ERROR): invalid indexes, dynamic table size updates, Huffman padding and EOS,
integer and string bounds, and a dynamic table that lasts across requests. Every block here is
written by hand, so no encoder state can hide a server's mistake."""

from h2client import (COMPRESSION_ERROR, HEADER_TABLE_SIZE, hpack_int, hpack_literal,
                      plain_get_block)
from suite import Fail, case, expect_connection_error


def base(t):
    return plain_get_block(t.opts, t.opts.path_1k)


def send(c, sid, block):
    c.headers(sid, block)
    return c.stream(sid)


def served(c, sid, block):
    st = send(c, sid, block)
    c.response(sid)
    if st.status != 200:
        raise Fail(f"stream {sid}: {st.describe()}")


def table_size(c):
    return c.server_settings.get(HEADER_TABLE_SIZE, 4096)


@case
def an_indexed_field_of_index_0_is_a_compression_error(t):
    c = t.connect()
    send(c, 1, base(t) + b"\x80")
    return expect_connection_error(c, [COMPRESSION_ERROR])


@case
def an_index_past_the_static_and_dynamic_tables_is_a_compression_error(t):
    c = t.connect()
    send(c, 1, base(t) + hpack_int(70, 7, 0x80))
    return expect_connection_error(c, [COMPRESSION_ERROR])


@case
def a_table_size_update_over_the_settings_limit_is_a_compression_error(t):
    c = t.connect()
    send(c, 1, hpack_int(table_size(c) + 1, 5, 0x20) + base(t))
    return expect_connection_error(c, [COMPRESSION_ERROR])


@case
def a_table_size_update_after_a_field_is_a_compression_error(t):
    c = t.connect()
    send(c, 1, base(t) + hpack_int(0, 5, 0x20))
    return expect_connection_error(c, [COMPRESSION_ERROR])


@case
def two_table_size_updates_at_the_start_of_a_block_are_accepted(t):
    c = t.connect()
    served(c, 1, hpack_int(0, 5, 0x20) + hpack_int(table_size(c), 5, 0x20) + base(t))


@case
def a_table_size_update_to_0_evicts_every_entry(t):
    c = t.connect()
    served(c, 1, base(t) + hpack_literal(b"x-h2check", b"evicted", indexing=True))
    send(c, 3, hpack_int(0, 5, 0x20) + base(t) + hpack_int(62, 7, 0x80))
    return expect_connection_error(c, [COMPRESSION_ERROR])


@case
def the_dynamic_table_carries_over_to_the_next_request(t):
    c = t.connect()
    served(c, 1, base(t) + hpack_literal(b"x-h2check", b"dynamic", indexing=True))
    served(c, 3, base(t) + hpack_int(62, 7, 0x80))


@case
def a_never_indexed_literal_is_accepted(t):
    c = t.connect()
    served(c, 1, base(t) + b"\x10" + hpack_literal(b"x-secret", b"s3cr3t")[1:])


@case
def a_huffman_string_holding_the_eos_symbol_is_a_compression_error(t):
    c = t.connect()
    send(c, 1, base(t) + b"\x00\x07x-h2chk" + hpack_int(4, 7, 0x80) + b"\xff\xff\xff\xff")
    return expect_connection_error(c, [COMPRESSION_ERROR])


@case
def huffman_padding_longer_than_7_bits_is_a_compression_error(t):
    c = t.connect()
    # "a" is 00011; then 3 + 8 bits of padding.
    send(c, 1, base(t) + b"\x00\x07x-h2chk" + hpack_int(2, 7, 0x80) + b"\x1f\xff")
    return expect_connection_error(c, [COMPRESSION_ERROR])


@case
def huffman_padding_of_zeros_is_a_compression_error(t):
    c = t.connect()
    # "a" is 00011; padding must be the most significant bits of EOS (ones), not 000.
    send(c, 1, base(t) + b"\x00\x07x-h2chk" + hpack_int(1, 7, 0x80) + b"\x18")
    return expect_connection_error(c, [COMPRESSION_ERROR])


@case
def an_integer_that_overflows_is_a_compression_error(t):
    c = t.connect()
    send(c, 1, base(t) + b"\xff" + b"\xff" * 10 + b"\x7f")
    return expect_connection_error(c, [COMPRESSION_ERROR])


@case
def a_string_longer_than_its_block_is_a_compression_error(t):
    c = t.connect()
    send(c, 1, base(t) + b"\x00\x07x-h2chk" + hpack_int(100, 7) + b"abc")
    return expect_connection_error(c, [COMPRESSION_ERROR])
