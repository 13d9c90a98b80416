//! The client's frames, each applied to the connection's state as RFC 9113 §5 and §6 say (the
//! per-frame rules are the parser's): streams opened, refused, reset and completed; header
//! blocks assembled and decoded; windows and SETTINGS applied; PINGs answered; the frames that
//! bring nothing counted.

use http_core::Status;
use http_core::h2::frame::{self, ErrorCode, Frame, FrameError};
use http_core::h2::hpack::{self, DecodeError};
use http_core::limits::{MAX_HEAD, MAX_HEADERS};

use super::spare;
use super::stream::{Phase, Stream};
use super::{
    ABUSE_ALLOWANCE, Closed, Conn, Env, Fatal, MAX_BLOCK, MAX_BODY, MAX_HELD_HEADS, MAX_OPEN_FILES,
    MAX_STREAMS, request, send,
};
use crate::error::ServeError;
use crate::exchange::reply;

/// A header block being received.
#[derive(Debug)]
pub struct Block {
    stream: u32,
    bytes: Vec<u8>,
    end_stream: bool,
    kind: Kind,
}

/// What a header block is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A new stream's request.
    Request,
    /// A stream past the stream limit: reset (`REFUSED_STREAM`) once decoded (HPACK's table must
    /// stay in step).
    Refused,
    /// A stream above a GOAWAY's last stream, or one the server has reset: decoded, then
    /// ignored.
    Ignored,
    /// The trailers of a stream whose body is arriving.
    Trailers,
    /// A block on a stream that must not get one (trailers without END_STREAM, a closed
    /// stream): decoded, then the stream is reset with this code (a stream error).
    Reject(ErrorCode),
}

impl Conn {
    /// Handles the whole frames at the start of `input` (after the preface, once); returns the
    /// bytes they took.
    pub(super) fn handle_frames(
        &mut self,
        env: &mut Env<'_>,
        input: &[u8],
    ) -> Result<usize, Fatal> {
        let mut at = 0;
        loop {
            let rest = input.get(at..).unwrap_or_default();
            if !self.preface {
                match super::sniff(rest) {
                    Some(true) => {
                        self.preface = true;
                        at += frame::PREFACE.len();
                        continue;
                    }
                    Some(false) => {
                        self.fail(ErrorCode::ProtocolError, "no preface")?;
                        return Ok(at);
                    }
                    None => return Ok(at),
                }
            }
            if env.turn.spent() || self.pending_output() >= super::MAX_PENDING_OUTPUT {
                return Ok(at);
            }
            match frame::parse(rest, frame::DEFAULT_MAX_FRAME_SIZE) {
                Ok(Status::Partial) => return Ok(at),
                Ok(Status::Complete((parsed, used))) => {
                    at += used;
                    self.handle(env, parsed)?;
                }
                Err(e) => {
                    self.frame_error(e)?;
                    // A stream error: that frame is skipped, the connection goes on.
                    at += frame::frame_len(rest).unwrap_or(rest.len());
                }
            }
        }
    }

