//! The HTTP/1.1 connection state machine, run by the pool's workers.
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
//! - **Reading**: bytes go into the input buffer; each line ending triggers a parse. A head that
//!   is not complete within the header timeout of its first byte gets `408`; a connection with
//!   no byte of a new head within the idle timeout is closed without a word.
//! - **Sending**: the response `respond` prepared (head and small body in a buffer, a large body
//!   by `sendfile`) goes out, one turn's budget at a time (16 responses or 1 MiB, then the
//!   worker serves its other connections). A client that reads nothing for the send timeout is
//!   closed. Pipelined requests wait in the input buffer and are answered in order.
//! - **Lingering**: after a final response that may leave input unread (a request body, an error
//!   such as `431` that left the stream unsynchronised, pipelined requests after a `close`, or
//!   bytes still waiting in the socket), the write side is shut and input is discarded for at
//!   most [`LINGER_TIMEOUT`], so the client reads the response before it could see a reset
//!   (RFC 9112 §9.6). Its buffers are gone. A final response with nothing unread is followed by
//!   the same shutdown, then the close.
//! - **Draining** (SIGINT/SIGTERM) is a flag, not a phase: a response in flight finishes, the
//!   pipelined requests already received are answered with `Connection: close`, an idle
//!   connection closes (one that has sent nothing yet gets [`DRAIN_GRACE`] to do so).
//!
//! - **TLS** is a layer, not a phase: on the TLS port every read and write goes through the
//!   connection's [`Session`], and the handshake happens in Reading, under the header timeout
//!   from its first byte (a client that trickles its ClientHello is closed as one that trickles
//!   its head). Plain HTTP on the TLS port gets a `400` naming HTTPS, in plain text, then
//!   Lingering. Bodies are read from the file in [`TLS_CHUNK`] pieces into rustls, whose send
//!   buffer is bounded, instead of going by `sendfile`. A connection to the redirect listener
//!   answers every request with `308` to `https://`.
//!
//! The log fields of a request live in the response being sent and are gone when it is logged.
//! This module must not parse bytes itself (http-core does) nor decide responses (`respond`).

use std::io::{self, IoSlice, Read};
use std::net::{IpAddr, Shutdown};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http_core::date::HttpDate;
use http_core::limits::{MAX_HEADERS, MAX_REQUEST_LINE};
use http_core::{
    Body, EMPTY_HEADER, Method, Request, Status, Version, empty_lines_len, first_line,
    is_head_request, parse_request,
};
use mio::net::TcpStream;
use pool::{CloseReason, Handler, Next, Readiness, would_block};
use rustix::net::{RecvFlags, SendAncillaryBuffer, SendFlags};

use crate::access_log::{AccessLog, Captured, Entry};
use crate::context::Context;
use crate::error::ServeError;
use crate::files::body::{FileBody, Sent};
use crate::files::cache::FileCache;
use crate::files::root::RootView;
use crate::respond::{Reply, Response, Tree, respond};
use crate::tls::replies;
use crate::tls::session::{Failure, ReadError, Session};

/// Bytes asked of the socket per read.
const READ_CHUNK: usize = 4096;

/// Body bytes read from a file per step on a TLS connection: one full TLS record.
const TLS_CHUNK: usize = 16 * 1024;

/// After the final response of a connection, unread input is discarded for at most this long
/// before closing, so the client reads the response before it sees a reset (RFC 9112 §9.6).
const LINGER_TIMEOUT: Duration = Duration::from_secs(2);

/// On shutdown, a connection that has not sent a request yet gets this long to do so.
const DRAIN_GRACE: Duration = Duration::from_secs(1);

/// What one connection may do in one turn before its worker serves the others: this many
/// responses, or this many bytes written or discarded (the first reached). Then it yields and is
/// resumed after the worker's other ready connections (DESIGN.md "Fairness").
const TURN_RESPONSES: u32 = 16;
const TURN_BYTES: u64 = 1 << 20;

/// Spare buffers a worker keeps for reuse, and the largest capacity worth keeping: enough to
/// spare most allocations, little enough not to look like per-connection memory.
const SPARE_BUFFERS: usize = 64;
const SPARE_CAPACITY_MAX: usize = 64 * 1024;

/// One worker's HTTP handler.
#[derive(Debug)]
pub struct HttpHandler {
    ctx: Arc<Context>,
    worker: usize,
    log: AccessLog,
    clock: Clock,
    cache: FileCache,
    /// This worker's hold on the document root, taken once per request.
    root: RootView,
    spare: Vec<Vec<u8>>,
}

