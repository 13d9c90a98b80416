//! HPACK against another implementation, `loona-hpack` (the `hpack` crate's maintained fork;
//! hyperium's `h2` keeps its HPACK module private even with its `unstable` feature): what our
//! encoder writes, it decodes to the same fields; what its encoder writes, we decode to the
//! same fields; and on arbitrary blocks, wherever it decodes a list we decode the same one, and
//! wherever it finds the block malformed, so do we.
//!
//! Where the two differ by design, the comparison steps aside, each place saying why:
//! `loona-hpack` accepts a size update anywhere but at a block's end, where RFC 7541 §4.2 puts
//! it at the start (and an update alone is a valid block); and it stops integers at 4 octets
//! after the prefix (about 2^28), where we allow 5 (up to 2^31 - 1).

use http_core::h2::hpack::{DEFAULT_TABLE_SIZE, DecodeError, Decoder, Encoder, Fields};
use loona_hpack::decoder::{DecoderError, IntegerDecodingError};
use proptest::prelude::*;

type List = Vec<(Vec<u8>, Vec<u8>)>;

/// Fields: names the encoder's policy singles out, common ones, and arbitrary octets.
fn field() -> impl Strategy<Value = (Vec<u8>, Vec<u8>)> {
    let name = prop_oneof![
        prop::sample::select(vec![
            "server",
            "content-type",
            "cache-control",
            "date",
            "etag",
            "set-cookie",
            "vary",
            "location",
            ":status",
            ":path",
        ])
        .prop_map(|n| n.as_bytes().to_vec()),
        "[a-z0-9-]{1,16}".prop_map(String::into_bytes),
        prop::collection::vec(
            any::<u8>().prop_filter("lowercase", |b| !b.is_ascii_uppercase()),
            0..6
        ),
    ];
    let value = prop_oneof![
        prop::sample::select(vec!["", "text/html", "bytes", "no-cache"])
            .prop_map(|v| v.as_bytes().to_vec()),
        prop::collection::vec(any::<u8>(), 0..60),
        prop::collection::vec(any::<u8>(), 0..1500),
    ];
    (name, value)
}

/// Blocks of at least one field, each after the table sizes set since the one before.
fn blocks() -> impl Strategy<Value = Vec<(Vec<usize>, List)>> {
    prop::collection::vec(
        (
            prop::collection::vec(prop_oneof![0..=300usize, Just(4096), 0..=10_000usize], 0..3),
            prop::collection::vec(field(), 1..10),
        ),
        1..8,
    )
}

fn our_decode(decoder: &mut Decoder, block: &[u8]) -> Result<List, DecodeError> {
    let mut out = Fields::default();
    decoder.decode(block, usize::MAX, usize::MAX, &mut out)?;
    Ok(out.iter().map(|(n, v)| (n.to_vec(), v.to_vec())).collect())
}

fn their_decoder() -> loona_hpack::Decoder<'static> {
    let mut decoder = loona_hpack::Decoder::new();
    decoder.set_max_allowed_table_size(DEFAULT_TABLE_SIZE);
    decoder
}

/// Whether a size update follows a field, or ends the block (where the two differ), walking
/// the representations (an unfinished one ends the walk: both must then refuse the block).
fn size_update_out_of_place(block: &[u8]) -> bool {
    let mut seen_field = false;
    let mut last_was_update = false;
    let mut rest = block;
    while let Some(&first) = rest.first() {
        let is_update = first & 0xE0 == 0x20;
        if is_update && seen_field {
            return true;
        }
        seen_field |= !is_update;
        last_was_update = is_update;
        match representation_len(rest) {
            Some(len) => rest = &rest[len..],
            None => return false,
        }
    }
    last_was_update
}

