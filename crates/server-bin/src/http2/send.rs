//! Responses over HTTP/2: a complete request handed to the exchange, the answer's head encoded
//! into HEADERS, and the bodies of every stream sent in DATA frames, a frame per stream in
//! turn, within the windows the client gives (RFC 9113 §5.2, §6.9). A body is read from its file
//! straight into the output, a frame at a time: never a whole file in memory.

use std::time::Instant;

use http_core::h2::frame::{self, ErrorCode};
use http_core::h2::hpack;
use http_core::{Header, ParseError};

use super::request::{self, Pseudo};
use super::spare;
use super::stream::{self, Phase, Sending, Stream};
use super::{Closed, Conn, Env, Fatal, MAX_HELD_HEADS, MAX_OPEN_FILES};
use crate::access_log::Captured;
use crate::error::ServeError;
use crate::exchange::response::Text;
use crate::exchange::{self, Body, Response, reply};
use crate::files::body::FileBody;
use crate::service::ResponseMeta;

/// Output the streams' DATA may fill before it is written out: with one more frame and the
/// heads of a hundred streams, a burst's output fits the buffer's first capacity (a client that
/// reads only part of each write may take it past that: see `Conn::flush`).
pub(super) const OUTPUT_TARGET: usize = 32 * 1024;

/// The target once a pass has written a frame of a body with more than this left to send: such
/// bodies go out in fewer, larger writes (with the small target, a 1 MiB download took 32
/// writes; pinned h2load, 1 MiB over TLS: 0.93x h2o with the small target, 1.09x with this).
/// The buffer then grows past what the worker's spares keep, and is dropped when the
/// connection goes idle: worth it for such a body, not for a 64 KiB one (which a burst of
/// small targets sends from a kept buffer).
pub(super) const OUTPUT_TARGET_BULK: usize = 128 * 1024;

/// What one pass of [`Conn::produce`] did.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Produced {
    /// It wrote DATA (or ended a stream).
    pub any: bool,
    /// It stopped at the output's target with DATA still to send.
    pub more: bool,
}

/// Body bytes per DATA frame (and per stream in one pass of the round-robin), at most: one
/// TLS record's worth.
const DATA_CHUNK: u32 = 16 * 1024;

impl Conn {
    /// Stream `index`'s request is complete: the exchange answers it. An answer that would
    /// hold one file more than [`MAX_OPEN_FILES`] is dropped (closing its file) and the request
    /// waits, its head kept within [`MAX_HELD_HEADS`] (else it is refused), to be answered
    /// again once a file is done ([`Conn::answer_waiting`]).
    pub(super) fn respond(&mut self, env: &mut Env<'_>, index: usize) {
        let (head, started) = match &mut self.streams[index].phase {
            Phase::Receiving { head, started } => (std::mem::take(head), *started),
            Phase::Sending(_) => return,
        };
        let mut fields = spare::fields();
        let (response, log) = match request::validate(head.iter(), &mut fields) {
            Ok(pseudo) => self.exchange(env, &pseudo, &fields),
            Err(_) => {
                let bad = ServeError::Parse(ParseError::HeaderField);
                (reply::error(bad, reply::Audience::default()), None)
            }
        };
        spare::keep_fields(fields);
        let needs_file = matches!(&response.body, Body::File(body) if body.holds_file());
        if needs_file && self.open_files() >= MAX_OPEN_FILES {
            drop(response);
            if self.held_heads() + list_size(&head) > MAX_HELD_HEADS {
                let id = self.streams[index].id;
                self.reset(id, ErrorCode::RefusedStream);
            } else {
                self.streams[index].phase = Phase::Receiving { head, started };
                self.deferred = true;
            }
            return;
        }
        self.recycle(head);
        self.start(env, index, response, log, started, false);
    }

    /// Answers the complete requests that wait for a file to close, in the order they came,
    /// while there is room (for a file, in the turn, in the output).
    fn answer_waiting(&mut self, env: &mut Env<'_>) {
        while self.deferred
            && self.open_files() < MAX_OPEN_FILES
            && !env.turn.spent()
            && self.pending_output() < OUTPUT_TARGET
        {
            let waiting =
                |s: &Stream| s.remote_closed && matches!(s.phase, Phase::Receiving { .. });
            let Some(index) = self.streams.iter().position(waiting) else {
                self.deferred = false;
                return;
            };
            let id = self.streams[index].id;
            self.respond(env, index);
            if self
                .streams
                .get(index)
                .is_some_and(|s| s.id == id && waiting(s))
            {
                return;
            }
        }
    }

    /// The responses that hold an open file. (Counting them by a walk of the streams on
    /// every request was 275 instructions a response at `-m 100`.)
    pub(super) fn open_files(&self) -> usize {
        debug_assert_eq!(
            self.files,
            self.streams.iter().filter(|s| s.holds_file()).count(),
            "the count of streams holding a file"
        );
        self.files
    }