/// A connection's state between events.
#[derive(Debug)]
pub struct Conn {
    /// The client's address, for the log (looked up only when the log is on).
    peer: Option<IpAddr>,
    phase: Phase,
    input: Input,
    /// Shutdown has begun at this instant: finish what is in flight, then close.
    draining: Option<Instant>,
    /// Responses completed.
    served: u64,
    /// Preparing a response panicked (answered 500): counted as a panic when it closes.
    panicked: bool,
    /// The TLS layer, on the TLS port (boxed: a plain connection stays small).
    tls: Option<Box<Session>>,
    /// A connection to the plain-HTTP redirect listener: every request gets `308`.
    redirect: bool,
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

/// Received bytes not yet consumed: a partial head, or pipelined requests. It outlives phases,
/// since requests may arrive while a response is being sent.
#[derive(Debug, Default)]
struct Input {
    /// `buf[..len]` holds the bytes; the rest is initialised room to read into. Keeping the room
    /// initialised (buffers are reused with their length) spares zeroing it before every read,
    /// which cost a quarter of all instructions per small request.
    buf: Vec<u8>,
    len: usize,
    /// Whether `buf` may hold a complete head not yet parsed: set when a line ending arrives,
    /// so that a head trickling in byte by byte is not re-parsed on every byte.
    parse_pending: bool,
    /// When the first byte of the current head arrived.
    head_started: Option<Instant>,
    /// The last read returned less than it asked for, so the socket had nothing more then.
    /// Under edge-triggered polling, bytes arriving later raise a new event, so the read that
    /// would only answer `WouldBlock` is skipped (as nginx does): a syscall less per request.
    drained: bool,
    /// The poller said the client has shut its side: its end of stream can be queued right
    /// behind the bytes of a short read, and no new event would announce it, so never treat a
    /// short read as drained then.
    peer_closed: bool,
}

/// A response being sent, and what the log and the counters need to know about it.
#[derive(Debug)]
struct Outgoing {
    /// The head, and the body when it is small.
    buf: Vec<u8>,
    written: usize,
    head_len: usize,
    /// A body still to go after the buffer.
    file: Option<FileBody>,
    /// Body bytes actually written (inline and file).
    body_sent: u64,
    /// When a write last made progress (the send timeout runs from it).
    last_progress: Instant,
    after: After,
    status: u16,
    /// What the per-resource counters count (see `respond::Response::resource`).
    resource: Option<String>,
    /// When the request's first byte arrived, and the wall-clock second for the log.
    started: Instant,
    time: u64,
    log: Option<Captured>,
    /// On TLS: file bytes read and not yet all taken by rustls, and how many it has taken.
    chunk: Vec<u8>,
    chunk_taken: usize,
}

/// What happens to the connection once a response is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum After {
    /// Read the next request.
    KeepAlive,
    /// Close; gently (lingering) only if input is waiting unread.
    Close,
    /// Input the server will not read may follow (a request body, bytes after a malformed
    /// head): linger before closing.
    Linger,
}

/// The `Date` value, formatted once per second.
#[derive(Debug)]
struct Clock {
    secs: u64,
    date: HttpDate,
}

impl Clock {
    fn now(&mut self) -> (u64, HttpDate) {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if secs != self.secs {
            self.secs = secs;
            self.date = HttpDate::from_unix(secs);
        }
        (self.secs, self.date)
    }
}

/// What a connection has done in the current turn.
#[derive(Debug, Default)]
struct Turn {
    responses: u32,
    bytes: u64,
}

impl Turn {
    fn spent(&self) -> bool {
        self.responses >= TURN_RESPONSES || self.bytes >= TURN_BYTES
    }

    fn bytes_left(&self) -> u64 {
        TURN_BYTES.saturating_sub(self.bytes)
    }
}

impl Input {
    fn bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Drops the first `n` bytes (a request head that has been answered).
    fn consume(&mut self, n: usize) {
        let n = n.min(self.len);
        self.buf.copy_within(n..self.len, 0);
        self.len -= n;
    }

    /// Drops the empty lines at the start (http-core's rule for what precedes a request).
    fn skip_empty_lines(&mut self) {
        self.consume(empty_lines_len(self.bytes()));
    }

    /// Takes the buffer away (to give it back to the worker), leaving the input empty.
    fn take_buffer(&mut self) -> Vec<u8> {
        self.len = 0;
        std::mem::take(&mut self.buf)
    }
}

