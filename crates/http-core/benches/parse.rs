//! Parsing a typical browser request head and encoding a typical response head.
//! `cargo bench -p http-core`. Target (issue: performance): under 1 µs to parse the browser head.
#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented public function"
)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use http_core::limits::MAX_HEADERS;
use http_core::{EMPTY_HEADER, ResponseHead, StatusCode, Version, parse_request, target};

/// What Chromium sends for a page: about 500 bytes, 10 fields.
const BROWSER: &[u8] = b"GET /docs/getting-started/index.html?ref=nav HTTP/1.1\r\n\
Host: www.example.com\r\n\
Connection: keep-alive\r\n\
Cache-Control: max-age=0\r\n\
Upgrade-Insecure-Requests: 1\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36\r\n\
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\n\
Accept-Encoding: gzip, deflate, br, zstd\r\n\
Accept-Language: en-GB,en;q=0.9\r\n\
If-None-Match: \"1a2b3c-400-17f0c3a9e1d2a0b1\"\r\n\
If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n";

/// What wrk sends.
const MINIMAL: &[u8] = b"GET /1k.html HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse_request");
    for (name, input) in [("browser", BROWSER), ("minimal", MINIMAL)] {
        group.throughput(Throughput::Bytes(input.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut slots = [EMPTY_HEADER; MAX_HEADERS];
                let parsed = parse_request(black_box(input), &mut slots);
                black_box(parsed.is_ok());
            });
        });
    }
    group.finish();
    c.bench_function("target_decode", |b| {
        b.iter(|| {
            black_box(target::decode(black_box(
                b"/docs/getting-started/index.html?ref=nav",
            )))
        });
    });
}

fn encode(c: &mut Criterion) {
    let mut buf = Vec::with_capacity(512);
    c.bench_function("response_head", |b| {
        b.iter(|| {
            buf.clear();
            ResponseHead::new(
                &mut buf,
                StatusCode::OK,
                black_box("Sun, 06 Nov 1994 08:49:37 GMT"),
            )
            .header("Content-Type", "text/html; charset=utf-8")
            .content_length(black_box(1024))
            .header("Accept-Ranges", "bytes")
            .header("ETag", "\"1a2b3c-400-17f0c3a9e1d2a0b1\"")
            .header("Last-Modified", "Sun, 06 Nov 1994 08:49:37 GMT")
            .header("Cache-Control", "no-cache")
            .finish(Version::Http11, true);
            black_box(buf.len());
        });
    });
}

criterion_group!(benches, parse, encode);
criterion_main!(benches);
