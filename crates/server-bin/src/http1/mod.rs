//! The HTTP/1.1 codec: one connection's requests read, answered in order, and their responses
//! sent, over whatever transport the connection has.
//!
//! A connection is always in one [`Phase`]:
//!
//! ```text
//!        ┌────────────── keep-alive ───────────────┐
//!        ▼                                         │
//! open → Reading ── whole head (or 400/408/414/431) ─→ Sending ── closes after it ─→ Lingering → closed
//!        │                                                   └─ nothing left unread ─→ closed
//!        └─ EOF, idle timeout, drain grace over → closed
//! ```
//!
//! What happens when…
//! - **a head arrives**: bytes go into the input buffer; each line ending triggers a parse
//!   (http-core's). A complete head goes to the exchange, whose response is encoded here
//!   ([`encode`]); pipelined requests wait in the buffer and are answered in order.
//! - **a head is too large or malformed** (`431`, `414`, `400`, `501`, `505`): the error is
//!   answered and the connection lingers, then closes: the input can no longer be trusted to
//!   start a request. A `HEAD` gets no content, whatever made its head unacceptable.
//! - **a head is slow**: one not complete within the header timeout of its first byte gets
//!   `408`, then the same linger. **An idle connection** (no byte of a new head within the idle
//!   timeout) is closed without a word.
//! - **a response is sent**: one turn's budget at a time (16 responses or 1 MiB, then the worker serves its other connections); small bodies go in
//!   the same write as the head, large ones by `sendfile` (plain TCP) or through TLS. **A client
//!   that stops reading** for the send timeout is closed.
//! - **the response is the last one** (`Connection: close`, HTTP/1.0 without keep-alive, a
//!   request body the server will not read, an error that left the stream unsynchronised): the
//!   write side is shut after it and, if input may wait unread (the body, pipelined requests
//!   after the `close`), input is discarded for at most [`LINGER_TIMEOUT`] (**Lingering**), so
//!   the client reads the response before it could see a reset (RFC 9112 §9.6). Its buffers
//!   are gone then.
//! - **SIGINT/SIGTERM** (draining, a flag rather than a phase): a response in flight finishes,
//!   the pipelined requests already received are answered with `Connection: close`, an idle
//!   connection closes (one that has sent nothing yet gets [`DRAIN_GRACE`] to do so).
//! - **a panic in the exchange**: the request is answered `500` and the connection closes.
//!
//! Modes: a connection to the plain-HTTP redirect listener answers every request with `308` to
//! `https://`; one that spoke plain HTTP to the TLS port gets a `400` naming HTTPS at once.
//!
//! The log fields of a request live in the response being sent and are gone when it is logged.
//! This module must not parse bytes itself (http-core does), decide responses (the exchange
//! does) nor touch the socket but through the transport.

pub mod encode;
mod input;
mod outgoing;
#[cfg(test)]
mod tests;

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_core::date::HttpDate;
use http_core::limits::MAX_HEADERS;
use http_core::parse_request;
use http_core::{
    Body as RequestBody, EMPTY_HEADER, ParseError, Status, Version, first_line, is_head_request,
};
use pool::{CloseReason, Next, Readiness, would_block};

use self::input::Input;
use self::outgoing::{After, Outgoing, Turn};
use crate::access_log::Captured;
use crate::error::ServeError;
use crate::exchange::response::Text;
use crate::exchange::{self, Body, Response, reply};
use crate::files::body::FileBody;
use crate::service::{Peer, ResponseMeta, Service};
use crate::transport::socket::Socket;
use crate::transport::{Got, ReadBuf, Sent, Wire};

/// After the final response of a connection, unread input is discarded for at most this long
/// before closing, so the client reads the response before it sees a reset (RFC 9112 §9.6).
pub const LINGER_TIMEOUT: Duration = Duration::from_secs(2);

/// Header slots a head is first parsed into; a head with more fields is parsed again into
/// [`MAX_HEADERS`]. Browsers send 10 to 20.
const USUAL_FIELDS: usize = 24;

/// On shutdown, a connection that has not sent a request yet gets this long to do so.
pub const DRAIN_GRACE: Duration = Duration::from_secs(1);

/// Bodies up to this size are copied into the write buffer behind the head, so head and body
/// leave in one write; larger ones go after the head (by `sendfile` on plain TCP).
pub const INLINE_BODY_MAX: u64 = 16 * 1024;