impl Handler for HttpHandler {
    type Conn = Conn;

    fn open(&mut self, stream: &TcpStream, now: Instant) -> Conn {
        self.ctx.metrics.connection_opened(self.worker);
        // Its first request is read at once, and may have been sent after this round's reading
        // of the cache's change queue.
        self.cache.recheck();
        let (tls, redirect) = match &self.ctx.tls {
            None => (None, false),
            // Only with a redirect listener is a connection's port worth a system call.
            Some(t)
                if t.redirect_port != 0
                    && stream
                        .local_addr()
                        .is_ok_and(|a| a.port() == t.redirect_port) =>
            {
                (None, true)
            }
            Some(t) => {
                // rustls refuses a new session only for a configuration it rejected at start-up;
                // the pool closes this one socket.
                let session = Session::new(&t.config)
                    .unwrap_or_else(|e| panic!("rustls refused a new session: {e}"));
                (Some(Box::new(session)), false)
            }
        };
        // TCP_NODELAY comes from the listening socket (see `socket::no_delay`).
        Conn {
            // getpeername costs a syscall per connection; only the access log needs it.
            peer: self
                .log
                .enabled()
                .then(|| stream.peer_addr().ok().map(|a| a.ip()))
                .flatten(),
            phase: Phase::Reading { idle_since: now },
            input: Input::default(),
            draining: None,
            served: 0,
            panicked: false,
            tls,
            redirect,
        }
    }

    fn ready(&mut self, c: &mut Conn, s: &mut TcpStream, r: Readiness, now: Instant) -> Next {
        c.input.drained = false;
        c.input.peer_closed |= r.read_closed;
        self.drive(c, s, now)
    }

    fn timeout(&mut self, c: &mut Conn, s: &mut TcpStream, now: Instant) -> Next {
        if c.tls.as_ref().is_some_and(|t| t.is_handshaking()) {
            // A handshake not done within the header timeout (or a connection that never
            // began one within the idle timeout): close, as for a head that never completes.
            if c.tls.take().is_some_and(|t| t.has_received()) {
                self.ctx.metrics.tls.failed(Failure::Timeout);
            }
            return Next::Close;
        }
        match c.phase {
            // Lingering is over, or the client stopped reading: give up on it.
            Phase::Lingering { .. } | Phase::Sending(_) => Next::Close,
            Phase::Reading { .. } if c.input.head_started.is_some() && !c.input.is_empty() => {
                // The head did not arrive in time: 408, then close (RFC 9110 §15.5.9).
                let out = self.error_response(c, ServeError::Timeout, now);
                c.phase = Phase::Sending(out);
                self.drive(c, s, now)
            }
            // Idle too long (or the drain grace is over): close without a word.
            Phase::Reading { .. } => Next::Close,
        }
    }

    fn drain(&mut self, c: &mut Conn, s: &mut TcpStream, now: Instant) -> Next {
        c.draining = Some(now);
        self.drive(c, s, now)
    }

    fn close(&mut self, mut c: Conn, reason: CloseReason) {
        if reason == CloseReason::Panicked || c.panicked {
            self.ctx.metrics.panicked(self.worker);
        }
        if let Some(tls) = &c.tls
            && tls.is_handshaking()
            && tls.has_received()
        {
            self.ctx.metrics.tls.failed(Failure::Closed);
        }
        let version = c.tls.as_ref().and_then(|t| t.version());
        if let Phase::Sending(out) = c.phase {
            // Cut short (client gone, stalled, drain deadline or panic): log what was sent.
            self.record(c.peer, version, &out, Instant::now());
            self.give_buffer(out.buf);
        }
        self.give_buffer(c.input.take_buffer());
    }

    fn tick(&mut self, now: Instant) -> Option<Instant> {
        // The worker polls next: what it reads then may have been sent after a file changed.
        self.cache.recheck();
        self.log.flush_if_due(now)
    }
}

impl HttpHandler {
    /// The handler of worker `worker`, logging into `log`.
    pub fn new(ctx: Arc<Context>, worker: usize, log: AccessLog) -> Self {
        Self {
            root: ctx.root.view(),
            ctx,
            worker,
            log,
            clock: Clock {
                secs: u64::MAX,
                date: HttpDate::from_unix(0),
            },
            cache: FileCache::default(),
            spare: Vec::new(),
        }
    }

