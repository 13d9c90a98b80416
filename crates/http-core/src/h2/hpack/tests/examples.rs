//! RFC 7541 Appendix C, every example: the integers (C.1), the representations (C.2), and
//! the three requests and three responses, without Huffman coding (C.3, C.5) and with it (C.4,
//! C.6). The decoder must give the listed fields and the listed dynamic table after each block;
//! the encoder must give the listed octets wherever its choices can be made the RFC's: through
//! [`Encoder::field`] itself for C.4 and, with the indexing and Huffman choices the examples
//! made, for the others.
//!
//! The data below is taken from the RFC's text by a script (hex dumps, decoded lists, tables).

use super::super::encoder::{self, Huffman, Indexing, policy};
use super::super::{Decoder, Encoder, Fields};
use super::{UNBOUNDED, entries, hex, list, owned};

struct Example {
    section: &'static str,
    hex: &'static str,
    fields: &'static [(&'static str, &'static str)],
    /// The dynamic table after decoding, newest first.
    table: &'static [(&'static str, &'static str)],
    table_size: usize,
}

/// C.3: requests without Huffman coding.
const C3: [Example; 3] = [
    Example {
        section: "C.3.1",
        hex: "828684410f7777772e6578616d706c652e636f6d",
        fields: &[
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/"),
            (":authority", "www.example.com"),
        ],
        table: &[(":authority", "www.example.com")],
        table_size: 57,
    },
    Example {
        section: "C.3.2",
        hex: "828684be58086e6f2d6361636865",
        fields: &[
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/"),
            (":authority", "www.example.com"),
            ("cache-control", "no-cache"),
        ],
        table: &[
            ("cache-control", "no-cache"),
            (":authority", "www.example.com"),
        ],
        table_size: 110,
    },
    Example {
        section: "C.3.3",
        hex: "828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565",
        fields: &[
            (":method", "GET"),
            (":scheme", "https"),
            (":path", "/index.html"),
            (":authority", "www.example.com"),
            ("custom-key", "custom-value"),
        ],
        table: &[
            ("custom-key", "custom-value"),
            ("cache-control", "no-cache"),
            (":authority", "www.example.com"),
        ],
        table_size: 164,
    },
];

/// C.4: the same requests with Huffman coding.
const C4: [Example; 3] = [
    Example {
        section: "C.4.1",
        hex: "828684418cf1e3c2e5f23a6ba0ab90f4ff",
        fields: &[
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/"),
            (":authority", "www.example.com"),
        ],
        table: &[(":authority", "www.example.com")],
        table_size: 57,
    },
    Example {
        section: "C.4.2",
        hex: "828684be5886a8eb10649cbf",
        fields: &[
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/"),
            (":authority", "www.example.com"),
            ("cache-control", "no-cache"),
        ],
        table: &[
            ("cache-control", "no-cache"),
            (":authority", "www.example.com"),
        ],
        table_size: 110,
    },
    Example {
        section: "C.4.3",
        hex: "828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf",
        fields: &[
            (":method", "GET"),
            (":scheme", "https"),
            (":path", "/index.html"),
            (":authority", "www.example.com"),
            ("custom-key", "custom-value"),
        ],
        table: &[
            ("custom-key", "custom-value"),
            ("cache-control", "no-cache"),
            (":authority", "www.example.com"),
        ],
        table_size: 164,
    },
];

