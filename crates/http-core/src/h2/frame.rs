//! HTTP/2 frames (RFC 9113 §4 and §6) and the connection preface (§3.4), parsed from and
//! written to the caller's buffers.
//!
//! This module owns the layout of every frame and each rule that a single frame can break on
//! its own: which frames need a stream and which must not have one, the lengths, the padding,
//! the priority fields, a WINDOW_UPDATE of 0, SETTINGS values ([`Settings::apply`]). A frame that
//! passes [`parse`] is well formed; whether it is allowed *now* (the stream states of §5.1,
//! header blocks not interleaved (§4.3), flow-control windows (§6.9), the order of SETTINGS) is
//! the connection's business, and this module must not keep any state or decide what to send.
//!
//! It must not allocate per frame: [`parse`] borrows the caller's buffer, as
//! [`crate::parse_request`] does, and [`Frame`] holds slices of it; the writers append to a
//! `Vec` the caller owns and reuses.
//!
//! ```
//! use http_core::Status;
//! use http_core::h2::frame::{self, DEFAULT_MAX_FRAME_SIZE, Frame};
//!
//! let mut buf = Vec::new();
//! frame::write_window_update(&mut buf, 0, 1_000);
//! frame::write_data_header(&mut buf, 1, 2, true);
//! buf.extend_from_slice(b"hi");
//!
//! let Ok(Status::Complete((first, used))) = frame::parse(&buf, DEFAULT_MAX_FRAME_SIZE) else {
//!     panic!("two whole frames")
//! };
//! assert_eq!(first, Frame::WindowUpdate { stream: 0, increment: 1_000 });
//! let Ok(Status::Complete((second, _))) = frame::parse(&buf[used..], DEFAULT_MAX_FRAME_SIZE)
//! else {
//!     panic!("the second frame")
//! };
//! assert_eq!(second, Frame::Data { stream: 1, data: b"hi", end_stream: true, flow_len: 2 });
//! ```

use crate::Status;

mod error;
mod settings;
mod write;

pub use error::{ErrorCode, FrameError};
pub use settings::{
    DEFAULT_HEADER_TABLE_SIZE, SETTINGS_ENABLE_PUSH, SETTINGS_HEADER_TABLE_SIZE,
    SETTINGS_INITIAL_WINDOW_SIZE, SETTINGS_MAX_CONCURRENT_STREAMS, SETTINGS_MAX_FRAME_SIZE,
    SETTINGS_MAX_HEADER_LIST_SIZE, Settings, SettingsParams,
};
pub use write::{
    data_header, write_data_header, write_goaway, write_header, write_headers, write_ping_ack,
    write_rst_stream, write_settings, write_settings_ack, write_window_update,
};

/// The client connection preface (§3.4): these 24 octets, then a SETTINGS frame.
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The frame header: length (24 bits), type, flags, reserved bit and stream id (31 bits) (§4.1).
pub const HEADER_LEN: usize = 9;

/// SETTINGS_MAX_FRAME_SIZE's initial value and lower bound (§4.2).
pub const DEFAULT_MAX_FRAME_SIZE: u32 = 16_384;

/// SETTINGS_MAX_FRAME_SIZE's upper bound: the most the 24-bit length can say (§4.2, §6.5.2).
pub const MAX_MAX_FRAME_SIZE: u32 = (1 << 24) - 1;

/// The initial flow-control window (§6.9.2).
pub const DEFAULT_WINDOW: u32 = 65_535;

/// The largest a flow-control window may be, and the largest WINDOW_UPDATE increment (§6.9.1).
pub const MAX_WINDOW: u32 = (1 << 31) - 1;

/// DATA (§6.1).
pub const TYPE_DATA: u8 = 0x0;
/// HEADERS (§6.2).
pub const TYPE_HEADERS: u8 = 0x1;
/// PRIORITY (§6.3), deprecated but still parsed.
pub const TYPE_PRIORITY: u8 = 0x2;
/// RST_STREAM (§6.4).
pub const TYPE_RST_STREAM: u8 = 0x3;
/// SETTINGS (§6.5).
pub const TYPE_SETTINGS: u8 = 0x4;
/// PUSH_PROMISE (§6.6).
pub const TYPE_PUSH_PROMISE: u8 = 0x5;
/// PING (§6.7).
pub const TYPE_PING: u8 = 0x6;
/// GOAWAY (§6.8).
pub const TYPE_GOAWAY: u8 = 0x7;
/// WINDOW_UPDATE (§6.9).
pub const TYPE_WINDOW_UPDATE: u8 = 0x8;
/// CONTINUATION (§6.10).
pub const TYPE_CONTINUATION: u8 = 0x9;

