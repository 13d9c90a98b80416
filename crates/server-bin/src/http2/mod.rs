//! The HTTP/2 codec (RFC 9113): one connection's frames read, its streams' requests handed to
//! the exchange, and their responses sent as HEADERS and DATA frames within flow control, over
//! whatever transport the connection has (TLS with ALPN `h2`, or plain TCP with prior
//! knowledge). The frame layer and HPACK are `http_core::h2`'s; this module keeps the state.
//!
//! What happens when…
//! - **the connection opens**: the server's SETTINGS go first (at most [`MAX_STREAMS`]
//!   concurrent streams, a header list of at most 16 KiB, no push); the client's preface and
//!   SETTINGS must arrive within the header timeout, or GOAWAY and close.
//! - **a request arrives** (HEADERS, CONTINUATION): its header block is bounded as an HTTP/1.1
//!   head is ([`MAX_BLOCK`] encoded bytes, 16 KiB and 100 fields decoded): a larger encoded
//!   block, however many CONTINUATION frames carry it, ends the connection with
//!   `ENHANCE_YOUR_CALM` (it cannot be decoded in part, and HPACK's table must stay in step); a
//!   small block that decodes large (an HPACK bomb) gets `431` on its stream. The request is
//!   checked as RFC 9113 §8 says ([`request`]): a malformed one is reset (`PROTOCOL_ERROR`) and
//!   the connection goes on. A stream past [`MAX_STREAMS`] is refused (`REFUSED_STREAM`). A
//!   request with a body is answered once the body has ended (it is read and dropped, its
//!   windows given back; past [`MAX_BODY`] bytes it is answered `413`).
//! - **a response goes out**: its head is encoded once; its body goes in DATA frames read from
//!   the file (never a whole file in memory) within the stream's and the connection's windows;
//!   streams with data take turns, a frame each. All streams of a connection share one turn of
//!   the worker (16 responses or 1 MiB), then it yields.
//! - **the client does not read**: output waiting is bounded ([`MAX_PENDING_OUTPUT`]); past it
//!   nothing more is read, so a flood of PINGs or SETTINGS cannot grow it. The send timeout
//!   closes a connection whose writes make no progress, a window held at zero included.
//! - **the client floods or resets**: a stream the client resets before its response is done, an
//!   empty DATA frame, a PING, a SETTINGS each count against an allowance
//!   ([`ABUSE_ALLOWANCE`], plus one per response sent); past it, GOAWAY `ENHANCE_YOUR_CALM`
//!   (the rapid-reset attack, CVE-2023-44487, and its kin).
//! - **a frame is wrong for the connection**: GOAWAY with its code, then close once it is sent.
//!   **A stream error**: RST_STREAM, and the connection goes on.
//! - **idle**: no stream open for the idle timeout: GOAWAY `NO_ERROR`, close.
//! - **SIGINT/SIGTERM**: GOAWAY with the last stream id; streams in flight finish within the
//!   drain deadline; then close.
//!
//! This module must not parse frames or HPACK by hand (http-core does), decide responses (the
//! exchange does), nor touch the socket but through the transport.

mod frames;
pub mod request;
mod send;
mod stream;
#[cfg(test)]
mod tests;

use std::io;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use http_core::h2::frame::{self, ErrorCode, Settings};
use http_core::h2::hpack::{self, Decoder, Encoder};
use http_core::limits::MAX_HEAD;
use pool::{CloseReason, Next, Readiness, would_block};

use self::stream::{Phase, Stream};
use crate::metrics::Metrics;
use crate::metrics::http2::Via;
use crate::service::{Peer, Service};
use crate::transport::socket::Socket;
use crate::transport::{ReadBuf, Wire};

/// Concurrent streams a client may open (SETTINGS_MAX_CONCURRENT_STREAMS).
pub const MAX_STREAMS: u32 = 100;

/// A header block's encoded size, at most, across its HEADERS and CONTINUATION frames: the
/// HTTP/1.1 head's limit (an encoded block is rarely larger than the fields it decodes to).
pub const MAX_BLOCK: usize = MAX_HEAD;

