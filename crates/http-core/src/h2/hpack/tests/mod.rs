//! The HPACK module against RFC 7541, part by part: the examples of Appendix C, the primitives
//! (§5, Appendix B), the tables (§2.3, §4, §6.3), decoding and its bounds (§3, §6, RFC 9113
//! §6.5.2), the encoder's policy, and properties over arbitrary input.
//!
//! Each MUST of RFC 7541, and where it is tested:
//!
//! - §2.1, the encoder keeps the list's order:
//!   `properties::encoded_fields_decode_to_the_same_list_with_the_tables_in_step`;
//!   the decoder keeps the block's: `decoding::fields_come_out_in_the_block_s_order`.
//! - §2.3.2, duplicate entries are no error: `tables::duplicate_entries_are_not_an_error`.
//! - §2.3.3, an index past both tables is an error, and §6.1, index 0 is:
//!   `tables::indexes_outside_both_tables_are_decoding_errors`.
//! - §4.2, the size used is at most the protocol's:
//!   `encoding::the_size_used_never_exceeds_what_the_peer_allows`.
//! - §4.2, a size change is signalled at the start of the next block, the smallest of several
//!   first: `encoding::a_block_starts_with_a_size_update_only_after_the_size_changed`; an
//!   update elsewhere is refused, as is one past the limit (§6.3):
//!   `tables::size_updates_are_allowed_only_at_the_start_and_up_to_the_limit`.
//! - §5.1, integers past the limits, in value or in octets, are errors:
//!   `primitives::integer_limits_in_value_and_octet_length_are_decoding_errors`,
//!   `primitives::integers_too_large_fail_the_block_wherever_they_are`.
//! - §5.2, padding longer than 7 bits, padding other than EOS's leading bits, and EOS in a
//!   string are errors: `primitives::string_literal_errors_fail_the_block`.
//! - §6.2.3 and §7.1.3, an intermediary forwards a never-indexed field never indexed: not
//!   applicable, this server forwards nothing; its own credentials are never indexed
//!   (`encoding::sensitive_fields_are_never_indexed`).
//!
//! And the case §4.4 cautions about, a new entry named by one it evicts:
//! `tables::a_new_entry_may_take_its_name_from_an_entry_it_evicts`.

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
