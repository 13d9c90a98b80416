//! What goes wrong in HTTP/2 and how it is said: the error codes of RFC 9113 §7, and a
//! [`FrameError`] for a frame the peer got wrong (a connection or a stream error, §5.4).

use std::fmt;

/// Error codes (§7), as sent in RST_STREAM and GOAWAY.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// 0x0: graceful shutdown, or a stream no longer needed.
    NoError,
    /// 0x1: an unspecific protocol error.
    ProtocolError,
    /// 0x2: an unexpected internal error.
    InternalError,
    /// 0x3: the flow-control protocol was violated.
    FlowControlError,
    /// 0x4: a SETTINGS frame was not acknowledged in time.
    SettingsTimeout,
    /// 0x5: a frame came on a half-closed stream.
    StreamClosed,
    /// 0x6: a frame of invalid size.
    FrameSizeError,
    /// 0x7: the stream was refused before any processing.
    RefusedStream,
    /// 0x8: the stream is no longer needed.
    Cancel,
    /// 0x9: the header compression context cannot be maintained.
    CompressionError,
    /// 0xa: a CONNECT tunnel was reset or closed.
    ConnectError,
    /// 0xb: the peer is generating excessive load.
    EnhanceYourCalm,
    /// 0xc: the transport does not meet minimum security requirements.
    InadequateSecurity,
    /// 0xd: HTTP/1.1 is required instead.
    Http11Required,
    /// An unknown code received; it must not trigger any special behaviour (§7). Never holds a
    /// known code when made by [`ErrorCode::from_u32`].
    Other(u32),
}

impl ErrorCode {
    /// The code for a value read from a frame; unknown values become [`ErrorCode::Other`].
    #[must_use]
    pub fn from_u32(code: u32) -> Self {
        match code {
            0x0 => Self::NoError,
            0x1 => Self::ProtocolError,
            0x2 => Self::InternalError,
            0x3 => Self::FlowControlError,
            0x4 => Self::SettingsTimeout,
            0x5 => Self::StreamClosed,
            0x6 => Self::FrameSizeError,
            0x7 => Self::RefusedStream,
            0x8 => Self::Cancel,
            0x9 => Self::CompressionError,
            0xa => Self::ConnectError,
            0xb => Self::EnhanceYourCalm,
            0xc => Self::InadequateSecurity,
            0xd => Self::Http11Required,
            other => Self::Other(other),
        }
    }

    /// The value sent on the wire.
    #[must_use]
    pub fn as_u32(self) -> u32 {
        match self {
            Self::NoError => 0x0,
            Self::ProtocolError => 0x1,
            Self::InternalError => 0x2,
            Self::FlowControlError => 0x3,
            Self::SettingsTimeout => 0x4,
            Self::StreamClosed => 0x5,
            Self::FrameSizeError => 0x6,
            Self::RefusedStream => 0x7,
            Self::Cancel => 0x8,
            Self::CompressionError => 0x9,
            Self::ConnectError => 0xa,
            Self::EnhanceYourCalm => 0xb,
            Self::InadequateSecurity => 0xc,
            Self::Http11Required => 0xd,
            Self::Other(code) => code,
        }
    }

    /// The name §7 gives the code, such as `"PROTOCOL_ERROR"`; `"UNKNOWN"` for
    /// [`ErrorCode::Other`].
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::NoError => "NO_ERROR",
            Self::ProtocolError => "PROTOCOL_ERROR",
            Self::InternalError => "INTERNAL_ERROR",
            Self::FlowControlError => "FLOW_CONTROL_ERROR",
            Self::SettingsTimeout => "SETTINGS_TIMEOUT",
            Self::StreamClosed => "STREAM_CLOSED",
            Self::FrameSizeError => "FRAME_SIZE_ERROR",
            Self::RefusedStream => "REFUSED_STREAM",
            Self::Cancel => "CANCEL",
            Self::CompressionError => "COMPRESSION_ERROR",
            Self::ConnectError => "CONNECT_ERROR",
            Self::EnhanceYourCalm => "ENHANCE_YOUR_CALM",
            Self::InadequateSecurity => "INADEQUATE_SECURITY",
            Self::Http11Required => "HTTP_1_1_REQUIRED",
            Self::Other(_) => "UNKNOWN",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Other(code) => write!(f, "UNKNOWN({code:#x})"),
            known => f.write_str(known.name()),
        }
    }
}

/// A frame the peer got wrong: a connection error (GOAWAY with `code`), or a stream error
/// (RST_STREAM on `stream` with `code`) where §5.4 / §6 allow the stream alone to fail.
///
/// [`parse`](super::parse) returns a stream error only once the whole frame is in the buffer; the frame is
/// then [`frame_len`](super::frame_len) bytes long, to be skipped before parsing on. Stream errors come from
/// PRIORITY (its length, a self-dependency) and WINDOW_UPDATE (an increment of 0), frames that
/// neither count against flow control nor carry a header block. The caller still applies §5.1
/// first: such a frame on an idle stream is not answered with RST_STREAM (§6.4), and §5.4.1
/// lets any stream error be treated as a connection error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameError {
    /// The code to send in GOAWAY or RST_STREAM.
    pub code: ErrorCode,
    /// `Some(id)` for a stream error on stream `id`, `None` for a connection error.
    pub stream: Option<u32>,
    /// What was wrong, for logs and GOAWAY debug data, citing the RFC section.
    pub reason: &'static str,
}

impl FrameError {
    /// A connection error (§5.4.1).
    pub(crate) const fn connection(code: ErrorCode, reason: &'static str) -> Self {
        Self {
            code,
            stream: None,
            reason,
        }
    }

    /// A stream error (§5.4.2) on `stream`.
    pub(crate) const fn stream(stream: u32, code: ErrorCode, reason: &'static str) -> Self {
        Self {
            code,
            stream: Some(stream),
            reason,
        }
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.stream {
            Some(id) => write!(
                f,
                "stream error {} on stream {id}: {}",
                self.code, self.reason
            ),
            None => write!(f, "connection error {}: {}", self.code, self.reason),
        }
    }
}

impl std::error::Error for FrameError {}
