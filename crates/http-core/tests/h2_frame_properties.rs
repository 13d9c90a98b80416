//! Properties of the HTTP/2 frame layer over generated input: parsing never panics and never
//! reports more bytes than it was given; a frame fed in pieces gets the answer it gets whole;
//! and whatever the writers write parses back to what they were asked to write.

use http_core::Status;
use http_core::h2::frame::{
    self, DEFAULT_MAX_FRAME_SIZE, Frame, FrameError, HEADER_LEN, MAX_MAX_FRAME_SIZE, MAX_WINDOW,
};
use proptest::prelude::*;

type Parsed<'a> = Result<Status<(Frame<'a>, usize)>, FrameError>;

/// Parses `buf` frame after frame, as a connection would, checking what every answer claims.
/// Returns how many frames were whole and where parsing stopped.
fn parse_all(buf: &[u8], max: u32) -> (usize, usize) {
    let limit = max.clamp(DEFAULT_MAX_FRAME_SIZE, MAX_MAX_FRAME_SIZE) as usize;
    let mut at = 0;
    let mut count = 0;
    loop {
        let rest = &buf[at..];
        match frame::parse(rest, max) {
            Ok(Status::Complete((f, len))) => {
                assert!(
                    len >= HEADER_LEN && len <= rest.len(),
                    "{len} of {}",
                    rest.len()
                );
                assert!(len - HEADER_LEN <= limit);
                assert_eq!(frame::frame_len(rest), Some(len));
                check_inside(&f, &rest[HEADER_LEN..len]);
                at += len;
                count += 1;
            }
            Ok(Status::Partial) => {
                if let Some(len) = frame::frame_len(rest) {
                    assert!(len > rest.len(), "a whole frame is never Partial");
                }
                return (count, at);
            }
            Err(e) => {
                assert!(e.reason.contains("RFC 9113 §"));
                if let Some(stream) = e.stream {
                    // A stream error names the frame's stream and comes once the frame is
                    // whole, so that the caller can skip it and go on.
                    assert_ne!(stream, 0);
                    let len = frame::frame_len(rest).expect("a stream error has a header");
                    assert!(len <= rest.len());
                    at += len;
                } else {
                    return (count, at);
                }
            }
        }
    }
}

/// The slices a frame holds lie within its payload.
fn check_inside(f: &Frame<'_>, payload: &[u8]) {
    let within = |s: &[u8]| {
        let (start, end) = (
            payload.as_ptr() as usize,
            payload.as_ptr() as usize + payload.len(),
        );
        let p = s.as_ptr() as usize;
        assert!(s.is_empty() || (p >= start && p + s.len() <= end));
    };
    match *f {
        Frame::Data { data, flow_len, .. } => {
            within(data);
            assert_eq!(flow_len as usize, payload.len());
            assert!(data.len() <= payload.len());
        }
        Frame::Headers { block, .. } | Frame::Continuation { block, .. } => within(block),
        Frame::GoAway { debug, .. } => within(debug),
        Frame::Settings { params, ack } => {
            assert_eq!(params.len() * 6, payload.len());
            assert!(!ack || params.is_empty());
        }
        Frame::WindowUpdate { increment, .. } => assert!((1..=MAX_WINDOW).contains(&increment)),
        Frame::Priority { stream, priority } => assert_ne!(stream, priority.dependency),
        _ => {}
    }
}

/// A frame header with a type, flags and stream that exercise every rule, and a length that
/// mostly matches the payload (sometimes longer or shorter than the bytes that follow). Each
/// type mostly gets the stream and the payload length it needs, so that valid frames and the
/// errors found only in the payload come often.
fn framed() -> impl Strategy<Value = Vec<u8>> {
    let kind = prop_oneof![4 => 0u8..=9, 1 => any::<u8>()];
    kind.prop_flat_map(|kind| {
        let connection_frame = matches!(kind, 4 | 6 | 7);
        let (likely_stream, likely_len) = match kind {
            2 => (1u32..8, 5usize..6),
            3 | 8 => (if kind == 8 { 0u32..8 } else { 1u32..8 }, 4..5),
            4 => (0..1, 0..3),
            6 => (0..1, 8..9),
            7 => (0..1, 8..20),
            _ => (1..8, 0..40),
        };
        let stream = prop_oneof![
            3 => likely_stream,
            1 => if connection_frame { 1u32..4 } else { 0u32..1 },
            1 => prop::sample::select(vec![0x7fff_ffff_u32, 0x8000_0000, 0x8000_0001, u32::MAX]),
        ];
        let len = prop_oneof![3 => likely_len.prop_map(move |n| if kind == 4 { n * 6 } else { n }), 1 => 0usize..40];
        let payload = len.prop_flat_map(|n| {
            prop::collection::vec(prop_oneof![1 => Just(0u8), 2 => 0u8..8, 1 => any::<u8>()], n)
        });
        let flags = prop_oneof![
            2 => prop::sample::select(vec![0u8, 0x1, 0x4, 0x5, 0x8, 0x9, 0x20, 0x24, 0x2d]),
            1 => any::<u8>()
        ];
        let skew = prop_oneof![3 => Just(0i64), 1 => -3i64..=3];
        let after = prop::collection::vec(any::<u8>(), 0..12);
        (Just(kind), flags, stream, payload, skew, after)
    })
    .prop_map(|(kind, flags, stream, payload, skew, after)| {
        let len = (payload.len() as i64 + skew).max(0) as u32;
        let mut buf = len.to_be_bytes()[1..].to_vec();
        buf.extend_from_slice(&[kind, flags]);
        buf.extend_from_slice(&stream.to_be_bytes());
        buf.extend_from_slice(&payload);
        buf.extend_from_slice(&after);
        buf
    })
}

