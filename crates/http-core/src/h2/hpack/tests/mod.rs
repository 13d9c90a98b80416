//! The HPACK module against RFC 7541, part by part: the examples of Appendix C, the primitives
//! (§5, Appendix B), the tables (§2.3, §4, §6.3), decoding and its bounds (§3, §6, RFC 9113
//! §6.5.2), the encoder's policy, and properties over arbitrary input.

mod decoding;
mod encoding;
mod examples;
mod model;
mod primitives;
mod properties;
mod tables;

use super::encoder::{Huffman, Indexing};
use super::table::Table;
use super::{DecodeError, Decoder, Encoder, Fields};

/// An owned field list, to compare.
type List = Vec<(Vec<u8>, Vec<u8>)>;

/// No bound on the decoded list.
const UNBOUNDED: usize = usize::MAX;

/// The octets of a hex dump (spaces ignored).
fn hex(dump: &str) -> Vec<u8> {
    let digits: Vec<u8> = dump.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}

/// The octets of a bit string ('0' and '1'; spaces and '|' ignored), a whole number of octets.
fn bits(s: &str) -> Vec<u8> {
    let bits: Vec<u8> = s.bytes().filter(|b| matches!(b, b'0' | b'1')).collect();
    assert_eq!(bits.len() % 8, 0, "{s:?} is not whole octets");
    bits.chunks(8)
        .map(|octet| octet.iter().fold(0, |acc, b| acc << 1 | (b - b'0')))
        .collect()
}

fn list(fields: &Fields) -> List {
    fields
        .iter()
        .map(|(n, v)| (n.to_vec(), v.to_vec()))
        .collect()
}

fn owned(pairs: &[(&str, &str)]) -> List {
    pairs
        .iter()
        .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect()
}

/// A dynamic table's entries, newest first (index 62 first).
fn entries(table: &Table) -> List {
    (0..table.len())
        .map(|i| {
            let (n, v) = table.get(i).unwrap();
            (n.to_vec(), v.to_vec())
        })
        .collect()
}

/// Decodes one block without bounds.
fn decode(decoder: &mut Decoder, block: &[u8]) -> Result<List, DecodeError> {
    let mut out = Fields::default();
    decoder.decode(block, UNBOUNDED, UNBOUNDED, &mut out)?;
    Ok(list(&out))
}

/// A block of `fields` with every string Huffman-coded, each a literal as `indexing` says
/// (or an index where a table has it).
fn coded(fields: &[(&str, &str)], indexing: Indexing) -> Vec<u8> {
    let mut encoder = Encoder::new(4096);
    let mut block = Vec::new();
    for (name, value) in fields {
        encoder.encode(
            &mut block,
            name.as_bytes(),
            value.as_bytes(),
            indexing,
            Huffman::Always,
        );
    }
    block
}
