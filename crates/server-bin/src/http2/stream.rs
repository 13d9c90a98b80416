//! One HTTP/2 stream as the server keeps it: its request while it arrives, then its response
//! while it goes out, within the stream's flow-control window; and the encoding of a response
//! head into HPACK (the neutral response's fields, lowercased, without any field that belongs to
//! a connection, RFC 9113 §8.2.2), with `date`, `server` and `content-length` added here as the
//! HTTP/1.1 codec adds them in its own form.
//!
//! A head whose encoding added nothing to the connection's table (every field an index or a
//! literal not indexed: the same file fetched again) is kept whole, per worker thread, with the
//! state of that table ([`HeadTable`]): the same head on the same connection, the table
//! unchanged since, is sent as the same octets without being encoded again.
//!
//! It must not read from or write to the socket, nor decide responses.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http_core::SERVER;
use http_core::date::HttpDate;
use http_core::h2::frame;
use http_core::h2::hpack::{Encoder, Fields as Decoded};

use super::request;
use crate::exchange::Response;
use crate::files::body::FileBody;
use crate::service::{Record, ResponseMeta};

/// Heads [`Heads`] keeps per worker thread, one per slot, a connection's in slot `id % HEAD_SLOTS`.
const HEAD_SLOTS: usize = 64;

/// A head's key (its status and fields) and its encoding, at most, for [`Heads`] to keep it.
const HEAD_MAX: usize = 512;

thread_local! {
    /// Each worker's encoded heads and fields, kept to be sent again (see the module doc), and
    /// the buffers a head is encoded in (a connection keeps none of them).
    static HEADS: RefCell<Heads> = RefCell::new(Heads::default());
}

/// Where connections' identities come from: unique in the process, so that a head kept for one
/// can never be taken for another's, whichever thread drives them.
static NEXT_CONNECTION: AtomicU64 = AtomicU64::new(0);

/// What a connection's encoder has done to its dynamic table, as far as [`write_head`] knows:
/// a head encoded without adding to the table (every field found there, or a literal not
/// indexed) leaves it as it was, so the same head encodes to the same octets again as long as
/// nothing has been added since.
#[derive(Debug)]
pub struct HeadTable {
    /// The connection, unique in the process.
    id: u64,
    /// Changes made to the table (entries added, its size changed).
    generation: u64,
}

impl HeadTable {
    /// A new connection's.
    pub fn new() -> Self {
        Self {
            id: NEXT_CONNECTION.fetch_add(1, Ordering::Relaxed),
            generation: 0,
        }
    }
}

/// A worker's heads and fields encoded once, to be sent again as they are.
#[derive(Debug, Default)]
struct Heads {
    /// The head being encoded, and what identifies it.
    block: Vec<u8>,
    key: Vec<u8>,
    /// The last head that left its connection's table as it was, per slot.
    kept: Vec<KeptHead>,
}

/// A head encoded for connection `id` when its table was at `generation`.
#[derive(Debug, Default)]
struct KeptHead {
    id: u64,
    generation: u64,
    key: Vec<u8>,
    block: Vec<u8>,
}

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
    Sending(Sending),
}

/// A response on its way out.
#[derive(Debug)]
pub struct Sending {
    /// The body still to go (`None` once it is all out, or for a response without one).
    pub body: Option<FileBody>,
    /// Body bytes sent.
    pub body_sent: u64,
    /// What the log and the counters keep of it.
    pub meta: ResponseMeta,
    /// When its head or its last DATA frame went out: the send timeout runs from then while
    /// its own window is shut.
    pub last_sent: Instant,
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
        self.meta.record(peer, tls, self.body_sent)
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
    /// Whether its response holds an open file (a body read from its descriptor).
    pub fn holds_file(&self) -> bool {
        match &self.phase {
            Phase::Sending(s) => s.body.as_ref().is_some_and(FileBody::holds_file),
            Phase::Receiving { .. } => false,
        }
    }

