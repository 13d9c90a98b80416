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
//!   windows given back; past [`MAX_BODY`] bytes it is answered `413`, and one still arriving
//!   after the header timeout `408`). An answer that would hold a file open past
//!   [`MAX_OPEN_FILES`] waits for one to end; the heads of requests not answered yet are
//!   bounded ([`MAX_HELD_HEADS`], else `REFUSED_STREAM`).
//! - **a response goes out**: its head is encoded once; its body goes in DATA frames read from
//!   the file (never a whole file in memory) within the stream's and the connection's windows;
//!   streams with data take turns, a frame each. All streams of a connection share one turn of
//!   the worker ([`MAX_STREAMS`] responses, 16 of them not from the worker's cache, or 1 MiB),
//!   then it yields.
//! - **the client does not read**: output waiting is bounded ([`MAX_PENDING_OUTPUT`]); past it
//!   nothing more is read, so a flood of PINGs or SETTINGS cannot grow it. The send timeout
//!   closes a connection whose writes make no progress, or whose window stays shut; a response
//!   held back by its own stream's window that long is reset (`CANCEL`), the others go on
//!   (progress is DATA sent: a PING's ACK does not keep a shut window waiting).
//! - **the client closes its side**: the streams that wait for a window or a body from it are
//!   dropped at once; the others finish, then close.
//! - **the client floods or resets**: every frame that costs work and brings nothing counts
//!   against an allowance ([`ABUSE_ALLOWANCE`], plus one per response sent): a stream the client
//!   resets before its response is done, or makes the server reset (a stream error, a refused
//!   or malformed request), an empty DATA or CONTINUATION, a PING, a SETTINGS, a PRIORITY, a
//!   frame of an unknown type, a frame on a closed stream; past it, GOAWAY `ENHANCE_YOUR_CALM`
//!   (the rapid-reset attack, CVE-2023-44487, CVE-2025-8671 and their kin, RFC 9113 §10.5).
//!   WINDOW_UPDATE is not counted: a client that reads sends it all the time.
//! - **a frame is wrong for the connection**: GOAWAY with its code, then close once it is sent.
//!   **A stream error**: RST_STREAM, and the connection goes on.
//! - **idle**: no stream open for the idle timeout: GOAWAY `NO_ERROR`, close.
//! - **SIGINT/SIGTERM**: GOAWAY with the last stream id; streams in flight finish within the
//!   worker's drain deadline (the short grace of HTTP/1.1's is for a connection with none);
//!   then close.
//!
//! This module must not parse frames or HPACK by hand (http-core does), decide responses (the
//! exchange does), nor touch the socket but through the transport.

mod frames;
pub mod request;
mod send;
mod spare;
mod stream;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::io;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_core::h2::frame::{self, ErrorCode, Settings};
use http_core::h2::hpack::{self, Decoder, Encoder};
use http_core::limits::MAX_HEAD;
use pool::{CloseReason, Next, Readiness, would_block};

use self::send::Produced;
use self::stream::{Phase, Stream};
use crate::error::ServeError;
use crate::exchange::reply;
use crate::metrics::Metrics;
use crate::metrics::http2::Via;
use crate::service::{Peer, Service};
use crate::transport::socket::Socket;
use crate::transport::{Drain, ReadBuf, Wire};

/// Concurrent streams a client may open (SETTINGS_MAX_CONCURRENT_STREAMS).
pub const MAX_STREAMS: u32 = 100;

/// A header block's encoded size, at most, across its HEADERS and CONTINUATION frames: the
/// HTTP/1.1 head's limit (an encoded block is rarely larger than the fields it decodes to).
pub const MAX_BLOCK: usize = MAX_HEAD;

/// Body bytes a GET or HEAD may carry before it is answered `413`.
pub const MAX_BODY: u64 = 16 * 1024;

/// Responses of a connection that read from an open file (a file too large for the small-file
/// cache), at most, at a time: each holds a descriptor until its body is out, and 100 streams
/// of 100 connections would use up the process's. A request past it waits, its head kept, for
/// one to end; an answer that needs no file does not wait.
pub const MAX_OPEN_FILES: usize = 8;

/// Decoded heads a connection holds for requests not answered yet (a body to come, or a file
/// to wait for), at most, reckoned as SETTINGS_MAX_HEADER_LIST_SIZE is (name + value + 32 per
/// field, RFC 9113 §6.5.2): eight of the largest. A request past it is refused
/// (`REFUSED_STREAM`: nothing was done, the client may send it again).
pub const MAX_HELD_HEADS: usize = 8 * MAX_HEAD;

