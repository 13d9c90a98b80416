//! The encoder: `:status`, the indexing policy, Huffman only when shorter, and table size
//! updates (§4.2, §6.3), every block checked against the decoder.

use super::super::encoder::{CHANGING, SENSITIVE};
use super::super::{Decoder, Encoder};
use super::{decode, entries, hex, owned};

/// One block of `fields` (`:status` through [`Encoder::status`]).
fn block(encoder: &mut Encoder, fields: &[(&str, &str)]) -> Vec<u8> {
    let mut buf = Vec::new();
    encoder.begin_block(&mut buf);
    for (name, value) in fields {
        if *name == ":status" {
            encoder.status(&mut buf, value.parse().unwrap());
        } else {
            encoder.field(&mut buf, name.as_bytes(), value.as_bytes());
        }
    }
    buf
}

#[test]
fn statuses_in_the_static_table_are_one_octet() {
    let table: [(u16, u8); 7] = [
        (200, 0x88),
        (204, 0x89),
        (206, 0x8A),
        (304, 0x8B),
        (400, 0x8C),
        (404, 0x8D),
        (500, 0x8E),
    ];
    for (status, octet) in table {
        let mut encoder = Encoder::new(4096);
        let mut buf = Vec::new();
        encoder.status(&mut buf, status);
        assert_eq!(buf, [octet], "{status}");
        assert_eq!(encoder.table().len(), 0);
    }
}

#[test]
fn other_statuses_name_the_static_entry_and_are_one_octet_the_next_time() {
    let mut encoder = Encoder::new(4096);
    let mut decoder = Decoder::new(4096);
    for status in ["301", "416", "100", "599", "65535", "0"] {
        let first = block(&mut encoder, &[(":status", status)]);
        // §6.2.1 with name index 8, then the digits (Huffman-coded when shorter).
        assert_eq!(first[0], 0x48, "{status}");
        assert_eq!(
            decode(&mut decoder, &first),
            Ok(owned(&[(":status", status)]))
        );
        let again = block(&mut encoder, &[(":status", status)]);
        assert_eq!(again, [0xBE], "{status}");
        assert_eq!(
            decode(&mut decoder, &again),
            Ok(owned(&[(":status", status)]))
        );
    }
}

#[test]
fn fields_that_repeat_are_indexed_and_then_one_octet() {
    let mut encoder = Encoder::new(4096);
    let mut decoder = Decoder::new(4096);
    let fields = [
        ("server", "http-server"),
        ("content-type", "text/html; charset=utf-8"),
        ("cache-control", "no-cache"),
        ("accept-ranges", "bytes"),
        ("vary", "accept-encoding"),
        ("content-encoding", "br"),
        ("x-content-type-options", "nosniff"),
    ];
    let first = block(&mut encoder, &fields);
    // Static names are literals with incremental indexing and an indexed name (§6.2.1).
    assert_eq!(first[0], 0x40 | 54, "server");
    assert_eq!(decode(&mut decoder, &first), Ok(owned(&fields)));
    assert_eq!(encoder.table().len(), fields.len());
    let second = block(&mut encoder, &fields);
    assert_eq!(second, [0xC4, 0xC3, 0xC2, 0xC1, 0xC0, 0xBF, 0xBE]);
    assert_eq!(decode(&mut decoder, &second), Ok(owned(&fields)));
    assert_eq!(entries(encoder.table()), entries(decoder.table()));
}

#[test]
fn fields_that_change_every_response_are_literals_without_indexing() {
    let mut encoder = Encoder::new(4096);
    let mut decoder = Decoder::new(4096);
    for name in CHANGING {
        let name = std::str::from_utf8(name).unwrap();
        let fields = [(name, "value that changes")];
        let first = block(&mut encoder, &fields);
        // §6.2.2 with the static table's name: 0000 and a 4-bit index.
        assert_eq!(first[0] & 0xF0, 0x00, "{name}");
        assert_ne!(first[0], 0x00, "{name}: the static table has the name");
        assert_eq!(
            block(&mut encoder, &fields),
            first,
            "{name}: not remembered"
        );
        assert_eq!(decode(&mut decoder, &first), Ok(owned(&fields)));
    }
    assert_eq!(encoder.table().len(), 0);
}

