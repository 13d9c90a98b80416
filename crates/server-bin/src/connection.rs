//! The HTTP/1.1 connection state machine, run by the pool's workers.
//!
//! It owns a connection's life: reading and parsing heads (pipelined ones in order), sending
//! prepared responses (write buffer, then `sendfile`), keep-alive, the three deadlines (head,
//! idle, send stall), draining on shutdown and the lingering close that keeps a final response
//! from being destroyed by a reset. It must not parse bytes itself (http-core does) nor decide
//! responses (that is `respond`).

use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http_core::date::HttpDate;
use http_core::limits::{MAX_HEADERS, MAX_REQUEST_LINE};
use http_core::{Body, EMPTY_HEADER, Method, Status, Version, first_line, parse_request};
use mio::net::TcpStream;
use pool::{CloseReason, Handler, Next, would_block};

use crate::access_log::{AccessLog, Entry};
use crate::config::Config;
use crate::context::Context;
use crate::error::ServeError;
use crate::files::body::{FileBody, Sent};
use crate::files::cache::FileCache;
use crate::respond::{Reply, Response, respond};

/// Bytes asked of the socket per read.
const READ_CHUNK: usize = 4096;

/// After the final response of a connection, unread input is discarded for at most this long
/// before closing, so the client reads the response before it sees a reset (RFC 9112 §9.6).
const LINGER_TIMEOUT: Duration = Duration::from_secs(2);

/// On shutdown, a connection that has not sent a request yet gets this long to do so.
const DRAIN_GRACE: Duration = Duration::from_secs(1);

/// What one connection may do in one turn before its worker serves the others: this many
/// responses, or this many bytes written (the first reached). Then it yields and is resumed after
/// the worker's other ready connections (DESIGN.md "Fairness").
const TURN_RESPONSES: u32 = 16;
const TURN_BYTES: u64 = 1 << 20;

/// Spare buffers a worker keeps for reuse, and the largest capacity worth keeping.
const SPARE_BUFFERS: usize = 256;
const SPARE_CAPACITY_MAX: usize = 64 * 1024;

