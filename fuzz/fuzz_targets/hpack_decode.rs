//! HPACK decoding: arbitrary blocks, several in a row on one decoder, never panic; a decoded
//! list stays within the bounds it was given, a failed block leaves it empty, and the memory
//! held (the list's buffers, the dynamic table) stays within a bound set by the limits, not by
//! what the blocks decode to.
#![no_main]

use http_core::h2::hpack::{DecodeError, Decoder, Fields};
use libfuzzer_sys::fuzz_target;

const TABLE_SIZES: [usize; 4] = [0, 64, 256, 4096];
const LIST_SIZES: [usize; 4] = [0, 100, 1000, 16 * 1024];
const FIELD_COUNTS: [usize; 4] = [0, 1, 10, 100];

fuzz_target!(|data: &[u8]| {
    let Some((&[limits], mut rest)) = data.split_first_chunk::<1>() else {
        return;
    };
    let table_size = TABLE_SIZES[usize::from(limits & 3)];
    let max_list_size = LIST_SIZES[usize::from(limits >> 2 & 3)];
    let max_fields = FIELD_COUNTS[usize::from(limits >> 4 & 3)];
    let mut decoder = Decoder::new(table_size);
    let mut out = Fields::default();
    // The list's buffers keep their capacity from block to block: their bound follows the
    // longest block so far.
    let mut longest = 0;
    // Blocks, each after a two-octet length (little-endian), the last one taking what is left.
    while !rest.is_empty() {
        let len = match rest.split_first_chunk::<2>() {
            Some((len, tail)) => {
                rest = tail;
                usize::from(u16::from_le_bytes(*len)).min(rest.len())
            }
            None => rest.len(),
        };
        let (block, tail) = rest.split_at(len);
        rest = tail;
        longest = longest.max(block.len());
        let result = decoder.decode(block, max_list_size, max_fields, &mut out);
        match result {
            Ok(()) => {
                assert!(out.len() <= max_fields);
                let size: usize = out.iter().map(|(n, v)| n.len() + v.len() + 32).sum();
                assert!(size <= max_list_size, "{size} > {max_list_size}");
            }
            Err(_) => assert!(out.is_empty()),
        }
        // The list's buffers: at most about twice the octets and spans the bounds allow (a
        // buffer may double once past what it holds, and starts at 8 octets or 4 spans); a
        // field takes at least one octet of a block. (The octets are not bounded by the
        // block's length: one octet may name a 4 KiB entry.)
        let spans = max_fields.min(longest);
        let bound = 2 * max_list_size + 8 + (2 * spans + 4) * 24;
        assert!(out.heap_bytes() <= bound, "{} > {bound}", out.heap_bytes());
        // The dynamic table: twice its size in octets, and its entries.
        let bound = 2 * table_size + table_size / 32 * 24 + 64;
        assert!(
            decoder.heap_bytes() <= bound,
            "{} > {bound}",
            decoder.heap_bytes()
        );
        if result == Err(DecodeError::Compression) {
            // A connection error (RFC 9113 §4.3): nothing more is decoded on it.
            return;
        }
    }
});