/// Output waiting for the socket, at most, before the server stops reading.
pub const MAX_PENDING_OUTPUT: usize = 256 * 1024;

/// Frames that bring the server nothing (see the module's documentation) a connection may send
/// before it is told to calm down; each response sent adds one.
pub const ABUSE_ALLOWANCE: u64 = 1000;

/// The output buffer's capacity: [`send::OUTPUT_TARGET`] of DATA, the frame that crosses
/// it and a hundred response heads, without a reallocation; and no more than a worker's spare
/// buffers keep, so that it goes back to them while the connection is idle and the next burst
/// takes it again (made anew for each burst of a `-m 100` client, it grew to 192 KiB by
/// reallocations that copied what was written: 5% of the instructions per response).
const OUTPUT_INITIAL: usize = crate::service::SPARE_CAPACITY_MAX;

/// Closed streams remembered, to answer a late frame on one as [`Closed`] says (a stream error,
/// or nothing after the server's own reset).
const RECENT_CLOSED: usize = 64;

/// The turn's budget: responses, and bytes written or read (1 MiB, as for HTTP/1.1).
///
/// Responses: as many as a client may have asked at once ([`MAX_STREAMS`]), of which at most
/// [`TURN_WORKED`] not answered by the worker's small-file cache. A client with a hundred
/// streams open was answered in seven turns of sixteen, each ending with a write of sixteen
/// responses; over TLS each such write is a short record the client must read on its own, so
/// an `h2load -c100 -m100` client spent its CPU on reads: one worker pinned, 1 KiB, 344-408k
/// req/s against h2o's 368-406k, and 451-515k with a turn of a hundred (client syscalls per
/// response 0.53, h2o's 0.20, then 0.33). A hundred responses from the cache take the worker
/// about 110 µs.
const TURN_RESPONSES: u32 = MAX_STREAMS;
/// Responses that opened, read or listed something (a cache miss, a listing, a `404`), a
/// turn: as HTTP/1.1's, so that a hundred `HEAD`s of distinct directories or files,
/// which send no bytes for the byte budget to count, hold the worker no longer than before.
const TURN_WORKED: u32 = 16;
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
    streams: VecDeque<Stream>,
    /// The streams whose response holds an open file ([`Stream::holds_file`]), counted as they
    /// change rather than by a walk of the streams on every request.
    files: usize,
    /// A complete request may wait for a file to close ([`Conn::answer_waiting`]); `false`
    /// once a look found none.
    deferred: bool,
    /// The highest stream the client opened.
    last_stream: u32,
    /// Streams closed lately, and how (what a late frame on one gets, [`Closed`]); at most
    /// [`RECENT_CLOSED`].
    closed: std::collections::VecDeque<(u32, Closed)>,
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
    /// Whether the socket had nothing more at the last read (a short read, or `WouldBlock`).
    drain: Drain,
    /// Shutdown has begun at this instant.
    draining: Option<Instant>,
    /// Since when no stream has been open (the idle timeout runs from it).
    idle_since: Instant,
    /// When the preface or the current header block began (the header timeout runs from it).
    head_started: Option<Instant>,
    /// When a write last made progress.
    last_progress: Instant,
    /// When a DATA frame last went out (the connection's window stalls from then).
    last_data: Instant,
    /// Frames that brought nothing.
    abuse: u64,
    /// Responses completed.
    served: u64,
    panicked: bool,
}

/// How a stream closed, which decides what a frame that comes on it later gets (RFC 9113 §5.1):
/// HEADERS is a connection error `STREAM_CLOSED` after both ends were sent, a stream error after
/// the client's RST_STREAM, and ignored after the server's (the client may have sent it before
/// it saw ours, and §5.1 says such frames MUST be ignored), as is DATA; on an id never used it
/// is `PROTOCOL_ERROR` (§5.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Closed {
    /// Both sides sent END_STREAM.
    Ended,
    /// The client reset it.
    ByClient,
    /// The server reset it (refused, malformed, answered before its body ended, an error).
    ByServer,
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
    /// Of the responses, those the worker's cache did not answer.
    worked: u32,
    bytes: u64,
}

impl Turn {
    fn spent(&self) -> bool {
        self.responses >= TURN_RESPONSES || self.worked >= TURN_WORKED || self.bytes >= TURN_BYTES
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
            streams: VecDeque::new(),
            files: 0,
            deferred: false,
            last_stream: 0,
            closed: std::collections::VecDeque::new(),
            block: None,
            next: 0,
            goaway: None,
            closing: false,
            peer_goaway: false,
            read_closed: false,
            drain: Drain::default(),
            draining: None,
            idle_since: now,
            head_started: Some(now),
            last_progress: now,
            last_data: now,
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
        self.drain.on_event(readiness.read_closed);
        self.drive(svc, io, now)
    }

