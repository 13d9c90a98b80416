//! One call of an HTTP/2 frame writer, and the check that what it wrote parses back to what it
//! was asked to write. Shared by the property tests (`tests/h2_frame_properties.rs`) and the
//! round-trip fuzz target (`fuzz/fuzz_targets/h2_frame_roundtrip.rs`), which include this file
//! by path and only differ in how they choose the calls.

use http_core::Status;
use http_core::h2::frame::{self, DEFAULT_MAX_FRAME_SIZE, ErrorCode, Frame, MAX_MAX_FRAME_SIZE};

/// Writes `writes` into one buffer, as a connection's output, then reads them back in order
/// (see [`Write::read_back`]), to the last byte.
pub fn round_trip(writes: &[Write], max: u32) {
    let mut buf = Vec::new();
    for w in writes {
        w.write(&mut buf, max);
    }
    let mut at = 0;
    for w in writes {
        at += w.read_back(&buf[at..], max);
    }
    assert_eq!(at, buf.len(), "nothing is left over");
}

/// A writer and its arguments; codes are raw values, read with [`ErrorCode::from_u32`].
#[derive(Debug, Clone)]
pub enum Write {
    Settings(Vec<(u16, u32)>),
    SettingsAck,
    PingAck([u8; 8]),
    GoAway(u32, u32, Vec<u8>),
    RstStream(u32, u32),
    WindowUpdate(u32, u32),
    /// The header from `write_data_header`, then the payload.
    Data(u32, Vec<u8>, bool),
    Headers(u32, Vec<u8>, bool),
}

impl Write {
    /// Appends the frames to `buf`; `max` is the peer's SETTINGS_MAX_FRAME_SIZE.
    pub fn write(&self, buf: &mut Vec<u8>, max: u32) {
        match self {
            Write::Settings(params) => frame::write_settings(buf, params),
            Write::SettingsAck => frame::write_settings_ack(buf),
            Write::PingAck(data) => frame::write_ping_ack(buf, *data),
            Write::GoAway(last, code, debug) => {
                frame::write_goaway(buf, *last, ErrorCode::from_u32(*code), debug)
            }
            Write::RstStream(stream, code) => {
                frame::write_rst_stream(buf, *stream, ErrorCode::from_u32(*code))
            }
            Write::WindowUpdate(stream, increment) => {
                frame::write_window_update(buf, *stream, *increment)
            }
            Write::Data(stream, data, end) => {
                let len = u32::try_from(data.len()).expect("a test payload fits a frame");
                frame::write_data_header(buf, *stream, len, *end);
                buf.extend_from_slice(data);
            }
            Write::Headers(stream, block, end) => {
                frame::write_headers(buf, *stream, block, *end, max)
            }
        }
    }

    /// Parses this write's frames from the start of `buf` with `max` as our
    /// SETTINGS_MAX_FRAME_SIZE, panics unless they are exactly what was asked for, and returns
    /// the bytes they took.
    pub fn read_back(&self, buf: &[u8], max: u32) -> usize {
        let mut at = 0;
        let mut next = || match frame::parse(&buf[at..], max) {
            Ok(Status::Complete((f, len))) => {
                at += len;
                f
            }
            other => panic!("{self:?} parsed as {other:?}"),
        };
        match self {
            Write::Settings(params) => match next() {
                Frame::Settings {
                    ack: false,
                    params: got,
                } => {
                    assert_eq!(got.iter().collect::<Vec<_>>(), *params)
                }
                other => panic!("{other:?} for {self:?}"),
            },
            Write::SettingsAck => match next() {
                Frame::Settings { ack: true, params } => assert!(params.is_empty()),
                other => panic!("{other:?} for {self:?}"),
            },
            Write::PingAck(data) => assert_eq!(
                next(),
                Frame::Ping {
                    ack: true,
                    data: *data
                }
            ),
            Write::GoAway(last, code, debug) => assert_eq!(
                next(),
                Frame::GoAway {
                    last_stream: last & 0x7fff_ffff,
                    code: ErrorCode::from_u32(*code),
                    debug,
                }
            ),
            Write::RstStream(stream, code) => assert_eq!(
                next(),
                Frame::RstStream {
                    stream: *stream,
                    code: ErrorCode::from_u32(*code)
                }
            ),
            Write::WindowUpdate(stream, increment) => assert_eq!(
                next(),
                Frame::WindowUpdate {
                    stream: *stream,
                    increment: *increment
                }
            ),
            Write::Data(stream, data, end) => assert_eq!(
                next(),
                Frame::Data {
                    stream: *stream,
                    data,
                    end_stream: *end,
                    flow_len: data.len() as u32,
                }
            ),
            Write::Headers(stream, block, end) => {
                let limit = max.clamp(DEFAULT_MAX_FRAME_SIZE, MAX_MAX_FRAME_SIZE) as usize;
                let Frame::Headers {
                    stream: first_stream,
                    block: first,
                    end_stream,
                    mut end_headers,
                    priority: None,
                } = next()
                else {
                    panic!("not HEADERS for {self:?}")
                };
                assert_eq!((first_stream, end_stream), (*stream, *end));
                let mut whole = first.to_vec();
                let mut frames = 1;
                while !end_headers {
                    let Frame::Continuation {
                        stream: s,
                        block: piece,
                        end_headers: last,
                    } = next()
                    else {
                        panic!("not CONTINUATION for {self:?}")
                    };
                    assert!(s == *stream && !piece.is_empty());
                    whole.extend_from_slice(piece);
                    end_headers = last;
                    frames += 1;
                }
                assert!(whole == *block, "the pieces rebuild the block");
                assert_eq!(
                    frames,
                    block.len().div_ceil(limit).max(1),
                    "as few frames as fit"
                );
            }
        }
        at
    }
}
