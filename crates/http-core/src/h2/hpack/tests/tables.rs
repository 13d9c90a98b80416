//! The tables: the static table and the index space (§2.3), the dynamic table's size,
//! evictions and size updates (§4, §6.3).

use super::super::encoder::{self, Indexing};
use super::super::table::{STATIC, Table};
use super::super::{DecodeError, Decoder, Encoder};
use super::{coded, decode, entries, hex, owned};

/// A block of literals with incremental indexing, new names (§6.2.1), without Huffman coding.
fn inserting(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut encoder = Encoder::new(usize::MAX);
    // A table this large never evicts, so every field is a literal.
    encoder.set_max_table_size(usize::MAX);
    let mut block = Vec::new();
    for (name, value) in fields {
        block.push(0x40);
        for s in [name, value] {
            encoder::integer(&mut block, (0x00, 0x7F), s.len());
            block.extend_from_slice(s.as_bytes());
        }
    }
    block
}

/// An indexed field (§6.1).
fn indexed(index: usize) -> Vec<u8> {
    let mut block = Vec::new();
    encoder::integer(&mut block, (0x80, 0x7F), index);
    block
}

/// A size update (§6.3).
fn size_update(size: usize) -> Vec<u8> {
    let mut block = Vec::new();
    encoder::integer(&mut block, (0x20, 0x1F), size);
    block
}

/// A name and value whose entry is `size` octets (§4.1), named `name`.
fn sized(name: &'static str, size: usize) -> (&'static str, String) {
    (name, "v".repeat(size - 32 - name.len()))
}

#[test]
fn every_static_index_gives_appendix_a_s_entry() {
    let mut decoder = Decoder::new(4096);
    for (i, (name, value)) in STATIC.iter().enumerate() {
        let got = decode(&mut decoder, &indexed(i + 1)).unwrap();
        assert_eq!(
            got,
            vec![(name.to_vec(), value.to_vec())],
            "index {}",
            i + 1
        );
    }
    assert_eq!(STATIC.len(), 61);
    assert_eq!(decoder.table().len(), 0);
}

#[test]
fn indexes_outside_both_tables_are_decoding_errors() {
    // §6.1: index 0 "MUST be treated as a decoding error"; §2.3.3: "Indices strictly greater
    // than the sum of the lengths of both tables MUST be treated as a decoding error."
    let mut with_two = Decoder::new(4096);
    decode(&mut with_two, &inserting(&[("a", "1"), ("b", "2")])).unwrap();
    let table: [(&str, Vec<u8>, bool); 12] = [
        ("indexed 0", indexed(0), false),
        ("indexed 61, the last static", indexed(61), true),
        ("indexed 62, the newest dynamic", indexed(62), true),
        ("indexed 63, the oldest dynamic", indexed(63), true),
        ("indexed 64, past both", indexed(64), false),
        ("indexed 2^31-1", indexed(super::super::MAX_INTEGER), false),
        (
            "incremental, name index 64",
            vec![0x40 | 0x3F, 64 - 63, 0x00],
            false,
        ),
        (
            "incremental, name index 63",
            vec![0x40 | 0x3F, 0x00, 0x00],
            true,
        ),
        (
            "without indexing, name index 64",
            vec![0x0F, 64 - 15, 0x00],
            false,
        ),
        (
            "without indexing, name index 63",
            vec![0x0F, 63 - 15, 0x00],
            true,
        ),
        (
            "never indexed, name index 64",
            vec![0x1F, 64 - 15, 0x00],
            false,
        ),
        (
            "never indexed, name index 63",
            vec![0x1F, 63 - 15, 0x00],
            true,
        ),
    ];
    for (what, block, ok) in table {
        // Each on its own copy of the two-entry table.
        let mut decoder = Decoder::new(4096);
        decode(&mut decoder, &inserting(&[("a", "1"), ("b", "2")])).unwrap();
        let got = decode(&mut decoder, &block);
        assert_eq!(got.is_ok(), ok, "{what}: {got:?}");
        if !ok {
            assert_eq!(got, Err(DecodeError::Compression), "{what}");
        }
    }
    assert_eq!(
        decode(&mut Decoder::new(4096), &indexed(62)),
        Err(DecodeError::Compression),
        "an empty table has no index 62"
    );
}

#[test]
fn the_newest_entry_has_the_lowest_dynamic_index() {
    // §2.3.2, §2.3.3: first in, first out; the newest at index 62.
    let mut decoder = Decoder::new(4096);
    decode(
        &mut decoder,
        &inserting(&[("a", "1"), ("b", "2"), ("c", "3")]),
    )
    .unwrap();
    let all = [indexed(62), indexed(63), indexed(64)].concat();
    assert_eq!(
        decode(&mut decoder, &all),
        Ok(owned(&[("c", "3"), ("b", "2"), ("a", "1")]))
    );
}