/// What the parser said, owned, so that answers for different buffers compare.
fn answer(parsed: Parsed<'_>) -> String {
    format!("{parsed:?}")
}

#[path = "support/h2_writes.rs"]
mod h2_writes;

use h2_writes::Write;

fn stream_id() -> impl Strategy<Value = u32> {
    prop_oneof![1u32..100, 1u32..=0x7fff_ffff]
}

/// A header block of a length in `len`, its bytes from a seed (generating each byte through
/// proptest would take most of the test's time).
fn big_block(len: std::ops::Range<usize>) -> impl Strategy<Value = Vec<u8>> {
    (len, any::<u8>()).prop_map(|(n, seed)| {
        (0..n)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect()
    })
}

fn write() -> impl Strategy<Value = Write> {
    let bytes = |n| prop::collection::vec(any::<u8>(), 0..n);
    prop_oneof![
        prop::collection::vec(any::<(u16, u32)>(), 0..12).prop_map(Write::Settings),
        Just(Write::SettingsAck),
        any::<[u8; 8]>().prop_map(Write::PingAck),
        (any::<u32>(), any::<u32>(), bytes(64)).prop_map(|(l, c, d)| Write::GoAway(l, c, d)),
        (stream_id(), any::<u32>()).prop_map(|(s, c)| Write::RstStream(s, c)),
        (0u32..=0x7fff_ffff, 1..=MAX_WINDOW).prop_map(|(s, i)| Write::WindowUpdate(s, i)),
        (stream_id(), bytes(300), any::<bool>()).prop_map(|(s, d, e)| Write::Data(s, d, e)),
        (stream_id(), bytes(300), any::<bool>()).prop_map(|(s, b, e)| Write::Headers(s, b, e)),
        (stream_id(), big_block(16_000..40_000), any::<bool>())
            .prop_map(|(s, b, e)| Write::Headers(s, b, e)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parsing_arbitrary_bytes_never_panics_nor_claims_bytes_it_was_not_given(
        buf in prop::collection::vec(any::<u8>(), 0..600),
        max in any::<u32>(),
    ) {
        parse_all(&buf, max);
    }

    #[test]
    fn parsing_frame_like_bytes_never_panics_nor_claims_bytes_it_was_not_given(
        frames in prop::collection::vec(framed(), 1..8),
    ) {
        parse_all(&frames.concat(), DEFAULT_MAX_FRAME_SIZE);
    }

    #[test]
    fn every_prefix_is_partial_or_agrees_with_the_whole(
        buf in framed(),
        cut in any::<prop::sample::Index>(),
    ) {
        let whole = answer(frame::parse(&buf, DEFAULT_MAX_FRAME_SIZE));
        let prefix = frame::parse(&buf[..cut.index(buf.len() + 1)], DEFAULT_MAX_FRAME_SIZE);
        if prefix != Ok(Status::Partial) {
            prop_assert_eq!(answer(prefix), whole);
        }
    }

    #[test]
    fn feeding_a_frame_byte_by_byte_reaches_the_whole_answer(buf in framed()) {
        let whole = answer(frame::parse(&buf, DEFAULT_MAX_FRAME_SIZE));
        let first = (0..=buf.len())
            .map(|n| frame::parse(&buf[..n], DEFAULT_MAX_FRAME_SIZE))
            .find(|p| *p != Ok(Status::Partial))
            .map_or_else(|| answer(Ok(Status::Partial)), answer);
        prop_assert_eq!(first, whole);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn what_the_writers_write_parses_back_frame_by_frame(
        writes in prop::collection::vec(write(), 1..6),
        max in prop_oneof![Just(DEFAULT_MAX_FRAME_SIZE), 16_384u32..40_000, Just(MAX_MAX_FRAME_SIZE)],
    ) {
        h2_writes::round_trip(&writes, max);
    }

    #[test]
    fn write_headers_pieces_fit_the_peers_frame_size_and_rebuild_the_block(
        stream in stream_id(),
        block in big_block(0..70_000),
        end in any::<bool>(),
        max in prop_oneof![Just(0u32), Just(DEFAULT_MAX_FRAME_SIZE), 16_384u32..70_000],
    ) {
        let mut buf = Vec::new();
        frame::write_headers(&mut buf, stream, &block, end, max);
        let w = Write::Headers(stream, block, end);
        prop_assert_eq!(w.read_back(&buf, max), buf.len());
    }
}
