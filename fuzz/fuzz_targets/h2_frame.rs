//! HTTP/2 frame parsing on arbitrary bytes, frame after frame as a connection reads them, with
//! an arbitrary SETTINGS_MAX_FRAME_SIZE: it never panics; a whole frame never claims more bytes
//! than it was given nor more than the max frame size allows, and its slices lie inside its
//! payload; a stream error comes only once its frame is whole; and a prefix of what is left
//! answers `Partial` or exactly what the whole answers.
#![no_main]

use http_core::Status;
use http_core::h2::frame::{
    self, DEFAULT_MAX_FRAME_SIZE, Frame, FrameError, HEADER_LEN, MAX_MAX_FRAME_SIZE, MAX_WINDOW,
};
use libfuzzer_sys::fuzz_target;

type Parsed<'a> = Result<Status<(Frame<'a>, usize)>, FrameError>;

fn inside(s: &[u8], payload: &[u8]) -> bool {
    let start = payload.as_ptr() as usize;
    let p = s.as_ptr() as usize;
    s.is_empty() || (p >= start && p + s.len() <= start + payload.len())
}

fn check(f: &Frame<'_>, payload: &[u8]) {
    match *f {
        Frame::Data {
            data,
            flow_len,
            stream,
            ..
        } => {
            assert!(inside(data, payload) && stream != 0);
            assert_eq!(flow_len as usize, payload.len());
        }
        Frame::Headers {
            block,
            stream,
            priority,
            ..
        } => {
            assert!(inside(block, payload) && stream != 0);
            assert!(priority.is_none_or(|p| p.dependency != stream));
        }
        Frame::Continuation { block, stream, .. } => assert!(inside(block, payload) && stream != 0),
        Frame::GoAway {
            debug, last_stream, ..
        } => {
            assert!(inside(debug, payload) && last_stream <= MAX_WINDOW);
            assert_eq!(debug.len() + 8, payload.len());
        }
        Frame::Settings { ack, params } => {
            assert_eq!(params.len() * 6, payload.len());
            assert_eq!(params.iter().count(), params.len());
            assert!(!ack || params.is_empty());
        }
        Frame::Priority { stream, priority } => {
            assert!(stream != 0 && priority.dependency != stream && payload.len() == 5)
        }
        Frame::RstStream { stream, .. } => assert!(stream != 0 && payload.len() == 4),
        Frame::PushPromise { stream } => assert!(stream != 0),
        Frame::Ping { data, .. } => assert_eq!(&data[..], payload),
        Frame::WindowUpdate { increment, .. } => assert!((1..=MAX_WINDOW).contains(&increment)),
        Frame::Unknown { kind, .. } => assert!(kind > 9),
    }
}

fn same(a: &Parsed<'_>, b: &Parsed<'_>) -> bool {
    format!("{a:?}") == format!("{b:?}")
}

fuzz_target!(|data: &[u8]| {
    let Some((fixed, mut rest)) = data.split_first_chunk::<5>() else {
        return;
    };
    let max = u32::from_le_bytes([fixed[0], fixed[1], fixed[2], fixed[3]]);
    let cut = usize::from(fixed[4]);
    let limit = max.clamp(DEFAULT_MAX_FRAME_SIZE, MAX_MAX_FRAME_SIZE) as usize;
    loop {
        let whole = frame::parse(rest, max);
        let prefix = frame::parse(&rest[..cut.min(rest.len())], max);
        assert!(
            prefix == Ok(Status::Partial) || same(&prefix, &whole),
            "prefix {prefix:?} but whole {whole:?}"
        );
        match whole {
            Ok(Status::Complete((f, len))) => {
                assert!(len >= HEADER_LEN && len <= rest.len() && len - HEADER_LEN <= limit);
                assert_eq!(frame::frame_len(rest), Some(len));
                check(&f, &rest[HEADER_LEN..len]);
                rest = &rest[len..];
            }
            Ok(Status::Partial) => {
                assert!(frame::frame_len(rest).is_none_or(|len| len > rest.len()));
                return;
            }
            Err(e) => {
                let Some(stream) = e.stream else { return };
                assert_ne!(stream, 0);
                let len = frame::frame_len(rest).expect("a stream error has a header");
                assert!(len <= rest.len());
                rest = &rest[len..];
            }
        }
    }
});
