//! HPACK: decoding a browser's request field blocks and encoding a typical response's.
//! `cargo bench -p http-core --bench hpack`.
//!
//! The request blocks are the fields Chromium sends for a page, encoded as browsers do
//! (Huffman-coded literals with incremental indexing): the first request on a connection,
//! where every field is a literal, and a later one, where all but the path are indexes.
#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented public function"
)]

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use http_core::h2::hpack::{DEFAULT_TABLE_SIZE, Decoder, Encoder, Fields};

/// What Chromium sends for a page (the HTTP/1.1 bench's head, as HTTP/2 fields).
const REQUEST: [(&str, &str); 14] = [
    (":method", "GET"),
    (":authority", "www.example.com"),
    (":scheme", "https"),
    (":path", "/docs/getting-started/index.html?ref=nav"),
    ("cache-control", "max-age=0"),
    (
        "sec-ch-ua",
        "\"Chromium\";v=\"156\", \"Not-A.Brand\";v=\"24\"",
    ),
    ("sec-ch-ua-mobile", "?0"),
    ("sec-ch-ua-platform", "\"Linux\""),
    ("upgrade-insecure-requests", "1"),
    (
        "user-agent",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36",
    ),
    (
        "accept",
        "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
    ),
    ("accept-encoding", "gzip, deflate, br, zstd"),
    ("accept-language", "en-GB,en;q=0.9"),
    ("if-none-match", "\"1a2b3c-400-17f0c3a9e1d2a0b1\""),
];

/// The request's field blocks: the first on a connection, then the same fields again for
/// another path. Encoded by our encoder, which, like a browser, Huffman-codes the strings and
/// indexes what may repeat.
fn request_blocks() -> (Vec<u8>, Vec<u8>) {
    let mut encoder = Encoder::new(DEFAULT_TABLE_SIZE);
    let mut first = Vec::new();
    encoder.begin_block(&mut first);
    for (name, value) in REQUEST {
        encoder.field(&mut first, name.as_bytes(), value.as_bytes());
    }
    let mut later = Vec::new();
    encoder.begin_block(&mut later);
    for (name, value) in REQUEST {
        let value = if name == ":path" {
            "/docs/next.html"
        } else {
            value
        };
        encoder.field(&mut later, name.as_bytes(), value.as_bytes());
    }
    (first, later)
}

fn decode(c: &mut Criterion) {
    let (first, later) = request_blocks();
    let mut group = c.benchmark_group("hpack_decode");
    let mut out = Fields::default();
    group.bench_function("first_request", |b| {
        b.iter_batched_ref(
            || Decoder::new(DEFAULT_TABLE_SIZE),
            |decoder| {
                decoder
                    .decode(black_box(&first), 16 * 1024, 100, &mut out)
                    .unwrap();
                black_box(out.len())
            },
            BatchSize::SmallInput,
        );
    });
    let mut decoder = Decoder::new(DEFAULT_TABLE_SIZE);
    decoder.decode(&first, 16 * 1024, 100, &mut out).unwrap();
    group.bench_function("later_request", |b| {
        b.iter(|| {
            decoder
                .decode(black_box(&later), 16 * 1024, 100, &mut out)
                .unwrap();
            black_box(out.len())
        });
    });
    group.finish();
}

/// A static file's response: the fields `server-bin` sends for a 200.
fn response(encoder: &mut Encoder, buf: &mut Vec<u8>) {
    encoder.begin_block(buf);
    encoder.status(buf, 200);
    encoder.field(buf, b"server", b"http-server");
    encoder.field(buf, b"date", black_box(b"Sun, 06 Nov 1994 08:49:37 GMT"));
    encoder.field(buf, b"content-type", b"text/html; charset=utf-8");
    encoder.field(buf, b"content-length", black_box(b"1024"));
    encoder.field(buf, b"last-modified", b"Sun, 06 Nov 1994 08:49:37 GMT");
    encoder.field(buf, b"etag", b"\"1a2b3c-400-17f0c3a9e1d2a0b1\"");
    encoder.field(buf, b"accept-ranges", b"bytes");
    encoder.field(buf, b"cache-control", b"no-cache");
}

fn encode(c: &mut Criterion) {
    let mut encoder = Encoder::new(DEFAULT_TABLE_SIZE);
    let mut buf = Vec::with_capacity(512);
    response(&mut encoder, &mut buf);
    c.bench_function("hpack_encode/response", |b| {
        b.iter(|| {
            buf.clear();
            response(&mut encoder, &mut buf);
            black_box(buf.len())
        });
    });
}

criterion_group!(benches, decode, encode);
criterion_main!(benches);