/// Body bytes a GET or HEAD may carry before it is answered `413`.
pub const MAX_BODY: u64 = 16 * 1024;

/// Output waiting for the socket, at most, before the server stops reading.
pub const MAX_PENDING_OUTPUT: usize = 256 * 1024;

/// Frames that bring the server nothing (a stream reset before its response is done, an empty
/// DATA, a PING, a SETTINGS) a connection may send before it is told to calm down; each response
/// sent adds one.
pub const ABUSE_ALLOWANCE: u64 = 1000;

/// The output buffer's first capacity: a turn of small responses (sixteen 1 KiB files and their
/// heads) without a reallocation.
const OUTPUT_INITIAL: usize = 24 * 1024;

/// Closed streams remembered, to answer a late frame on one with a stream error.
const RECENT_CLOSED: usize = 64;

/// The turn's budget, as for HTTP/1.1: responses, and bytes written or read.
const TURN_RESPONSES: u32 = 16;
const TURN_BYTES: u64 = 1 << 20;

/// What the server's first SETTINGS say.
const OUR_SETTINGS: [(u16, u32); 3] = [
    (frame::SETTINGS_ENABLE_PUSH, 0),
    (frame::SETTINGS_MAX_CONCURRENT_STREAMS, MAX_STREAMS),
    (frame::SETTINGS_MAX_HEADER_LIST_SIZE, MAX_HEAD as u32),
];

/// One HTTP/2 connection's state between events.
#[derive(Debug)]
pub struct Conn {
    peer: Peer,
    /// Where resets and GOAWAYs are counted (`metrics::http2`).
    metrics: Arc<Metrics>,
    /// The client's address (looked up when the connection became HTTP/2: one call serves its
    /// many requests).
    client: Option<IpAddr>,
    input: ReadBuf,
    /// The client's preface has been read, then its first SETTINGS.
    preface: bool,
    settings_seen: bool,
    /// Frames waiting for the socket, from `sent` on.
    out: Vec<u8>,
    sent: usize,
    decoder: Decoder,
    encoder: Encoder,
    /// What the encoder has done to its table, for heads encoded again (`stream`).
    head_table: stream::HeadTable,
    /// Decoded fields, reused block to block.
    decoded: hpack::Fields,
    /// The client's SETTINGS.
    theirs: Settings,
    /// What the client may receive on the connection as a whole (RFC 9113 §6.9.1).
    send_window: i64,
    /// DATA received since the connection's window was last given back.
    received_unacked: u32,
    streams: Vec<Stream>,
    /// The highest stream the client opened.
    last_stream: u32,
    /// Streams closed lately, and whether by the client's RST_STREAM: HEADERS on one is a
    /// stream error (after a reset) or a connection error (after END_STREAM) of type
    /// `STREAM_CLOSED`, where on an id never used it is `PROTOCOL_ERROR` (RFC 9113 §5.1,
    /// §5.1.1); at most [`RECENT_CLOSED`].
    closed: std::collections::VecDeque<(u32, bool)>,
    /// A header block that CONTINUATION frames are still completing.
    block: Option<frames::Block>,
    /// The round-robin's next stream (an index into `streams`).
    next: usize,
    /// GOAWAY sent: no stream above this one is served.
    goaway: Option<u32>,
    /// The connection ends once its output is out (a GOAWAY for an error, or a timeout).
    closing: bool,
    /// The client sent GOAWAY: no new stream will come.
    peer_goaway: bool,
    /// The client closed its side.
    read_closed: bool,
    /// The last read found the socket empty (it returned less than it asked for, or
    /// `WouldBlock`): under edge-triggered polling, bytes arriving later raise a new event, so
    /// no read is tried again until then (as the HTTP/1.1 codec does: a syscall less a turn).
    drained: bool,
    /// The poller said the client has shut its side: its end of stream may wait behind the
    /// bytes of a short read, and no event would announce it, so a short read is not taken
    /// for a drained socket then.
    peer_shut: bool,
    /// Shutdown has begun at this instant.
    draining: Option<Instant>,
    /// Since when no stream has been open (the idle timeout runs from it).
    idle_since: Instant,
    /// When the preface or the current header block began (the header timeout runs from it).
    head_started: Option<Instant>,
    /// When a write last made progress.
    last_progress: Instant,
    /// Frames that brought nothing.
    abuse: u64,
    /// Responses completed.
    served: u64,
    panicked: bool,
}