/// One worker's HTTP handler.
#[derive(Debug)]
pub struct HttpHandler {
    ctx: Arc<Context>,
    worker: usize,
    log: AccessLog,
    clock: Clock,
    cache: FileCache,
    spare: Vec<Vec<u8>>,
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

/// A connection's state between events.
#[derive(Debug)]
pub struct Conn {
    peer: Option<IpAddr>,
    /// Received bytes not yet consumed (a partial head, or pipelined requests).
    input: Vec<u8>,
    /// Whether `input` may hold a complete head not yet parsed: set when a line ending arrives,
    /// so that a head trickling in byte by byte is not re-parsed on every byte.
    parse_pending: bool,
    out: Outgoing,
    /// When the connection last became idle (opened, or finished a response).
    idle_since: Instant,
    /// When the first byte of the current request head arrived.
    head_started: Option<Instant>,
    /// When the last write made progress.
    last_progress: Instant,
    /// The write side is shut; discarding input until this instant.
    lingering: Option<Instant>,
    /// Shutdown has begun: finish what is in flight, then close.
    draining: Option<Instant>,
    /// Responses completed.
    served: u64,
    /// Preparing a response panicked (answered 500): counted as a panic when it closes.
    panicked: bool,
}

/// The response being sent, and what the log needs to know about it.
#[derive(Debug)]
struct Outgoing {
    buf: Vec<u8>,
    written: usize,
    head_len: usize,
    file: Option<FileBody>,
    /// Body bytes actually written (inline and sendfile).
    body_sent: u64,
    in_flight: bool,
    close_after: bool,
    /// Input the server will not read may follow (a request body, or bytes after a malformed
    /// head): close gently, so a reset cannot destroy the response (RFC 9112 §9.6).
    linger: bool,
    status: u16,
    /// The request path of the file or listing answered, for the per-resource counters.
    resource: Option<String>,
    started: Instant,
    time: u64,
    line: Vec<u8>,
    referer: Vec<u8>,
    user_agent: Vec<u8>,
}

impl HttpHandler {
    /// The handler of worker `worker`, logging into `log`.
    pub fn new(ctx: Arc<Context>, worker: usize, log: AccessLog) -> Self {
        Self {
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

    fn config(&self) -> &Config {
        &self.ctx.config
    }

    fn take_buffer(&mut self) -> Vec<u8> {
        self.spare.pop().unwrap_or_default()
    }

    fn give_buffer(&mut self, mut buf: Vec<u8>) {
        if buf.capacity() > 0
            && buf.capacity() <= SPARE_CAPACITY_MAX
            && self.spare.len() < SPARE_BUFFERS
        {
            buf.clear();
            self.spare.push(buf);
        }
    }

    /// Makes all the progress the socket allows within one turn, then says what to wait for.
    fn drive(&mut self, c: &mut Conn, s: &mut TcpStream, now: Instant) -> Next {
        let mut turn = Turn::default();
        loop {
            if turn.spent() {
                return Next::Yield;
            }
            if c.lingering.is_some() {
                return self.linger(c, s, now, &mut turn);
            }
            match self.send(c, s, now, &mut turn) {
                Ok(Sent::Blocked) => {
                    return Next::Wait(Some(c.last_progress + self.config().send_timeout));
                }
                Ok(Sent::Paused) => return Next::Yield,
                Ok(Sent::Done) => {}
                Err(_) => return Next::Close,
            }
            if c.out.in_flight {
                turn.responses += 1;
                self.finish_response(c, now);
                if c.out.close_after {
                    if c.out.linger || !c.input.is_empty() {
                        self.start_linger(c, s, now);
                        continue;
                    }
                    // Nothing unread: a plain close sends FIN after the response, as nginx does.
                    return Next::Close;
                }
            }
            if self.next_request(c, now) {
                continue;
            }
            if let Some(since) = c.draining {
                let grace_over = c.served > 0 || now >= since + DRAIN_GRACE;
                if c.input.is_empty() && grace_over {
                    return Next::Close;
                }
            }
            match self.read(c, s) {
                Ok(0) => return Next::Close, // the client is done (a partial head is abandoned)
                Ok(_) => {
                    c.head_started.get_or_insert(now);
                }
                Err(e) if would_block(&e) => return self.wait_for_input(c, now),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Next::Close,
            }
        }
    }

    /// Parses the next request from the input, if a whole head is there, and prepares its
    /// response. Returns whether a response was queued.
    fn next_request(&mut self, c: &mut Conn, now: Instant) -> bool {
        if !c.parse_pending {
            return false;
        }
        let (time, date) = self.clock.now();
        let draining = c.draining.is_some();
        let mut slots = [EMPTY_HEADER; MAX_HEADERS];
        let mut buf = std::mem::take(&mut c.out.buf);
        if buf.capacity() == 0 {
            buf = self.take_buffer();
        }
        let (response, consumed) = match parse_request(&c.input, &mut slots) {
            Ok(Status::Partial) => {
                c.parse_pending = false;
                c.out.buf = buf;
                return false;
            }
            Ok(Status::Complete((req, len))) => {
                if self.log.enabled() {
                    c.out
                        .set_request(req.line, req.header("referer"), req.header("user-agent"));
                }
                c.out.linger = req.body != Body::None;
                let mark = buf.len();
                let prepared = panic::catch_unwind(AssertUnwindSafe(|| {
                    respond(
                        &self.ctx,
                        &mut self.cache,
                        &req,
                        &date,
                        draining,
                        now,
                        &mut buf,
                    )
                }));
                let response = prepared.unwrap_or_else(|_| {
                    // A bug, reported in one line by the panic hook. Nothing has been sent, so
                    // the client gets a 500 (and the log a line); the connection then closes,
                    // and the cache the panic may have left half-updated is dropped.
                    buf.truncate(mark);
                    c.panicked = true;
                    self.cache = FileCache::default();
                    let reply = Reply {
                        version: req.version,
                        head_only: req.method == Method::Head,
                        keep_alive: false,
                        date: &date,
                    };
                    reply.error(&mut buf, ServeError::Internal)
                });
                (response, len)
            }
            Err(e) => {
                c.out.buf = buf;
                self.queue_error(c, ServeError::Parse(e), now);
                return true;
            }
        };
        c.input.drain(..consumed);
        c.parse_pending = !c.input.is_empty();
        c.out.buf = buf;
        self.queue(c, response, time, now);
        true
    }

    /// Queues a prepared response (its head is already in the buffer); it is counted and logged
    /// once sent, by `record`.
    fn queue(&mut self, c: &mut Conn, response: Response, time: u64, now: Instant) {
        let inline_body = if response.file.is_some() {
            0
        } else {
            response.body_len
        };
        c.out.head_len = c.out.buf.len().saturating_sub(inline_body as usize);
        c.out.written = 0;
        c.out.file = response.file;
        c.out.body_sent = 0;
        c.out.in_flight = true;
        c.out.close_after = !response.keep_alive;
        c.out.linger |= response.status.is_error();
        c.out.status = response.status.as_u16();
        c.out.started = c.head_started.unwrap_or(now);
        c.out.time = time;
        c.head_started = if c.input.is_empty() { None } else { Some(now) };
        c.out.resource = response.resource;
    }

    /// Queues an error response after which the connection closes, because the input can no
    /// longer be trusted to start a request (malformed or incomplete head). The request line, or
    /// what there is of it, is kept for the log.
    fn queue_error(&mut self, c: &mut Conn, err: ServeError, now: Instant) {
        let (time, date) = self.clock.now();
        if self.log.enabled() {
            c.out.set_request(first_line(&c.input), None, None);
        }
        c.out.linger = true;
        // The input will never be read again: give its buffer back now, not after the close.
        let input = std::mem::take(&mut c.input);
        self.give_buffer(input);
        c.parse_pending = false;
        if c.out.buf.capacity() == 0 {
            c.out.buf = self.take_buffer();
        }
        let reply = Reply {
            version: Version::Http11,
            head_only: false,
            keep_alive: false,
            date: &date,
        };
        let response = reply.error(&mut c.out.buf, err);
        self.queue(c, response, time, now);
    }

    /// Writes the buffer, then the file body, within what is left of the turn. `Done` once the
    /// whole response is out.
    fn send(
        &mut self,
        c: &mut Conn,
        s: &mut TcpStream,
        now: Instant,
        turn: &mut Turn,
    ) -> io::Result<Sent> {
        let out = &mut c.out;
        while out.written < out.buf.len() {
            if turn.spent() {
                return Ok(Sent::Paused);
            }
            match s.write(&out.buf[out.written..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    turn.bytes += n as u64;
                    let body_before = out.written.max(out.head_len);
                    out.written += n;
                    out.body_sent += (out.written.max(out.head_len) - body_before) as u64;
                    c.last_progress = now;
                }
                Err(e) if would_block(&e) => return Ok(Sent::Blocked),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if let Some(file) = &mut out.file {
            let before = out.body_sent;
            let sent = file.send(&*s, &mut out.body_sent, turn.bytes_left());
            turn.bytes += out.body_sent - before;
            if out.body_sent > before {
                c.last_progress = now;
            }
            match sent? {
                Sent::Done => out.file = None,
                unfinished => return Ok(unfinished),
            }
        }
        Ok(Sent::Done)
    }

    /// The response has been sent in full: log it and get ready for the next request.
    fn finish_response(&mut self, c: &mut Conn, now: Instant) {
        self.record(c, now);
        c.out.in_flight = false;
        c.served += 1;
        c.idle_since = now;
        let buf = std::mem::take(&mut c.out.buf);
        self.give_buffer(buf);
    }

    /// Logs the current response and counts its bytes (also for one cut short). The clock is
    /// read here rather than taken from the event round, which began before the response was
    /// written.
    fn record(&mut self, c: &Conn, now: Instant) {
        let now = now.max(Instant::now());
        let took = now.saturating_duration_since(c.out.started);
        self.ctx.metrics.response(
            self.worker,
            c.out.status,
            c.out.resource.as_deref(),
            c.out.body_sent,
            took,
        );
        self.log.record(
            &Entry {
                remote: c.peer,
                time: c.out.time,
                request_line: &c.out.line,
                status: c.out.status,
                bytes: c.out.body_sent,
                referer: &c.out.referer,
                user_agent: &c.out.user_agent,
                duration: took,
            },
            now,
        );
    }

    fn read(&mut self, c: &mut Conn, s: &mut TcpStream) -> io::Result<usize> {
        if c.input.capacity() == 0 {
            c.input = self.take_buffer();
        }
        let start = c.input.len();
        c.input.resize(start + READ_CHUNK, 0);
        let result = s.read(&mut c.input[start..]);
        let n = *result.as_ref().unwrap_or(&0);
        c.input.truncate(start + n);
        // A head can only complete with a line ending; a limit can only be passed by growing.
        c.parse_pending |= c.input[start..].contains(&b'\n') || c.input.len() > MAX_REQUEST_LINE;
        result
    }

    /// Nothing more to read now: when must the connection hear from the client?
    fn wait_for_input(&mut self, c: &mut Conn, _now: Instant) -> Next {
        let config = self.config();
        let deadline = match c.head_started {
            Some(started) => started + config.header_timeout,
            None => {
                let idle = c.idle_since + config.idle_timeout;
                match c.draining {
                    Some(since) => idle.min(since + DRAIN_GRACE),
                    None => idle,
                }
            }
        };
        if c.input.is_empty() {
            // An idle connection holds no buffer (DESIGN.md: ~0.5 KiB per idle connection).
            let input = std::mem::take(&mut c.input);
            self.give_buffer(input);
        }
        Next::Wait(Some(deadline))
    }

    /// Shuts the write side after the final response and starts discarding input. Nothing
    /// read from now on is kept, so the buffers go back to the worker (10,000 connections
    /// lingering after a 431 would otherwise hold a full head buffer each).
    fn start_linger(&mut self, c: &mut Conn, s: &mut TcpStream, now: Instant) {
        let _ = s.shutdown(Shutdown::Write);
        c.lingering = Some(now + LINGER_TIMEOUT);
        c.parse_pending = false;
        let input = std::mem::take(&mut c.input);
        self.give_buffer(input);
        let out = std::mem::take(&mut c.out.buf);
        self.give_buffer(out);
    }

    /// Discards input until the client closes or the linger deadline passes; what is read
    /// counts against the turn, so a client streaming garbage cannot hold the worker.
    fn linger(&mut self, c: &mut Conn, s: &mut TcpStream, now: Instant, turn: &mut Turn) -> Next {
        let deadline = c.lingering.unwrap_or(now);
        let mut scratch = [0u8; 4096];
        loop {
            if turn.spent() {
                return Next::Yield;
            }
            match s.read(&mut scratch) {
                Ok(0) => return Next::Close,
                Ok(n) => turn.bytes += n as u64,
                Err(e) if would_block(&e) => return Next::Wait(Some(deadline)),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Next::Close,
            }
        }
    }
}

impl Outgoing {
    fn new(now: Instant) -> Self {
        Self {
            buf: Vec::new(),
            written: 0,
            head_len: 0,
            file: None,
            body_sent: 0,
            in_flight: false,
            close_after: false,
            linger: false,
            status: 0,
            resource: None,
            started: now,
            time: 0,
            line: Vec::new(),
            referer: Vec::new(),
            user_agent: Vec::new(),
        }
    }

    /// Keeps what the access log shows of the request; only called when the log is on.
    fn set_request(&mut self, line: &[u8], referer: Option<&[u8]>, user_agent: Option<&[u8]>) {
        fn copy(dst: &mut Vec<u8>, src: &[u8]) {
            dst.clear();
            dst.extend_from_slice(src);
        }
        copy(&mut self.line, line);
        copy(&mut self.referer, referer.unwrap_or_default());
        copy(&mut self.user_agent, user_agent.unwrap_or_default());
    }
}

impl Handler for HttpHandler {
    type Conn = Conn;

    fn open(&mut self, stream: &TcpStream, now: Instant) -> Conn {
        self.ctx.metrics.connection_opened(self.worker);
        // TCP_NODELAY comes from the listening socket (see `socket::no_delay`).
        Conn {
            // getpeername costs a syscall per connection; only the access log needs it.
            peer: self
                .log
                .enabled()
                .then(|| stream.peer_addr().ok().map(|a| a.ip()))
                .flatten(),
            input: Vec::new(),
            parse_pending: false,
            out: Outgoing::new(now),
            idle_since: now,
            head_started: None,
            last_progress: now,
            lingering: None,
            draining: None,
            served: 0,
            panicked: false,
        }
    }

    fn ready(&mut self, c: &mut Conn, s: &mut TcpStream, now: Instant) -> Next {
        self.drive(c, s, now)
    }

    fn timeout(&mut self, c: &mut Conn, s: &mut TcpStream, now: Instant) -> Next {
        if c.lingering.is_some() || c.out.in_flight {
            // Lingering is over, or the client stopped reading: give up on it.
            return Next::Close;
        }
        if c.head_started.is_some() && !c.input.is_empty() {
            // The head did not arrive in time: 408, then close (RFC 9110 §15.5.9).
            self.queue_error(c, ServeError::Timeout, now);
            return self.drive(c, s, now);
        }
        // Idle too long (or the drain grace is over): close without a word.
        Next::Close
    }

    fn drain(&mut self, c: &mut Conn, s: &mut TcpStream, now: Instant) -> Next {
        c.draining = Some(now);
        self.drive(c, s, now)
    }

    fn close(&mut self, mut c: Conn, reason: CloseReason) {
        self.ctx
            .metrics
            .connection_closed(self.worker, reason == CloseReason::Panicked || c.panicked);
        if c.out.in_flight {
            // Cut short (client gone, stalled, drain deadline or panic): log what was sent.
            self.record(&c, Instant::now());
        }
        self.give_buffer(std::mem::take(&mut c.input));
        self.give_buffer(std::mem::take(&mut c.out.buf));
    }

    fn tick(&mut self, now: Instant) -> Option<Instant> {
        self.log.flush_if_due(now)
    }
}