    /// Makes all the progress the socket allows within one turn, then says what to wait for.
    /// Every phase transition happens here or in the functions it calls for one step.
    fn drive(&mut self, c: &mut Conn, s: &mut TcpStream, now: Instant) -> Next {
        let mut turn = Turn::default();
        loop {
            if turn.spent() {
                return Next::Yield;
            }
            let waiting = match &mut c.phase {
                Phase::Reading { idle_since } => {
                    let idle_since = *idle_since;
                    self.read_step(c, s, idle_since, now)
                }
                Phase::Sending(out) => match out.send(s, c.tls.as_deref_mut(), now, &mut turn) {
                    Ok(Sent::Done) => {
                        turn.responses += 1;
                        self.finish_response(c, s, now)
                    }
                    Ok(Sent::Blocked) => Some(Next::Wait(Some(
                        out.last_progress + self.ctx.config.send_timeout,
                    ))),
                    Ok(Sent::Paused) => Some(Next::Yield),
                    Err(_) => Some(Next::Close),
                },
                Phase::Lingering { until } => Some(linger(s, *until, &mut turn)),
            };
            if let Some(next) = waiting {
                return next;
            }
        }
    }

    /// One step of reading: answer a complete head if there is one, else read more. `None`
    /// when there is more to do now.
    fn read_step(
        &mut self,
        c: &mut Conn,
        s: &mut TcpStream,
        idle_since: Instant,
        now: Instant,
    ) -> Option<Next> {
        if let Some(out) = self.next_request(c, now) {
            c.phase = Phase::Sending(out);
            return None;
        }
        if let Some(since) = c.draining {
            let grace_over = c.served > 0 || now >= since + DRAIN_GRACE;
            if c.input.is_empty() && grace_over {
                return Some(Next::Close);
            }
        }
        if c.input.drained && c.tls.is_none() {
            return Some(self.wait_for_input(c, idle_since));
        }
        let read = match c.tls.as_deref_mut() {
            Some(tls) => self.read_tls(&mut c.input, tls, s),
            None => self.read(&mut c.input, s).map_err(ReadError::Io),
        };
        if let Some(tls) = c.tls.as_deref_mut()
            && tls.take_established()
        {
            self.ctx.metrics.tls.established(tls.version(), tls.alpn());
        }
        match read {
            Ok(0) => Some(Next::Close), // the client is done (a partial head is abandoned)
            Ok(_) => {
                c.input.head_started.get_or_insert(now);
                None
            }
            Err(ReadError::Io(e)) if would_block(&e) => {
                // The handshake counts against the header timeout, from its first byte.
                if c.tls
                    .as_ref()
                    .is_some_and(|t| t.is_handshaking() && t.has_received())
                {
                    c.input.head_started.get_or_insert(now);
                }
                Some(self.wait_for_input(c, idle_since))
            }
            Err(ReadError::Io(e)) if e.kind() == io::ErrorKind::Interrupted => None,
            Err(ReadError::PlainHttp) => {
                // Answer in the client's language, then close (as nginx's 497 does).
                self.ctx.metrics.tls.failed(Failure::PlainHttp);
                c.tls = None;
                c.input.head_started.get_or_insert(now);
                let port = self.ctx.tls.as_ref().map_or(0, |t| t.https_port);
                let head_only = is_head_request(c.input.bytes());
                let out = self.closing_response(c, now, |buf, date| {
                    replies::plain_http(port, head_only, date, buf)
                });
                c.phase = Phase::Sending(out);
                None
            }
            Err(ReadError::Tls(e)) => {
                if c.tls.take().is_some_and(|t| t.is_handshaking()) {
                    self.ctx.metrics.tls.failed(Failure::of(&e));
                }
                Some(Next::Close)
            }
            Err(ReadError::Io(_)) => Some(Next::Close),
        }
    }

    /// The response has been sent in full: log it, then keep the connection, linger or close.
    fn finish_response(&mut self, c: &mut Conn, s: &mut TcpStream, now: Instant) -> Option<Next> {
        let idle = Phase::Reading { idle_since: now };
        let Phase::Sending(out) = std::mem::replace(&mut c.phase, idle) else {
            return None;
        };
        self.record(c.peer, c.tls.as_ref().and_then(|t| t.version()), &out, now);
        c.served += 1;
        let after = out.after;
        self.give_buffer(out.buf);
        match after {
            After::KeepAlive => {
                // Empty lines between requests are to be ignored (RFC 9112 §2.2): a client's
                // trailing CRLF is no head that has started.
                c.input.skip_empty_lines();
                c.input.head_started = (!c.input.is_empty()).then_some(now);
                None
            }
            // Nothing unread (else linger), so close. The write side is shut first: that sends
            // the response's held last segment with the FIN, where a close over bytes that
            // arrived meanwhile would reset the connection and drop it.
            After::Close if nothing_unread(&c.input, c.tls.is_some(), s) => {
                shut_write(c.tls.as_deref_mut(), s);
                Some(Next::Close)
            }
            After::Close | After::Linger => {
                self.start_linger(c, s, now);
                None
            }
        }
    }