    /// The body bytes its response has still to send.
    pub fn body_left(&self) -> u64 {
        match &self.phase {
            Phase::Sending(s) => s.body.as_ref().map_or(0, FileBody::remaining),
            Phase::Receiving { .. } => 0,
        }
    }

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
/// ending the stream when the response has no body to send.
#[allow(
    clippy::too_many_arguments,
    reason = "each is one fact of the head being encoded"
)]
pub fn write_head(
    out: &mut Vec<u8>,
    encoder: &mut Encoder,
    table: &mut HeadTable,
    stream: u32,
    response: &Response,
    date: &HttpDate,
    end_stream: bool,
    max_frame_size: u32,
) {
    HEADS.with_borrow_mut(|heads| {
        let Heads { block, key, kept } = heads;
        block.clear();
        encoder.begin_block(block);
        if !block.is_empty() {
            table.generation += 1; // a size update: the table may have lost entries
        }
        if kept.is_empty() {
            kept.resize_with(HEAD_SLOTS, KeptHead::default);
        }
        let index = table.id as usize % HEAD_SLOTS;
        if block.is_empty()
            && let Some(slot) = kept.get(index)
            && (slot.id, slot.generation) == (table.id, table.generation)
            && same_key(&slot.key, response, date)
        {
            frame::write_headers(out, stream, &slot.block, end_stream, max_frame_size);
            return;
        }
        head_key(key, response, date);
        let slot = kept.get_mut(index).filter(|_| key.len() <= HEAD_MAX);
        let before = block.len();
        encode_head(block, encoder, response, date);
        if added_to_table(block.get(before..).unwrap_or_default()) {
            table.generation += 1;
        } else if let Some(slot) = slot.filter(|_| block.len() <= HEAD_MAX) {
            (slot.id, slot.generation) = (table.id, table.generation);
            slot.key.clone_from(key);
            slot.block.clone_from(block);
        }
        frame::write_headers(out, stream, block, end_stream, max_frame_size);
    });
}

/// Whether `stored` is what [`head_key`] makes of `response` at `date`, compared where the
/// response has its fields: a head sent again copies none of them (building the key to compare
/// was ~20 small copies a response).
fn same_key(stored: &[u8], response: &Response, date: &HttpDate) -> bool {
    let mut rest = stored;
    let mut take = |part: &[u8]| match rest.strip_prefix(part) {
        Some(after) => {
            rest = after;
            true
        }
        None => false,
    };
    let length = response.content_length.map_or([0xFF; 8], u64::to_be_bytes);
    take(&response.status.as_u16().to_be_bytes())
        && response.fields.iter().all(|field| {
            take(field.name.as_str().as_bytes())
                && take(&[0])
                && take(field.value.as_bytes())
                && take(&[0])
        })
        && take(&length)
        && take(date.as_bytes())
        && rest.is_empty()
}

/// What identifies a head's encoding, given the table: its status and fields as the response
/// has them, `content-length` and the date.
fn head_key(key: &mut Vec<u8>, response: &Response, date: &HttpDate) {
    key.clear();
    key.extend_from_slice(&response.status.as_u16().to_be_bytes());
    for field in response.fields.iter() {
        // Neither a name nor a value holds NUL (the exchange's rule for a field).
        key.extend_from_slice(field.name.as_str().as_bytes());
        key.push(0);
        key.extend_from_slice(field.value.as_bytes());
        key.push(0);
    }
    let length = response.content_length.map_or([0xFF; 8], u64::to_be_bytes);
    key.extend_from_slice(&length);
    key.extend_from_slice(date.as_bytes());
}

/// Whether any representation in `fields` (field representations, RFC 7541 §6, as
/// [`encode_head`] writes them) adds to the table: a literal with incremental indexing
/// (`01xxxxxx`, §6.2.1). The others are an index (`1xxxxxxx`) or a literal not indexed
/// (`000xxxxx`); walking them needs their lengths, so each is told by its first octet only as
/// long as the walk can follow them.
fn added_to_table(fields: &[u8]) -> bool {
    let mut at = 0;
    while let Some(&first) = fields.get(at) {
        let (prefix, literal) = match first {
            f if f & 0x80 != 0 => (0x7F, false),
            f if f & 0xC0 == 0x40 => return true,
            f if f & 0xE0 == 0x20 => return true, // a size update (not written here)
            _ => (0x0F, true),
        };
        let Some((index, next)) = integer(fields, at, prefix) else {
            return true; // cannot be followed: taken as a change
        };
        at = next;
        if literal {
            if index == 0 {
                let Some(after_name) = string_end(fields, at) else {
                    return true;
                };
                at = after_name;
            }
            let Some(after_value) = string_end(fields, at) else {
                return true;
            };
            at = after_value;
        }
    }
    false
}