#[test]
fn duplicate_entries_are_not_an_error() {
    // §2.3.2: "duplicate entries MUST NOT be treated as an error by a decoder."
    let mut decoder = Decoder::new(4096);
    let block = inserting(&[("a", "1"), ("a", "1"), ("a", "1")]);
    assert_eq!(decode(&mut decoder, &block), Ok(owned(&[("a", "1"); 3])));
    assert_eq!(entries(decoder.table()), owned(&[("a", "1"); 3]));
}

#[test]
fn an_entry_s_size_is_its_decoded_name_and_value_plus_32() {
    // §4.1, with the lengths "without any Huffman encoding applied".
    let block = coded(&[("custom-key", "custom-value")], Indexing::Incremental);
    let mut decoder = Decoder::new(4096);
    decode(&mut decoder, &block).unwrap();
    assert_eq!(decoder.table().size(), 10 + 12 + 32);
}

#[test]
fn adding_an_entry_evicts_the_oldest_until_it_fits() {
    // §4.4: a 100-octet table holds two 40-octet entries; a third evicts the first.
    let mut decoder = Decoder::new(100);
    let (a, b, c) = (sized("a", 40), sized("b", 40), sized("c", 40));
    let fields = [(a.0, &a.1[..]), (b.0, &b.1[..])];
    decode(&mut decoder, &inserting(&fields)).unwrap();
    assert_eq!(decoder.table().size(), 80);
    decode(&mut decoder, &inserting(&[(c.0, &c.1)])).unwrap();
    assert_eq!(entries(decoder.table()), owned(&[(c.0, &c.1), (b.0, &b.1)]));
    assert_eq!(decoder.table().size(), 80);
    // A 100-octet entry evicts everything else and fills the table exactly.
    let d = sized("d", 100);
    decode(&mut decoder, &inserting(&[(d.0, &d.1)])).unwrap();
    assert_eq!(entries(decoder.table()), owned(&[(d.0, &d.1)]));
    assert_eq!(decoder.table().size(), 100);
}

#[test]
fn an_entry_larger_than_the_table_empties_it_and_still_reaches_the_list() {
    // §4.4: "not an error", and "results in an empty table".
    let mut decoder = Decoder::new(100);
    decode(&mut decoder, &inserting(&[("a", "1")])).unwrap();
    let big = sized("big", 101);
    assert_eq!(
        decode(&mut decoder, &inserting(&[(big.0, &big.1)])),
        Ok(owned(&[(big.0, &big.1)]))
    );
    assert_eq!(decoder.table().len(), 0);
    assert_eq!(decoder.table().size(), 0);
    assert_eq!(
        decode(&mut decoder, &indexed(62)),
        Err(DecodeError::Compression)
    );
    // The table works on afterwards.
    decode(&mut decoder, &inserting(&[("b", "2")])).unwrap();
    assert_eq!(decode(&mut decoder, &indexed(62)), Ok(owned(&[("b", "2")])));
}

#[test]
fn an_oversized_entry_named_by_a_dynamic_index_keeps_its_name() {
    // The name comes from the entry that the table's emptying removes.
    let mut decoder = Decoder::new(100);
    decode(&mut decoder, &inserting(&[("named", "1")])).unwrap();
    let mut block = vec![0x40 | 62]; // name index 62, below the 6-bit prefix's 63
    let value = "v".repeat(100);
    encoder::integer(&mut block, (0x00, 0x7F), value.len());
    block.extend_from_slice(value.as_bytes());
    assert_eq!(
        decode(&mut decoder, &block),
        Ok(owned(&[("named", &value)]))
    );
    assert_eq!(decoder.table().len(), 0);
}

#[test]
fn a_new_entry_may_take_its_name_from_an_entry_it_evicts() {
    // §4.4: "Implementations are cautioned to avoid deleting the referenced name if the
    // referenced entry is evicted from the dynamic table prior to inserting the new entry."
    let mut decoder = Decoder::new(100);
    let old = sized("referenced-name", 90);
    decode(&mut decoder, &inserting(&[(old.0, &old.1)])).unwrap();
    let mut block = vec![0x40 | 62];
    encoder::integer(&mut block, (0x00, 0x7F), 40);
    block.extend_from_slice(&[b'n'; 40]);
    let value = "n".repeat(40);
    assert_eq!(decode(&mut decoder, &block), Ok(owned(&[(old.0, &value)])));
    assert_eq!(entries(decoder.table()), owned(&[(old.0, &value)]));
}

