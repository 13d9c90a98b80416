//! A second decoder, written as plainly as the RFC reads and sharing nothing with the real one
//! but the Huffman code's table (Appendix B): Huffman strings bit by bit, the dynamic table a
//! list of owned entries, the bounds checked on the finished list. On any block, under any
//! table size and bounds, the real decoder must give what this one gives.

use std::collections::{HashMap, VecDeque};

use proptest::prelude::*;

use super::super::encoder::{CHANGING, SENSITIVE};
use super::super::{DecodeError, Decoder, Encoder, Fields, MAX_INTEGER, huffman};
use super::{List, list};

struct Model {
    /// Newest first.
    table: VecDeque<(Vec<u8>, Vec<u8>)>,
    max_size: usize,
    limit: usize,
    codes: HashMap<(u32, u8), usize>,
}

fn size((n, v): &(Vec<u8>, Vec<u8>)) -> usize {
    n.len() + v.len() + 32
}

impl Model {
    fn new(limit: usize) -> Self {
        let codes = huffman::CODES
            .iter()
            .enumerate()
            .map(|(sym, &(code, len))| ((code, len), sym))
            .collect();
        Model {
            table: VecDeque::new(),
            max_size: limit,
            limit,
            codes,
        }
    }

    fn table_size(&self) -> usize {
        self.table.iter().map(size).sum()
    }

    fn evict(&mut self, max: usize) {
        while self.table_size() > max {
            self.table.pop_back();
        }
    }

    fn insert(&mut self, entry: (Vec<u8>, Vec<u8>)) {
        if size(&entry) > self.max_size {
            self.table.clear();
        } else {
            self.evict(self.max_size - size(&entry));
            self.table.push_front(entry);
        }
    }

    fn get(&self, index: usize) -> Option<(Vec<u8>, Vec<u8>)> {
        const STATIC: usize = 61;
        match index {
            0 => None,
            1..=STATIC => {
                let (n, v) = super::super::table::STATIC[index - 1];
                Some((n.to_vec(), v.to_vec()))
            }
            _ => self.table.get(index - STATIC - 1).cloned(),
        }
    }

    /// §5.1, by the RFC's pseudocode, with our limits.
    fn integer(rest: &mut &[u8], n: u32) -> Option<usize> {
        let (&first, tail) = rest.split_first()?;
        *rest = tail;
        let max_prefix = (1usize << n) - 1;
        let mut i = usize::from(first) & max_prefix;
        if i < max_prefix {
            return Some(i);
        }
        let mut m = 0;
        for _ in 0..5 {
            let (&b, tail) = rest.split_first()?;
            *rest = tail;
            i += usize::from(b & 127) << m;
            m += 7;
            if i > MAX_INTEGER {
                return None;
            }
            if b & 128 == 0 {
                return Some(i);
            }
        }
        None
    }

    /// §5.2, Huffman strings one bit at a time.
    fn string(&self, rest: &mut &[u8]) -> Option<Vec<u8>> {
        let huffman = rest.first()? & 0x80 != 0;
        let len = Self::integer(rest, 7)?;
        if len > rest.len() {
            return None;
        }
        let (bytes, tail) = rest.split_at(len);
        *rest = tail;
        if !huffman {
            return Some(bytes.to_vec());
        }
        let mut out = Vec::new();
        let (mut code, mut bits) = (0u32, 0u8);
        for byte in bytes {
            for i in (0..8).rev() {
                code = code << 1 | u32::from(byte >> i & 1);
                bits += 1;
                match self.codes.get(&(code, bits)) {
                    Some(256) => return None,
                    Some(&sym) => {
                        out.push(sym as u8);
                        (code, bits) = (0, 0);
                    }
                    None if bits >= 30 => return None,
                    None => {}
                }
            }
        }
        // Padding: at most 7 bits, all ones.
        (bits <= 7 && code == (1 << bits) - 1).then_some(out)
    }