    /// One frame, whose own rules the parser has checked.
    fn handle(&mut self, env: &mut Env<'_>, parsed: Frame<'_>) -> Result<(), Fatal> {
        if !self.settings_seen {
            // The preface's first frame is SETTINGS (RFC 9113 §3.4).
            let Frame::Settings { ack: false, .. } = parsed else {
                return self.fail(ErrorCode::ProtocolError, "the first frame is not SETTINGS");
            };
            self.settings_seen = true;
            self.head_started = None;
        }
        if let Some(block) = &self.block
            && !matches!(parsed, Frame::Continuation { stream, .. } if stream == block.stream)
        {
            return self.fail(ErrorCode::ProtocolError, "a frame inside a header block");
        }
        match parsed {
            Frame::Data {
                stream,
                data,
                end_stream,
                flow_len,
            } => self.on_data(env, stream, data.len(), end_stream, flow_len),
            Frame::Headers {
                stream,
                block,
                end_stream,
                end_headers,
                ..
            } => self.on_headers(env, stream, block, end_stream, end_headers),
            Frame::Continuation {
                block, end_headers, ..
            } => {
                // An empty fragment adds nothing to the block's bound (CVE-2019-9518's kin).
                if block.is_empty() && !end_headers {
                    self.abused(1)?;
                }
                self.on_fragment(env, block, end_headers)
            }
            Frame::RstStream { stream, .. } => self.on_reset(env, stream),
            Frame::Settings { ack: false, params } => self.on_settings(params.iter()),
            Frame::Ping { ack: false, data } => {
                frame::write_ping_ack(&mut self.out, data);
                self.abused(1)
            }
            Frame::GoAway { .. } => {
                self.peer_goaway = true;
                self.abused(1)
            }
            Frame::WindowUpdate { stream, increment } => self.on_window_update(stream, increment),
            Frame::PushPromise { .. } => self.fail(ErrorCode::ProtocolError, "PUSH_PROMISE"),
            // RFC 9218 leaves RFC 7540's priorities to be ignored; streams take turns. Each of
            // these costs the server its parsing and changes nothing (RFC 9113 §10.5): the
            // server never pings, and acknowledges its one SETTINGS once.
            Frame::Priority { .. }
            | Frame::Settings { ack: true, .. }
            | Frame::Ping { ack: true, .. }
            | Frame::Unknown { .. } => self.abused(1),
        }
    }

    /// A frame the parser refused: a stream error resets that stream, a connection error ends
    /// the connection.
    fn frame_error(&mut self, e: FrameError) -> Result<(), Fatal> {
        match e.stream {
            // No RST_STREAM may name an idle stream (RFC 9113 §6.4): the connection pays.
            Some(id) if id > self.last_stream => self.fail(e.code, e.reason),
            Some(id) => self.stream_error(id, e.code),
            None => self.fail(e.code, e.reason),
        }
    }

