//! SETTINGS parameters (RFC 9113 §6.5): reading them from a frame in order, and the values the
//! connection keeps for its peer. This part owns the range of each value (§6.5.2); when a new
//! value takes effect (the ACK, §6.5.3) and what it changes (stream windows, §6.9.2; the HPACK
//! encoder's table) are the connection's.

use super::{
    DEFAULT_MAX_FRAME_SIZE, DEFAULT_WINDOW, ErrorCode, FrameError, MAX_MAX_FRAME_SIZE, MAX_WINDOW,
    SETTING_LEN,
};

/// SETTINGS_HEADER_TABLE_SIZE (§6.5.2): the most the peer's HPACK decoder keeps.
pub const SETTINGS_HEADER_TABLE_SIZE: u16 = 0x1;
/// SETTINGS_ENABLE_PUSH (§6.5.2): 0 or 1.
pub const SETTINGS_ENABLE_PUSH: u16 = 0x2;
/// SETTINGS_MAX_CONCURRENT_STREAMS (§6.5.2).
pub const SETTINGS_MAX_CONCURRENT_STREAMS: u16 = 0x3;
/// SETTINGS_INITIAL_WINDOW_SIZE (§6.5.2): up to 2^31-1.
pub const SETTINGS_INITIAL_WINDOW_SIZE: u16 = 0x4;
/// SETTINGS_MAX_FRAME_SIZE (§6.5.2): 2^14 to 2^24-1.
pub const SETTINGS_MAX_FRAME_SIZE: u16 = 0x5;
/// SETTINGS_MAX_HEADER_LIST_SIZE (§6.5.2), advisory.
pub const SETTINGS_MAX_HEADER_LIST_SIZE: u16 = 0x6;

/// SETTINGS_HEADER_TABLE_SIZE's initial value (§6.5.2, RFC 7541 §4.2).
pub const DEFAULT_HEADER_TABLE_SIZE: u32 = 4_096;

/// The (identifier, value) pairs of a SETTINGS frame, in order, without allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SettingsParams<'a>(&'a [u8]);

impl<'a> SettingsParams<'a> {
    /// The parameters of a SETTINGS payload whose length [`super::parse`] checked to be a
    /// multiple of 6 (a trailing partial parameter would be skipped).
    pub(super) fn new(payload: &'a [u8]) -> Self {
        Self(payload)
    }

    /// The parameters in the order sent, which is the order to apply them in (§6.5.3); unknown
    /// identifiers included, for [`Settings::apply`] to ignore.
    pub fn iter(&self) -> impl Iterator<Item = (u16, u32)> + 'a {
        let (params, _) = self.0.as_chunks::<SETTING_LEN>();
        params.iter().map(|&[i0, i1, v0, v1, v2, v3]| {
            (
                u16::from_be_bytes([i0, i1]),
                u32::from_be_bytes([v0, v1, v2, v3]),
            )
        })
    }

    /// How many parameters the frame holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len() / SETTING_LEN
    }

    /// Whether the frame holds no parameter (as an ACK, or an empty SETTINGS).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.len() < SETTING_LEN
    }
}

/// The peer's SETTINGS as the connection keeps them, with their initial values (§6.5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// SETTINGS_HEADER_TABLE_SIZE: the most our HPACK encoder may use of the peer's table.
    pub header_table_size: u32,
    /// SETTINGS_ENABLE_PUSH (a server never pushes, whatever the value).
    pub enable_push: bool,
    /// SETTINGS_MAX_CONCURRENT_STREAMS: `None` until the peer sets a limit.
    pub max_concurrent_streams: Option<u32>,
    /// SETTINGS_INITIAL_WINDOW_SIZE: each new stream's send window.
    pub initial_window_size: u32,
    /// SETTINGS_MAX_FRAME_SIZE: the longest frame payload we may send.
    pub max_frame_size: u32,
    /// SETTINGS_MAX_HEADER_LIST_SIZE: `None` until the peer sets one.
    pub max_header_list_size: Option<u32>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            header_table_size: DEFAULT_HEADER_TABLE_SIZE,
            enable_push: true,
            max_concurrent_streams: None,
            initial_window_size: DEFAULT_WINDOW,
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            max_header_list_size: None,
        }
    }
}

impl Settings {
    /// Applies one parameter (§6.5.2): an ENABLE_PUSH other than 0/1 is a PROTOCOL_ERROR,
    /// INITIAL_WINDOW_SIZE above 2^31-1 a FLOW_CONTROL_ERROR, MAX_FRAME_SIZE outside
    /// [2^14, 2^24-1] a PROTOCOL_ERROR; unknown identifiers are ignored (§6.5.1). A refused
    /// value leaves `self` unchanged.
    ///
    /// # Errors
    ///
    /// A connection error, as listed above.
    pub fn apply(&mut self, id: u16, value: u32) -> Result<(), FrameError> {
        match id {
            SETTINGS_HEADER_TABLE_SIZE => self.header_table_size = value,
            SETTINGS_ENABLE_PUSH => {
                self.enable_push = match value {
                    0 => false,
                    1 => true,
                    _ => {
                        return Err(FrameError::connection(
                            ErrorCode::ProtocolError,
                            "SETTINGS_ENABLE_PUSH neither 0 nor 1 (RFC 9113 §6.5.2)",
                        ));
                    }
                };
            }
            SETTINGS_MAX_CONCURRENT_STREAMS => self.max_concurrent_streams = Some(value),
            SETTINGS_INITIAL_WINDOW_SIZE => {
                if value > MAX_WINDOW {
                    return Err(FrameError::connection(
                        ErrorCode::FlowControlError,
                        "SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1 (RFC 9113 §6.5.2)",
                    ));
                }
                self.initial_window_size = value;
            }
            SETTINGS_MAX_FRAME_SIZE => {
                if !(DEFAULT_MAX_FRAME_SIZE..=MAX_MAX_FRAME_SIZE).contains(&value) {
                    return Err(FrameError::connection(
                        ErrorCode::ProtocolError,
                        "SETTINGS_MAX_FRAME_SIZE outside 2^14 to 2^24-1 (RFC 9113 §6.5.2)",
                    ));
                }
                self.max_frame_size = value;
            }
            SETTINGS_MAX_HEADER_LIST_SIZE => self.max_header_list_size = Some(value),
            // §6.5.1: an unknown or unsupported identifier MUST be ignored.
            _ => {}
        }
        Ok(())
    }
}