/// END_STREAM, on DATA and HEADERS (§6.1, §6.2).
pub const FLAG_END_STREAM: u8 = 0x1;
/// ACK, on SETTINGS and PING (§6.5, §6.7).
pub const FLAG_ACK: u8 = 0x1;
/// END_HEADERS, on HEADERS, PUSH_PROMISE and CONTINUATION (§6.2, §6.6, §6.10).
pub const FLAG_END_HEADERS: u8 = 0x4;
/// PADDED, on DATA, HEADERS and PUSH_PROMISE (§6.1, §6.2, §6.6).
pub const FLAG_PADDED: u8 = 0x8;
/// PRIORITY, on HEADERS (§6.2).
pub const FLAG_PRIORITY: u8 = 0x20;

/// The 31 bits of a stream id, a WINDOW_UPDATE increment or a dependency; the top bit is
/// reserved, ignored on receipt and left unset when sending (§4.1, §6.8, §6.9).
const U31_MASK: u32 = 0x7fff_ffff;
/// The exclusive flag's bit in a stream dependency (§6.2, §6.3).
const EXCLUSIVE_BIT: u32 = 0x8000_0000;
/// The Pad Length field of a PADDED frame (§6.1).
const PAD_LENGTH_LEN: usize = 1;
/// Exclusive bit, stream dependency and weight (§6.2, §6.3): also PRIORITY's whole length.
const PRIORITY_LEN: usize = 5;
/// An error code: RST_STREAM's whole payload (§6.4).
const RST_STREAM_LEN: usize = 4;
/// One SETTINGS parameter: a 16-bit identifier and a 32-bit value (§6.5.1).
pub(crate) const SETTING_LEN: usize = 6;
/// PING's opaque data (§6.7).
const PING_LEN: usize = 8;
/// GOAWAY's last stream id and error code, before its debug data (§6.8).
const GOAWAY_MIN_LEN: usize = 8;
/// WINDOW_UPDATE's increment (§6.9).
const WINDOW_UPDATE_LEN: usize = 4;
/// PUSH_PROMISE's promised stream id (§6.6).
const PROMISED_ID_LEN: usize = 4;
/// The most debug data [`write_goaway`] sends: what fits in the smallest frame every peer
/// accepts (§4.2), so that the GOAWAY is never too long for the peer's SETTINGS_MAX_FRAME_SIZE.
pub const MAX_GOAWAY_DEBUG: usize = DEFAULT_MAX_FRAME_SIZE as usize - GOAWAY_MIN_LEN;

/// The priority fields of HEADERS and PRIORITY (§6.2, §6.3; the scheme of RFC 7540 §5.3, which
/// RFC 9113 deprecates: parsed so that its rules are checked, free to be ignored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Priority {
    /// The E flag: the dependency is exclusive.
    pub exclusive: bool,
    /// The stream this one depends on (31 bits), never the stream itself.
    pub dependency: u32,
    /// The weight field as sent: the weight minus one (0 means 1, 255 means 256).
    pub weight: u8,
}

