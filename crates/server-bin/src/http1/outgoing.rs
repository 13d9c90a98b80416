//! A response on its way out over HTTP/1.1: the encoded head (with a small body copied behind
//! it), then the body, within the turn's budget; and what the log and the counters need to
//! know about it once it is done or cut short.

use std::io;
use std::time::Instant;

use crate::files::body::{FileBody, Next};
use crate::service::{Record, ResponseMeta};
use crate::transport::socket::Socket;
use crate::transport::{Sent, Wire};

/// What one connection may do in one turn before its worker serves the others: this many
/// responses, or this many bytes written or discarded (the first reached). Then it yields and is
/// resumed after the worker's other ready connections (DESIGN.md "Fairness").
pub const TURN_RESPONSES: u32 = 16;
pub const TURN_BYTES: u64 = 1 << 20;

/// What a connection has done in the current turn.
#[derive(Debug, Default)]
pub struct Turn {
    /// Responses completed.
    pub responses: u32,
    /// Bytes written or discarded.
    pub bytes: u64,
}

impl Turn {
    /// Whether the turn is used up.
    pub fn spent(&self) -> bool {
        self.responses >= TURN_RESPONSES || self.bytes >= TURN_BYTES
    }

    /// Bytes that may still go in this turn.
    pub fn bytes_left(&self) -> u64 {
        TURN_BYTES.saturating_sub(self.bytes)
    }
}

/// What happens to the connection once a response is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    /// Read the next request.
    KeepAlive,
    /// Close; gently (lingering) only if input is waiting unread.
    Close,
    /// Input the server will not read may follow (a request body, bytes after a malformed
    /// head): linger before closing.
    Linger,
}

/// A response being sent.
#[derive(Debug)]
pub struct Outgoing {
    /// The head, and the body when it is small.
    pub buf: Vec<u8>,
    written: usize,
    head_len: usize,
    /// A body still to go after the buffer.
    body: Option<FileBody>,
    /// Body bytes actually written (inline and from `body`).
    body_sent: u64,
    /// When a write last made progress (the send timeout runs from it).
    pub last_progress: Instant,
    /// What follows it.
    pub after: After,
    meta: ResponseMeta,
}

impl Outgoing {
    /// A response whose head (and `inline` bytes of body) are in `buf`, with `body` to follow.
    pub fn new(
        buf: Vec<u8>,
        inline: usize,
        body: Option<FileBody>,
        after: After,
        meta: ResponseMeta,
        now: Instant,
    ) -> Self {
        Self {
            head_len: buf.len().saturating_sub(inline),
            buf,
            written: 0,
            body,
            body_sent: 0,
            last_progress: now,
            after,
            meta,
        }
    }

    /// What the log and the counters need, for a response done or cut short.
    pub fn record<'a>(
        &'a self,
        peer: Option<std::net::IpAddr>,
        tls: Option<&'static str>,
    ) -> Record<'a> {
        self.meta.record(peer, tls, self.body_sent)
    }

    /// Writes the buffer, then the body, within what is left of the turn. `Done` once the
    /// whole response is on the socket (for TLS, encrypted and flushed).
    ///
    /// # Errors
    ///
    /// Socket errors, and a body file that shrank: the connection must close.
    pub fn send<S: Socket>(
        &mut self,
        io: &mut Wire<'_, S>,
        now: Instant,
        turn: &mut Turn,
    ) -> io::Result<Sent> {
        while self.written < self.buf.len() {
            if turn.spent() {
                io.flush()?;
                return Ok(Sent::Paused);
            }
            match self.write_buffer(io, turn.bytes_left()) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    turn.bytes += n as u64;
                    self.last_progress = now;
                }
                Err(e) if pool::would_block(&e) => return Ok(Sent::Blocked),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if let Some(body) = &mut self.body {
            let before = self.body_sent;
            let sent = io.write_body(body, turn.bytes_left(), &mut self.body_sent);
            turn.bytes += self.body_sent - before;
            if self.body_sent > before {
                self.last_progress = now;
            }
            match sent? {
                Sent::Done => self.body = None,
                unfinished => return Ok(unfinished),
            }
        }
        Ok(match io.flush()? {
            true => Sent::Done,
            false => Sent::Blocked,
        })
    }

    /// One write of what is left of the buffer, and counts it. A body in memory goes in the
    /// same call (`writev`), and the head of a body sent by `sendfile` is held back (`MSG_MORE`)
    /// to leave in the same packet as the body's first bytes, as nginx's `tcp_nopush` does: one
    /// system call and one packet fewer per response. The last segment of a final response is
    /// held back too: the shutdown of the write side that follows at once (before closing or
    /// lingering) sends it with the FIN, so the client handles one packet, not two, per
    /// connection.
    fn write_buffer<S: Socket>(
        &mut self,
        io: &mut Wire<'_, S>,
        allowance: u64,
    ) -> io::Result<usize> {
        let rest = self.buf.get(self.written..).unwrap_or_default();
        let (front, file_follows) = match self.body.as_ref().and_then(FileBody::next) {
            Some(Next::Bytes(bytes)) => {
                let room = usize::try_from(allowance).unwrap_or(usize::MAX);
                let room = room.saturating_sub(rest.len()).min(bytes.len());
                (bytes.get(..room).unwrap_or_default(), false)
            }
            Some(Next::File { .. }) => (&[][..], true),
            None => (&[][..], false),
        };
        let more = self.after != After::KeepAlive || file_follows;
        let n = io.write(&[rest, front], more)?;
        let in_buf = n.min(rest.len());
        let body_before = self.written.max(self.head_len);
        self.written += in_buf;
        self.body_sent += (self.written.max(self.head_len) - body_before) as u64;
        if let Some(body) = &mut self.body {
            body.advance(n - in_buf);
            self.body_sent += (n - in_buf) as u64;
        }
        Ok(n)
    }

    /// Gives the buffer back for reuse.
    pub fn into_buffer(self) -> Vec<u8> {
        self.buf
    }
}