    /// The size of the heads held for requests not answered yet (see [`MAX_HELD_HEADS`]).
    pub(super) fn held_heads(&self) -> usize {
        let held = |s: &Stream| match &s.phase {
            Phase::Receiving { head, .. } => list_size(head),
            Phase::Sending(_) => 0,
        };
        self.streams.iter().map(held).sum()
    }

    /// A request without a body (its HEADERS ended the stream), `head` decoded: checked as RFC
    /// 9113 §8 says (a malformed one is reset), then answered on a new stream `id`, from the
    /// fields the check kept.
    pub(super) fn request_whole(
        &mut self,
        env: &mut Env<'_>,
        id: u32,
        head: hpack::Fields,
    ) -> Result<(), Fatal> {
        let mut fields = spare::fields();
        let malformed = match request::validate(head.iter(), &mut fields) {
            // A content-length the missing body contradicts (RFC 9113 §8.1.1) is malformed.
            Ok(pseudo) if pseudo.content_length.is_none_or(|n| n == 0) => {
                let index = self.open(id, hpack::Fields::default(), None, env);
                self.streams[index].remote_closed = true;
                let (response, log) = self.exchange(env, &pseudo, &fields);
                self.start(env, index, response, log, env.now, false);
                false
            }
            _ => true,
        };
        spare::keep_fields(fields);
        self.recycle(head);
        match malformed {
            true => self.stream_error(id, ErrorCode::ProtocolError),
            false => Ok(()),
        }
    }

    /// Answers stream `index` with `response` before its request is complete (`open`: its
    /// body may still come; the client is asked to stop sending it once the response is out).
    pub(super) fn answer(
        &mut self,
        env: &mut Env<'_>,
        index: usize,
        response: Response,
        open: bool,
    ) {
        let started = match &self.streams[index].phase {
            Phase::Receiving { started, .. } => *started,
            Phase::Sending(_) => return,
        };
        self.start(env, index, response, None, started, open);
    }

    /// Keeps a decoded head's buffer for the next block, if none is kept.
    fn recycle(&mut self, mut head: hpack::Fields) {
        if self.decoded.is_empty() {
            head.clear();
            self.decoded = head;
        }
    }

