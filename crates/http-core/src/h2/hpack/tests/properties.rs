//! Properties over arbitrary input: whatever the encoder writes decodes back to the same
//! fields with the tables in step, under any sequence of table sizes; no block panics the
//! decoder or makes it hold more than its bounds; the primitives round-trip.

use proptest::prelude::*;

use super::super::encoder::{CHANGING, SENSITIVE};
use super::super::{
    DEFAULT_TABLE_SIZE, DecodeError, Decoder, Encoder, Fields, MAX_INTEGER, huffman,
};
use super::super::{decoder, encoder};
use super::{List, entries, list};

/// What the connection does between and within blocks.
#[derive(Debug, Clone)]
enum Op {
    Field(Vec<u8>, Vec<u8>),
    Status(u16),
}

/// Lowercase names: the ones the policy singles out, common ones, and arbitrary tokens.
fn name() -> impl Strategy<Value = Vec<u8>> {
    let listed: Vec<&[u8]> = CHANGING.iter().chain(SENSITIVE.iter()).copied().collect();
    prop_oneof![
        prop::sample::select(listed).prop_map(<[u8]>::to_vec),
        prop::sample::select(vec![
            &b"server"[..],
            b"content-type",
            b"cache-control",
            b"accept-ranges",
            b"vary",
            b"content-encoding",
            b":authority",
            b"x-a",
        ])
        .prop_map(<[u8]>::to_vec),
        "[a-z0-9!#$%&'*+.^_`|~-]{1,24}".prop_map(String::into_bytes),
        // Not a valid token, but HPACK carries any octets but uppercase letters here.
        prop::collection::vec(
            any::<u8>().prop_filter("lowercase", |b| !b.is_ascii_uppercase()),
            0..8
        ),
    ]
}

/// Values that repeat, arbitrary octets, and now and then long ones.
fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => prop::sample::select(vec![&b""[..], b"text/html", b"bytes", b"gzip, deflate", b"1"]).prop_map(<[u8]>::to_vec),
        4 => prop::collection::vec(any::<u8>(), 0..48),
        1 => prop::collection::vec(any::<u8>(), 0..3000),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (name(), value()).prop_map(|(n, v)| Op::Field(n, v)),
        1 => prop_oneof![prop::sample::select(vec![200u16, 301, 404, 416]), any::<u16>()].prop_map(Op::Status),
    ]
}

/// Table sizes the peer may set: small ones (evicting), the default, and past our ceiling.
fn table_size() -> impl Strategy<Value = usize> {
    prop_oneof![0..=300usize, Just(DEFAULT_TABLE_SIZE), 0..=70_000usize]
}

/// Sets the table sizes, then encodes one block of `ops`.
fn encode_block(encoder: &mut Encoder, sizes: Vec<usize>, ops: Vec<Op>) -> Vec<u8> {
    sizes
        .into_iter()
        .for_each(|s| encoder.set_max_table_size(s));
    let mut buf = Vec::new();
    encoder.begin_block(&mut buf);
    for op in ops {
        match op {
            Op::Field(n, v) => encoder.field(&mut buf, &n, &v),
            Op::Status(s) => encoder.status(&mut buf, s),
        }
    }
    buf
}

/// The list `ops` encode.
fn expected(ops: &[Op]) -> List {
    ops.iter()
        .map(|op| match op {
            Op::Field(n, v) => (n.clone(), v.clone()),
            Op::Status(s) => (b":status".to_vec(), s.to_string().into_bytes()),
        })
        .collect()
}

/// Blocks, each preceded by the table sizes set since the last one.
fn connection() -> impl Strategy<Value = Vec<(Vec<usize>, Vec<Op>)>> {
    prop::collection::vec(
        (
            prop::collection::vec(table_size(), 0..3),
            prop::collection::vec(op(), 0..12),
        ),
        1..10,
    )
}

/// Arbitrary blocks: random octets, and octets that start like the representations.
fn block() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..200),
        prop::collection::vec(
            prop_oneof![
                Just(vec![0xBE]),
                Just(vec![0x40, 0x01, b'a', 0x01, b'b']),
                Just(vec![0x3F, 0xE1, 0x1F]),
                Just(vec![0x20]),
                Just(vec![0x7E, 0x81, 0xFF]),
                prop::collection::vec(any::<u8>(), 1..6),
            ],
            0..30,
        )
        .prop_map(|pieces| pieces.concat()),
    ]
}

/// What the decoded list's buffers may hold after blocks of at most `longest` octets: about
/// twice what the bounds allow (a buffer may double once past what it holds, and starts at 8
/// octets or 4 spans); a field takes at least an octet of a block.
fn list_heap_bound(max_list_size: usize, max_fields: usize, longest: usize) -> usize {
    let spans = max_fields.min(longest);
    2 * max_list_size + 8 + (2 * spans + 4) * 24
}