/// What a call handles a frame with: the worker's service, the time, the turn's count.
struct Env<'a> {
    svc: &'a mut Service,
    now: Instant,
    turn: &'a mut Turn,
}

/// What one turn has done.
#[derive(Debug, Default)]
struct Turn {
    responses: u32,
    bytes: u64,
}

impl Turn {
    fn spent(&self) -> bool {
        self.responses >= TURN_RESPONSES || self.bytes >= TURN_BYTES
    }
}

/// Handling input stopped: the connection ends (its GOAWAY is queued).
#[derive(Debug)]
struct Fatal;

impl Conn {
    /// A connection from `client` that has received `first` (the preface's first bytes, read
    /// while the protocol was being told), opened at `now`; the server's SETTINGS are queued
    /// at once.
    pub fn new(
        peer: Peer,
        client: Option<IpAddr>,
        first: &[u8],
        metrics: Arc<Metrics>,
        now: Instant,
    ) -> Self {
        let via = match peer.tls {
            Some(_) => Via::Tls,
            None => Via::Cleartext,
        };
        metrics.http2.connection(via);
        let mut out = Vec::with_capacity(64);
        frame::write_settings(&mut out, &OUR_SETTINGS);
        let mut input = ReadBuf::default();
        input.append(first);
        Self {
            peer,
            metrics,
            client,
            input,
            preface: false,
            settings_seen: false,
            out,
            sent: 0,
            decoder: Decoder::new(hpack::DEFAULT_TABLE_SIZE),
            encoder: Encoder::new(hpack::DEFAULT_TABLE_SIZE),
            head_table: stream::HeadTable::new(),
            decoded: hpack::Fields::default(),
            theirs: Settings::default(),
            send_window: i64::from(frame::DEFAULT_WINDOW),
            received_unacked: 0,
            streams: Vec::new(),
            last_stream: 0,
            closed: std::collections::VecDeque::new(),
            block: None,
            next: 0,
            goaway: None,
            closing: false,
            peer_goaway: false,
            read_closed: false,
            drained: false,
            peer_shut: false,
            draining: None,
            idle_since: now,
            head_started: Some(now),
            last_progress: now,
            abuse: 0,
            served: 0,
            panicked: false,
        }
    }

    /// The socket became readable or writable (or the connection is new, or resumed).
    pub fn ready<S: Socket>(
        &mut self,
        svc: &mut Service,
        io: &mut Wire<'_, S>,
        readiness: Readiness,
        now: Instant,
    ) -> Next {
        // An event: something may have arrived since the socket was last found empty.
        self.drained = false;
        self.peer_shut |= readiness.read_closed;
        self.drive(svc, io, now)
    }

    /// The deadline this connection asked for has passed: the preface or a header block did
    /// not complete in time, it was idle too long, a write made no progress for the send
    /// timeout, or the drain grace is over.
    pub fn timeout<S: Socket>(
        &mut self,
        svc: &mut Service,
        io: &mut Wire<'_, S>,
        now: Instant,
    ) -> Next {
        if self.stalled() && now >= self.last_progress + svc.ctx().config.send_timeout {
            return Next::Close;
        }
        let code = match self.head_started {
            Some(_) => ErrorCode::ProtocolError,
            None => ErrorCode::NoError,
        };
        self.go_away(code, "timeout");
        self.closing = true;
        self.drive(svc, io, now)
    }

    /// Shutdown has begun: GOAWAY with the last stream; the streams in flight finish.
    pub fn drain<S: Socket>(
        &mut self,
        svc: &mut Service,
        io: &mut Wire<'_, S>,
        now: Instant,
    ) -> Next {
        self.draining = Some(now);
        self.go_away(ErrorCode::NoError, "");
        self.drive(svc, io, now)
    }