    /// Parses the next request from the input, if a whole head is there, and prepares its
    /// response.
    fn next_request(&mut self, c: &mut Conn, now: Instant) -> Option<Box<Outgoing>> {
        if !c.input.parse_pending {
            return None;
        }
        let mut slots = [EMPTY_HEADER; MAX_HEADERS];
        let (req, len) = match parse_request(c.input.bytes(), &mut slots) {
            Ok(Status::Complete(parsed)) => parsed,
            Ok(Status::Partial) => {
                c.input.parse_pending = false;
                return None;
            }
            Err(e) => return Some(self.error_response(c, ServeError::Parse(e), now)),
        };
        let (time, date) = self.clock.now();
        let mut buf = self.take_output_buffer();
        let (response, panicked) = match (c.redirect, &self.ctx.tls) {
            (true, Some(tls)) => (
                replies::redirect(&req, tls.https_port, &date, &mut buf),
                false,
            ),
            _ => self.prepare(&req, &date, c.draining.is_some(), now, &mut buf),
        };
        c.panicked |= panicked;
        let log = self
            .log
            .capture(req.line, req.header("referer"), req.header("user-agent"));
        let linger = req.body != Body::None;
        c.input.consume(len);
        c.input.parse_pending = !c.input.is_empty();
        Some(self.outgoing(c, buf, response, linger, time, log, now))
    }

    /// `respond`, with a panic in it contained (and said: the flag). A panic is a bug, reported
    /// in one line by the panic hook. Nothing has been sent, so the client gets a 500 (and the
    /// log a line); the connection then closes, and the cache the panic may have left
    /// half-updated is dropped.
    fn prepare(
        &mut self,
        req: &Request<'_, '_>,
        date: &HttpDate,
        draining: bool,
        now: Instant,
        buf: &mut Vec<u8>,
    ) -> (Response, bool) {
        let (ctx, cache) = (&self.ctx, &mut self.cache);
        let root = self.root.current();
        let prepared = panic::catch_unwind(AssertUnwindSafe(|| {
            respond(ctx, Tree { root, cache }, req, date, draining, now, buf)
        }));
        if let Ok(response) = prepared {
            return (response, false);
        }
        buf.clear();
        self.cache = FileCache::default();
        let reply = Reply {
            version: req.version,
            head_only: req.method == Method::Head,
            keep_alive: false,
            date,
        };
        (reply.error(buf, ServeError::Internal), true)
    }

    /// An error response after which the connection closes, because the input can no longer
    /// be trusted to start a request (malformed or incomplete head). The request line, or what
    /// there is of it, is kept for the log; the input buffer goes back at once. A `HEAD` gets
    /// no content, whatever made its head unacceptable.
    fn error_response(&mut self, c: &mut Conn, err: ServeError, now: Instant) -> Box<Outgoing> {
        let head_only = is_head_request(c.input.bytes());
        self.closing_response(c, now, |buf, date| {
            let reply = Reply {
                version: Version::Http11,
                head_only,
                keep_alive: false,
                date,
            };
            reply.error(buf, err)
        })
    }

    /// A response `make` writes, after which the connection closes without reading further
    /// (see [`HttpHandler::error_response`]).
    fn closing_response(
        &mut self,
        c: &mut Conn,
        now: Instant,
        make: impl FnOnce(&mut Vec<u8>, &HttpDate) -> Response,
    ) -> Box<Outgoing> {
        let (time, date) = self.clock.now();
        let log = self.log.capture(first_line(c.input.bytes()), None, None);
        let input = c.input.take_buffer();
        self.give_buffer(input);
        c.input.parse_pending = false;
        let mut buf = self.take_output_buffer();
        let response = make(&mut buf, &date);
        self.outgoing(c, buf, response, true, time, log, now)
    }