/// C.5: responses without Huffman coding, SETTINGS_HEADER_TABLE_SIZE 256.
const C5: [Example; 3] = [
    Example {
        section: "C.5.1",
        hex: "4803333032580770726976617465611d4d6f6e2c203231204f637420323031332032303a31333a323120474d546e1768747470733a2f2f7777772e6578616d706c652e636f6d",
        fields: &[
            (":status", "302"),
            ("cache-control", "private"),
            ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
            ("location", "https://www.example.com"),
        ],
        table: &[
            ("location", "https://www.example.com"),
            ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
            ("cache-control", "private"),
            (":status", "302"),
        ],
        table_size: 222,
    },
    Example {
        section: "C.5.2",
        hex: "4803333037c1c0bf",
        fields: &[
            (":status", "307"),
            ("cache-control", "private"),
            ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
            ("location", "https://www.example.com"),
        ],
        table: &[
            (":status", "307"),
            ("location", "https://www.example.com"),
            ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
            ("cache-control", "private"),
        ],
        table_size: 222,
    },
    Example {
        section: "C.5.3",
        hex: "88c1611d4d6f6e2c203231204f637420323031332032303a31333a323220474d54c05a04677a69707738666f6f3d4153444a4b48514b425a584f5157454f50495541585157454f49553b206d61782d6167653d333630303b2076657273696f6e3d31",
        fields: &[
            (":status", "200"),
            ("cache-control", "private"),
            ("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
            ("location", "https://www.example.com"),
            ("content-encoding", "gzip"),
            (
                "set-cookie",
                "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
            ),
        ],
        table: &[
            (
                "set-cookie",
                "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
            ),
            ("content-encoding", "gzip"),
            ("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
        ],
        table_size: 215,
    },
];

/// C.6: the same responses with Huffman coding.
const C6: [Example; 3] = [
    Example {
        section: "C.6.1",
        hex: "488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad171863c78f0b97c8e9ae82ae43d3",
        fields: &[
            (":status", "302"),
            ("cache-control", "private"),
            ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
            ("location", "https://www.example.com"),
        ],
        table: &[
            ("location", "https://www.example.com"),
            ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
            ("cache-control", "private"),
            (":status", "302"),
        ],
        table_size: 222,
    },
    Example {
        section: "C.6.2",
        hex: "4883640effc1c0bf",
        fields: &[
            (":status", "307"),
            ("cache-control", "private"),
            ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
            ("location", "https://www.example.com"),
        ],
        table: &[
            (":status", "307"),
            ("location", "https://www.example.com"),
            ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
            ("cache-control", "private"),
        ],
        table_size: 222,
    },
    Example {
        section: "C.6.3",
        hex: "88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab77ad94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007",
        fields: &[
            (":status", "200"),
            ("cache-control", "private"),
            ("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
            ("location", "https://www.example.com"),
            ("content-encoding", "gzip"),
            (
                "set-cookie",
                "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
            ),
        ],
        table: &[
            (
                "set-cookie",
                "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
            ),
            ("content-encoding", "gzip"),
            ("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
        ],
        table_size: 215,
    },
];

/// Decodes the examples in order on one connection, checking the list and table after each.
fn decode_in_order(examples: &[Example], table_size: usize) {
    let mut decoder = Decoder::new(table_size);
    let mut out = Fields::default();
    for ex in examples {
        let result = decoder.decode(&hex(ex.hex), UNBOUNDED, UNBOUNDED, &mut out);
        assert_eq!(result, Ok(()), "{}", ex.section);
        assert_eq!(list(&out), owned(ex.fields), "{}: fields", ex.section);
        assert_eq!(
            entries(decoder.table()),
            owned(ex.table),
            "{}: table",
            ex.section
        );
        assert_eq!(
            decoder.table().size(),
            ex.table_size,
            "{}: size",
            ex.section
        );
    }
}

/// Encodes the examples' fields in order on one connection, each field as `choose` says,
/// checking the octets and the encoder's table after each block.
fn encode_in_order(
    examples: &[Example],
    table_size: usize,
    mut choose: impl FnMut(&[u8], &[u8]) -> (Indexing, Huffman),
) {
    let mut encoder = Encoder::new(table_size);
    for ex in examples {
        let mut block = Vec::new();
        encoder.begin_block(&mut block);
        for (name, value) in ex.fields {
            let (indexing, huffman) = choose(name.as_bytes(), value.as_bytes());
            encoder.encode(
                &mut block,
                name.as_bytes(),
                value.as_bytes(),
                indexing,
                huffman,
            );
        }
        assert_eq!(block, hex(ex.hex), "{}: octets", ex.section);
        assert_eq!(
            entries(encoder.table()),
            owned(ex.table),
            "{}: table",
            ex.section
        );
    }
}

#[test]
fn c1_integers_encode_and_decode_as_the_examples_show() {
    // (prefix mask, value, octets); the pattern bits of the first octet are zero here.
    let table: [(u8, usize, &[u8]); 3] = [
        (0x1F, 10, &[0b0000_1010]),                             // C.1.1
        (0x1F, 1337, &[0b0001_1111, 0b1001_1010, 0b0000_1010]), // C.1.2
        (0xFF, 42, &[0b0010_1010]),                             // C.1.3
    ];
    for (mask, value, octets) in table {
        let mut buf = Vec::new();
        encoder::integer(&mut buf, (0, mask), value);
        assert_eq!(buf, octets, "{value}");
        let mut rest = octets;
        assert_eq!(super::super::decoder::integer(&mut rest, mask), Ok(value));
        assert!(rest.is_empty());
    }
}

#[test]
fn c2_1_a_literal_with_indexing_enters_the_dynamic_table() {
    let octets = hex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572");
    let mut decoder = Decoder::new(4096);
    let mut out = Fields::default();
    assert_eq!(
        decoder.decode(&octets, UNBOUNDED, UNBOUNDED, &mut out),
        Ok(())
    );
    assert_eq!(list(&out), owned(&[("custom-key", "custom-header")]));
    assert_eq!(
        entries(decoder.table()),
        owned(&[("custom-key", "custom-header")])
    );
    assert_eq!(decoder.table().size(), 55);

    let mut encoder = Encoder::new(4096);
    let mut block = Vec::new();
    encoder.encode(
        &mut block,
        b"custom-key",
        b"custom-header",
        Indexing::Incremental,
        Huffman::Never,
    );
    assert_eq!(block, octets);
}

#[test]
fn c2_2_a_literal_without_indexing_leaves_the_table_empty() {
    let octets = hex("040c 2f73 616d 706c 652f 7061 7468");
    let mut decoder = Decoder::new(4096);
    let mut out = Fields::default();
    assert_eq!(
        decoder.decode(&octets, UNBOUNDED, UNBOUNDED, &mut out),
        Ok(())
    );
    assert_eq!(list(&out), owned(&[(":path", "/sample/path")]));
    assert_eq!(decoder.table().len(), 0);

    let mut encoder = Encoder::new(4096);
    let mut block = Vec::new();
    encoder.encode(
        &mut block,
        b":path",
        b"/sample/path",
        Indexing::Without,
        Huffman::Never,
    );
    assert_eq!(block, octets);
    assert_eq!(encoder.table().len(), 0);
}

#[test]
fn c2_3_a_literal_never_indexed_leaves_the_table_empty() {
    let octets = hex("1008 7061 7373 776f 7264 0673 6563 7265 74");
    let mut decoder = Decoder::new(4096);
    let mut out = Fields::default();
    assert_eq!(
        decoder.decode(&octets, UNBOUNDED, UNBOUNDED, &mut out),
        Ok(())
    );
    assert_eq!(list(&out), owned(&[("password", "secret")]));
    assert_eq!(decoder.table().len(), 0);

    let mut encoder = Encoder::new(4096);
    let mut block = Vec::new();
    encoder.encode(
        &mut block,
        b"password",
        b"secret",
        Indexing::Never,
        Huffman::Never,
    );
    assert_eq!(block, octets);
    assert_eq!(encoder.table().len(), 0);
}

#[test]
fn c2_4_an_indexed_field_comes_from_the_static_table() {
    let mut decoder = Decoder::new(4096);
    let mut out = Fields::default();
    assert_eq!(
        decoder.decode(&[0x82], UNBOUNDED, UNBOUNDED, &mut out),
        Ok(())
    );
    assert_eq!(list(&out), owned(&[(":method", "GET")]));
    assert_eq!(decoder.table().len(), 0);

    let mut encoder = Encoder::new(4096);
    let mut block = Vec::new();
    encoder.field(&mut block, b":method", b"GET");
    assert_eq!(block, [0x82]);
}

#[test]
fn c3_requests_without_huffman_decode_to_the_listed_fields_and_tables() {
    decode_in_order(&C3, 4096);
}

#[test]
fn c4_requests_with_huffman_decode_to_the_listed_fields_and_tables() {
    decode_in_order(&C4, 4096);
}

#[test]
fn c5_responses_without_huffman_decode_with_the_listed_evictions() {
    decode_in_order(&C5, 256);
}

#[test]
fn c6_responses_with_huffman_decode_with_the_listed_evictions() {
    decode_in_order(&C6, 256);
}

#[test]
fn c3_requests_encode_to_the_listed_octets_by_the_policy_without_huffman() {
    encode_in_order(&C3, 4096, |name, value| {
        (policy(name, value, 4096), Huffman::Never)
    });
}

#[test]
fn c4_requests_encode_to_the_listed_octets_through_field_itself() {
    let mut encoder = Encoder::new(4096);
    for ex in &C4 {
        let mut block = Vec::new();
        encoder.begin_block(&mut block);
        for (name, value) in ex.fields {
            encoder.field(&mut block, name.as_bytes(), value.as_bytes());
        }
        assert_eq!(block, hex(ex.hex), "{}", ex.section);
        assert_eq!(
            entries(encoder.table()),
            owned(ex.table),
            "{}: table",
            ex.section
        );
    }
}

#[test]
fn c5_responses_encode_to_the_listed_octets_when_every_literal_is_indexed() {
    encode_in_order(&C5, 256, |_, _| (Indexing::Incremental, Huffman::Never));
}

#[test]
fn c6_responses_encode_to_the_listed_octets_when_every_literal_is_indexed() {
    encode_in_order(&C6, 256, |_, _| (Indexing::Incremental, Huffman::Always));
}

#[test]
fn c6_responses_through_field_differ_only_where_the_policy_keeps_fields_out_of_the_table() {
    // The policy leaves `date` and `location` out of the table and never indexes
    // `set-cookie`; the blocks still decode to the listed fields.
    let mut encoder = Encoder::new(256);
    let mut decoder = Decoder::new(256);
    let mut out = Fields::default();
    for ex in &C6 {
        let mut block = Vec::new();
        encoder.begin_block(&mut block);
        for (name, value) in ex.fields {
            if *name == ":status" {
                encoder.status(&mut block, value.parse().unwrap());
            } else {
                encoder.field(&mut block, name.as_bytes(), value.as_bytes());
            }
        }
        assert_eq!(
            decoder.decode(&block, UNBOUNDED, UNBOUNDED, &mut out),
            Ok(())
        );
        assert_eq!(list(&out), owned(ex.fields), "{}", ex.section);
        assert_eq!(
            entries(encoder.table()),
            entries(decoder.table()),
            "{}",
            ex.section
        );
        assert!(
            entries(decoder.table())
                .iter()
                .all(|(n, _)| !matches!(&n[..], b"date" | b"location" | b"set-cookie"))
        );
    }
}
