//! The primitives: integers (§5.1), string literals (§5.2) and the Huffman code (Appendix B).

use super::super::decoder::integer;
use super::super::encoder;
use super::super::{DecodeError, Decoder, MAX_INTEGER, huffman};
use super::{bits, decode, hex, owned};

/// Decodes `octets` as one integer with prefix `mask`, requiring every octet to be used.
fn decode_integer(octets: &[u8], mask: u8) -> Result<usize, DecodeError> {
    let mut rest = octets;
    let value = integer(&mut rest, mask)?;
    assert!(rest.is_empty(), "{octets:02x?} left {rest:02x?}");
    Ok(value)
}

fn encode_integer(mask: u8, value: usize) -> Vec<u8> {
    let mut buf = Vec::new();
    encoder::integer(&mut buf, (0, mask), value);
    buf
}

/// Every prefix size N from 1 to 8 (§5.1: "always between 1 and 8 bits"), as its mask.
const MASKS: [u8; 8] = [0x01, 0x03, 0x07, 0x0F, 0x1F, 0x3F, 0x7F, 0xFF];

#[test]
fn an_integer_below_the_prefix_maximum_fits_in_the_prefix() {
    for mask in MASKS {
        for value in [0, usize::from(mask) - 1] {
            assert_eq!(encode_integer(mask, value), [value as u8]);
            assert_eq!(decode_integer(&[value as u8], mask), Ok(value));
        }
    }
}

#[test]
fn an_integer_equal_to_the_prefix_maximum_takes_a_zero_octet_after_it() {
    for mask in MASKS {
        let value = usize::from(mask);
        assert_eq!(encode_integer(mask, value), [mask, 0x00]);
        assert_eq!(decode_integer(&[mask, 0x00], mask), Ok(value));
    }
}

#[test]
fn pattern_bits_above_the_prefix_do_not_change_the_integer() {
    for mask in MASKS {
        let pattern = !mask;
        assert_eq!(decode_integer(&[pattern], mask), Ok(0));
        assert_eq!(
            decode_integer(&[pattern | mask, 0x05], mask),
            Ok(usize::from(mask) + 5)
        );
        let mut buf = Vec::new();
        encoder::integer(&mut buf, (pattern, mask), 1337);
        assert_eq!(buf[0] & pattern, pattern);
        assert_eq!(decode_integer(&buf, mask), Ok(1337));
    }
}

#[test]
fn integers_round_trip_at_every_continuation_boundary() {
    for mask in MASKS {
        let base = usize::from(mask);
        let mut values = vec![base, base + 1, MAX_INTEGER];
        for k in 1..5 {
            let boundary = base + (1 << (7 * k));
            values.extend([boundary - 1, boundary, boundary + 1]);
        }
        for value in values {
            let octets = encode_integer(mask, value);
            assert_eq!(
                decode_integer(&octets, mask),
                Ok(value),
                "{value} over {mask:#x}"
            );
        }
    }
}

#[test]
fn integer_limits_in_value_and_octet_length_are_decoding_errors() {
    // §5.1: "Integer encodings that exceed implementation limits -- in value or octet length
    // -- MUST be treated as decoding errors."
    let max = encode_integer(0x1F, MAX_INTEGER);
    let over = encode_integer(0x1F, MAX_INTEGER + 1);
    let table: [(&str, Vec<u8>, Result<usize, DecodeError>); 9] = [
        ("2^31-1, the largest accepted", max, Ok(MAX_INTEGER)),
        ("2^31, one past it", over, Err(DecodeError::Compression)),
        (
            "2^35-1+31, five full octets",
            hex("1f ff ff ff ff 7f"),
            Err(DecodeError::Compression),
        ),
        (
            "a value that would overflow 64 bits",
            hex("1f ff ff ff ff ff ff ff ff ff ff 01"),
            Err(DecodeError::Compression),
        ),
        (
            "four redundant zero octets: five in all, accepted",
            hex("1f 80 80 80 80 00"),
            Ok(31),
        ),
        (
            "five redundant zero octets: six in all",
            hex("1f 80 80 80 80 80 00"),
            Err(DecodeError::Compression),
        ),
        (
            "a long run of zero octets",
            [&[0x1F][..], &[0x80; 100], &[0]].concat(),
            Err(DecodeError::Compression),
        ),
        (
            "no octet after a full prefix",
            hex("1f"),
            Err(DecodeError::Compression),
        ),
        (
            "the last octet has its continuation bit",
            hex("1f 9a"),
            Err(DecodeError::Compression),
        ),
    ];
    for (what, octets, expected) in table {
        let mut rest = &octets[..];
        assert_eq!(integer(&mut rest, 0x1F), expected, "{what}");
    }
    assert_eq!(
        integer(&mut &[][..], 0x1F),
        Err(DecodeError::Compression),
        "no octet at all"
    );
}

#[test]
fn integers_too_large_fail_the_block_wherever_they_are() {
    // An index, a name index, a string length and a table size, each 2^31.
    let big = |pattern: u8, mask: u8| {
        let mut buf = Vec::new();
        encoder::integer(&mut buf, (pattern, mask), MAX_INTEGER + 1);
        buf
    };
    let blocks = [
        big(0x80, 0x7F),
        big(0x40, 0x3F),
        [&[0x00][..], &big(0x00, 0x7F)].concat(),
        big(0x20, 0x1F),
    ];
    for block in blocks {
        assert_eq!(
            decode(&mut Decoder::new(4096), &block),
            Err(DecodeError::Compression),
            "{block:02x?}"
        );
    }
}

/// A literal without indexing, new name `n`, whose value is the string literal `value`
/// (its first octet carries H and the length).
fn with_value(value: &[u8]) -> Vec<u8> {
    [&[0x00, 0x01, b'n'][..], value].concat()
}