/// The length of the representation at the start of `block` (§6), if it is whole.
fn representation_len(block: &[u8]) -> Option<usize> {
    fn integer(block: &[u8], at: usize, mask: u8) -> Option<(usize, usize)> {
        let first = *block.get(at)?;
        let mut value = usize::from(first & mask);
        if value < usize::from(mask) {
            return Some((value, at + 1));
        }
        let mut shift = 0;
        for i in 1..=6 {
            let b = *block.get(at + i)?;
            value = value.checked_add(usize::from(b & 0x7F) << shift)?;
            shift += 7;
            if b & 0x80 == 0 {
                return Some((value, at + i + 1));
            }
        }
        None
    }
    fn string(block: &[u8], at: usize) -> Option<usize> {
        let (len, at) = integer(block, at, 0x7F)?;
        let end = at.checked_add(len)?;
        (end <= block.len()).then_some(end)
    }
    let first = *block.first()?;
    let (mask, literal) = match first {
        0x80..=0xFF => (0x7F, false),
        0x40..=0x7F => (0x3F, true),
        0x20..=0x3F => (0x1F, false),
        _ => (0x0F, true),
    };
    let (index, at) = integer(block, 0, mask)?;
    if !literal {
        return Some(at);
    }
    let at = if index == 0 { string(block, at)? } else { at };
    string(block, at)
}

/// Arbitrary blocks, many of them made of pieces that look like representations.
fn arbitrary_block() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        prop::collection::vec(
            prop_oneof![
                (0x80u8..=0xFF).prop_map(|b| vec![b]),
                Just(vec![0x40, 0x01, b'a', 0x01, b'b']),
                Just(vec![0x41, 0x83, 0xF1, 0xE3, 0xC2]),
                Just(vec![0x00, 0x81, 0x1F, 0x00]),
                Just(vec![0x10, 0x00, 0x82, 0xFF, 0xFF]),
                Just(vec![0x3F, 0xE1, 0x1F]),
                Just(vec![0x20]),
                Just(vec![0x7E, 0x00]),
                prop::collection::vec(any::<u8>(), 1..5),
            ],
            0..12,
        )
        .prop_map(|pieces| pieces.concat()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn what_we_encode_loona_decodes_to_the_same_fields(blocks in blocks()) {
        let mut encoder = Encoder::new(DEFAULT_TABLE_SIZE);
        let mut decoder = their_decoder();
        for (sizes, fields) in blocks {
            sizes.into_iter().for_each(|s| encoder.set_max_table_size(s));
            let mut block = Vec::new();
            encoder.begin_block(&mut block);
            for (name, value) in &fields {
                encoder.field(&mut block, name, value);
            }
            prop_assert_eq!(decoder.decode(&block), Ok(fields));
        }
    }

    #[test]
    fn what_loona_encodes_we_decode_to_the_same_fields(blocks in blocks()) {
        // Its encoder indexes every field and never Huffman-codes; it signals no size updates,
        // so the table stays at the protocol's 4096.
        let mut encoder = loona_hpack::Encoder::new();
        let mut decoder = Decoder::new(DEFAULT_TABLE_SIZE);
        for (_, fields) in blocks {
            let block = encoder.encode(fields.iter().map(|(n, v)| (&n[..], &v[..])));
            prop_assert_eq!(our_decode(&mut decoder, &block), Ok(fields));
        }
    }

    #[test]
    fn on_arbitrary_blocks_we_agree_with_loona(blocks in prop::collection::vec(arbitrary_block(), 1..5)) {
        let mut ours = Decoder::new(DEFAULT_TABLE_SIZE);
        let mut theirs = their_decoder();
        for block in blocks {
            if size_update_out_of_place(&block) {
                // §4.2: we refuse an update after a field; loona refuses one at the end.
                break;
            }
            let a = our_decode(&mut ours, &block);
            let b = theirs.decode(&block);
            match b {
                Ok(list) => prop_assert_eq!(&a, &Ok(list), "{:02x?}", block),
                Err(DecoderError::IntegerDecodingError(IntegerDecodingError::TooManyOctets)) => break,
                Err(e) => prop_assert_eq!(&a, &Err(DecodeError::Compression), "{:02x?}: loona {:?}", block, e),
            }
            if a.is_err() {
                break;
            }
        }
    }
}
