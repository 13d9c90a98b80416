//! Decoding whole blocks (§3, §6): the representations, the list's order, and the bounds a
//! caller sets (RFC 9113 §6.5.2), bombs included.

use super::super::encoder::{self, Huffman, Indexing};
use super::super::{DecodeError, Decoder, Encoder, Fields};
use super::{UNBOUNDED, coded, decode, entries, hex, list, owned};

/// A literal of representation `pattern` (0x40, 0x00 or 0x10) with a new name, raw strings.
fn literal(pattern: u8, name: &[u8], value: &[u8]) -> Vec<u8> {
    let mut block = vec![pattern];
    for s in [name, value] {
        encoder::integer(&mut block, (0x00, 0x7F), s.len());
        block.extend_from_slice(s);
    }
    block
}

#[test]
fn each_representation_decodes_to_its_field_and_table_change() {
    // §6.1, §6.2.1, §6.2.2, §6.2.3, each with an indexed and a literal name; (block, field,
    // whether the table gains it).
    let table = [
        ("indexed", hex("82"), (":method", "GET"), false),
        (
            "incremental, indexed name",
            hex("44 01 2f"),
            (":path", "/"),
            true,
        ),
        (
            "incremental, new name",
            literal(0x40, b"a", b"1"),
            ("a", "1"),
            true,
        ),
        (
            "without indexing, indexed name",
            hex("04 01 2f"),
            (":path", "/"),
            false,
        ),
        (
            "without indexing, new name",
            literal(0x00, b"a", b"1"),
            ("a", "1"),
            false,
        ),
        (
            "never indexed, indexed name",
            hex("14 01 2f"),
            (":path", "/"),
            false,
        ),
        (
            "never indexed, new name",
            literal(0x10, b"a", b"1"),
            ("a", "1"),
            false,
        ),
    ];
    for (what, block, field, indexed) in table {
        let mut decoder = Decoder::new(4096);
        assert_eq!(decode(&mut decoder, &block), Ok(owned(&[field])), "{what}");
        let expected = if indexed { owned(&[field]) } else { vec![] };
        assert_eq!(entries(decoder.table()), expected, "{what}");
    }
}

#[test]
fn fields_come_out_in_the_block_s_order() {
    // §2.1: "A decoder MUST order header fields in the decoded header list according to their
    // ordering in the header block."
    let block = [
        literal(0x00, b"b", b"2"),
        hex("82"),
        literal(0x40, b"a", b"1"),
        hex("be"),
        literal(0x10, b"b", b"1"),
    ]
    .concat();
    let expected = owned(&[
        ("b", "2"),
        (":method", "GET"),
        ("a", "1"),
        ("a", "1"),
        ("b", "1"),
    ]);
    assert_eq!(decode(&mut Decoder::new(4096), &block), Ok(expected));
}

#[test]
fn a_block_cut_inside_a_representation_is_a_decoding_error() {
    // C.4.3's block cut at every octet: a cut between representations is a shorter valid
    // block; any other is an error, and never a panic.
    let whole = hex("828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf");
    let boundaries = [0, 1, 2, 3, 4, whole.len()];
    for cut in 0..=whole.len() {
        // C.4.1 and C.4.2 fill the table that C.4.3 refers to.
        let mut decoder = Decoder::new(4096);
        decode(&mut decoder, &hex("828684418cf1e3c2e5f23a6ba0ab90f4ff")).unwrap();
        decode(&mut decoder, &hex("828684be5886a8eb10649cbf")).unwrap();
        let got = decode(&mut decoder, &whole[..cut]);
        assert_eq!(
            got.is_ok(),
            boundaries.contains(&cut),
            "cut at {cut}: {got:?}"
        );
    }
}