#[test]
fn string_literals_decode_raw_or_huffman_coded() {
    let table: [(&str, Vec<u8>, &[u8]); 5] = [
        ("raw", hex("03 616263"), b"abc"),
        ("empty raw", hex("00"), b""),
        ("empty Huffman", hex("80"), b""),
        (
            "Huffman (C.4.1)",
            hex("8c f1e3 c2e5 f23a 6ba0 ab90 f4ff"),
            b"www.example.com",
        ),
        (
            "raw octets that are not ASCII",
            hex("03 00ff80"),
            &[0x00, 0xFF, 0x80],
        ),
    ];
    for (what, value, expected) in table {
        let got = decode(&mut Decoder::new(4096), &with_value(&value));
        assert_eq!(got, Ok(vec![(b"n".to_vec(), expected.to_vec())]), "{what}");
    }
}

#[test]
fn string_literal_errors_fail_the_block() {
    // §5.2 and the block's end: every one is COMPRESSION_ERROR.
    let table: [(&str, Vec<u8>); 11] = [
        ("a length past the block's end", hex("05 616263")),
        ("a Huffman length past the block's end", hex("85 6263")),
        ("no length at all", vec![]),
        ("a length with an unfinished integer", hex("7f 80")),
        (
            "EOS inside the string",
            bits("00011 111111111111111111111111111111 11111"),
        ),
        (
            "EOS alone, padded",
            bits("111111111111111111111111111111 11"),
        ),
        ("padding of 8 one-bits", bits("00011 111 11111111")),
        ("a whole padding octet alone", bits("11111111")),
        ("padding of zeros", bits("00011 000")),
        ("padding ending in a zero", bits("00011 110")),
        ("padding starting with a zero", bits("00011 011")),
    ];
    for (what, value) in table {
        let value = if what.contains("EOS") || what.contains("padding") {
            [&[0x80 | value.len() as u8][..], &value].concat()
        } else {
            value
        };
        assert_eq!(
            decode(&mut Decoder::new(4096), &with_value(&value)),
            Err(DecodeError::Compression),
            "{what}"
        );
    }
}

#[test]
fn huffman_padding_of_up_to_seven_one_bits_is_accepted() {
    // 'a' is 00011; n of them take 5n bits, leaving (8 - 5n % 8) % 8 bits of padding.
    for n in 0..=8 {
        let code: String = "00011".repeat(n);
        let pad = (8 - code.len() % 8) % 8;
        let encoded = bits(&format!("{code}{}", "1".repeat(pad)));
        let mut out = Vec::new();
        assert_eq!(
            huffman::decode(&encoded, &mut out, usize::MAX),
            Ok(n),
            "{n} symbols, {pad} bits"
        );
        assert_eq!(out, "a".repeat(n).as_bytes());
    }
}

#[test]
fn every_octet_round_trips_through_the_huffman_code() {
    let mut encoded = Vec::new();
    for b in 0..=255u8 {
        encoded.clear();
        huffman::encode(&[b], &mut encoded);
        assert_eq!(encoded.len(), huffman::encoded_len(&[b]));
        let mut out = Vec::new();
        assert_eq!(huffman::decode(&encoded, &mut out, 1), Ok(1), "{b}");
        assert_eq!(out, [b]);
    }
    let all: Vec<u8> = (0..=255).collect();
    encoded.clear();
    huffman::encode(&all, &mut encoded);
    let mut out = Vec::new();
    assert_eq!(huffman::decode(&encoded, &mut out, 256), Ok(256));
    assert_eq!(out, all);
}

#[test]
fn huffman_codes_are_appendix_b_s() {
    // A few rows of Appendix B, padded with ones to whole octets.
    let table: [(u8, &str); 6] = [
        (b'/', "011000 11"),
        (b'0', "00000 111"),
        (b'X', "11111100"),
        (0, "11111111|11000 111"),
        (b'\\', "11111111|11111110|000 11111"),
        (255, "11111111|11111111|11111011|10 111111"),
    ];
    for (octet, code) in table {
        let mut encoded = Vec::new();
        huffman::encode(&[octet], &mut encoded);
        assert_eq!(encoded, bits(code), "{octet}");
    }
}

#[test]
fn huffman_decoding_past_the_room_appends_nothing_but_counts_and_checks() {
    let mut encoded = Vec::new();
    huffman::encode(b"custom-value", &mut encoded);
    let mut out = b"kept".to_vec();
    assert_eq!(huffman::decode(&encoded, &mut out, 11), Ok(12));
    assert_eq!(out, b"kept");
    assert_eq!(huffman::decode(&encoded, &mut out, 12), Ok(12));
    assert_eq!(out, b"keptcustom-value");
    // Invalid strings are errors however little room there is, and append nothing.
    let bad = bits("00011 000");
    assert_eq!(
        huffman::decode(&bad, &mut out, 0),
        Err(DecodeError::Compression)
    );
    assert_eq!(
        huffman::decode(&bad, &mut out, 100),
        Err(DecodeError::Compression)
    );
    assert_eq!(out, b"keptcustom-value");
}

#[test]
fn a_huffman_string_decodes_to_at_most_eight_fifths_of_its_length() {
    let zeros = vec![b'0'; 8];
    let mut encoded = Vec::new();
    huffman::encode(&zeros, &mut encoded);
    assert_eq!(encoded.len(), 5);
    assert_eq!(huffman::max_decoded_len(encoded.len()), zeros.len());
    assert_eq!(
        decode(
            &mut Decoder::new(4096),
            &with_value(&[&[0x85][..], &encoded].concat())
        ),
        Ok(owned(&[("n", "00000000")]))
    );
}
