//! Writing frames (RFC 9113 §4.1, §6): each function appends one frame (or a HEADERS frame
//! and its CONTINUATIONs) to the caller's buffer, well-formed by construction. Parsing is the
//! parent module's.

use super::{
    DEFAULT_MAX_FRAME_SIZE, ErrorCode, FLAG_ACK, FLAG_END_HEADERS, FLAG_END_STREAM, GOAWAY_MIN_LEN,
    HEADER_LEN, MAX_GOAWAY_DEBUG, MAX_MAX_FRAME_SIZE, MAX_WINDOW, PING_LEN, RST_STREAM_LEN,
    SETTING_LEN, TYPE_CONTINUATION, TYPE_DATA, TYPE_GOAWAY, TYPE_HEADERS, TYPE_PING,
    TYPE_RST_STREAM, TYPE_SETTINGS, TYPE_WINDOW_UPDATE, U31_MASK, WINDOW_UPDATE_LEN, to_u32,
    to_usize,
};

/// Appends a frame header (§4.1). `len` must fit in 24 bits; the reserved bit of `stream` is
/// cleared, as §4.1 requires of a sender.
pub fn write_header(buf: &mut Vec<u8>, len: u32, kind: u8, flags: u8, stream: u32) {
    buf.extend_from_slice(&header(len, kind, flags, stream));
}

/// A frame header's 9 octets (§4.1).
fn header(len: u32, kind: u8, flags: u8, stream: u32) -> [u8; HEADER_LEN] {
    debug_assert!(len <= MAX_MAX_FRAME_SIZE, "a frame length has 24 bits");
    let [_, l0, l1, l2] = len.to_be_bytes();
    let [s0, s1, s2, s3] = (stream & U31_MASK).to_be_bytes();
    [l0, l1, l2, kind, flags, s0, s1, s2, s3]
}

/// Appends a SETTINGS frame with `params` in order (§6.5). At most 2,730 parameters fit in the
/// 16,384 octets every peer accepts; a server sends a handful.
pub fn write_settings(buf: &mut Vec<u8>, params: &[(u16, u32)]) {
    let len = params.len().saturating_mul(SETTING_LEN);
    buf.reserve(HEADER_LEN.saturating_add(len));
    write_header(buf, to_u32(len), TYPE_SETTINGS, 0, 0);
    for &(id, value) in params {
        buf.extend_from_slice(&id.to_be_bytes());
        buf.extend_from_slice(&value.to_be_bytes());
    }
}

/// Appends an empty SETTINGS frame with ACK (§6.5.3).
pub fn write_settings_ack(buf: &mut Vec<u8>) {
    write_header(buf, 0, TYPE_SETTINGS, FLAG_ACK, 0);
}

/// Appends a PING with ACK echoing `data` (§6.7).
pub fn write_ping_ack(buf: &mut Vec<u8>, data: [u8; 8]) {
    write_header(buf, to_u32(PING_LEN), TYPE_PING, FLAG_ACK, 0);
    buf.extend_from_slice(&data);
}

/// Appends a GOAWAY (§6.8). `debug` is cut to [`MAX_GOAWAY_DEBUG`] octets so that the frame
/// fits any peer's SETTINGS_MAX_FRAME_SIZE.
pub fn write_goaway(buf: &mut Vec<u8>, last_stream: u32, code: ErrorCode, debug: &[u8]) {
    let debug = debug.get(..MAX_GOAWAY_DEBUG).unwrap_or(debug);
    let len = GOAWAY_MIN_LEN.saturating_add(debug.len());
    buf.reserve(HEADER_LEN.saturating_add(len));
    write_header(buf, to_u32(len), TYPE_GOAWAY, 0, 0);
    buf.extend_from_slice(&(last_stream & U31_MASK).to_be_bytes());
    buf.extend_from_slice(&code.as_u32().to_be_bytes());
    buf.extend_from_slice(debug);
}

/// Appends a RST_STREAM (§6.4).
pub fn write_rst_stream(buf: &mut Vec<u8>, stream: u32, code: ErrorCode) {
    write_header(buf, to_u32(RST_STREAM_LEN), TYPE_RST_STREAM, 0, stream);
    buf.extend_from_slice(&code.as_u32().to_be_bytes());
}

/// Appends a WINDOW_UPDATE (§6.9); `increment` must be 1 to [`MAX_WINDOW`] (its reserved bit
/// is cleared).
pub fn write_window_update(buf: &mut Vec<u8>, stream: u32, increment: u32) {
    debug_assert!(
        (1..=MAX_WINDOW).contains(&increment),
        "a WINDOW_UPDATE increment is 1 to 2^31-1"
    );
    write_header(
        buf,
        to_u32(WINDOW_UPDATE_LEN),
        TYPE_WINDOW_UPDATE,
        0,
        stream,
    );
    buf.extend_from_slice(&(increment & U31_MASK).to_be_bytes());
}

/// The 9-byte header of a DATA frame of `len` bytes (the payload follows, written by the
/// caller, possibly by another path such as `sendfile`). `len` must be at most the peer's
/// SETTINGS_MAX_FRAME_SIZE; no padding is sent.
pub fn write_data_header(buf: &mut Vec<u8>, stream: u32, len: u32, end_stream: bool) {
    buf.extend_from_slice(&data_header(stream, len, end_stream));
}

/// The 9 octets [`write_data_header`] appends, for a caller that writes them over a
/// placeholder once the payload's length is known.
pub fn data_header(stream: u32, len: u32, end_stream: bool) -> [u8; HEADER_LEN] {
    let flags = if end_stream { FLAG_END_STREAM } else { 0 };
    header(len, TYPE_DATA, flags, stream)
}

/// A HEADERS frame carrying `block`, split into HEADERS + CONTINUATION frames of at most
/// `max_frame_size` (the peer's, brought into §4.2's range) when longer (§4.3, §6.10).
/// END_STREAM goes on the HEADERS frame, END_HEADERS on the last frame; the frames are
/// contiguous, as §4.3 requires, because nothing else is written between them.
pub fn write_headers(
    buf: &mut Vec<u8>,
    stream: u32,
    block: &[u8],
    end_stream: bool,
    max_frame_size: u32,
) {
    let max = to_usize(max_frame_size.clamp(DEFAULT_MAX_FRAME_SIZE, MAX_MAX_FRAME_SIZE));
    let frames = block.len().div_ceil(max).max(1);
    buf.reserve(
        block
            .len()
            .saturating_add(frames.saturating_mul(HEADER_LEN)),
    );

    let mut pieces = block.chunks(max);
    let first = pieces.next().unwrap_or_default();
    let mut pieces = pieces.peekable();
    let mut flags = if end_stream { FLAG_END_STREAM } else { 0 };
    if pieces.peek().is_none() {
        flags |= FLAG_END_HEADERS;
    }
    write_header(buf, to_u32(first.len()), TYPE_HEADERS, flags, stream);
    buf.extend_from_slice(first);
    while let Some(piece) = pieces.next() {
        let flags = if pieces.peek().is_none() {
            FLAG_END_HEADERS
        } else {
            0
        };
        write_header(buf, to_u32(piece.len()), TYPE_CONTINUATION, flags, stream);
        buf.extend_from_slice(piece);
    }
}
