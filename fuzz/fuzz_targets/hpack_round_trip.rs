//! HPACK round trip: whatever fields the encoder is given, under any sequence of table sizes
//! the peer sets, the decoder gives back the same list, block after block (so the two dynamic
//! tables stay in step), and the encoder's table stays within our ceiling.
#![no_main]

use http_core::h2::hpack::{DEFAULT_TABLE_SIZE, Decoder, Encoder, Fields};
use libfuzzer_sys::fuzz_target;

/// Names the encoder's policy treats apart, and common ones.
const NAMES: [&[u8]; 12] = [
    b"server",
    b"content-type",
    b"cache-control",
    b"date",
    b"etag",
    b"last-modified",
    b"content-length",
    b"set-cookie",
    b"location",
    b"vary",
    b":status",
    b"x-custom",
];

/// Takes `n` octets from the front of `data` (fewer at its end).
fn take<'a>(data: &mut &'a [u8], n: usize) -> &'a [u8] {
    let (head, tail) = data.split_at(n.min(data.len()));
    *data = tail;
    head
}

fn byte(data: &mut &[u8]) -> u8 {
    take(data, 1).first().copied().unwrap_or(0)
}

fn u16_le(data: &mut &[u8]) -> u16 {
    u16::from(byte(data)) | u16::from(byte(data)) << 8
}

fuzz_target!(|data: &[u8]| {
    let mut data = data;
    let mut encoder = Encoder::new(DEFAULT_TABLE_SIZE);
    let mut decoder = Decoder::new(DEFAULT_TABLE_SIZE);
    let mut out = Fields::default();
    let mut block = Vec::new();
    let mut expected: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    encoder.begin_block(&mut block);
    let mut check = |block: &mut Vec<u8>, expected: &mut Vec<(Vec<u8>, Vec<u8>)>| {
        assert_eq!(
            decoder.decode(block, usize::MAX, usize::MAX, &mut out),
            Ok(())
        );
        let decoded: Vec<(Vec<u8>, Vec<u8>)> =
            out.iter().map(|(n, v)| (n.to_vec(), v.to_vec())).collect();
        assert_eq!(&decoded, expected);
        block.clear();
        expected.clear();
    };
    while !data.is_empty() {
        let op = byte(&mut data);
        match op % 8 {
            0 => {
                // The peer's SETTINGS, then a new block.
                check(&mut block, &mut expected);
                encoder.set_max_table_size(usize::from(u16_le(&mut data)) * 2);
                if op & 0x80 != 0 {
                    encoder.set_max_table_size(usize::from(byte(&mut data)));
                }
                encoder.begin_block(&mut block);
            }
            1 => {
                check(&mut block, &mut expected);
                encoder.begin_block(&mut block);
            }
            2 => {
                let status = u16_le(&mut data);
                encoder.status(&mut block, status);
                expected.push((b":status".to_vec(), status.to_string().into_bytes()));
            }
            _ => {
                let name = if op & 0x08 != 0 {
                    NAMES[usize::from(op >> 4) % NAMES.len()].to_vec()
                } else {
                    let len = usize::from(byte(&mut data) % 32);
                    take(&mut data, len).to_ascii_lowercase()
                };
                let len = usize::from(u16_le(&mut data) % 4096);
                let value = take(&mut data, len).to_vec();
                encoder.field(&mut block, &name, &value);
                expected.push((name, value));
            }
        }
        assert!(encoder.heap_bytes() <= 2 * DEFAULT_TABLE_SIZE + DEFAULT_TABLE_SIZE / 32 * 24);
    }
    check(&mut block, &mut expected);
});