/// The integer (RFC 7541 §5.1) whose prefix is the low bits `mask` of the octet at `at`, and
/// where what follows it starts.
fn integer(bytes: &[u8], at: usize, mask: u8) -> Option<(usize, usize)> {
    let mut value = usize::from(bytes.get(at)? & mask);
    let mut at = at + 1;
    if value < usize::from(mask) {
        return Some((value, at));
    }
    for shift in (0..28).step_by(7) {
        let octet = *bytes.get(at)?;
        at += 1;
        value += usize::from(octet & 0x7F) << shift;
        if octet & 0x80 == 0 {
            return Some((value, at));
        }
    }
    None
}

/// Where the string literal (RFC 7541 §5.2) at `at` ends.
fn string_end(bytes: &[u8], at: usize) -> Option<usize> {
    let (len, start) = integer(bytes, at, 0x7F)?;
    let end = start.checked_add(len)?;
    (end <= bytes.len()).then_some(end)
}

/// Appends `response`'s fields, and `date` and `server`, to `block`, as the encoder's policy
/// says.
fn encode_head(block: &mut Vec<u8>, encoder: &mut Encoder, response: &Response, date: &HttpDate) {
    encoder.status(block, response.status.as_u16());
    let mut name = [0u8; NAME_MAX];
    for field in response.fields.iter() {
        let Some(lower) = lowercase(field.name.as_str(), &mut name) else {
            // Longer than any name the exchange or a site rule writes: lowered the slow way.
            let lower = field.name.as_str().to_ascii_lowercase();
            encoder.field(block, lower.as_bytes(), field.value.as_bytes());
            continue;
        };
        let value = field.value.as_bytes();
        // Whatever put them there (a site rule may), HTTP/2 never carries these.
        if request::is_connection_specific(lower) {
            continue;
        } else {
            encoder.field(block, lower, value);
        }
    }
    if let Some(len) = response.content_length {
        let mut digits = [0u8; 20];
        encoder.field(block, b"content-length", decimal(len, &mut digits));
    }
    encoder.field(block, b"date", date.as_bytes());
    encoder.field(block, b"server", SERVER.as_bytes());
}

/// The longest field name lowercased on the stack.
const NAME_MAX: usize = 64;

/// `name` in lowercase, in `buf`; `None` if it is longer than [`NAME_MAX`].
fn lowercase<'b>(name: &str, buf: &'b mut [u8; NAME_MAX]) -> Option<&'b [u8]> {
    let lower = buf.get_mut(..name.len())?;
    lower.copy_from_slice(name.as_bytes());
    lower.make_ascii_lowercase();
    Some(lower)
}