/// What a connection is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Serving files.
    Serve,
    /// The plain-HTTP redirect listener: every request gets `308` to `https://` on this port.
    RedirectToHttps {
        /// The TLS listener's port.
        https_port: u16,
    },
    /// Plain HTTP sent to the TLS port: a `400` naming HTTPS on this port, then close.
    HttpsOnly {
        /// The TLS listener's port.
        https_port: u16,
    },
}

/// One HTTP/1.1 connection's state between events.
#[derive(Debug)]
pub struct Conn {
    mode: Mode,
    peer: Peer,
    phase: Phase,
    input: Input,
    /// Shutdown has begun at this instant: finish what is in flight, then close.
    draining: Option<Instant>,
    /// Responses completed.
    served: u64,
    /// Preparing a response panicked (answered 500): counted as a panic when it closes.
    panicked: bool,
    /// The final response is out and nothing waits unread: the write side is shut in
    /// [`Conn::close`], after the pool has freed the connection's slot, so that a client that
    /// reconnects the moment it reads the end of stream is not refused (issue 25).
    fin_on_close: bool,
}

/// Where a connection is in its life; see the module doc.
#[derive(Debug)]
enum Phase {
    /// Waiting for or reading a request head, idle since this instant (opened, or the last
    /// response done).
    Reading { idle_since: Instant },
    /// Sending a response.
    Sending(Box<Outgoing>),
    /// The final response is out and the write side shut; input is discarded until this instant.
    Lingering { until: Instant },
}

impl Conn {
    /// A connection in `mode`, opened (or through its handshake) at `now`, that has received
    /// `first` already (what a TLS port read before it knew the client spoke plain HTTP).
    pub fn new(mode: Mode, peer: Peer, first: &[u8], now: Instant) -> Self {
        let mut input = Input::default();
        if !first.is_empty() {
            input.buf.append(first);
            input.head_started = Some(now);
        }
        Self {
            mode,
            peer,
            phase: Phase::Reading { idle_since: now },
            input,
            draining: None,
            served: 0,
            panicked: false,
            fin_on_close: false,
        }
    }

    /// A connection whose first bytes were read while its protocol was being told (`buf`, which
    /// `got` brought last), opened at `now`; call [`Conn::resume`] next.
    pub fn with_input(mode: Mode, peer: Peer, buf: ReadBuf, got: Got, now: Instant) -> Self {
        let mut conn = Self::new(mode, peer, &[], now);
        conn.input = Input::read_before(buf, got, now);
        conn
    }

    /// Goes on where the caller left the socket (right after [`Conn::with_input`]: whether the
    /// last read drained it is known, so no read is wasted to learn it again).
    pub fn resume<S: Socket>(
        &mut self,
        svc: &mut Service,
        io: &mut Wire<'_, S>,
        now: Instant,
    ) -> Next {
        self.drive(svc, io, now)
    }

    /// The socket became readable or writable (or the connection is new, or resumed).
    pub fn ready<S: Socket>(
        &mut self,
        svc: &mut Service,
        io: &mut Wire<'_, S>,
        readiness: Readiness,
        now: Instant,
    ) -> Next {
        self.input.drain.on_event(readiness.read_closed);
        self.drive(svc, io, now)
    }

    /// The deadline this connection asked for has passed.
    pub fn timeout<S: Socket>(
        &mut self,
        svc: &mut Service,
        io: &mut Wire<'_, S>,
        now: Instant,
    ) -> Next {
        match self.phase {
            // Lingering is over, or the client stopped reading: give up on it.
            Phase::Lingering { .. } | Phase::Sending(_) => Next::Close,
            Phase::Reading { .. }
                if self.input.head_started.is_some() && !self.input.is_empty() =>
            {
                // The head did not arrive in time: 408, then close (RFC 9110 §15.5.9).
                let out = self.error_response(svc, ServeError::Timeout, now);
                self.phase = Phase::Sending(out);
                self.drive(svc, io, now)
            }
            // Idle too long (or the drain grace is over): close without a word.
            Phase::Reading { .. } => Next::Close,
        }
    }

    /// Shutdown has begun: finish what is in flight, close what is idle.
    pub fn drain<S: Socket>(
        &mut self,
        svc: &mut Service,
        io: &mut Wire<'_, S>,
        now: Instant,
    ) -> Next {
        self.draining = Some(now);
        self.drive(svc, io, now)
    }