/// One frame, borrowed from the caller's buffer (no allocation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    /// `data` is the payload without padding; `flow_len` is the whole frame payload length,
    /// padding included, which counts against flow control (§6.1).
    Data {
        /// A stream, never 0.
        stream: u32,
        /// The application data, padding removed.
        data: &'a [u8],
        /// END_STREAM.
        end_stream: bool,
        /// What the frame costs the flow-control windows: its whole payload length (§6.9.1).
        flow_len: u32,
    },
    /// `block` is the header block fragment, padding and priority removed.
    Headers {
        /// A stream, never 0.
        stream: u32,
        /// The field block fragment (§4.3), for HPACK once the block is whole.
        block: &'a [u8],
        /// END_STREAM.
        end_stream: bool,
        /// END_HEADERS: no CONTINUATION follows.
        end_headers: bool,
        /// The priority fields, when the PRIORITY flag is set.
        priority: Option<Priority>,
    },
    /// PRIORITY (§6.3): valid on a stream in any state, idle included.
    Priority {
        /// A stream, never 0.
        stream: u32,
        /// The fields.
        priority: Priority,
    },
    /// RST_STREAM (§6.4).
    RstStream {
        /// A stream, never 0.
        stream: u32,
        /// Why the peer ended the stream.
        code: ErrorCode,
    },
    /// SETTINGS (§6.5), on stream 0; an ACK has no parameters.
    Settings {
        /// ACK: the peer acknowledges our SETTINGS.
        ack: bool,
        /// The parameters, to apply in order with [`Settings::apply`].
        params: SettingsParams<'a>,
    },
    /// A server never accepts one: the caller answers PROTOCOL_ERROR (§8.4).
    PushPromise {
        /// The stream it came on, never 0.
        stream: u32,
    },
    /// PING (§6.7), on stream 0.
    Ping {
        /// ACK: a response to our PING, not to be answered.
        ack: bool,
        /// The opaque data, to echo back in the ACK.
        data: [u8; 8],
    },
    /// GOAWAY (§6.8), on stream 0.
    GoAway {
        /// The last stream the peer may have processed (31 bits).
        last_stream: u32,
        /// Why the connection ends.
        code: ErrorCode,
        /// Additional debug data, opaque.
        debug: &'a [u8],
    },
    /// WINDOW_UPDATE (§6.9): stream 0 for the connection's window.
    WindowUpdate {
        /// 0 for the connection, else a stream.
        stream: u32,
        /// 1 to 2^31-1 (31 bits).
        increment: u32,
    },
    /// CONTINUATION (§6.10).
    Continuation {
        /// A stream, never 0.
        stream: u32,
        /// The next fragment of the field block.
        block: &'a [u8],
        /// END_HEADERS: the block is whole.
        end_headers: bool,
    },
    /// An unknown type: ignored (§4.1, §5.5), but its length still counted by the caller.
    Unknown {
        /// The frame type.
        kind: u8,
        /// The stream id, which may be 0.
        stream: u32,
    },
}

/// The 9-octet frame header (§4.1), decoded.
struct Head {
    len: u32,
    kind: u8,
    flags: u8,
    stream: u32,
}

impl Head {
    fn decode(header: [u8; HEADER_LEN]) -> Self {
        let [l0, l1, l2, kind, flags, s0, s1, s2, s3] = header;
        Self {
            len: u32::from_be_bytes([0, l0, l1, l2]),
            kind,
            flags,
            // §4.1: the reserved bit "MUST be ignored when receiving".
            stream: u32::from_be_bytes([s0, s1, s2, s3]) & U31_MASK,
        }
    }

    fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

/// A frame length as a `usize`: it has 24 bits, which every supported target holds.
fn to_usize(len: u32) -> usize {
    usize::try_from(len).unwrap_or(usize::MAX)
}

/// A length known to be at most 2^24-1 as a `u32`.
fn to_u32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// Checks the connection preface a client sends first (§3.4): `Partial` while `buf` is a
/// proper prefix of [`PREFACE`], then its length. Any other byte is a PROTOCOL_ERROR, known
/// from the first byte that differs. The caller then requires the next frame to be a SETTINGS
/// frame without ACK (§3.4), which [`parse`] reads.
///
/// # Errors
///
/// A connection error of type PROTOCOL_ERROR when `buf` does not start with the preface.
pub fn parse_preface(buf: &[u8]) -> Result<Status<usize>, FrameError> {
    let seen = buf.len().min(PREFACE.len());
    if buf.get(..seen) != PREFACE.get(..seen) {
        return Err(FrameError::connection(
            ErrorCode::ProtocolError,
            "not the HTTP/2 connection preface (RFC 9113 §3.4)",
        ));
    }
    Ok(if seen == PREFACE.len() {
        Status::Complete(PREFACE.len())
    } else {
        Status::Partial
    })
}

/// The whole length (header and payload) of the frame that starts `buf`, once its header is
/// there: how many bytes to skip after a stream error, or how many to wait for.
#[must_use]
pub fn frame_len(buf: &[u8]) -> Option<usize> {
    let header = buf.first_chunk::<HEADER_LEN>()?;
    Some(HEADER_LEN.saturating_add(to_usize(Head::decode(*header).len)))
}

/// Parses one frame from the start of `buf` (which may hold more bytes, or fewer): `Partial`
/// until the whole frame is there, else the frame and its total length (header + payload).
///
/// `max_frame_size` is the SETTINGS_MAX_FRAME_SIZE we advertised, brought into the range §4.2
/// allows ([`DEFAULT_MAX_FRAME_SIZE`] to [`MAX_MAX_FRAME_SIZE`]): a longer frame is a
/// FRAME_SIZE_ERROR, detected from the 9-byte header alone, before the payload arrives, so a
/// client cannot make us buffer an oversized frame. The other errors that the header alone
/// shows (a frame on the wrong stream, a length its type forbids) are also returned as soon as
/// the header is there; every prefix of a frame answers `Partial` or what the whole frame
/// answers.
///
/// Checks every per-frame rule of §6, so the caller only applies state rules (§5.1). Unknown
/// flags are ignored (§4.1), unknown types parsed as [`Frame::Unknown`] (§5.5); padding is
/// removed and not checked to be zero (§6.1 lets a receiver skip that).
///
/// # Errors
///
/// A [`FrameError`]: a connection error, or a stream error (see there) once the whole frame is
/// in `buf`.
pub fn parse(buf: &[u8], max_frame_size: u32) -> Result<Status<(Frame<'_>, usize)>, FrameError> {
    let Some((header, rest)) = buf.split_first_chunk::<HEADER_LEN>() else {
        return Ok(Status::Partial);
    };
    let head = Head::decode(*header);
    if head.len > max_frame_size.clamp(DEFAULT_MAX_FRAME_SIZE, MAX_MAX_FRAME_SIZE) {
        // §4.2: a frame size error in a frame that could alter the connection's state MUST be
        // a connection error; for DATA a stream error would do, but the payload would still
        // have to be read and counted, so every oversized frame ends the connection (§5.4.1).
        return Err(FrameError::connection(
            ErrorCode::FrameSizeError,
            "frame longer than our SETTINGS_MAX_FRAME_SIZE (RFC 9113 §4.2)",
        ));
    }
    check_header(&head)?;
    let len = to_usize(head.len);
    let Some(payload) = rest.get(..len) else {
        return Ok(Status::Partial);
    };
    let frame = decode(&head, payload)?;
    Ok(Status::Complete((frame, HEADER_LEN.saturating_add(len))))
}

/// The connection errors that the frame header alone shows (§6): the stream a type needs or
/// forbids, and the lengths it requires, including "too small to contain mandatory frame data"
/// (§4.2).
fn check_header(head: &Head) -> Result<(), FrameError> {
    use ErrorCode::{FrameSizeError, ProtocolError};
    let len = to_usize(head.len);
    let padding = if head.has(FLAG_PADDED) {
        PAD_LENGTH_LEN
    } else {
        0
    };
    let (stream_rule, length_rule): (Option<&'static str>, Option<&'static str>) = match head.kind {
        TYPE_DATA => (
            (head.stream == 0).then_some("DATA on stream 0 (RFC 9113 §6.1)"),
            (len < padding).then_some("PADDED DATA without a Pad Length (RFC 9113 §4.2, §6.1)"),
        ),
        TYPE_HEADERS => {
            let priority = if head.has(FLAG_PRIORITY) {
                PRIORITY_LEN
            } else {
                0
            };
            (
                (head.stream == 0).then_some("HEADERS on stream 0 (RFC 9113 §6.2)"),
                (len < padding.saturating_add(priority))
                    .then_some("HEADERS too short for its Pad Length or priority (RFC 9113 §6.2)"),
            )
        }
        TYPE_PRIORITY => (
            (head.stream == 0).then_some("PRIORITY on stream 0 (RFC 9113 §6.3)"),
            // A wrong length is a stream error (§6.3), given once the frame is whole.
            None,
        ),
        TYPE_RST_STREAM => (
            (head.stream == 0).then_some("RST_STREAM on stream 0 (RFC 9113 §6.4)"),
            (len != RST_STREAM_LEN).then_some("RST_STREAM not 4 octets long (RFC 9113 §6.4)"),
        ),
        TYPE_SETTINGS => (
            (head.stream != 0).then_some("SETTINGS on a stream (RFC 9113 §6.5)"),
            if head.has(FLAG_ACK) && len != 0 {
                Some("SETTINGS ACK with a payload (RFC 9113 §6.5)")
            } else if !len.is_multiple_of(SETTING_LEN) {
                Some("SETTINGS length not a multiple of 6 (RFC 9113 §6.5)")
            } else {
                None
            },
        ),
        TYPE_PUSH_PROMISE => (
            (head.stream == 0).then_some("PUSH_PROMISE on stream 0 (RFC 9113 §6.6)"),
            (len < padding.saturating_add(PROMISED_ID_LEN)).then_some(
                "PUSH_PROMISE too short for its Pad Length or promised id (RFC 9113 §6.6)",
            ),
        ),
        TYPE_PING => (
            (head.stream != 0).then_some("PING on a stream (RFC 9113 §6.7)"),
            (len != PING_LEN).then_some("PING not 8 octets long (RFC 9113 §6.7)"),
        ),
        TYPE_GOAWAY => (
            (head.stream != 0).then_some("GOAWAY on a stream (RFC 9113 §6.8)"),
            (len < GOAWAY_MIN_LEN).then_some("GOAWAY shorter than 8 octets (RFC 9113 §6.8)"),
        ),
        TYPE_WINDOW_UPDATE => (
            None,
            (len != WINDOW_UPDATE_LEN).then_some("WINDOW_UPDATE not 4 octets long (RFC 9113 §6.9)"),
        ),
        TYPE_CONTINUATION => (
            (head.stream == 0).then_some("CONTINUATION on stream 0 (RFC 9113 §6.10)"),
            None,
        ),
        _ => (None, None),
    };
    if let Some(reason) = stream_rule {
        return Err(FrameError::connection(ProtocolError, reason));
    }
    if let Some(reason) = length_rule {
        return Err(FrameError::connection(FrameSizeError, reason));
    }
    Ok(())
}

/// The frame in a whole payload whose header passed [`check_header`].
fn decode<'a>(head: &Head, payload: &'a [u8]) -> Result<Frame<'a>, FrameError> {
    let stream = head.stream;
    Ok(match head.kind {
        TYPE_DATA => Frame::Data {
            stream,
            data: unpad(head, payload)?,
            end_stream: head.has(FLAG_END_STREAM),
            flow_len: head.len,
        },
        TYPE_HEADERS => {
            let content = unpad(head, payload)?;
            let (priority, block) = if head.has(FLAG_PRIORITY) {
                let Some((fields, block)) = content.split_first_chunk::<PRIORITY_LEN>() else {
                    return Err(FrameError::connection(
                        ErrorCode::ProtocolError,
                        "HEADERS padding covers its priority (RFC 9113 §6.2)",
                    ));
                };
                let priority = decode_priority(*fields);
                if priority.dependency == stream {
                    // A stream error would do (§5.3.1), but the block must still reach HPACK
                    // to keep the decoder in step (§4.3): ending the connection is simpler and
                    // allowed (§5.4.1).
                    return Err(FrameError::connection(
                        ErrorCode::ProtocolError,
                        "HEADERS for a stream that depends on itself (RFC 9113 §5.3.1)",
                    ));
                }
                (Some(priority), block)
            } else {
                (None, content)
            };
            Frame::Headers {
                stream,
                block,
                end_stream: head.has(FLAG_END_STREAM),
                end_headers: head.has(FLAG_END_HEADERS),
                priority,
            }
        }
        TYPE_PRIORITY => {
            let Ok(fields) = <[u8; PRIORITY_LEN]>::try_from(payload) else {
                return Err(FrameError::stream(
                    stream,
                    ErrorCode::FrameSizeError,
                    "PRIORITY not 5 octets long (RFC 9113 §6.3)",
                ));
            };
            let priority = decode_priority(fields);
            if priority.dependency == stream {
                return Err(FrameError::stream(
                    stream,
                    ErrorCode::ProtocolError,
                    "PRIORITY for a stream that depends on itself (RFC 9113 §5.3.1)",
                ));
            }
            Frame::Priority { stream, priority }
        }
        TYPE_RST_STREAM => Frame::RstStream {
            stream,
            code: ErrorCode::from_u32(read_u32(payload)),
        },
        TYPE_SETTINGS => Frame::Settings {
            ack: head.has(FLAG_ACK),
            params: SettingsParams::new(payload),
        },
        TYPE_PUSH_PROMISE => {
            // Checked only so that every frame type obeys §6; the caller refuses it anyway.
            if unpad(head, payload)?.len() < PROMISED_ID_LEN {
                return Err(FrameError::connection(
                    ErrorCode::ProtocolError,
                    "PUSH_PROMISE padding covers its promised id (RFC 9113 §6.6)",
                ));
            }
            Frame::PushPromise { stream }
        }
        TYPE_PING => Frame::Ping {
            ack: head.has(FLAG_ACK),
            data: payload
                .first_chunk::<PING_LEN>()
                .copied()
                .unwrap_or_default(),
        },
        TYPE_GOAWAY => {
            let (fixed, debug) = payload.split_at_checked(GOAWAY_MIN_LEN).unwrap_or_default();
            let (last, code) = fixed.split_at_checked(4).unwrap_or_default();
            Frame::GoAway {
                last_stream: read_u32(last) & U31_MASK,
                code: ErrorCode::from_u32(read_u32(code)),
                debug,
            }
        }
        TYPE_WINDOW_UPDATE => {
            // §6.9: the reserved bit is ignored; an increment of 0 is a stream error, or a
            // connection error on the connection's window.
            let increment = read_u32(payload) & U31_MASK;
            if increment == 0 {
                let reason = "WINDOW_UPDATE with an increment of 0 (RFC 9113 §6.9)";
                return Err(if stream == 0 {
                    FrameError::connection(ErrorCode::ProtocolError, reason)
                } else {
                    FrameError::stream(stream, ErrorCode::ProtocolError, reason)
                });
            }
            Frame::WindowUpdate { stream, increment }
        }
        TYPE_CONTINUATION => Frame::Continuation {
            stream,
            block: payload,
            end_headers: head.has(FLAG_END_HEADERS),
        },
        kind => Frame::Unknown { kind, stream },
    })
}