    /// The connection is gone: responses cut short are logged with what was sent, buffers go
    /// back to the worker, and after a clean end the write side is shut (after the pool has
    /// freed the connection's slot).
    pub fn close<S: Socket>(
        mut self,
        svc: &mut Service,
        io: &mut Wire<'_, S>,
        reason: CloseReason,
    ) {
        if reason == CloseReason::Panicked || self.panicked {
            svc.panicked();
        }
        for stream in self.streams.drain(..) {
            if let Phase::Sending(out) = &stream.phase {
                svc.record(&out.record(self.client, self.peer.tls), Instant::now());
            }
        }
        svc.give_buffer(self.input.take());
        svc.give_buffer(std::mem::take(&mut self.out));
        if reason == CloseReason::Done {
            io.shutdown();
        }
    }

    /// Makes all the progress the socket allows within one turn, then says what to wait for.
    /// Each pass reads and handles what has arrived, produces the streams' DATA, then writes
    /// it all at once: a turn's responses leave in one write when the socket takes them.
    fn drive<S: Socket>(&mut self, svc: &mut Service, io: &mut Wire<'_, S>, now: Instant) -> Next {
        let mut turn = Turn::default();
        if self.out.capacity() == 0 {
            // An idle connection holds no output buffer; one made with room for a turn of
            // small responses does not grow step by step (and is not zeroed: it is written).
            self.out = Vec::with_capacity(OUTPUT_INITIAL);
        }
        loop {
            let (mut read, mut produced) = (false, false);
            if !self.closing && !turn.spent() {
                let mut env = Env {
                    svc: &mut *svc,
                    now,
                    turn: &mut turn,
                };
                if self.pending_output() < MAX_PENDING_OUTPUT && !self.read_closed {
                    match self.read(&mut env, io) {
                        Ok(any) => read = any,
                        Err(Fatal) => self.closing = true,
                    }
                }
                if !self.closing {
                    produced = self.produce(&mut env);
                }
            }
            if !self.closing && self.finished() {
                self.go_away(ErrorCode::NoError, "");
                self.closing = true;
            }
            if self.flush(io, now).is_err() {
                return Next::Close;
            }
            if self.closing {
                return match self.pending_output() {
                    0 => Next::Close,
                    _ => Next::Wait(Some(self.last_progress + svc.ctx().config.send_timeout)),
                };
            }
            if turn.spent() {
                return Next::Yield;
            }
            // Another pass only where it can bring something: input not yet drained, or DATA
            // that stopped at the output's target and has now been written.
            let more_input = read && !self.drained && !self.read_closed;
            let more_output = produced && self.pending_output() == 0;
            if !(more_input || more_output) {
                return self.wait(svc, now);
            }
        }
    }

    /// Whether the connection has nothing more to do: the client closed or went away, or the
    /// server is draining, and no stream is left.
    fn finished(&self) -> bool {
        self.streams.is_empty()
            && self.block.is_none()
            && (self.read_closed || self.peer_goaway || self.draining.is_some())
    }

    /// Whether output or a window keeps a response from going on.
    fn stalled(&self) -> bool {
        self.pending_output() > 0 || self.streams.iter().any(Stream::blocked_on_window)
    }

    /// Nothing more can happen now: when must something have?
    fn wait(&mut self, svc: &mut Service, now: Instant) -> Next {
        if self.streams.is_empty() {
            self.idle_since = self.idle_since.max(self.last_progress);
            // An idle connection holds no buffers.
            if self.input.is_empty() {
                svc.give_buffer(self.input.take());
            }
            if self.pending_output() == 0 {
                self.out = Vec::new();
                self.sent = 0;
            }
            // Nor room for streams and decoded fields: they would be most of its memory.
            self.streams = Vec::new();
            self.decoded = hpack::Fields::default();
        }
        let config = &svc.ctx().config;
        let mut deadline = match self.head_started {
            Some(started) => started + config.header_timeout,
            None if self.streams.is_empty() => self.idle_since + config.idle_timeout,
            None => now + config.send_timeout,
        };
        if self.stalled() {
            deadline = deadline.min(self.last_progress + config.send_timeout);
        }
        if let Some(since) = self.draining {
            deadline = deadline.min(since + crate::http1::DRAIN_GRACE);
        }
        Next::Wait(Some(deadline))
    }