    /// The connection is gone: the write side is shut after a final response, a response cut
    /// short (client gone, stalled, drain deadline or panic) is logged with what was sent, and
    /// the buffers go back to the worker.
    pub fn close<S: Socket>(
        mut self,
        svc: &mut Service,
        io: &mut Wire<'_, S>,
        reason: CloseReason,
    ) {
        if self.fin_on_close {
            io.shutdown();
        }
        if reason == CloseReason::Panicked || self.panicked {
            svc.panicked();
        }
        if let Phase::Sending(out) = self.phase {
            svc.record(
                &out.record(self.peer.known_addr(), self.peer.tls),
                Instant::now(),
            );
            svc.give_buffer(out.into_buffer());
        }
        svc.give_buffer(self.input.take_buffer());
    }

    /// Makes all the progress the socket allows within one turn, then says what to wait for.
    /// Every phase transition happens here or in the functions it calls for one step.
    fn drive<S: Socket>(&mut self, svc: &mut Service, io: &mut Wire<'_, S>, now: Instant) -> Next {
        let mut turn = Turn::default();
        loop {
            if turn.spent() {
                return Next::Yield;
            }
            let waiting = match &mut self.phase {
                Phase::Reading { idle_since } => {
                    let idle_since = *idle_since;
                    self.read_step(svc, io, idle_since, now)
                }
                Phase::Sending(out) => match out.send(io, now, &mut turn) {
                    Ok(Sent::Done) => {
                        turn.responses += 1;
                        self.finish_response(svc, io, now)
                    }
                    Ok(Sent::Blocked) => Some(Next::Wait(Some(
                        out.last_progress + svc.ctx().config.send_timeout,
                    ))),
                    Ok(Sent::Paused) => Some(Next::Yield),
                    Err(_) => Some(Next::Close),
                },
                Phase::Lingering { until } => Some(linger(io, *until, &mut turn)),
            };
            if let Some(next) = waiting {
                return next;
            }
        }
    }

