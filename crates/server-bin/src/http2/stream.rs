//! One HTTP/2 stream as the server keeps it: its request while it arrives, then its response
//! while it goes out, within the stream's flow-control window; and the encoding of a response
//! head into HPACK (the neutral response's fields, lowercased, without any field that belongs to
//! a connection, RFC 9113 §8.2.2), with `date`, `server` and `content-length` added here as the
//! HTTP/1.1 codec adds them in its own form.
//!
//! It must not read from or write to the socket, nor decide responses.

use std::time::{Duration, Instant};

use http_core::SERVER;
use http_core::date::HttpDate;
use http_core::h2::frame;
use http_core::h2::hpack::{Encoder, Fields as Decoded};

use crate::access_log::Captured;
use crate::exchange::Response;
use crate::files::body::FileBody;
use crate::service::Record;

/// Response fields HTTP/2 must never carry (RFC 9113 §8.2.2), whatever put them there (a site
/// rule may).
const CONNECTION_SPECIFIC: [&str; 5] = [
    "connection",
    "proxy-connection",
    "keep-alive",
    "transfer-encoding",
    "upgrade",
];

/// Where a stream is in its life (RFC 9113 §5.1), as far as the server needs to tell.
#[derive(Debug)]
pub enum Phase {
    /// The request's head has arrived, its body (which is read and dropped) has not ended.
    Receiving {
        /// The decoded request, kept until the body ends.
        head: Decoded,
        /// When its first byte arrived.
        started: Instant,
    },
    /// The response is going out; the request is complete (or was answered early).
    Sending(Box<Sending>),
}

/// A response on its way out.
#[derive(Debug)]
pub struct Sending {
    /// The body still to go (`None` once it is all out, or for a response without one).
    pub body: Option<FileBody>,
    /// Body bytes sent.
    pub body_sent: u64,
    /// The status sent.
    pub status: u16,
    /// What the per-resource counters count.
    pub resource: Option<String>,
    /// The user a protected path let in.
    pub user: Option<String>,
    /// When the request's first byte arrived, and the wall-clock second, for the log.
    pub started: Instant,
    /// See `started`.
    pub time: u64,
    /// When its head or its last DATA frame went out: the send timeout runs from then while
    /// its own window is shut.
    pub last_sent: Instant,
    /// What the log prints of the request.
    pub log: Option<Captured>,
    /// The request's own body has not ended: once the response is out, the server asks the
    /// client to stop sending it (RST_STREAM `NO_ERROR`, RFC 9113 §8.1).
    pub request_open: bool,
}

impl Sending {
    /// What the log and the counters need, for a response done or cut short.
    pub fn record<'a>(
        &'a self,
        peer: Option<std::net::IpAddr>,
        tls: Option<&'static str>,
    ) -> Record<'a> {
        Record {
            peer,
            tls,
            status: self.status,
            resource: self.resource.as_deref(),
            body_sent: self.body_sent,
            started: self.started,
            time: self.time,
            log: self.log.as_ref(),
            user: self.user.as_deref(),
        }
    }
}

/// One stream.
#[derive(Debug)]
pub struct Stream {
    /// Its identifier.
    pub id: u32,
    /// Where it is.
    pub phase: Phase,
    /// What the client may still receive on it (RFC 9113 §6.9); may go negative when the
    /// client lowers its initial window.
    pub send_window: i64,
    /// The client has ended its side (END_STREAM): a frame on it after that is an error.
    pub remote_closed: bool,
    /// Body bytes received, and what `content-length` said (RFC 9113 §8.1.1).
    pub received: u64,
    /// See `received`.
    pub content_length: Option<u64>,
}

impl Stream {
    /// Whether it has body bytes to send that its window allows now.
    pub fn can_send(&self) -> bool {
        self.send_window > 0 && matches!(&self.phase, Phase::Sending(s) if s.body.is_some())
    }

    /// Whether it waits for window to send more.
    pub fn blocked_on_window(&self) -> bool {
        self.send_window <= 0 && matches!(&self.phase, Phase::Sending(s) if s.body.is_some())
    }

    /// When it has waited too long for the client: a request still arriving `header` after
    /// it began, a response its own window has held back for `send`. `None` while it waits
    /// for nothing the client owes (or for the server).
    pub fn deadline(&self, header: Duration, send: Duration) -> Option<Instant> {
        match &self.phase {
            Phase::Receiving { started, .. } if !self.remote_closed => Some(*started + header),
            Phase::Sending(s) if self.blocked_on_window() => Some(s.last_sent + send),
            _ => None,
        }
    }
}

/// Appends the HEADERS (and CONTINUATION) frames of `response`'s head to `out`, for `stream`,
/// ending the stream when the response has no body to send. `block` is a scratch buffer.
#[allow(
    clippy::too_many_arguments,
    reason = "each is one fact of the head being encoded"
)]
pub fn write_head(
    out: &mut Vec<u8>,
    block: &mut Vec<u8>,
    encoder: &mut Encoder,
    stream: u32,
    response: &Response,
    date: &HttpDate,
    end_stream: bool,
    max_frame_size: u32,
) {
    block.clear();
    encoder.begin_block(block);
    encoder.status(block, response.status.as_u16());
    let mut lower = String::new();
    for field in response.fields.iter() {
        lower.clear();
        lower.push_str(field.name.as_str());
        lower.make_ascii_lowercase();
        if CONNECTION_SPECIFIC.contains(&lower.as_str()) {
            continue;
        }
        encoder.field(block, lower.as_bytes(), field.value.as_str().as_bytes());
    }
    if let Some(len) = response.content_length {
        let mut digits = itoa(len);
        encoder.field(block, b"content-length", digits.as_bytes());
        digits.clear();
    }
    encoder.field(block, b"date", date.as_str().as_bytes());
    encoder.field(block, b"server", SERVER.as_bytes());
    frame::write_headers(out, stream, block, end_stream, max_frame_size);
}

/// `n` in decimal.
fn itoa(n: u64) -> String {
    n.to_string()
}