#[test]
fn a_list_exactly_at_the_bounds_fits_and_one_more_octet_or_field_does_not() {
    // RFC 9113 §6.5.2: name + value + 32 per field, counted on the decoded strings.
    let fields = [("custom-key", "custom-value"), (":method", "GET")];
    let block = coded(&fields, Indexing::Without);
    let size = (10 + 12 + 32) + (7 + 3 + 32);
    let mut out = Fields::default();
    let table: [(usize, usize, Result<(), DecodeError>); 4] = [
        (size, 2, Ok(())),
        (size - 1, 2, Err(DecodeError::TooLarge)),
        (size, 1, Err(DecodeError::TooLarge)),
        (0, 0, Err(DecodeError::TooLarge)),
    ];
    for (max_list_size, max_fields, expected) in table {
        let got = Decoder::new(4096).decode(&block, max_list_size, max_fields, &mut out);
        assert_eq!(got, expected, "{max_list_size} octets, {max_fields} fields");
        assert_eq!(out.len(), if expected.is_ok() { 2 } else { 0 });
    }
    // An empty list fits any bound.
    assert_eq!(Decoder::new(4096).decode(&[], 0, 0, &mut out), Ok(()));
}

#[test]
fn every_representation_counts_against_the_bounds() {
    // A one-field bound, then a second field of each kind.
    let seconds = [
        hex("82"),
        hex("44 01 2f"),
        literal(0x40, b"a", b"1"),
        hex("04 01 2f"),
        literal(0x00, b"a", b"1"),
        hex("14 01 2f"),
        literal(0x10, b"a", b"1"),
    ];
    let mut out = Fields::default();
    for second in seconds {
        let block = [hex("82"), second.clone()].concat();
        let got = Decoder::new(4096).decode(&block, UNBOUNDED, 1, &mut out);
        assert_eq!(got, Err(DecodeError::TooLarge), "{second:02x?}");
        let got = Decoder::new(4096).decode(&block, 7 + 3 + 32, UNBOUNDED, &mut out);
        assert_eq!(got, Err(DecodeError::TooLarge), "{second:02x?}");
    }
}

#[test]
fn a_list_too_large_still_updates_the_table_so_the_next_block_decodes() {
    // The bound is passed on the first field; the rest of the block still inserts entries,
    // which the next block refers to.
    let mut decoder = Decoder::new(4096);
    let mut out = Fields::default();
    let block = [
        literal(0x00, b"big", &[b'x'; 100]),
        literal(0x40, b"a", b"1"),
        hex("44 01 2f"),
        hex("00 01 62 81 ff"), // a Huffman value that decodes to nothing valid: 8 one-bits
    ]
    .concat();
    // The last field's Huffman string is checked even past the bound.
    assert_eq!(
        decoder.decode(&block, 50, UNBOUNDED, &mut out),
        Err(DecodeError::Compression)
    );

    let mut decoder = Decoder::new(4096);
    let block = &block[..block.len() - 5];
    assert_eq!(
        decoder.decode(block, 50, UNBOUNDED, &mut out),
        Err(DecodeError::TooLarge)
    );
    assert!(out.is_empty());
    assert_eq!(
        entries(decoder.table()),
        owned(&[(":path", "/"), ("a", "1")])
    );
    assert_eq!(decoder.decode(&hex("be bf"), 1000, 10, &mut out), Ok(()));
    assert_eq!(list(&out), owned(&[(":path", "/"), ("a", "1")]));
}

#[test]
fn a_decoding_error_leaves_the_list_empty() {
    let mut out = Fields::default();
    let block = [hex("82 86"), hex("80")].concat();
    assert_eq!(
        Decoder::new(4096).decode(&block, UNBOUNDED, UNBOUNDED, &mut out),
        Err(DecodeError::Compression)
    );
    assert!(out.is_empty());
    assert_eq!(out.iter().count(), 0);
}

#[test]
fn the_list_is_cleared_before_each_block() {
    let mut decoder = Decoder::new(4096);
    let mut out = Fields::default();
    decoder
        .decode(&hex("82 86"), UNBOUNDED, UNBOUNDED, &mut out)
        .unwrap();
    decoder
        .decode(&hex("84"), UNBOUNDED, UNBOUNDED, &mut out)
        .unwrap();
    assert_eq!(list(&out), owned(&[(":path", "/")]));
}