    fn pending_output(&self) -> usize {
        self.out.len() - self.sent
    }

    /// Writes what waits, as far as the socket takes it.
    fn flush<S: Socket>(&mut self, io: &mut Wire<'_, S>, now: Instant) -> io::Result<()> {
        while self.sent < self.out.len() {
            match io.write(&[self.out.get(self.sent..).unwrap_or_default()], false) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.sent += n;
                    self.last_progress = now;
                }
                Err(e) if would_block(&e) => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if self.sent == self.out.len() {
            self.out.clear();
            self.sent = 0;
        }
        io.flush()?;
        Ok(())
    }

    /// Reads and handles frames until the socket has nothing more, the turn is spent, output
    /// backs up or the connection must end. Whether anything was read.
    fn read<S: Socket>(&mut self, env: &mut Env<'_>, io: &mut Wire<'_, S>) -> Result<bool, Fatal> {
        let mut any = false;
        loop {
            let used = self.handle_buffered(env)?;
            any |= used > 0;
            if env.turn.spent() || self.pending_output() >= MAX_PENDING_OUTPUT {
                return Ok(any);
            }
            if self.drained {
                return Ok(any);
            }
            if !self.input.has_buffer() {
                self.input.give(env.svc.take_buffer());
            }
            match io.read(&mut self.input) {
                Ok(got) if got.bytes == 0 => {
                    self.read_closed = true;
                    return Ok(true);
                }
                Ok(got) => {
                    any = true;
                    env.turn.bytes += got.bytes as u64;
                    self.drained = got.short && !self.peer_shut;
                }
                Err(e) if would_block(&e) => {
                    self.drained = true;
                    return Ok(any);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.read_closed = true;
                    self.closing = true;
                    return Err(Fatal);
                }
            }
        }
    }

    /// Handles the whole frames waiting in the input, and drops them from it; returns the bytes
    /// they took.
    fn handle_buffered(&mut self, env: &mut Env<'_>) -> Result<usize, Fatal> {
        // Taken out while frames borrow from it and handlers change the rest of the state.
        let input = std::mem::take(&mut self.input);
        let result = self.handle_frames(env, input.bytes());
        self.input = input;
        let used = match result {
            Ok(used) => used,
            Err(Fatal) => return Err(Fatal),
        };
        self.input.consume(used);
        Ok(used)
    }

    /// Notes that stream `id` has closed (`by_reset`: by the client's RST_STREAM).
    fn closed(&mut self, id: u32, by_reset: bool) {
        if self.closed.len() == RECENT_CLOSED {
            self.closed.pop_front();
        }
        self.closed.push_back((id, by_reset));
    }

    /// Queues GOAWAY with `code`, naming the last stream that will be served (once; an error
    /// after a graceful GOAWAY still gets its own).
    fn go_away(&mut self, code: ErrorCode, reason: &str) {
        if self.goaway.is_some() && code == ErrorCode::NoError {
            return;
        }
        frame::write_goaway(&mut self.out, self.last_stream, code, reason.as_bytes());
        self.metrics.http2.goaway_sent(code.as_u32());
        self.goaway = Some(self.last_stream);
    }

    /// Queues RST_STREAM for stream `id` with `code` (the stream's state is the caller's).
    fn rst(&mut self, id: u32, code: ErrorCode) {
        frame::write_rst_stream(&mut self.out, id, code);
        self.metrics.http2.reset_sent(code.as_u32());
    }
}

/// Whether a plain connection that begins with `buf` speaks HTTP/2 with prior knowledge (RFC
/// 9113 §3.3): `Some(true)` once the whole client preface is there, `Some(false)` as soon as
/// what has come is not its start, `None` while it could still be.
pub fn sniff(buf: &[u8]) -> Option<bool> {
    let n = buf.len().min(frame::PREFACE.len());
    if buf.get(..n) != frame::PREFACE.get(..n) {
        return Some(false);
    }
    (n == frame::PREFACE.len()).then_some(true)
}