proptest! {
    // Whole connections are slow to generate in debug builds; the fuzz targets run these
    // properties for millions of cases.
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn encoded_fields_decode_to_the_same_list_with_the_tables_in_step(blocks in connection()) {
        let mut encoder = Encoder::new(DEFAULT_TABLE_SIZE);
        let mut decoder = Decoder::new(DEFAULT_TABLE_SIZE);
        let mut out = Fields::default();
        for (sizes, ops) in blocks {
            let expected = expected(&ops);
            let buf = encode_block(&mut encoder, sizes, ops);
            prop_assert_eq!(decoder.decode(&buf, usize::MAX, usize::MAX, &mut out), Ok(()));
            prop_assert_eq!(list(&out), expected);
            prop_assert_eq!(entries(encoder.table()), entries(decoder.table()));
            prop_assert_eq!(encoder.table().size(), decoder.table().size());
            prop_assert!(encoder.table().max_size() <= DEFAULT_TABLE_SIZE);
        }
    }

    #[test]
    fn bounded_decoding_gives_the_unbounded_list_or_too_large(
        blocks in connection(),
        max_list_size in 0..3000usize,
        max_fields in 0..8usize,
    ) {
        // The bounds change what is stored, never the tables.
        let mut encoder = Encoder::new(DEFAULT_TABLE_SIZE);
        let mut bounded = Decoder::new(DEFAULT_TABLE_SIZE);
        let mut unbounded = Decoder::new(DEFAULT_TABLE_SIZE);
        let (mut a, mut b) = (Fields::default(), Fields::default());
        for (sizes, ops) in blocks {
            let buf = encode_block(&mut encoder, sizes, ops);
            unbounded.decode(&buf, usize::MAX, usize::MAX, &mut b).unwrap();
            let size: usize = b.iter().map(|(n, v)| n.len() + v.len() + 32).sum();
            let fits = size <= max_list_size && b.len() <= max_fields;
            match bounded.decode(&buf, max_list_size, max_fields, &mut a) {
                Ok(()) => { prop_assert!(fits); prop_assert_eq!(list(&a), list(&b)); }
                Err(e) => { prop_assert!(!fits); prop_assert_eq!(e, DecodeError::TooLarge); }
            }
            prop_assert_eq!(entries(bounded.table()), entries(unbounded.table()));
        }
    }

    #[test]
    fn corrupted_encoder_output_never_panics(
        blocks in connection(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut encoder = Encoder::new(DEFAULT_TABLE_SIZE);
        let mut decoder = Decoder::new(DEFAULT_TABLE_SIZE);
        let mut out = Fields::default();
        for (i, (sizes, ops)) in blocks.into_iter().enumerate() {
            let mut buf = encode_block(&mut encoder, sizes, ops);
            if i == 1 && !buf.is_empty() {
                for (at, x) in &flips {
                    let at = at.index(buf.len());
                    buf[at] ^= x;
                }
                buf.truncate(cut.index(buf.len() + 1));
            }
            if decoder.decode(&buf, 16 * 1024, 100, &mut out) == Err(DecodeError::Compression) {
                break;
            }
        }
    }

}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn arbitrary_blocks_never_panic_and_stay_within_the_bounds(
        blocks in prop::collection::vec(block(), 1..6),
        table_size in prop_oneof![Just(0usize), Just(64), Just(DEFAULT_TABLE_SIZE)],
        max_list_size in prop_oneof![Just(0usize), 0..200usize, Just(16 * 1024)],
        max_fields in prop_oneof![Just(0usize), 0..10usize, Just(100)],
    ) {
        let mut decoder = Decoder::new(table_size);
        let mut out = Fields::default();
        let mut longest = 0;
        for block in blocks {
            longest = longest.max(block.len());
            let result = decoder.decode(&block, max_list_size, max_fields, &mut out);
            match result {
                Ok(()) => {
                    prop_assert!(out.len() <= max_fields);
                    let size: usize = out.iter().map(|(n, v)| n.len() + v.len() + 32).sum();
                    prop_assert!(size <= max_list_size);
                }
                Err(_) => prop_assert!(out.is_empty()),
            }
            prop_assert!(decoder.table().size() <= decoder.table().max_size());
            prop_assert!(decoder.table().max_size() <= table_size);
            prop_assert!(out.heap_bytes() <= list_heap_bound(max_list_size, max_fields, longest),
                "{} after blocks of up to {longest} octets", out.heap_bytes());
            prop_assert!(decoder.heap_bytes() <= 2 * table_size + table_size / 32 * 24 + 64);
            if result == Err(DecodeError::Compression) {
                // The connection ends here (RFC 9113 §4.3); the decoder's state is moot.
                break;
            }
        }
    }

    #[test]
    fn huffman_coding_round_trips_any_octets(s in prop::collection::vec(any::<u8>(), 0..300)) {
        let mut coded = Vec::new();
        huffman::encode(&s, &mut coded);
        prop_assert_eq!(coded.len(), huffman::encoded_len(&s));
        let mut decoded = Vec::new();
        prop_assert_eq!(huffman::decode(&coded, &mut decoded, s.len()), Ok(s.len()));
        prop_assert_eq!(decoded, s);
    }

    #[test]
    fn a_valid_huffman_string_has_exactly_one_coding(coded in prop::collection::vec(any::<u8>(), 0..40)) {
        // Padding is at most 7 one-bits, so decoding then encoding gives the same octets back.
        let mut decoded = Vec::new();
        if let Ok(n) = huffman::decode(&coded, &mut decoded, usize::MAX) {
            prop_assert_eq!(n, decoded.len());
            prop_assert!(n <= huffman::max_decoded_len(coded.len()));
            let mut again = Vec::new();
            huffman::encode(&decoded, &mut again);
            prop_assert_eq!(again, coded);
        } else {
            prop_assert!(decoded.is_empty());
        }
    }

    #[test]
    fn integers_round_trip_under_every_prefix(mask_bits in 1u32..=8, value in prop_oneof![0..300usize, 0..=MAX_INTEGER], pattern in any::<u8>()) {
        let mask = u8::MAX >> (8 - mask_bits);
        let mut buf = Vec::new();
        encoder::integer(&mut buf, (pattern & !mask, mask), value);
        prop_assert!(buf.len() <= 1 + super::super::MAX_INTEGER_OCTETS);
        let mut rest = &buf[..];
        prop_assert_eq!(decoder::integer(&mut rest, mask), Ok(value));
        prop_assert!(rest.is_empty());
    }
}