#[test]
fn a_size_update_evicts_down_to_the_new_size() {
    // §4.3: "entries are evicted from the end of the dynamic table until the size of the
    // dynamic table is less than or equal to the maximum size."
    let mut decoder = Decoder::new(4096);
    decode(
        &mut decoder,
        &inserting(&[("a", "1"), ("b", "2"), ("c", "3")]),
    )
    .unwrap();
    assert_eq!(decoder.table().size(), 3 * 34);
    decode(&mut decoder, &size_update(70)).unwrap();
    assert_eq!(entries(decoder.table()), owned(&[("c", "3"), ("b", "2")]));
    decode(&mut decoder, &size_update(68)).unwrap();
    assert_eq!(
        entries(decoder.table()),
        owned(&[("c", "3"), ("b", "2")]),
        "exactly full stays"
    );
    decode(&mut decoder, &size_update(0)).unwrap();
    assert_eq!(decoder.table().len(), 0, "§4.2: size 0 clears the table");
    // §4.2: "... which can subsequently be restored."
    let block = [size_update(4096), inserting(&[("d", "4")]), indexed(62)].concat();
    assert_eq!(
        decode(&mut decoder, &block),
        Ok(owned(&[("d", "4"), ("d", "4")]))
    );
}

#[test]
fn below_32_octets_nothing_is_added_but_every_field_is_decoded() {
    // Even an empty name and value make a 32-octet entry (§4.1): larger than such a table.
    for size in [0, 1, 31] {
        let mut decoder = Decoder::new(4096);
        let fields = [("a", "1"), ("", ""), ("b", "")];
        let block = [size_update(size), inserting(&fields), hex("41 00")].concat();
        let expected = [&fields[..], &[(":authority", "")]].concat();
        assert_eq!(decode(&mut decoder, &block), Ok(owned(&expected)), "{size}");
        assert_eq!(decoder.table().len(), 0);
    }
    // At 32 the empty field fits exactly.
    let mut decoder = Decoder::new(4096);
    let block = [size_update(32), inserting(&[("", "")])].concat();
    assert_eq!(decode(&mut decoder, &block), Ok(owned(&[("", "")])));
    assert_eq!(entries(decoder.table()), owned(&[("", "")]));
}

#[test]
fn size_updates_are_allowed_only_at_the_start_and_up_to_the_limit() {
    // §4.2: the update "MUST occur at the beginning of the first header block"; §6.3: "The new
    // maximum size MUST be lower than or equal to the limit ... A value that exceeds this limit
    // MUST be treated as a decoding error."
    let table: [(&str, Vec<u8>, bool); 9] = [
        ("one update, at the limit", size_update(4096), true),
        ("one update, past the limit", size_update(4097), false),
        (
            "one update, then a field",
            [size_update(0), indexed(2)].concat(),
            true,
        ),
        (
            "the smallest then the final (§4.2)",
            [size_update(0), size_update(4096), indexed(2)].concat(),
            true,
        ),
        (
            "the first of two past the limit",
            [size_update(5000), size_update(4096)].concat(),
            false,
        ),
        (
            "the second of two past the limit",
            [size_update(0), size_update(4097)].concat(),
            false,
        ),
        (
            "an update after a field",
            [indexed(2), size_update(4096)].concat(),
            false,
        ),
        (
            "an update after a literal",
            [inserting(&[("a", "1")]), size_update(0)].concat(),
            false,
        ),
        (
            "an update alone, the block empty after it",
            [size_update(100)].concat(),
            true,
        ),
    ];
    for (what, block, ok) in table {
        let got = decode(&mut Decoder::new(4096), &block);
        assert_eq!(got.is_ok(), ok, "{what}: {got:?}");
        if !ok {
            assert_eq!(got, Err(DecodeError::Compression), "{what}");
        }
    }
    // The limit is what the decoder was made with.
    assert!(decode(&mut Decoder::new(100), &size_update(100)).is_ok());
    assert_eq!(
        decode(&mut Decoder::new(100), &size_update(101)),
        Err(DecodeError::Compression)
    );
    assert_eq!(
        decode(&mut Decoder::new(0), &size_update(1)),
        Err(DecodeError::Compression)
    );
}

#[test]
fn an_empty_block_decodes_to_no_fields() {
    assert_eq!(decode(&mut Decoder::new(4096), &[]), Ok(vec![]));
}

#[test]
fn the_table_s_memory_stays_under_twice_its_size_plus_its_entries() {
    // Insertions of every size, and many tiny ones into a full table: the buffer is compacted
    // and capped, never grown past twice the maximum size.
    let mut table = Table::new(4096);
    let bound = 2 * 4096 + 4096 / 32 * 24;
    for i in 0..20_000usize {
        let value = "x".repeat(if i < 10_000 { i % 4100 } else { 0 });
        table.insert(format!("name-{}", i % 7).as_bytes(), value.as_bytes());
        assert!(table.size() <= 4096);
        assert!(table.heap_bytes() <= bound, "{} at {i}", table.heap_bytes());
    }
}