    /// The deadline this connection asked for has passed: the client read nothing, or gave the
    /// connection no window, for the send timeout (closed); the preface or a header block did
    /// not complete in time, or it was idle too long, or the drain grace is over (GOAWAY); or
    /// a stream waited too long for the client ([`Stream::deadline`]: a request still arriving
    /// gets `408`, a response its window holds back is reset), and the others go on.
    pub fn timeout<S: Socket>(
        &mut self,
        svc: &mut Service,
        io: &mut Wire<'_, S>,
        now: Instant,
    ) -> Next {
        let config = &svc.ctx().config;
        let (header, send, idle) = (
            config.header_timeout,
            config.send_timeout,
            config.idle_timeout,
        );
        if self.pending_output() > 0 && now >= self.last_progress + send
            || self.window_shut() && now >= self.last_data + send
        {
            return Next::Close;
        }
        let idle_over = now >= self.idle_since + idle
            || self
                .draining
                .is_some_and(|since| now >= since + crate::http1::DRAIN_GRACE);
        if self
            .head_started
            .is_some_and(|started| now >= started + header)
        {
            self.go_away(ErrorCode::ProtocolError, "timeout");
            self.closing = true;
        } else if self.streams.is_empty() && idle_over {
            self.go_away(ErrorCode::NoError, "timeout");
            self.closing = true;
        } else {
            self.expire(svc, now, header, send);
        }
        self.drive(svc, io, now)
    }

    /// Answers or resets the streams that have waited too long for the client: a request still
    /// arriving gets `408` (as HTTP/1.1 answers a head that never ends), a response its own
    /// window has held back is reset (`CANCEL`) and logged as cut short.
    fn expire(&mut self, svc: &mut Service, now: Instant, header: Duration, send: Duration) {
        let mut turn = Turn::default();
        let mut env = Env {
            svc,
            now,
            turn: &mut turn,
        };
        let expired: Vec<u32> = self
            .streams
            .iter()
            .filter(|s| s.deadline(header, send).is_some_and(|d| now >= d))
            .map(|s| s.id)
            .collect();
        for id in expired {
            let Some(index) = self.streams.iter().position(|s| s.id == id) else {
                continue;
            };
            if let Phase::Sending(_) = &self.streams[index].phase {
                self.cut_short(env.svc, id, now);
            } else {
                let late = reply::error(ServeError::Timeout, reply::Audience::default());
                self.answer(&mut env, index, late, true);
            }
        }
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
        spare::keep(self.streams, self.decoded);
        if reason == CloseReason::Done {
            io.shutdown();
        }
    }

    /// Makes all the progress the socket allows within one turn, then says what to wait for.
    /// Each pass reads and handles what has arrived, produces the streams' DATA up to the
    /// output's target, then writes it all at once; a pass that stopped at the target and
    /// wrote everything is followed by another.
    fn drive<S: Socket>(&mut self, svc: &mut Service, io: &mut Wire<'_, S>, now: Instant) -> Next {
        let mut turn = Turn::default();
        if self.out.capacity() == 0 {
            // An idle connection holds no output buffer: it takes a spare one.
            self.out = svc.take_output_buffer();
            // Exact: a spare of 40 KiB grown by doubling would be too large to be kept again.
            self.out.reserve_exact(OUTPUT_INITIAL);
        }
        loop {
            let (mut read, mut produced) = (false, Produced::default());
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
                    if self.read_closed {
                        self.abandon(env.svc, now);
                    }
                    produced = self.produce(&mut env);
                }
            }
            if !self.closing && self.finished() {
                self.go_away(ErrorCode::NoError, "");
                self.closing = true;
            }
            // While this turn's next pass will produce more, TLS is given whole records only;
            // what is left goes with that pass's output.
            let whole_records = produced.more && !self.closing && !turn.spent();
            let held = match self.flush(io, now, whole_records) {
                Ok(held) => held,
                Err(_) => return Next::Close,
            };
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
            let more_input = read && !self.drain.is_drained() && !self.read_closed;
            let more_output = produced.any && (self.pending_output() == 0 || held);
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

