//! Received bytes not yet answered (a partial head, or pipelined requests), and what the codec
//! knows about them: whether a head may be complete, when the current head started, whether the
//! socket had nothing more at the last read. It outlives the codec's phases, since requests may
//! arrive while a response is being sent.

use std::time::Instant;

use http_core::empty_lines_len;
use http_core::limits::MAX_REQUEST_LINE;

use crate::transport::{Drain, Got, ReadBuf};

/// A connection's input.
#[derive(Debug, Default)]
pub struct Input {
    /// The bytes.
    pub buf: ReadBuf,
    /// Whether the bytes may hold a complete head not yet parsed: set when a line ending
    /// arrives, so that a head trickling in byte by byte is not re-parsed on every byte.
    pub parse_pending: bool,
    /// When the first byte of the current head arrived.
    pub head_started: Option<Instant>,
    /// Whether the socket had nothing more at the last read.
    pub drain: Drain,
}

impl Input {
    /// Input that was read before the codec took the connection: `buf`, which `got` brought
    /// last, at `now`.
    pub fn read_before(buf: ReadBuf, got: Got, now: Instant) -> Self {
        let mut input = Self {
            head_started: (!buf.is_empty()).then_some(now),
            buf,
            ..Self::default()
        };
        input.note_read(0, got);
        input
    }

    /// The bytes waiting.
    pub fn bytes(&self) -> &[u8] {
        self.buf.bytes()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Notes what a read that began with `before` bytes waiting brought.
    pub fn note_read(&mut self, before: usize, got: Got) {
        self.drain.on_read(got);
        // A head can only complete with a line ending; a limit can only be passed by growing.
        let fresh = self.buf.bytes().get(before..).unwrap_or_default();
        self.parse_pending |= fresh.contains(&b'\n') || self.buf.len() > MAX_REQUEST_LINE;
    }

    /// Drops a head that has been answered, and what may start the next one.
    pub fn consume(&mut self, n: usize) {
        self.buf.consume(n);
        self.parse_pending = !self.buf.is_empty();
    }

    /// Drops the empty lines at the start (http-core's rule for what precedes a request: RFC
    /// 9112 §2.2 says to ignore them).
    pub fn skip_empty_lines(&mut self) {
        self.buf.consume(empty_lines_len(self.buf.bytes()));
    }

    /// Takes the buffer away (to give it back to the worker), leaving the input empty.
    pub fn take_buffer(&mut self) -> Vec<u8> {
        self.parse_pending = false;
        self.buf.take()
    }
}