    /// A prepared response (its head, and a small body, already in `buf`), ready to send; it is
    /// counted and logged once sent, by `record`.
    #[allow(
        clippy::too_many_arguments,
        reason = "each is one fact of the response"
    )]
    fn outgoing(
        &mut self,
        c: &mut Conn,
        buf: Vec<u8>,
        response: Response,
        linger: bool,
        time: u64,
        log: Option<Captured>,
        now: Instant,
    ) -> Box<Outgoing> {
        let mut buf = buf;
        let inline_body = match response.file {
            Some(_) => 0,
            None => usize::try_from(response.body_len).unwrap_or(usize::MAX),
        };
        if c.tls.is_some()
            && let Some(hsts) = self.ctx.tls.as_ref().and_then(|t| t.hsts_line.as_deref())
        {
            insert_field(&mut buf, inline_body, hsts);
        }
        let after = match response.keep_alive {
            true => After::KeepAlive,
            false if linger || response.status.is_error() => After::Linger,
            false => After::Close,
        };
        let started = c.input.head_started.unwrap_or(now);
        // Bytes already here after this head are not read while the response goes out; the
        // next head's clock starts when reading does (`finish_response`), or a long download
        // would run out the header timeout of the request pipelined behind it.
        c.input.head_started = None;
        Box::new(Outgoing {
            head_len: buf.len().saturating_sub(inline_body),
            buf,
            written: 0,
            file: response.file,
            body_sent: 0,
            last_progress: now,
            after,
            status: response.status.as_u16(),
            resource: response.resource,
            started,
            time,
            log,
            chunk: Vec::new(),
            chunk_taken: 0,
        })
    }

    /// Logs a response and counts its bytes (also for one cut short). The clock is read here
    /// rather than taken from the event round, which began before the response was written.
    fn record(
        &mut self,
        peer: Option<IpAddr>,
        tls: Option<&'static str>,
        out: &Outgoing,
        now: Instant,
    ) {
        let now = now.max(Instant::now());
        let took = now.saturating_duration_since(out.started);
        self.ctx.metrics.response(
            self.worker,
            out.status,
            out.resource.as_deref(),
            out.body_sent,
            took,
        );
        let Some(log) = &out.log else { return };
        let entry = Entry {
            remote: peer,
            time: out.time,
            request_line: log.request_line(),
            status: out.status,
            bytes: out.body_sent,
            referer: log.referer(),
            user_agent: log.user_agent(),
            duration: took,
            tls,
        };
        self.log.record(&entry, now);
    }

    /// As [`HttpHandler::read`], through the TLS layer.
    fn read_tls(
        &mut self,
        input: &mut Input,
        tls: &mut Session,
        s: &mut TcpStream,
    ) -> Result<usize, ReadError> {
        if input.buf.capacity() == 0 {
            input.buf = self.take_buffer();
        }
        // rustls appends plaintext to a `Vec`: the room past the bytes is not used here.
        let start = input.len;
        input.buf.truncate(start);
        let result = tls.read(s, &mut input.buf);
        input.len = input.buf.len();
        let new = input.buf.get(start..).unwrap_or_default();
        input.parse_pending |= new.contains(&b'\n') || input.len > MAX_REQUEST_LINE;
        result
    }

    fn read(&mut self, input: &mut Input, s: &mut TcpStream) -> io::Result<usize> {
        if input.buf.capacity() == 0 {
            input.buf = self.take_buffer();
        }
        let start = input.len;
        if input.buf.len() < start + READ_CHUNK {
            // Zeroed once per buffer growth, not once per read.
            input.buf.resize(start + READ_CHUNK, 0);
        }
        let room = input
            .buf
            .get_mut(start..start + READ_CHUNK)
            .unwrap_or_default();
        // Straight to the system call, as the writes are: the C library's `recv` is a thread
        // cancellation point, which costs two more calls around each read.
        let result = rustix::net::recv(&*s, room, RecvFlags::empty())
            .map(|(n, _)| n)
            .map_err(io::Error::from);
        let n = *result.as_ref().unwrap_or(&0);
        input.len = start + n;
        input.drained = result.is_ok() && n < READ_CHUNK && !input.peer_closed;
        // A head can only complete with a line ending; a limit can only be passed by growing.
        let fresh = input.buf.get(start..input.len).unwrap_or_default();
        input.parse_pending |= fresh.contains(&b'\n') || input.len > MAX_REQUEST_LINE;
        result
    }

    /// Nothing more to read now: when must the connection hear from the client?
    fn wait_for_input(&mut self, c: &mut Conn, idle_since: Instant) -> Next {
        let config = &self.ctx.config;
        let deadline = match c.input.head_started {
            Some(started) => started + config.header_timeout,
            None => {
                let idle = idle_since + config.idle_timeout;
                match c.draining {
                    Some(since) => idle.min(since + DRAIN_GRACE),
                    None => idle,
                }
            }
        };
        if c.input.is_empty() {
            // An idle connection holds no buffer (DESIGN.md: about 1 KiB per idle connection).
            let input = c.input.take_buffer();
            self.give_buffer(input);
        }
        Next::Wait(Some(deadline))
    }

    /// Shuts the write side after the final response and starts discarding input. Nothing
    /// read from now on is kept, so the input buffer goes back to the worker (10,000
    /// connections lingering after a 431 would otherwise hold a full head buffer each).
    fn start_linger(&mut self, c: &mut Conn, s: &mut TcpStream, now: Instant) {
        shut_write(c.tls.as_deref_mut(), s);
        c.phase = Phase::Lingering {
            until: now + LINGER_TIMEOUT,
        };
        c.input.parse_pending = false;
        let input = c.input.take_buffer();
        self.give_buffer(input);
    }

    /// A spare buffer, as it was given back: its length is initialised memory (for input) and
    /// must be cleared before it is written to as a `Vec` (for output).
    fn take_buffer(&mut self) -> Vec<u8> {
        self.spare.pop().unwrap_or_default()
    }

    fn take_output_buffer(&mut self) -> Vec<u8> {
        let mut buf = self.take_buffer();
        buf.clear();
        buf
    }

    fn give_buffer(&mut self, buf: Vec<u8>) {
        if buf.capacity() > 0
            && buf.capacity() <= SPARE_CAPACITY_MAX
            && self.spare.len() < SPARE_BUFFERS
        {
            self.spare.push(buf);
        }
    }
}