#[test]
fn the_date_and_a_files_validators_are_indexed_and_one_octet_when_repeated() {
    let mut encoder = Encoder::new(4096);
    let mut decoder = Decoder::new(4096);
    let fields = [
        ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
        ("etag", "\"98e024-400-18eebb6d37d94d6e\""),
        ("last-modified", "Sun, 06 Dec 2026 17:49:39 GMT"),
    ];
    let first = block(&mut encoder, &fields);
    // §6.2.1 with the static table's name (33 is `date`): 01 and a 6-bit index.
    assert_eq!(first[0], 0x40 | 33);
    assert_eq!(decode(&mut decoder, &first), Ok(owned(&fields)));
    let second = block(&mut encoder, &fields);
    assert_eq!(second, [0xC0, 0xBF, 0xBE]);
    assert_eq!(decode(&mut decoder, &second), Ok(owned(&fields)));
    assert_eq!(entries(encoder.table()), entries(decoder.table()));
}

#[test]
fn sensitive_fields_are_never_indexed() {
    // §6.2.3, §7.1.3.
    let mut encoder = Encoder::new(4096);
    let mut decoder = Decoder::new(4096);
    for name in SENSITIVE {
        let name = std::str::from_utf8(name).unwrap();
        let fields = [(name, "secret=1")];
        let first = block(&mut encoder, &fields);
        assert_eq!(first[0] & 0xF0, 0x10, "{name}");
        assert_eq!(block(&mut encoder, &fields), first, "{name}");
        assert_eq!(decode(&mut decoder, &first), Ok(owned(&fields)));
    }
    assert_eq!(encoder.table().len(), 0);
    // Even an empty value that the static table holds is not sent as that index.
    let mut buf = Vec::new();
    encoder.field(&mut buf, b"set-cookie", b"");
    assert_eq!(buf, [0x1F, 55 - 15, 0x00]);
}

#[test]
fn a_field_larger_than_a_quarter_of_the_table_is_not_indexed() {
    let mut encoder = Encoder::new(4096);
    let at_quarter = "v".repeat(1024 - 32 - 3);
    let past_quarter = "v".repeat(1024 - 32 - 3 + 1);
    block(&mut encoder, &[("x-a", &at_quarter)]);
    assert_eq!(encoder.table().len(), 1);
    let buf = block(&mut encoder, &[("x-b", &past_quarter)]);
    assert_eq!(buf[0], 0x00);
    assert_eq!(encoder.table().len(), 1);
}

#[test]
fn unknown_names_are_literal_strings_and_dynamic_names_are_reused() {
    let mut encoder = Encoder::new(4096);
    let mut decoder = Decoder::new(4096);
    let first = block(&mut encoder, &[("x-frame-options", "deny")]);
    assert_eq!(first[0], 0x40);
    // The same name with another value refers to the dynamic entry's name (index 62).
    let second = block(&mut encoder, &[("x-frame-options", "sameorigin")]);
    assert_eq!(second[0], 0x40 | 62);
    assert_eq!(
        decode(&mut decoder, &first),
        Ok(owned(&[("x-frame-options", "deny")]))
    );
    assert_eq!(
        decode(&mut decoder, &second),
        Ok(owned(&[("x-frame-options", "sameorigin")]))
    );
}

#[test]
fn strings_are_huffman_coded_only_when_shorter() {
    let mut encoder = Encoder::new(4096);
    // "text/html" is 9 octets raw and 7 coded; "304" is 3 either way; "\0\0" is 2 raw, 4 coded.
    let table: [(&str, &str); 3] = [
        ("text/html", "5f 87 49 7c a5 89 d3 4d 1f"),
        ("304", "5f 03 33 30 34"),
        ("\0\0", "5f 02 00 00"),
    ];
    for (value, octets) in table {
        let mut buf = Vec::new();
        encoder.field(&mut buf, b"content-type", value.as_bytes());
        assert_eq!(buf, hex(octets), "{value:?}");
    }
}