    /// One step of reading: answer a complete head if there is one, else read more. `None`
    /// when there is more to do now.
    fn read_step<S: Socket>(
        &mut self,
        svc: &mut Service,
        io: &mut Wire<'_, S>,
        idle_since: Instant,
        now: Instant,
    ) -> Option<Next> {
        if let Mode::HttpsOnly { https_port } = self.mode {
            // Answer in the client's language, then close (as nginx's 497 does).
            let head_only = is_head_request(self.input.bytes());
            let response = reply::plain_http_on_tls_port(https_port, head_only);
            self.phase = Phase::Sending(self.closing_response(svc, response, now));
            return None;
        }
        if let Some(out) = self.next_request(svc, io, now) {
            self.phase = Phase::Sending(out);
            return None;
        }
        if let Some(since) = self.draining {
            let grace_over = self.served > 0 || now >= since + DRAIN_GRACE;
            if self.input.is_empty() && grace_over {
                return Some(Next::Close);
            }
        }
        if self.input.drain.is_drained() {
            return Some(self.wait_for_input(svc, idle_since));
        }
        if !self.input.buf.has_buffer() {
            self.input.buf.give(svc.take_buffer());
        }
        let before = self.input.buf.len();
        match io.read(&mut self.input.buf) {
            Ok(got) if got.bytes == 0 => Some(Next::Close), // the client is done
            Ok(got) => {
                self.input.note_read(before, got);
                self.input.head_started.get_or_insert(now);
                None
            }
            Err(e) if would_block(&e) => Some(self.wait_for_input(svc, idle_since)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => None,
            Err(_) => Some(Next::Close),
        }
    }

    /// The response has been sent in full: log it, then keep the connection, linger or close.
    fn finish_response<S: Socket>(
        &mut self,
        svc: &mut Service,
        io: &mut Wire<'_, S>,
        now: Instant,
    ) -> Option<Next> {
        let idle = Phase::Reading { idle_since: now };
        let Phase::Sending(out) = std::mem::replace(&mut self.phase, idle) else {
            return None;
        };
        svc.record(&out.record(self.peer.known_addr(), self.peer.tls), now);
        self.served += 1;
        let after = out.after;
        svc.give_buffer(out.into_buffer());
        match after {
            After::KeepAlive => {
                // Empty lines between requests are to be ignored (RFC 9112 §2.2): a client's
                // trailing CRLF is no head that has started.
                self.input.skip_empty_lines();
                self.input.head_started = (!self.input.is_empty()).then_some(now);
                None
            }
            // Nothing unread (else linger), so close. The write side is shut before the socket
            // closes, in `close`: that sends the response's held last segment with the FIN,
            // where a close over bytes that arrived meanwhile would reset the connection and
            // drop it.
            After::Close
                if self.input.is_empty() && io.nothing_unread(self.input.drain.is_drained()) =>
            {
                self.fin_on_close = true;
                Some(Next::Close)
            }
            After::Close | After::Linger => {
                self.start_linger(svc, io, now);
                None
            }
        }
    }

    /// Parses the next request from the input, if a whole head is there, and prepares its
    /// response.
    fn next_request<S: Socket>(
        &mut self,
        svc: &mut Service,
        io: &Wire<'_, S>,
        now: Instant,
    ) -> Option<Box<Outgoing>> {
        if !self.input.parse_pending {
            return None;
        }
        // Room for the fields of nearly every request, filled in per request; the full limit's
        // 100 slots only when a head has more (filling 100 cost 400 instructions a request).
        let mut few = [EMPTY_HEADER; USUAL_FIELDS];
        let mut all;
        let parsed = match parse_request(self.input.bytes(), &mut few) {
            Err(ParseError::TooManyHeaders) => {
                all = [EMPTY_HEADER; MAX_HEADERS];
                parse_request(self.input.bytes(), &mut all)
            }
            parsed => parsed,
        };
        let (req, len) = match parsed {
            Ok(Status::Complete(parsed)) => parsed,
            Ok(Status::Partial) => {
                self.input.parse_pending = false;
                return None;
            }
            Err(e) => return Some(self.error_response(svc, ServeError::Parse(e), now)),
        };
        let (time, date) = svc.now(now);
        let peer = &self.peer;
        let client = || *peer.addr.get_or_init(|| io.socket.peer_ip());
        let view = exchange::Request {
            method: req.method,
            target: req.target,
            fields: req.fields(),
            client: &client,
            sendfile: self.peer.tls.is_none(),
        };
        let (response, panicked) = match self.mode {
            Mode::RedirectToHttps { https_port } => {
                (reply::https_redirect(&view, https_port), false)
            }
            _ => svc.respond(&view, &date, self.draining.is_some(), now),
        };
        self.panicked |= panicked;
        // A request body is never read, so the bytes that follow cannot be trusted to start the
        // next request: answer, then close (DESIGN.md "Request bodies").
        let keep_alive = self.mode == Mode::Serve
            && !panicked
            && self.draining.is_none()
            && req.keep_alive
            && req.body == RequestBody::None;
        let linger = req.body != RequestBody::None;
        let log = svc.capture(req.line, req.header("referer"), req.header("user-agent"));
        let version = req.version;
        self.input.consume(len);
        let how = How {
            version,
            keep_alive,
            linger,
            time,
            date,
            log,
        };
        Some(self.outgoing(svc, response, how, now))
    }

    /// An error response after which the connection closes, because the input can no longer
    /// be trusted to start a request (malformed or incomplete head). A `HEAD` gets no content,
    /// whatever made its head unacceptable.
    fn error_response(
        &mut self,
        svc: &mut Service,
        err: ServeError,
        now: Instant,
    ) -> Box<Outgoing> {
        let head_only = is_head_request(self.input.bytes());
        self.closing_response(
            svc,
            reply::error(err, reply::Audience::unread(head_only)),
            now,
        )
    }

    /// `response`, after which the connection closes without reading further. The request
    /// line, or what there is of it, is kept for the log; the input buffer goes back at once.
    fn closing_response(
        &mut self,
        svc: &mut Service,
        response: Response,
        now: Instant,
    ) -> Box<Outgoing> {
        let (time, date) = svc.now(now);
        let log = svc.capture(first_line(self.input.bytes()), None, None);
        svc.give_buffer(self.input.take_buffer());
        let how = How {
            version: Version::Http11,
            keep_alive: false,
            linger: true,
            time,
            date,
            log,
        };
        self.outgoing(svc, response, how, now)
    }

    /// `response`, encoded and ready to send; it is counted and logged once sent.
    fn outgoing(
        &mut self,
        svc: &mut Service,
        mut response: Response,
        how: How,
        now: Instant,
    ) -> Box<Outgoing> {
        if let Some(hsts) = &self.peer.hsts {
            response
                .fields
                .push("Strict-Transport-Security", Text::Shared(Arc::clone(hsts)));
        }
        let mut buf = svc.take_output_buffer();
        let (inline, body, response) = encode_with_body(&mut buf, response, &how);
        let after = match how.keep_alive {
            true => After::KeepAlive,
            false if how.linger || response.status.is_error() => After::Linger,
            false => After::Close,
        };
        let started = self.input.head_started.unwrap_or(now);
        // Bytes already here after this head are not read while the response goes out; the
        // next head's clock starts when reading does (`finish_response`), or a long download
        // would run out the header timeout of the request pipelined behind it.
        self.input.head_started = None;
        let meta = ResponseMeta {
            status: response.status.as_u16(),
            resource: response.resource,
            user: response.user,
            started,
            time: how.time,
            log: how.log,
        };
        Box::new(Outgoing::new(buf, inline, body, after, meta, now))
    }

    /// Shuts the write side after the final response and starts discarding input. Nothing
    /// read from now on is kept, so the input buffer goes back to the worker (10,000
    /// connections lingering after a 431 would otherwise hold a full head buffer each).
    fn start_linger<S: Socket>(&mut self, svc: &mut Service, io: &mut Wire<'_, S>, now: Instant) {
        io.shutdown();
        self.phase = Phase::Lingering {
            until: now + LINGER_TIMEOUT,
        };
        svc.give_buffer(self.input.take_buffer());
    }

    /// Nothing more to read now: when must the connection hear from the client?
    fn wait_for_input(&mut self, svc: &mut Service, idle_since: Instant) -> Next {
        let config = &svc.ctx().config;
        let deadline = match self.input.head_started {
            Some(started) => started + config.header_timeout,
            None => {
                let idle = idle_since + config.idle_timeout;
                match self.draining {
                    Some(since) => idle.min(since + DRAIN_GRACE),
                    None => idle,
                }
            }
        };
        if self.input.is_empty() {
            // An idle connection holds no buffer (DESIGN.md: about 1 KiB per idle connection).
            svc.give_buffer(self.input.take_buffer());
        }
        Next::Wait(Some(deadline))
    }
}

/// How a response goes out, besides the response itself.
struct How {
    version: Version,
    keep_alive: bool,
    linger: bool,
    time: u64,
    date: HttpDate,
    log: Option<Captured>,
}

/// Encodes `response`'s head into `buf`, with its body behind it when the body is small;
/// returns the bytes of body in `buf`, the body still to send, and the response (a `500` in
/// its place when a small body could not be read: the file shrank since it was opened).
fn encode_with_body(
    buf: &mut Vec<u8>,
    mut response: Response,
    how: &How,
) -> (usize, Option<FileBody>, Response) {
    encode::head(buf, &response, &how.date, how.version, how.keep_alive);
    let head_end = buf.len();
    let body = match std::mem::take(&mut response.body) {
        Body::Empty => None,
        Body::Bytes(bytes) if bytes.len() as u64 <= INLINE_BODY_MAX => {
            buf.extend_from_slice(&bytes);
            None
        }
        Body::Bytes(bytes) => Some(FileBody::bytes(bytes)),
        Body::File(file) if file.remaining() <= INLINE_BODY_MAX => {
            if file.read_into(buf).is_err() {
                buf.clear();
                let failed = reply::error(ServeError::Internal, reply::Audience::default());
                return encode_with_body(buf, failed, how);
            }
            None
        }
        Body::File(file) => Some(file),
    };
    (buf.len() - head_end, body, response)
}

/// Discards input until the client closes or `until` passes; what is read counts against the
/// turn, so a client streaming garbage cannot hold the worker.
fn linger<S: Socket>(io: &mut Wire<'_, S>, until: Instant, turn: &mut Turn) -> Next {
    loop {
        if turn.spent() {
            return Next::Yield;
        }
        match io.discard() {
            Ok(0) => return Next::Close,
            Ok(n) => turn.bytes += n as u64,
            Err(e) if would_block(&e) => return Next::Wait(Some(until)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Next::Close,
        }
    }
}