impl Outgoing {
    /// Writes the buffer, then the file body, within what is left of the turn. `Done` once the
    /// whole response is out.
    fn send(
        &mut self,
        s: &mut TcpStream,
        tls: Option<&mut Session>,
        now: Instant,
        turn: &mut Turn,
    ) -> io::Result<Sent> {
        if let Some(tls) = tls {
            return self.send_tls(s, tls, now, turn);
        }
        while self.written < self.buf.len() {
            if turn.spent() {
                return Ok(Sent::Paused);
            }
            match self.write_buffer(s, turn.bytes_left()) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    turn.bytes += n as u64;
                    let in_buf = n.min(self.buf.len() - self.written);
                    let body_before = self.written.max(self.head_len);
                    self.written += in_buf;
                    self.body_sent += (self.written.max(self.head_len) - body_before) as u64;
                    if let Some(file) = &mut self.file {
                        file.advance_memory(n - in_buf);
                        self.body_sent += (n - in_buf) as u64;
                    }
                    self.last_progress = now;
                }
                Err(e) if would_block(&e) => return Ok(Sent::Blocked),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if let Some(file) = &mut self.file {
            let before = self.body_sent;
            let sent = file.send(&*s, &mut self.body_sent, turn.bytes_left());
            turn.bytes += self.body_sent - before;
            if self.body_sent > before {
                self.last_progress = now;
            }
            match sent? {
                Sent::Done => self.file = None,
                unfinished => return Ok(unfinished),
            }
        }
        Ok(Sent::Done)
    }
}

impl Outgoing {
    /// One write of what is left of the buffer. A body in memory goes in the same call
    /// (`writev`), and the head of a body sent by `sendfile` is held back (`MSG_MORE`) to leave
    /// in the same packet as the body's first bytes, as nginx's `tcp_nopush` does: one system
    /// call and one packet fewer per response. The last segment of a final response is held
    /// back too: the shutdown of the write side that follows at once (`finish_response`, before
    /// closing or lingering) sends it with the FIN, so the client handles one packet, not two,
    /// per connection.
    fn write_buffer(&self, s: &mut TcpStream, allowance: u64) -> io::Result<usize> {
        let rest = self.buf.get(self.written..).unwrap_or_default();
        // As `write` does through the standard library: a closed peer is an error, not SIGPIPE.
        let last = match self.after {
            After::KeepAlive => SendFlags::NOSIGNAL,
            After::Close | After::Linger => SendFlags::NOSIGNAL | SendFlags::MORE,
        };
        let sent = match &self.file {
            Some(file) => match file.memory_front() {
                Some(body) => {
                    let room = usize::try_from(allowance).unwrap_or(usize::MAX);
                    let body = body.get(..room.saturating_sub(rest.len())).unwrap_or(body);
                    let parts = [IoSlice::new(rest), IoSlice::new(body)];
                    let mut no_control = SendAncillaryBuffer::default();
                    rustix::net::sendmsg(&*s, &parts, &mut no_control, last)
                }
                None if file.is_file() => rustix::net::send(&*s, rest, last | SendFlags::MORE),
                None => rustix::net::send(&*s, rest, last),
            },
            None => rustix::net::send(&*s, rest, last),
        };
        Ok(sent?)
    }