    /// The client has closed its side, so no window and no body can come any more: the
    /// streams that wait for one are dropped at once (logged as cut short), their files and
    /// buffers with them, not kept until the send timeout.
    fn abandon(&mut self, svc: &mut Service, now: Instant) {
        let shut = self.send_window <= 0;
        let hopeless: Vec<u32> = self
            .streams
            .iter()
            .filter(|s| match &s.phase {
                Phase::Receiving { .. } => !s.remote_closed,
                Phase::Sending(out) => out.body.is_some() && (shut || s.send_window <= 0),
            })
            .map(|s| s.id)
            .collect();
        for id in hopeless {
            self.cut_short(svc, id, now);
        }
    }

    /// Resets stream `id` (`CANCEL`), a response on it logged as cut short.
    fn cut_short(&mut self, svc: &mut Service, id: u32, now: Instant) {
        if let Some(Phase::Sending(out)) =
            self.streams.iter().find(|s| s.id == id).map(|s| &s.phase)
        {
            svc.record(&out.record(self.client, self.peer.tls), now);
        }
        self.reset(id, ErrorCode::Cancel);
    }

    /// Whether the connection's window alone holds responses back (their own windows are open).
    fn window_shut(&self) -> bool {
        self.send_window <= 0 && self.streams.iter().any(Stream::can_send)
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
                svc.give_buffer(std::mem::take(&mut self.out));
                self.sent = 0;
            }
            // Nor room for streams and decoded fields: they would be most of its memory. The
            // worker keeps them for the next burst.
            spare::keep(
                std::mem::take(&mut self.streams),
                std::mem::take(&mut self.decoded),
            );
        }
        let config = &svc.ctx().config;
        let (header, send) = (config.header_timeout, config.send_timeout);
        let mut deadline = match self.head_started {
            Some(started) => started + header,
            // The grace is for a connection with nothing in flight: a response goes on until
            // the worker's drain deadline, as over HTTP/1.1.
            None if self.streams.is_empty() => match self.draining {
                Some(since) => since + crate::http1::DRAIN_GRACE,
                None => self.idle_since + config.idle_timeout,
            },
            // The streams say when they have waited too long; this is only a check.
            None => now + send,
        };
        let streams = self.streams.iter().filter_map(|s| s.deadline(header, send));
        deadline = streams.fold(deadline, Instant::min);
        if self.pending_output() > 0 {
            deadline = deadline.min(self.last_progress + send);
        }
        if self.window_shut() {
            deadline = deadline.min(self.last_data + send);
        }
        Next::Wait(Some(deadline))
    }

    fn pending_output(&self) -> usize {
        self.out.len() - self.sent
    }

    /// Writes what waits, as far as the socket takes it; with `whole_records`, over TLS, only
    /// as many bytes as fill whole records. Whether it held a rest back by choice (all it meant
    /// to write went).
    ///
    /// A turn of a hundred 1 KiB responses went out in four writes of 32 KiB and a bit, each
    /// sealed as two full records and a short one, and a client reads each record by itself:
    /// h2load made 0.33 syscalls a response against ours, 0.20 against h2o.
    fn flush<S: Socket>(
        &mut self,
        io: &mut Wire<'_, S>,
        now: Instant,
        whole_records: bool,
    ) -> io::Result<bool> {
        let end = match io.record_size() {
            Some(record) if whole_records => self.sent + self.pending_output() / record * record,
            _ => self.out.len(),
        };
        while self.sent < end {
            match io.write(&[self.out.get(self.sent..end).unwrap_or_default()], false) {
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
        let held = self.sent == end && end < self.out.len();
        if self.sent == self.out.len() {
            self.out.clear();
            self.sent = 0;
        } else if self.sent >= send::OUTPUT_TARGET || held {
            // A client that reads slowly but never all: what it has read is dropped, or the
            // buffer would keep every byte it was ever sent while more is added behind. A rest
            // held back moves to the front too, so that the next pass's output stays within the
            // buffer the worker lent, which then goes back to its spares.
            self.out.drain(..self.sent);
            self.sent = 0;
        }
        io.flush()?;
        Ok(held)
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
            if self.drain.is_drained() {
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
                    self.drain.on_read(got);
                }
                Err(e) if would_block(&e) => {
                    self.drain.on_empty();
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

    /// Notes that stream `id` has closed, and how.
    fn closed(&mut self, id: u32, how: Closed) {
        if self.closed.len() == RECENT_CLOSED {
            self.closed.pop_front();
        }
        self.closed.push_back((id, how));
    }

    /// How stream `id` closed, if it did lately.
    fn closed_how(&self, id: u32) -> Option<Closed> {
        self.closed
            .iter()
            .find(|(c, _)| *c == id)
            .map(|(_, how)| *how)
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