    fn decode(
        &mut self,
        block: &[u8],
        max_list_size: usize,
        max_fields: usize,
    ) -> Result<List, DecodeError> {
        let list = self.fields(block).ok_or(DecodeError::Compression)?;
        if list.len() > max_fields || list.iter().map(size).sum::<usize>() > max_list_size {
            return Err(DecodeError::TooLarge);
        }
        Ok(list)
    }

    fn fields(&mut self, block: &[u8]) -> Option<List> {
        let mut rest = block;
        let mut list = Vec::new();
        let mut fields_seen = false;
        while let Some(&first) = rest.first() {
            if first & 0x80 != 0 {
                list.push(self.get(Self::integer(&mut rest, 7)?)?);
            } else if first & 0xE0 == 0x20 {
                let size = Self::integer(&mut rest, 5)?;
                if fields_seen || size > self.limit {
                    return None;
                }
                self.max_size = size;
                self.evict(size);
                continue;
            } else {
                let indexing = first & 0x40 != 0;
                let index = Self::integer(&mut rest, if indexing { 6 } else { 4 })?;
                let name = match index {
                    0 => self.string(&mut rest)?,
                    i => self.get(i)?.0,
                };
                let field = (name, self.string(&mut rest)?);
                if indexing {
                    self.insert(field.clone());
                }
                list.push(field);
            }
            fields_seen = true;
        }
        Some(list)
    }
}

/// Blocks: random octets, pieces that start like representations, and encoder output.
fn block() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        (0x80u8..=0xFF).prop_map(|b| vec![b]),
        Just(vec![0x40, 0x01, b'a', 0x01, b'b']),
        Just(vec![0x7E, 0x00]),
        Just(vec![0x40, 0x00, 0x00]),
        Just(vec![0x00, 0x81, 0x1F, 0x82, 0x1F, 0xFF]),
        Just(vec![0x40, 0x01, b'x', 0x7F, 0x40]),
        Just(vec![0x3F, 0xE1, 0x1F]),
        (0x20u8..=0x3F).prop_map(|b| vec![b]),
        prop::collection::vec(any::<u8>(), 1..5),
    ];
    let field = (
        prop::sample::select(
            CHANGING
                .iter()
                .chain(&SENSITIVE)
                .chain(&[&b"x-a"[..], b"server"])
                .copied()
                .collect::<Vec<_>>(),
        ),
        prop::collection::vec(any::<u8>(), 0..90),
    );
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        prop::collection::vec(piece, 0..16).prop_map(|p| p.concat()),
        (prop::collection::vec(field, 0..8), 0..300usize).prop_map(|(fields, size)| {
            let mut encoder = Encoder::new(4096);
            encoder.set_max_table_size(size);
            let mut buf = Vec::new();
            encoder.begin_block(&mut buf);
            for (n, v) in fields {
                encoder.field(&mut buf, n, &v);
            }
            buf
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn the_decoder_agrees_with_the_plain_model(
        blocks in prop::collection::vec(block(), 1..6),
        limit in prop_oneof![Just(0usize), Just(31), Just(32), 33..200usize, Just(4096)],
        max_list_size in prop_oneof![Just(usize::MAX), 0..400usize],
        max_fields in prop_oneof![Just(usize::MAX), 0..6usize],
    ) {
        let mut decoder = Decoder::new(limit);
        let mut model = Model::new(limit);
        let mut out = Fields::default();
        for block in blocks {
            let expected = model.decode(&block, max_list_size, max_fields);
            let got = decoder.decode(&block, max_list_size, max_fields, &mut out).map(|()| list(&out));
            prop_assert_eq!(&got, &expected, "{:02x?}", block);
            if got.is_err() {
                prop_assert!(out.is_empty());
            }
            if expected == Err(DecodeError::Compression) {
                break;
            }
            let table: List = (0..decoder.table().len()).map(|i| {
                let (n, v) = decoder.table().get(i).unwrap();
                (n.to_vec(), v.to_vec())
            }).collect();
            prop_assert_eq!(table, model.table.iter().cloned().collect::<List>());
            prop_assert_eq!(decoder.table().max_size(), model.max_size);
        }
    }
}