    /// As [`Outgoing::send`], through TLS: the buffer, then the body a [`TLS_CHUNK`] at a time,
    /// go into rustls as its bounded send buffer takes them; `Done` once all is on the socket.
    fn send_tls(
        &mut self,
        s: &mut TcpStream,
        tls: &mut Session,
        now: Instant,
        turn: &mut Turn,
    ) -> io::Result<Sent> {
        loop {
            if turn.spent() {
                // Let the client have what is encrypted while the others get their turn.
                tls.flush(s)?;
                return Ok(Sent::Paused);
            }
            let from_buf = self.written < self.buf.len();
            let data = if from_buf {
                self.buf.get(self.written..)
            } else {
                self.chunk.get(self.chunk_taken..).filter(|d| !d.is_empty())
            };
            let Some(data) = data else {
                if let Some(file) = &mut self.file {
                    self.chunk.clear();
                    self.chunk_taken = 0;
                    let most = usize::try_from(turn.bytes_left())
                        .map_or(TLS_CHUNK, |left| left.min(TLS_CHUNK));
                    if file.read_chunk(&mut self.chunk, most)? == 0 {
                        self.file = None;
                        self.chunk = Vec::new();
                    }
                    continue;
                }
                return Ok(match tls.flush(s)? {
                    true => Sent::Done,
                    false => Sent::Blocked,
                });
            };
            let n = match tls.write(s, data) {
                Ok(n) => n,
                Err(e) if would_block(&e) => return Ok(Sent::Blocked),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            turn.bytes += n as u64;
            if n > 0 {
                self.last_progress = now;
            }
            if from_buf {
                let body_before = self.written.max(self.head_len);
                self.written += n;
                self.body_sent += (self.written.max(self.head_len) - body_before) as u64;
            } else {
                self.chunk_taken += n;
                self.body_sent += n as u64;
            }
        }
    }
}

/// Inserts a field line (ending in CRLF) at the end of the head in `buf`, which is followed by
/// `body_len` bytes of body. Used for fields that every response on a connection carries
/// (`Strict-Transport-Security`), so that `respond` need not know about the connection.
fn insert_field(buf: &mut Vec<u8>, body_len: usize, line: &str) {
    let Some(head_end) = buf.len().checked_sub(body_len) else {
        return;
    };
    let Some(at) = head_end.checked_sub(2) else {
        return;
    };
    // Only into a whole head, ending in its blank line.
    if buf.get(at.saturating_sub(2)..head_end) == Some(b"\r\n\r\n".as_slice()) {
        buf.splice(at..at, line.bytes());
    }
}

/// Ends what the server sends: TLS's `close_notify`, then the FIN, which also sends the last
/// segment a final response held back (`MSG_MORE`).
fn shut_write(tls: Option<&mut Session>, s: &mut TcpStream) {
    if let Some(tls) = tls {
        tls.close(s);
    }
    let _ = s.shutdown(Shutdown::Write);
}

/// Whether no input waits unread, in the buffer or in the socket. A short plain read says the
/// socket had nothing more; otherwise (the last read filled its chunk, the response took more
/// than one call, or TLS, whose reads stop at the first record) the kernel is asked.
fn nothing_unread(input: &Input, tls: bool, s: &TcpStream) -> bool {
    input.is_empty()
        && ((input.drained && !tls) || rustix::io::ioctl_fionread(s).is_ok_and(|n| n == 0))
}

/// Discards input until the client closes or `until` passes; what is read counts against the
/// turn, so a client streaming garbage cannot hold the worker.
fn linger(s: &mut TcpStream, until: Instant, turn: &mut Turn) -> Next {
    let mut scratch = [0u8; 4096];
    loop {
        if turn.spent() {
            return Next::Yield;
        }
        match s.read(&mut scratch) {
            Ok(0) => return Next::Close,
            Ok(n) => turn.bytes += n as u64,
            Err(e) if would_block(&e) => return Next::Wait(Some(until)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Next::Close,
        }
    }
}
