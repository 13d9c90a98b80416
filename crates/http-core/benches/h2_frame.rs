//! The HTTP/2 frame layer on what a browser sends first and on a response's frames.
//! `cargo bench -p http-core --bench h2_frame`. Parsing borrows and writing appends to a reused
//! buffer, so no case allocates.
#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented public function"
)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use http_core::Status;
use http_core::h2::frame::{self, DEFAULT_MAX_FRAME_SIZE, ErrorCode, Frame, Settings};

/// A browser's first flight after the preface, as Chromium sends it: SETTINGS (four
/// parameters), a connection WINDOW_UPDATE, and the HEADERS of a page request with the
/// PRIORITY flag and a 280-byte HPACK block (mostly literals, as on a new connection).
fn first_flight() -> Vec<u8> {
    let mut buf = Vec::new();
    frame::write_settings(
        &mut buf,
        &[(1, 65_536), (2, 0), (4, 6_291_456), (6, 262_144)],
    );
    frame::write_window_update(&mut buf, 0, 15_663_105);
    let block: Vec<u8> = (0..280_u32).map(|i| (i * 7) as u8).collect();
    let mut payload = vec![0x80, 0, 0, 0, 0xff];
    payload.extend_from_slice(&block);
    frame::write_header(&mut buf, payload.len() as u32, frame::TYPE_HEADERS, 0x25, 1);
    buf.extend_from_slice(&payload);
    buf
}

fn parse(c: &mut Criterion) {
    let flight = first_flight();
    let mut group = c.benchmark_group("h2_parse");
    group.throughput(Throughput::Bytes(flight.len() as u64));
    group.bench_function("first_flight", |b| {
        b.iter(|| {
            let mut buf = black_box(&flight[..]);
            let mut settings = Settings::default();
            let mut block_len = 0;
            while let Ok(Status::Complete((f, len))) = frame::parse(buf, DEFAULT_MAX_FRAME_SIZE) {
                match f {
                    Frame::Settings { params, .. } => {
                        for (id, value) in params.iter() {
                            let _ = settings.apply(id, value);
                        }
                    }
                    Frame::Headers { block, .. } => block_len += block.len(),
                    _ => {}
                }
                buf = &buf[len..];
            }
            black_box((settings, block_len))
        });
    });
    group.finish();

    let headers_at = flight.len() - 9 - 285;
    let headers = &flight[headers_at..];
    c.bench_function("h2_parse/headers_frame", |b| {
        b.iter(|| black_box(frame::parse(black_box(headers), DEFAULT_MAX_FRAME_SIZE)))
    });
    let mut data = Vec::new();
    frame::write_data_header(&mut data, 1, 16_384, true);
    data.resize(9 + 16_384, 0x55);
    c.bench_function("h2_parse/data_frame_16k", |b| {
        b.iter(|| black_box(frame::parse(black_box(&data), DEFAULT_MAX_FRAME_SIZE)))
    });
}

fn write(c: &mut Criterion) {
    let mut buf = Vec::with_capacity(1 << 16);
    let block = [0x88_u8; 120];
    c.bench_function("h2_write/response_frames", |b| {
        b.iter(|| {
            buf.clear();
            frame::write_headers(&mut buf, black_box(1), black_box(&block), false, 16_384);
            frame::write_data_header(&mut buf, 1, black_box(1024), true);
            frame::write_window_update(&mut buf, 0, black_box(1 << 20));
            frame::write_rst_stream(&mut buf, 3, ErrorCode::Cancel);
            black_box(buf.len())
        });
    });
}

criterion_group!(benches, parse, write);
criterion_main!(benches);