/// `n` in decimal, in `buf`.
fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut start = buf.len();
    for slot in buf.iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        start -= 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.get(start..).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use http_core::h2::frame::Frame;
    use http_core::h2::hpack::{self, Decoder};
    use http_core::{Status, StatusCode};

    use super::*;

    fn decoded(decoder: &mut Decoder, block: &[u8]) -> Vec<(String, String)> {
        let mut fields = hpack::Fields::default();
        decoder.decode(block, 1 << 16, 100, &mut fields).unwrap();
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        fields.iter().map(|(n, v)| (text(n), text(v))).collect()
    }

    /// A response of `status` with the fields `(name, value)`.
    fn response(status: StatusCode, fields: &[(&'static str, String)], len: u64) -> Response {
        let mut all = crate::exchange::response::Fields::new();
        for (name, value) in fields {
            all.push(*name, value.clone());
        }
        Response {
            status,
            fields: all,
            content_length: Some(len),
            body: Default::default(),
            resource: None,
            user: None,
        }
    }

    /// The frames' header block, decoded.
    fn head_of(decoder: &mut Decoder, frames: &[u8]) -> Vec<(String, String)> {
        let Ok(Status::Complete((Frame::Headers { block, .. }, _))) =
            frame::parse(frames, frame::MAX_MAX_FRAME_SIZE)
        else {
            panic!("not one HEADERS frame: {frames:?}");
        };
        decoded(decoder, block)
    }

    #[test]
    fn heads_encoded_again_decode_right_on_every_connection_whatever_the_tables_did() {
        // Two connections on one worker, each with its encoder, its client's decoder and its
        // table's record; heads that repeat, heads that add to the table, a table resized.
        let mut conns: Vec<_> = (0..2)
            .map(|_| {
                (
                    Encoder::new(hpack::DEFAULT_TABLE_SIZE),
                    Decoder::new(hpack::DEFAULT_TABLE_SIZE),
                    HeadTable::new(),
                )
            })
            .collect();
        let date = HttpDate::from_unix(1_800_000_000);
        let mut hits = 0;
        for step in 0..400usize {
            let (encoder, decoder, table) = &mut conns[step % 2];
            if step % 97 == 50 {
                // The client's SETTINGS shrink the table, then let it grow again.
                encoder.set_max_table_size(if step % 2 == 0 { 256 } else { 4096 });
            }
            let file = (step / 7) % 5; // a few files, each fetched several times in a row
            let status = if file == 4 {
                StatusCode::NOT_FOUND
            } else {
                StatusCode::OK
            };
            let mut fields = vec![
                ("Content-Type", format!("text/x-{file}")),
                (
                    "ETag",
                    format!("\"{file:x}-{step_tag}\"", step_tag = step / 50),
                ),
                ("Cache-Control", "no-cache".to_owned()),
            ];
            if step % 11 == 0 {
                fields.push(("X-Once", format!("value {step}"))); // added to the table
            }
            let response = response(status, &fields, 100 + file as u64);
            let mut out = Vec::new();
            let generation = table.generation;
            write_head(&mut out, encoder, table, 1, &response, &date, false, 16_384);
            hits += usize::from(generation == table.generation && step > 10);
            let mut expected = vec![(":status".to_owned(), status.as_u16().to_string())];
            for (name, value) in &fields {
                expected.push((name.to_ascii_lowercase(), value.clone()));
            }
            expected.push(("content-length".to_owned(), (100 + file).to_string()));
            expected.push(("date".to_owned(), date.as_str().to_owned()));
            expected.push(("server".to_owned(), SERVER.to_owned()));
            assert_eq!(head_of(decoder, &out), expected, "step {step}");
        }
        assert!(
            hits > 200,
            "most heads leave their table as it was ({hits})"
        );
    }

    #[test]
    fn a_kept_key_matches_only_the_head_it_was_made_of() {
        let date = HttpDate::from_unix(1_800_000_000);
        let one = |value: &str| vec![("ETag", value.to_owned()), ("Vary", "x".to_owned())];
        let head = response(StatusCode::OK, &one("\"a\""), 5);
        let mut key = Vec::new();
        head_key(&mut key, &head, &date);
        assert!(same_key(&key, &head, &date));
        let others = [
            response(StatusCode::OK, &one("\"b\""), 5),
            response(StatusCode::OK, &one("\"a\""), 6),
            response(StatusCode::NOT_FOUND, &one("\"a\""), 5),
            response(StatusCode::OK, &one("\"a\"")[..1], 5),
            response(StatusCode::OK, &[one("\"a\""), one("\"a\"")].concat(), 5),
        ];
        for other in &others {
            assert!(!same_key(&key, other, &date), "{other:?}");
        }
        assert!(!same_key(&key, &head, &HttpDate::from_unix(1_800_000_001)));
        assert!(!same_key(&key[..key.len() - 1], &head, &date));
    }

    #[test]
    fn representations_that_add_to_the_table_are_told_from_the_others() {
        let mut encoder = Encoder::new(hpack::DEFAULT_TABLE_SIZE);
        let mut block = Vec::new();
        encoder.status(&mut block, 200); // indexed
        encoder.field(&mut block, b"content-length", b"1024"); // not indexed
        encoder.field(&mut block, b"x-new-name", b"v"); // a literal name, not a static one
        assert!(added_to_table(&block));
        let mut again = Vec::new();
        encoder.status(&mut again, 200);
        encoder.field(&mut again, b"content-length", b"1024");
        encoder.field(&mut again, b"x-new-name", b"v"); // now an index
        assert!(!added_to_table(&again));
        // Cut short (a literal name whose string is missing): cannot be followed, so taken as
        // a change.
        assert!(added_to_table(&[0x00, 0x85]));
        assert!(!added_to_table(&[]));
    }

    #[test]
    fn decimal_and_lowercase_write_on_the_stack() {
        let mut digits = [0u8; 20];
        assert_eq!(decimal(0, &mut digits), b"0");
        assert_eq!(decimal(1024, &mut digits), b"1024");
        assert_eq!(
            decimal(u64::MAX, &mut digits),
            u64::MAX.to_string().as_bytes()
        );
        let mut name = [0u8; NAME_MAX];
        assert_eq!(
            lowercase("Content-Type", &mut name),
            Some(&b"content-type"[..])
        );
        assert_eq!(lowercase(&"X".repeat(NAME_MAX + 1), &mut name), None);
    }
}