#[test]
fn an_hpack_bomb_is_too_large_in_bounded_memory() {
    // One block puts a 4,000-octet entry in the table; the next, 400 octets long, refers to it
    // 400 times: 1.6 MB decoded. With a 16 KiB bound it is TooLarge, and the list's buffers
    // never hold more than about the bound.
    let mut decoder = Decoder::new(4096);
    let mut out = Fields::default();
    let value = vec![b'x'; 4000];
    let first = literal(0x40, b"bomb", &value);
    assert_eq!(decoder.decode(&first, 16 * 1024, 100, &mut out), Ok(()));
    let bomb = vec![0xBE; 400];
    let max_list_size = 16 * 1024;
    assert_eq!(
        decoder.decode(&bomb, max_list_size, 100, &mut out),
        Err(DecodeError::TooLarge)
    );
    assert!(
        out.heap_bytes() <= 2 * max_list_size + 100 * 24,
        "{}",
        out.heap_bytes()
    );
    // The same with a large field bound and a small list bound, and with Huffman literals that
    // each decode to up to 8/5 of their length.
    let mut out = Fields::default();
    assert_eq!(
        decoder.decode(&bomb, 1024, 100_000, &mut out),
        Err(DecodeError::TooLarge)
    );
    assert!(out.heap_bytes() <= 4 * 1024, "{}", out.heap_bytes());
    let mut huffman = Vec::new();
    let mut encoder = Encoder::new(4096);
    for _ in 0..1000 {
        encoder.encode(
            &mut huffman,
            b"z",
            &[b'0'; 64],
            Indexing::Without,
            Huffman::Always,
        );
    }
    let mut out = Fields::default();
    assert_eq!(
        decoder.decode(&huffman, 1024, 100_000, &mut out),
        Err(DecodeError::TooLarge)
    );
    assert!(out.heap_bytes() <= 4 * 1024, "{}", out.heap_bytes());
}

#[test]
fn a_bomb_of_many_tiny_fields_is_bounded_by_the_field_count() {
    let mut out = Fields::default();
    let block = vec![0x82; 100_000];
    assert_eq!(
        Decoder::new(4096).decode(&block, UNBOUNDED, 100, &mut out),
        Err(DecodeError::TooLarge)
    );
    assert!(
        out.heap_bytes() <= 2 * 100 * (24 + 10),
        "{}",
        out.heap_bytes()
    );
}

#[test]
fn the_list_s_buffers_are_reused_from_block_to_block() {
    let mut decoder = Decoder::new(4096);
    let mut out = Fields::default();
    let block = hex("828684418cf1e3c2e5f23a6ba0ab90f4ff");
    decoder
        .decode(&block, UNBOUNDED, UNBOUNDED, &mut out)
        .unwrap();
    let held = out.heap_bytes();
    for _ in 0..100 {
        decoder
            .decode(&hex("828684be"), UNBOUNDED, UNBOUNDED, &mut out)
            .unwrap();
    }
    assert_eq!(out.heap_bytes(), held);
}

#[test]
fn an_empty_block_after_a_full_one_keeps_the_buffers_it_has() {
    // Found by the hpack_decode fuzz target, whose memory bound looked at each block alone:
    // the buffers are reused, so an empty block holds what the one before grew.
    let mut decoder = Decoder::new(64);
    let mut out = Fields::default();
    assert_eq!(decoder.decode(&[0, 0, 0], 100, 10, &mut out), Ok(()));
    let held = out.heap_bytes();
    assert!(held > 0);
    assert_eq!(decoder.decode(&[], 100, 10, &mut out), Ok(()));
    assert!(out.is_empty());
    assert_eq!(out.heap_bytes(), held);
}

#[test]
fn a_short_block_of_indexes_decodes_to_more_octets_than_it_has_within_the_bound() {
    // Found by the hpack_decode fuzz target, whose memory bound had assumed a block decodes to
    // at most 8/5 of its length: 19 octets naming `transfer-encoding` (index 57) decode to
    // 323. The bound is the list's: twice `max_list_size`, and the fields' spans.
    let mut out = Fields::default();
    let block = [0xB9; 19];
    assert_eq!(
        Decoder::new(4096).decode(&block, 16 * 1024, 100, &mut out),
        Ok(())
    );
    assert_eq!(out.len(), 19);
    assert!(
        out.iter()
            .all(|f| f == (&b"transfer-encoding"[..], &b""[..]))
    );
    assert!(out.heap_bytes() <= 2 * 16 * 1024 + 8 + (2 * 19 + 4) * 24);
    assert_eq!(
        Decoder::new(4096).decode(&block, 300, 100, &mut out),
        Err(DecodeError::TooLarge)
    );
    assert!(out.heap_bytes() <= 2 * 16 * 1024);
}