/// The payload without its Pad Length and padding when the frame is PADDED (§6.1): padding as
/// long as the payload or longer (the Pad Length octet counts) is a PROTOCOL_ERROR.
fn unpad<'a>(head: &Head, payload: &'a [u8]) -> Result<&'a [u8], FrameError> {
    if !head.has(FLAG_PADDED) {
        return Ok(payload);
    }
    let too_much = FrameError::connection(
        ErrorCode::ProtocolError,
        "padding as long as the frame payload or longer (RFC 9113 §6.1, §6.2, §6.6)",
    );
    let Some((&pad, rest)) = payload.split_first() else {
        // check_header refuses a PADDED frame without its Pad Length.
        return Err(too_much);
    };
    let kept = rest.len().checked_sub(usize::from(pad)).ok_or(too_much)?;
    rest.get(..kept).ok_or(too_much)
}

fn decode_priority(fields: [u8; PRIORITY_LEN]) -> Priority {
    let [d0, d1, d2, d3, weight] = fields;
    let dependency = u32::from_be_bytes([d0, d1, d2, d3]);
    Priority {
        exclusive: dependency & EXCLUSIVE_BIT != 0,
        dependency: dependency & U31_MASK,
        weight,
    }
}

/// The big-endian `u32` at the start of `bytes` (0 if shorter: lengths are checked before).
fn read_u32(bytes: &[u8]) -> u32 {
    bytes
        .first_chunk::<4>()
        .map_or(0, |b| u32::from_be_bytes(*b))
}