    /// Queues GOAWAY with `code`; the connection ends once it is sent.
    pub(super) fn fail(&mut self, code: ErrorCode, reason: &'static str) -> Result<(), Fatal>
    where
        Self: Sized,
    {
        self.go_away(code, reason);
        self.closing = true;
        Err(Fatal)
    }

    /// Counts frames that brought nothing; past the allowance, GOAWAY `ENHANCE_YOUR_CALM`.
    fn abused(&mut self, n: u64) -> Result<(), Fatal> {
        self.abuse += n;
        if self.abuse > ABUSE_ALLOWANCE + self.served {
            return self.fail(
                ErrorCode::EnhanceYourCalm,
                "too many frames that bring nothing",
            );
        }
        Ok(())
    }

    /// Resets stream `id` for the client's fault (a stream error, a refused or malformed
    /// request), which counts against the allowance: a stream the server must reset as soon as
    /// it has begun costs it as much as one the client resets itself, so a loop of them is the
    /// rapid-reset attack turned around (CVE-2025-8671, "MadeYouReset").
    pub(super) fn stream_error(&mut self, id: u32, code: ErrorCode) -> Result<(), Fatal> {
        self.reset(id, code);
        self.abused(1)
    }

    /// Resets stream `id` with `code`, dropping it if open; what the client sent on it before
    /// it saw the reset is then ignored.
    pub(super) fn reset(&mut self, id: u32, code: ErrorCode) {
        self.rst(id, code);
        if let Some(index) = self.index(id) {
            self.remove_stream(index);
        }
        self.closed(id, Closed::ByServer);
    }

    fn index(&self, id: u32) -> Option<usize> {
        self.streams.iter().position(|s| s.id == id)
    }

    /// Takes stream `index` out of the list, keeping the round-robin's place. Streams mostly
    /// end in the order they opened, so the one removed is mostly the first: the list is a
    /// deque, where that moves nothing (a `Vec` moved the other streams' state, up to 99 of
    /// them, for every response of a `-m 100` client: a sixth of the instructions).
    pub(super) fn remove_stream(&mut self, index: usize) -> Option<Stream> {
        let stream = self.streams.remove(index)?;
        if self.next > index {
            self.next -= 1;
        }
        if stream.holds_file() {
            self.files = self.files.saturating_sub(1);
        }
        Some(stream)
    }

    /// DATA: counted against the connection's and the stream's windows, which are given back
    /// (the body is dropped), and against `content-length`; the end of the body completes the
    /// request.
    fn on_data(
        &mut self,
        env: &mut Env<'_>,
        id: u32,
        len: usize,
        end_stream: bool,
        flow_len: u32,
    ) -> Result<(), Fatal> {
        self.received_unacked = self.received_unacked.saturating_add(flow_len);
        if self.received_unacked > frame::DEFAULT_WINDOW {
            return self.fail(
                ErrorCode::FlowControlError,
                "DATA past the connection window",
            );
        }
        if self.received_unacked >= frame::DEFAULT_WINDOW / 2 {
            frame::write_window_update(&mut self.out, 0, self.received_unacked);
            self.received_unacked = 0;
        }
        if len == 0 && !end_stream {
            self.abused(1)?;
        }
        if id > self.last_stream {
            return self.fail(ErrorCode::ProtocolError, "DATA on an idle stream");
        }
        let Some(index) = self.index(id) else {
            if self.closed_how(id) == Some(Closed::ByServer) {
                return Ok(());
            }
            self.rst(id, ErrorCode::StreamClosed);
            return self.abused(1);
        };
        let stream = &mut self.streams[index];
        if stream.remote_closed {
            // DATA after the client's END_STREAM (RFC 9113 §5.1, half-closed (remote)).
            return self.stream_error(id, ErrorCode::StreamClosed);
        }
        stream.remote_closed = end_stream;
        if !matches!(stream.phase, Phase::Receiving { .. }) {
            // The request was answered early: its body is dropped.
            return Ok(());
        }
        stream.received += len as u64;
        let (received, declared) = (stream.received, stream.content_length);
        if flow_len > 0 && !end_stream {
            frame::write_window_update(&mut self.out, id, flow_len);
        }
        if declared.is_some_and(|d| received > d || end_stream && received != d) {
            return self.stream_error(id, ErrorCode::ProtocolError);
        }
        if received > MAX_BODY {
            let too_large = reply::error(ServeError::ContentTooLarge, reply::Audience::default());
            self.answer(env, index, too_large, !end_stream);
            return Ok(());
        }
        if end_stream {
            self.respond(env, index);
        }
        Ok(())
    }

    /// HEADERS: a new stream's request, or the trailers of one whose body is arriving.
    fn on_headers(
        &mut self,
        env: &mut Env<'_>,
        id: u32,
        fragment: &[u8],
        end_stream: bool,
        end_headers: bool,
    ) -> Result<(), Fatal> {
        let open = self.index(id).map(|i| &self.streams[i]);
        let kind = match (open, self.closed_how(id)) {
            (Some(s), _) if s.remote_closed => {
                return self.fail(ErrorCode::StreamClosed, "HEADERS after END_STREAM");
            }
            // Trailers: they end the stream, or the request is malformed (§8.1).
            (Some(s), _) if matches!(s.phase, Phase::Receiving { .. }) && end_stream => {
                Kind::Trailers
            }
            (Some(_), _) if end_stream => Kind::Reject(ErrorCode::NoError),
            (Some(_), _) => Kind::Reject(ErrorCode::ProtocolError),
            (None, Some(Closed::ByClient)) => Kind::Reject(ErrorCode::StreamClosed),
            (None, Some(Closed::ByServer)) => Kind::Ignored,
            (None, Some(Closed::Ended)) => {
                return self.fail(ErrorCode::StreamClosed, "HEADERS on a closed stream");
            }
            (None, None) if id.is_multiple_of(2) || id <= self.last_stream => {
                return self.fail(ErrorCode::ProtocolError, "a stream id not above the last");
            }
            (None, None) => {
                self.last_stream = id;
                if self.goaway.is_some() || self.peer_goaway {
                    Kind::Ignored
                } else if self.streams.len() >= MAX_STREAMS as usize {
                    Kind::Refused
                } else {
                    Kind::Request
                }
            }
        };
        self.head_started.get_or_insert(env.now);
        self.block = Some(Block {
            stream: id,
            bytes: Vec::new(),
            end_stream,
            kind,
        });
        self.on_fragment(env, fragment, end_headers)
    }

    /// A fragment of the header block in progress; the block is handled once whole.
    fn on_fragment(&mut self, env: &mut Env<'_>, fragment: &[u8], end: bool) -> Result<(), Fatal> {
        let Some(block) = &mut self.block else {
            return self.fail(ErrorCode::ProtocolError, "CONTINUATION without HEADERS");
        };
        if block.bytes.len() + fragment.len() > MAX_BLOCK {
            return self.fail(ErrorCode::EnhanceYourCalm, "a header block over 16 KiB");
        }
        if !end {
            block.bytes.extend_from_slice(fragment);
            return Ok(());
        }
        let Some(mut block) = self.block.take() else {
            return Ok(());
        };
        self.head_started = None;
        // A block in one frame, as nearly every request's is, is decoded where it lies; one in
        // several is decoded from the copy its fragments were gathered in.
        let mut gathered = std::mem::take(&mut block.bytes);
        if gathered.is_empty() {
            return self.whole_block(env, block, fragment);
        }
        gathered.extend_from_slice(fragment);
        self.whole_block(env, block, &gathered)
    }

    /// A whole header block: decoded, then a request started, trailers taken, or a stream
    /// refused.
    fn whole_block(&mut self, env: &mut Env<'_>, block: Block, bytes: &[u8]) -> Result<(), Fatal> {
        if self.decoded.is_unallocated() {
            self.decoded = spare::decoded();
        }
        let decoded = self
            .decoder
            .decode(bytes, MAX_HEAD, MAX_HEADERS, &mut self.decoded);
        let id = block.stream;
        match (decoded, block.kind) {
            (Err(DecodeError::Compression), _) => self.fail(ErrorCode::CompressionError, "HPACK"),
            (_, Kind::Refused) => self.stream_error(id, ErrorCode::RefusedStream),
            (_, Kind::Ignored) => Ok(()),
            // Trailers of a body that was answered early end it quietly.
            (_, Kind::Reject(ErrorCode::NoError)) => {
                if let Some(index) = self.index(id) {
                    self.streams[index].remote_closed = true;
                }
                Ok(())
            }
            (_, Kind::Reject(code)) => self.stream_error(id, code),
            (Err(_), Kind::Trailers) => self.stream_error(id, ErrorCode::ProtocolError),
            (Err(_), Kind::Request) => {
                // An HPACK bomb, or fields over the limits: 431, as HTTP/1.1 answers.
                let index = self.open(id, hpack::Fields::default(), None, env);
                let refused = reply::error(
                    ServeError::Parse(http_core::ParseError::HeadTooLarge),
                    reply::Audience::default(),
                );
                self.answer(env, index, refused, !block.end_stream);
                Ok(())
            }
            (Ok(()), Kind::Trailers) => {
                if request::validate_trailers(self.decoded.iter()).is_err() {
                    return self.stream_error(id, ErrorCode::ProtocolError);
                }
                self.on_data(env, id, 0, true, 0)
            }
            (Ok(()), Kind::Request) => self.request(env, id, block.end_stream),
        }
    }

    /// A request's head, decoded: checked, then answered if it has no body.
    fn request(&mut self, env: &mut Env<'_>, id: u32, end_stream: bool) -> Result<(), Fatal> {
        if end_stream && self.open_files() < MAX_OPEN_FILES {
            // Checked and answered at once, by `send`: the fields are checked once. (With no
            // room for another open file, it may have to wait, its head held: below.)
            let head = std::mem::take(&mut self.decoded);
            return self.request_whole(env, id, head);
        }
        let mut fields = spare::fields();
        let checked = request::validate(self.decoded.iter(), &mut fields);
        let content_length = checked.map(|pseudo| pseudo.content_length);
        spare::keep_fields(fields);
        let Ok(content_length) = content_length else {
            return self.stream_error(id, ErrorCode::ProtocolError);
        };
        if end_stream && content_length.is_some_and(|n| n > 0) {
            // A content-length the missing body contradicts (RFC 9113 §8.1.1).
            return self.stream_error(id, ErrorCode::ProtocolError);
        }
        if !end_stream && self.held_heads() + send::list_size(&self.decoded) > MAX_HELD_HEADS {
            // Its head would wait for the body past what a connection may hold.
            self.reset(id, ErrorCode::RefusedStream);
            return Ok(());
        }
        let head = std::mem::take(&mut self.decoded);
        let index = self.open(id, head, content_length, env);
        if end_stream {
            self.streams[index].remote_closed = true;
            self.respond(env, index);
        }
        Ok(())
    }

    /// A new stream, receiving its request; returns its index.
    pub(super) fn open(
        &mut self,
        id: u32,
        head: hpack::Fields,
        content_length: Option<u64>,
        env: &Env<'_>,
    ) -> usize {
        if self.streams.capacity() == 0 {
            self.streams = spare::streams();
        }
        self.streams.push_back(Stream {
            id,
            phase: Phase::Receiving {
                head,
                started: env.now,
            },
            send_window: i64::from(self.theirs.initial_window_size),
            remote_closed: false,
            received: 0,
            content_length,
        });
        self.streams.len() - 1
    }

    /// RST_STREAM: the stream is gone; one reset before its response was done brought nothing.
    fn on_reset(&mut self, env: &mut Env<'_>, id: u32) -> Result<(), Fatal> {
        if id > self.last_stream {
            return self.fail(ErrorCode::ProtocolError, "RST_STREAM on an idle stream");
        }
        let Some(index) = self.index(id) else {
            // A stream that has already closed: the reset races its end, or brings nothing.
            return self.abused(1);
        };
        let Some(stream) = self.remove_stream(index) else {
            return self.abused(1);
        };
        self.closed(id, Closed::ByClient);
        self.metrics.http2.client_reset();
        if let Phase::Sending(out) = &stream.phase {
            // Logged as cut short, as a client that closes mid-download is over HTTP/1.1.
            env.svc
                .record(&out.record(self.client, self.peer.tls), env.now);
        }
        self.abused(1)
    }

    /// SETTINGS: applied in order, then acknowledged; a changed initial window moves every
    /// stream's window by the difference (RFC 9113 §6.9.2).
    fn on_settings(&mut self, params: impl Iterator<Item = (u16, u32)>) -> Result<(), Fatal> {
        let before = self.theirs;
        for (id, value) in params {
            if let Err(e) = self.theirs.apply(id, value) {
                return self.fail(e.code, e.reason);
            }
        }
        let delta =
            i64::from(self.theirs.initial_window_size) - i64::from(before.initial_window_size);
        if delta != 0 {
            for stream in &mut self.streams {
                stream.send_window += delta;
                if stream.send_window > i64::from(frame::MAX_WINDOW) {
                    return self.fail(ErrorCode::FlowControlError, "a window over 2^31-1");
                }
            }
        }
        if self.theirs.header_table_size != before.header_table_size {
            self.encoder
                .set_max_table_size(self.theirs.header_table_size as usize);
        }
        frame::write_settings_ack(&mut self.out);
        self.abused(1)
    }

    /// WINDOW_UPDATE: more room on the connection or on one stream.
    fn on_window_update(&mut self, id: u32, increment: u32) -> Result<(), Fatal> {
        let increment = i64::from(increment);
        if id == 0 {
            self.send_window += increment;
            if self.send_window > i64::from(frame::MAX_WINDOW) {
                return self.fail(ErrorCode::FlowControlError, "a window over 2^31-1");
            }
            return Ok(());
        }
        if id > self.last_stream {
            return self.fail(ErrorCode::ProtocolError, "WINDOW_UPDATE on an idle stream");
        }
        let Some(index) = self.index(id) else {
            return Ok(()); // a stream closed meanwhile
        };
        let stream: &mut Stream = &mut self.streams[index];
        stream.send_window += increment;
        if stream.send_window > i64::from(frame::MAX_WINDOW) {
            return self.stream_error(id, ErrorCode::FlowControlError);
        }
        Ok(())
    }
}
