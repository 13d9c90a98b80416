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

/// One block of a connection's examples: its fields, and the dynamic table after it.
struct Block {
    fields: &'static [(&'static str, &'static str)],
    /// Newest first.
    table: &'static [(&'static str, &'static str)],
    table_size: usize,
}

/// C.3 and C.4: three requests on one connection.
const REQUESTS: [Block; 3] = [
    Block {
        fields: &[
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/"),
            (":authority", "www.example.com"),
        ],
        table: &[(":authority", "www.example.com")],
        table_size: 57,
    },
    Block {
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
    Block {
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

/// C.5 and C.6: three responses on one connection, SETTINGS_HEADER_TABLE_SIZE 256.
const RESPONSES: [Block; 3] = [
    Block {
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
    Block {
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
    Block {
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

/// C.3.1 to C.3.3: the requests without Huffman coding.
const C3: [&str; 3] = [
    "828684410f7777772e6578616d706c652e636f6d",
    "828684be58086e6f2d6361636865",
    "828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565",
];

/// C.4.1 to C.4.3: with Huffman coding.
const C4: [&str; 3] = [
    "828684418cf1e3c2e5f23a6ba0ab90f4ff",
    "828684be5886a8eb10649cbf",
    "828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf",
];

/// C.5.1 to C.5.3: the responses without Huffman coding.
const C5: [&str; 3] = [
    "4803333032580770726976617465611d4d6f6e2c203231204f637420323031332032303a31333a323120474d546e1768747470733a2f2f7777772e6578616d706c652e636f6d",
    "4803333037c1c0bf",
    "88c1611d4d6f6e2c203231204f637420323031332032303a31333a323220474d54c05a04677a69707738666f6f3d4153444a4b48514b425a584f5157454f50495541585157454f49553b206d61782d6167653d333630303b2076657273696f6e3d31",
];

/// C.6.1 to C.6.3: with Huffman coding.
const C6: [&str; 3] = [
    "488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad171863c78f0b97c8e9ae82ae43d3",
    "4883640effc1c0bf",
    "88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab77ad94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007",
];

/// Decodes a connection's blocks in order (`section` names them), checking the list and the
/// table after each.
fn decode_in_order(section: &str, blocks: &[Block], octets: &[&str], table_size: usize) {
    let mut decoder = Decoder::new(table_size);
    let mut out = Fields::default();
    for (i, (block, octets)) in blocks.iter().zip(octets).enumerate() {
        let at = format!("{section}.{}", i + 1);
        let result = decoder.decode(&hex(octets), UNBOUNDED, UNBOUNDED, &mut out);
        assert_eq!(result, Ok(()), "{at}");
        assert_eq!(list(&out), owned(block.fields), "{at}: fields");
        assert_eq!(entries(decoder.table()), owned(block.table), "{at}: table");
        assert_eq!(decoder.table().size(), block.table_size, "{at}: size");
    }
}

/// Encodes a connection's blocks in order, each field as `choose` says (`None`: through
/// [`Encoder::field`]), checking the octets and the encoder's table after each block.
fn encode_in_order(
    section: &str,
    blocks: &[Block],
    octets: &[&str],
    table_size: usize,
    choose: Option<(Indexing, Huffman)>,
) {
    let mut encoder = Encoder::new(table_size);
    for (i, (block, octets)) in blocks.iter().zip(octets).enumerate() {
        let at = format!("{section}.{}", i + 1);
        let mut buf = Vec::new();
        encoder.begin_block(&mut buf);
        for (name, value) in block.fields {
            let (name, value) = (name.as_bytes(), value.as_bytes());
            match choose {
                Some((indexing, huffman)) => {
                    encoder.encode(&mut buf, name, value, indexing, huffman)
                }
                None => encoder.field(&mut buf, name, value),
            }
        }
        assert_eq!(buf, hex(octets), "{at}: octets");
        assert_eq!(entries(encoder.table()), owned(block.table), "{at}: table");
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
fn c2_each_representation_decodes_and_encodes_as_listed() {
    // (section, octets, field, how the example encodes it, dynamic table after, its size).
    type Row = (
        &'static str,
        &'static str,
        (&'static str, &'static str),
        Indexing,
        bool,
        usize,
    );
    let table: [Row; 4] = [
        (
            "C.2.1",
            "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572",
            ("custom-key", "custom-header"),
            Indexing::Incremental,
            true,
            55,
        ),
        (
            "C.2.2",
            "040c 2f73 616d 706c 652f 7061 7468",
            (":path", "/sample/path"),
            Indexing::Without,
            false,
            0,
        ),
        (
            "C.2.3",
            "1008 7061 7373 776f 7264 0673 6563 7265 74",
            ("password", "secret"),
            Indexing::Never,
            false,
            0,
        ),
        (
            "C.2.4",
            "82",
            (":method", "GET"),
            Indexing::Incremental,
            false,
            0,
        ),
    ];
    for (section, octets, field, indexing, indexed, size) in table {
        let octets = hex(octets);
        let table_after = if indexed { owned(&[field]) } else { vec![] };
        let mut decoder = Decoder::new(4096);
        let mut out = Fields::default();
        let decoded = decoder.decode(&octets, UNBOUNDED, UNBOUNDED, &mut out);
        assert_eq!(decoded, Ok(()), "{section}");
        assert_eq!(list(&out), owned(&[field]), "{section}");
        assert_eq!(entries(decoder.table()), table_after, "{section}");
        assert_eq!(decoder.table().size(), size, "{section}");

        let mut encoder = Encoder::new(4096);
        let mut block = Vec::new();
        let (name, value) = (field.0.as_bytes(), field.1.as_bytes());
        encoder.encode(&mut block, name, value, indexing, Huffman::Never);
        assert_eq!(block, octets, "{section}");
        assert_eq!(entries(encoder.table()), table_after, "{section}");
    }
    // C.2.4 through the encoder's own policy too.
    let mut block = Vec::new();
    Encoder::new(4096).field(&mut block, b":method", b"GET");
    assert_eq!(block, [0x82]);
}

#[test]
fn c3_to_c6_decode_to_the_listed_fields_and_tables_block_after_block() {
    decode_in_order("C.3", &REQUESTS, &C3, 4096);
    decode_in_order("C.4", &REQUESTS, &C4, 4096);
    decode_in_order("C.5", &RESPONSES, &C5, 256);
    decode_in_order("C.6", &RESPONSES, &C6, 256);
}

#[test]
fn c3_to_c6_encode_to_the_listed_octets_with_the_examples_choices() {
    // Every literal in C.3 to C.6 is indexed; C.3 and C.5 code no string, C.4 and C.6 code
    // them all (C.6.2's "307" too, though that is no shorter).
    let raw = Some((Indexing::Incremental, Huffman::Never));
    let coded = Some((Indexing::Incremental, Huffman::Always));
    encode_in_order("C.3", &REQUESTS, &C3, 4096, raw);
    encode_in_order("C.4", &REQUESTS, &C4, 4096, coded);
    encode_in_order("C.5", &RESPONSES, &C5, 256, raw);
    encode_in_order("C.6", &RESPONSES, &C6, 256, coded);
}

#[test]
fn c3_and_c4_are_what_the_encoder_s_own_policy_writes_for_those_requests() {
    for block in &REQUESTS {
        for (name, value) in block.fields {
            let indexing = policy(name.as_bytes(), value.as_bytes(), 4096);
            assert_eq!(indexing, Indexing::Incremental, "{name}");
        }
    }
    // Through `field` itself: Huffman coding where shorter, which C.4's strings all are.
    encode_in_order("C.4", &REQUESTS, &C4, 4096, None);
}

#[test]
fn c6_responses_through_field_differ_only_where_the_policy_keeps_fields_out_of_the_table() {
    // The policy leaves `date` and `location` out of the table and never indexes
    // `set-cookie`; the blocks still decode to the listed fields.
    let mut encoder = Encoder::new(256);
    let mut decoder = Decoder::new(256);
    let mut out = Fields::default();
    for block in &RESPONSES {
        let mut buf = Vec::new();
        encoder.begin_block(&mut buf);
        for (name, value) in block.fields {
            if *name == ":status" {
                encoder.status(&mut buf, value.parse().unwrap());
            } else {
                encoder.field(&mut buf, name.as_bytes(), value.as_bytes());
            }
        }
        assert_eq!(decoder.decode(&buf, UNBOUNDED, UNBOUNDED, &mut out), Ok(()));
        assert_eq!(list(&out), owned(block.fields));
        assert_eq!(entries(encoder.table()), entries(decoder.table()));
        let kept_out =
            |(n, _): &(Vec<u8>, Vec<u8>)| matches!(&n[..], b"date" | b"location" | b"set-cookie");
        assert!(!entries(decoder.table()).iter().any(kept_out));
    }
}