#[test]
fn a_block_starts_with_a_size_update_only_after_the_size_changed() {
    let mut encoder = Encoder::new(4096);
    let mut decoder = Decoder::new(4096);
    let fields = [("server", "http-server")];
    let first = block(&mut encoder, &fields);
    assert_eq!(first[0], 0x40 | 54, "no update at first");
    decode(&mut decoder, &first).unwrap();
    // A peer allowing more than our ceiling changes nothing: we go on using 4096.
    encoder.set_max_table_size(65536);
    assert_eq!(block(&mut encoder, &fields), [0xBE]);
    // Lowered to 0: an update, the table emptied on both sides, nothing indexed.
    encoder.set_max_table_size(0);
    let emptied = block(&mut encoder, &fields);
    assert_eq!(emptied[0], 0x20);
    decode(&mut decoder, &emptied).unwrap();
    assert_eq!((encoder.table().len(), decoder.table().len()), (0, 0));
    assert_eq!(
        block(&mut encoder, &fields)[0],
        0x0F,
        "without indexing now"
    );
    // Several changes between blocks: the smallest, then the last (§4.2).
    encoder.set_max_table_size(300);
    encoder.set_max_table_size(100);
    encoder.set_max_table_size(4096);
    let restored = block(&mut encoder, &fields);
    assert_eq!(&restored[..5], hex("3f 45 3f e1 1f"), "100, then 4096");
    decode(&mut decoder, &restored).unwrap();
    assert_eq!(entries(encoder.table()), entries(decoder.table()));
    assert_eq!(block(&mut encoder, &fields), [0xBE], "one update only");
}

#[test]
fn a_reduction_evicts_on_both_sides_alike() {
    let mut encoder = Encoder::new(4096);
    let mut decoder = Decoder::new(4096);
    let fields = [
        ("server", "http-server"),
        ("vary", "accept-encoding"),
        ("x-a", "1"),
    ];
    decode(&mut decoder, &block(&mut encoder, &fields)).unwrap();
    encoder.set_max_table_size(80);
    let buf = block(&mut encoder, &fields[2..]);
    assert_eq!(buf, hex("3f 31 be"), "80, then x-a: 1 still indexed");
    assert_eq!(decode(&mut decoder, &buf), Ok(owned(&fields[2..])));
    assert_eq!(entries(encoder.table()), owned(&[("x-a", "1")]));
    assert_eq!(entries(encoder.table()), entries(decoder.table()));
}

#[test]
fn a_table_size_past_the_ceiling_at_the_start_is_signalled_once() {
    // An encoder made for a peer that allows 65536 uses 4096, and must say so (§4.2).
    let mut encoder = Encoder::new(65536);
    let first = block(&mut encoder, &[("server", "s")]);
    assert_eq!(&first[..3], hex("3f e1 1f"));
    let mut decoder = Decoder::new(65536);
    decode(&mut decoder, &first).unwrap();
    assert_eq!(decoder.table().max_size(), 4096);
    assert_eq!(block(&mut encoder, &[("server", "s")]), [0xBE]);
}

#[test]
#[should_panic(expected = "lowercase")]
#[cfg(debug_assertions)]
fn an_uppercase_name_is_a_caller_bug_caught_in_debug_builds() {
    Encoder::new(4096).field(&mut Vec::new(), b"Server", b"x");
}

#[test]
fn the_size_used_never_exceeds_what_the_peer_allows() {
    // §4.2: "the chosen size MUST stay lower than or equal to the maximum set by the
    // protocol"; a decoder whose limit is the peer's setting accepts every block.
    for allowed in [0, 1, 100, 4095, 4096, 4097, 65536] {
        let mut encoder = Encoder::new(4096);
        encoder.set_max_table_size(allowed);
        let mut decoder = Decoder::new(allowed);
        for _ in 0..2 {
            let buf = block(&mut encoder, &[("server", "s"), ("x-a", "1")]);
            assert!(encoder.table().max_size() <= allowed.min(4096), "{allowed}");
            assert!(encoder.table().size() <= encoder.table().max_size());
            assert!(decode(&mut decoder, &buf).is_ok(), "{allowed}");
            assert_eq!(entries(encoder.table()), entries(decoder.table()));
        }
    }
}