    /// The exchange's answer to the checked request `pseudo` with `fields`, with what the log
    /// keeps of it.
    fn exchange(
        &mut self,
        env: &mut Env<'_>,
        pseudo: &Pseudo<'_>,
        fields: &[Header<'_>],
    ) -> (Response, Option<Captured>) {
        // The request line is made only for a log that prints it.
        let log = if env.svc.logs() {
            let line = format!(
                "{} {} HTTP/2.0",
                String::from_utf8_lossy(pseudo.method_text),
                String::from_utf8_lossy(pseudo.path)
            );
            let value = |name: &str| fields.iter().find(|h| h.name == name).map(|h| h.value);
            env.svc
                .capture(line.as_bytes(), value("referer"), value("user-agent"))
        } else {
            None
        };
        let Some(method) = pseudo.method else {
            let unknown = ServeError::Parse(ParseError::UnknownMethod);
            return (reply::error(unknown, reply::Audience::default()), log);
        };
        let client = self.client;
        let lookup = move || client;
        let view = exchange::Request {
            method,
            target: pseudo.path,
            fields: http_core::Fields(fields),
            client: &lookup,
            sendfile: false,
        };
        let (_, date) = env.svc.now(env.now);
        let draining = self.draining.is_some();
        let (response, panicked) = env.svc.respond(&view, &date, draining, env.now);
        if !env.svc.answered_from_memory() {
            env.turn.worked += 1;
        }
        self.panicked |= panicked;
        (response, log)
    }

    /// Sends `response`'s head on stream `index` and keeps its body to send. It counts against
    /// the turn from now: a connection's requests are answered at most a hundred a turn,
    /// however small (sixteen, of those the worker's cache did not answer).
    fn start(
        &mut self,
        env: &mut Env<'_>,
        index: usize,
        mut response: Response,
        log: Option<Captured>,
        started: Instant,
        request_open: bool,
    ) {
        if let Some(hsts) = &self.peer.hsts {
            response
                .fields
                .push("Strict-Transport-Security", Text::Shared(hsts.clone()));
        }
        let body = match std::mem::take(&mut response.body) {
            Body::Empty => None,
            Body::Bytes(bytes) => Some(FileBody::bytes(bytes)).filter(|b| b.remaining() > 0),
            Body::File(file) => Some(file).filter(|b| b.remaining() > 0),
        };
        env.turn.responses += 1;
        let (time, date) = env.svc.now(env.now);
        let id = self.streams[index].id;
        stream::write_head(
            &mut self.out,
            &mut self.encoder,
            &mut self.head_table,
            id,
            &response,
            &date,
            body.is_none(),
            self.theirs.max_frame_size,
        );
        let sending = Sending {
            body,
            body_sent: 0,
            meta: ResponseMeta {
                status: response.status.as_u16(),
                resource: response.resource,
                user: response.user,
                started,
                time,
                log,
            },
            last_sent: env.now,
            request_open,
        };
        self.streams[index].phase = Phase::Sending(sending);
        if self.streams[index].holds_file() {
            self.files += 1;
        }
        if !self.streams[index].can_send() && !self.streams[index].blocked_on_window() {
            self.finish(env, index);
        }
    }

    /// Writes DATA for the streams that have body to send and window to send it, a frame each
    /// in turn, until output reaches its target, the windows close or the turn is spent.
    pub(super) fn produce(&mut self, env: &mut Env<'_>) -> Produced {
        self.answer_waiting(env);
        let mut any = false;
        let mut target = OUTPUT_TARGET;
        while self.send_window > 0 && self.pending_output() < target && !env.turn.spent() {
            let count = self.streams.len();
            let Some(offset) =
                (0..count).find(|i| self.streams[(self.next + i) % count].can_send())
            else {
                break;
            };
            let index = (self.next + offset) % count;
            self.next = index + 1;
            any = true;
            if self.data_frame(env, index) {
                target = OUTPUT_TARGET_BULK;
            }
        }
        // Stopped by the output's target alone: another pass will bring more DATA.
        let more = any
            && self.pending_output() >= target
            && self.send_window > 0
            && !env.turn.spent()
            && self.streams.iter().any(Stream::can_send);
        Produced { any, more }
    }

    /// One DATA frame for stream `index`, as large as its window, the connection's window, the
    /// client's frame size and [`DATA_CHUNK`] allow; the last one ends the stream. Returns
    /// whether the body had more than [`OUTPUT_TARGET_BULK`] left before it.
    fn data_frame(&mut self, env: &mut Env<'_>, index: usize) -> bool {
        let most = self.theirs.max_frame_size.min(DATA_CHUNK);
        let held = self.streams[index].holds_file();
        let bulk = self.streams[index].body_left() > OUTPUT_TARGET_BULK as u64;
        let written = write_data(
            &mut self.out,
            &mut self.streams[index],
            self.send_window,
            most,
            env.now,
        );
        match written {
            Ok((n, done)) => {
                self.last_data = env.now;
                self.send_window -= n as i64;
                env.turn.bytes += n as u64;
                if done {
                    // The body, and its file, went with its last frame.
                    if held {
                        self.files = self.files.saturating_sub(1);
                    }
                    self.finish(env, index);
                }
            }
            Err(id) => self.reset(id, ErrorCode::InternalError),
        }
        bulk
    }

    /// Stream `index`'s response is all out: logged and counted; if the client was still
    /// sending a body, it is asked to stop (RFC 9113 §8.1).
    fn finish(&mut self, env: &mut Env<'_>, index: usize) {
        let Some(stream) = self.remove_stream(index) else {
            return;
        };
        let mut how = Closed::Ended;
        if let Phase::Sending(sending) = &stream.phase {
            env.svc
                .record(&sending.record(self.client, self.peer.tls), env.now);
            if sending.request_open {
                self.rst(stream.id, ErrorCode::NoError);
                how = Closed::ByServer;
            }
        }
        self.closed(stream.id, how);
        self.served += 1;
        if self.streams.is_empty() {
            self.idle_since = env.now;
        }
    }
}

/// A decoded head's size as RFC 9113 §6.5.2 reckons a header list: name + value + 32 per field.
pub(super) fn list_size(head: &hpack::Fields) -> usize {
    head.iter()
        .map(|(name, value)| name.len() + value.len() + hpack::ENTRY_OVERHEAD)
        .sum()
}

/// Appends one DATA frame of `stream`'s body to `out`, at `now`: as many bytes as its window,
/// `conn_window` and `most` allow. Returns the bytes and whether the body is done; `Err` with
/// the stream's id when the body cannot be read (the file shrank since its length was sent:
/// the response cannot be completed).
fn write_data(
    out: &mut Vec<u8>,
    stream: &mut Stream,
    conn_window: i64,
    most: u32,
    now: Instant,
) -> Result<(usize, bool), u32> {
    let id = stream.id;
    let room = stream.send_window.min(conn_window).min(i64::from(most));
    let Phase::Sending(sending) = &mut stream.phase else {
        return Ok((0, false));
    };
    let Some(body) = &mut sending.body else {
        return Ok((0, true));
    };
    let header_at = out.len();
    frame::write_data_header(out, id, 0, false);
    let n = match body.peek_chunk(out, usize::try_from(room).unwrap_or(0)) {
        Ok(n) if n > 0 => n,
        _ => {
            out.truncate(header_at);
            return Err(id);
        }
    };
    // Queued whole in the connection's output, so it counts as sent.
    body.advance(n);
    let done = body.remaining() == 0;
    // Now that the length is known, the header is written over its placeholder.
    let header = frame::data_header(id, n as u32, done);
    if let Some(placeholder) = out.get_mut(header_at..header_at + header.len()) {
        placeholder.copy_from_slice(&header);
    }
    stream.send_window -= n as i64;
    sending.body_sent += n as u64;
    sending.last_sent = now;
    if done {
        sending.body = None;
    }
    Ok((n, done))
}
