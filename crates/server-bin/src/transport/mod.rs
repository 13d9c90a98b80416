//! The transport: how a connection's bytes cross the socket, plain TCP or a TLS session, behind
//! one type, [`Transport`], so that the codecs above never ask which.
//!
//! A transport is **handshaking**, then **open**, then **closing**:
//! - **Handshaking** (TLS only; plain TCP starts open): [`Transport::handshake`] reads the
//!   client's flights and sends the server's as the socket allows. It ends as
//!   [`Handshake::Done`], after which [`Transport::alpn`] names the protocol the client and the
//!   server agreed on (the connection picks its codec by it); as [`Handshake::PlainHttp`] when
//!   the first byte is not a TLS record (the connection then answers, in plain HTTP, a `400`
//!   naming HTTPS, and closes); as [`Handshake::Failed`] with the reason (no common version or
//!   cipher, no common ALPN protocol, an alert from the client, malformed bytes: rustls has
//!   queued the alert that says why, and the connection closes); or as [`Handshake::Closed`].
//!   How long a handshake may take is the connection's to decide: it is timed as a request
//!   head is, from its first byte ([`Transport::has_received`]), and counted as a `timeout`
//!   failure when it runs out.
//! - **Open**: [`Transport::read`] appends what arrives to a [`ReadBuf`]; [`Transport::write`]
//!   sends bytes (several parts in one call); [`Transport::write_body`] sends a response body,
//!   by `sendfile` from the page cache on plain TCP and in [`TLS_CHUNK`] pieces read from the
//!   file into rustls on TLS, whose send buffer is bounded, so a client that stops reading
//!   holds at most that much; [`Transport::flush`] moves what TLS has encrypted to the socket.
//! - **Closing**: [`Transport::shutdown`] sends TLS's `close_notify`, then the FIN (which also
//!   carries a last segment held back with `MSG_MORE`); [`Transport::discard`] then reads and
//!   drops what the client still sends, so that it reads the last response before it could
//!   see a reset.
//!
//! Every call returns at once (`WouldBlock` when the socket cannot go on). The system calls are
//! in [`socket`], behind a trait, so the layers above are tested over memory; [`sys`] is the one
//! audited module for a call no safe wrapper offers. This module must not parse HTTP, decide
//! responses or keep deadlines.

pub mod socket;
pub mod sys;
pub mod tls;

use std::io::{self, IoSlice};

use pool::would_block;

use self::socket::{READ_CHUNK, Socket};
pub use self::tls::session::Handshake;
use self::tls::session::Session;
use crate::files::body::{FileBody, Next};

/// Body bytes read from a file per step on a TLS connection: one full TLS record.
pub const TLS_CHUNK: usize = 16 * 1024;

/// Largest single `sendfile` call; how much one connection may send per turn is the caller's
/// allowance.
const SENDFILE_CHUNK: usize = 1 << 20;

/// Most parts one plain write gathers (the codecs pass one or two).
const MAX_PARTS: usize = 4;

/// What a call to [`Transport::write_body`] achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// Everything has been sent.
    Done,
    /// The socket cannot take more now.
    Blocked,
    /// The allowance for this call is used up; the socket may take more.
    Paused,
}

/// What one read brought.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Got {
    /// Bytes appended; 0 when the client has closed.
    pub bytes: usize,
    /// A plain read returned less than it asked for, so the socket had nothing more then.
    pub short: bool,
}

/// Whether the socket had nothing more at the last read, as both codecs track it. Under
/// edge-triggered polling, bytes arriving later raise a new event, so until one comes the read
/// that would only answer `WouldBlock` is skipped (as nginx does): a syscall less per turn. Once
/// the poller has said the client shut its side, its end of stream can be queued right behind
/// the bytes of a short read and no new event would announce it, so a short read is never
/// taken for a drained socket then.
#[derive(Debug, Default, Clone, Copy)]
pub struct Drain {
    drained: bool,
    peer_shut: bool,
}

impl Drain {
    /// An event came (`peer_shut`: the poller says the client shut its side): something may
    /// have arrived since the socket was last found empty.
    pub fn on_event(&mut self, peer_shut: bool) {
        self.drained = false;
        self.peer_shut |= peer_shut;
    }

    /// A read brought `got`.
    pub fn on_read(&mut self, got: Got) {
        self.drained = got.short && !self.peer_shut;
    }

    /// A read found nothing (`WouldBlock`).
    pub fn on_empty(&mut self) {
        self.drained = true;
    }

    /// Whether the socket had nothing more at the last read and no event came since.
    pub fn is_drained(&self) -> bool {
        self.drained
    }
}

/// Received bytes not yet consumed. `buf[..len]` holds them; on plain TCP the rest is
/// initialised room to read into, kept initialised across reuses (buffers go back to the
/// worker with their length), which spares zeroing it before every read: that cost a quarter
/// of all instructions per small request.
#[derive(Debug, Default)]
pub struct ReadBuf {
    buf: Vec<u8>,
    len: usize,
}

impl ReadBuf {
    /// The bytes received and not consumed.
    pub fn bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }

    /// How many bytes wait.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no byte waits.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether it holds a buffer (an idle connection gives its buffer back).
    pub fn has_buffer(&self) -> bool {
        self.buf.capacity() > 0
    }

    /// Drops the first `n` bytes.
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.len);
        self.buf.copy_within(n..self.len, 0);
        self.len -= n;
    }

    /// Takes the buffer away (to give it back to the worker), leaving nothing.
    pub fn take(&mut self) -> Vec<u8> {
        self.len = 0;
        std::mem::take(&mut self.buf)
    }

    /// Gives it a spare buffer to read into; what the buffer holds is not data.
    pub fn give(&mut self, spare: Vec<u8>) {
        if self.buf.capacity() == 0 {
            self.buf = spare;
            self.len = 0;
        }
    }

    /// Appends `bytes` (what a transport read before the connection knew what it was).
    pub fn append(&mut self, bytes: &[u8]) {
        self.buf.truncate(self.len);
        self.buf.extend_from_slice(bytes);
        self.len = self.buf.len();
    }
}

/// A connection's transport: plain TCP, or a TLS session (boxed, so that a plain connection
/// stays small).
#[derive(Debug)]
pub struct Transport {
    tls: Option<Box<TlsState>>,
}

/// A TLS session and the body bytes read from a file that rustls has not taken in full yet.
#[derive(Debug)]
struct TlsState {
    session: Session,
    chunk: Vec<u8>,
    chunk_taken: usize,
}

impl Transport {
    /// Plain TCP: open from the start.
    pub fn plain() -> Self {
        Self { tls: None }
    }

    /// The plaintext one record carries, over TLS: what a writer that has more to say soon
    /// should write a multiple of, so that every record but its last is full (a client reads
    /// each record by itself, often with two `read` calls). `None` on plain TCP.
    pub fn record_size(&self) -> Option<usize> {
        self.tls.as_ref().map(|_| tls::session::RECORD_PLAINTEXT)
    }

    /// A TLS session, handshaking.
    pub fn tls(session: Session) -> Self {
        Self {
            tls: Some(Box::new(TlsState {
                session,
                chunk: Vec::new(),
                chunk_taken: 0,
            })),
        }
    }

    /// Whether any of the handshake has arrived (its time limit runs from then).
    pub fn has_received(&self) -> bool {
        self.tls.as_ref().is_some_and(|t| t.session.has_received())
    }

    /// The TLS version agreed on (`TLSv1.3`), for the log.
    pub fn version(&self) -> Option<&'static str> {
        self.tls.as_ref().and_then(|t| t.session.version())
    }

    /// The ALPN protocol agreed on; `None` on plain TCP or when the client offered none.
    pub fn alpn(&self) -> Option<&[u8]> {
        self.tls.as_ref().and_then(|t| t.session.alpn())
    }

    /// Drives the TLS handshake as far as the socket allows; plain TCP is always done.
    pub fn handshake(&mut self, s: &mut impl Socket) -> Handshake {
        match &mut self.tls {
            Some(tls) if tls.session.is_handshaking() => tls.session.handshake(s),
            _ => Handshake::Done,
        }
    }

    /// Appends what arrives to `buf`.
    ///
    /// # Errors
    ///
    /// `WouldBlock` when nothing waits; socket errors; `InvalidData` when TLS fails.
    pub fn read(&mut self, s: &mut impl Socket, buf: &mut ReadBuf) -> io::Result<Got> {
        if let Some(tls) = &mut self.tls {
            // rustls appends plaintext to a `Vec`: the room past the bytes is not used here.
            buf.buf.truncate(buf.len);
            let result = tls.session.read(s, &mut buf.buf);
            buf.len = buf.buf.len();
            return result.map(|bytes| Got {
                bytes,
                short: false,
            });
        }
        let start = buf.len;
        if buf.buf.len() < start + READ_CHUNK {
            // Zeroed once per buffer growth, not once per read.
            buf.buf.resize(start + READ_CHUNK, 0);
        }
        let room = buf
            .buf
            .get_mut(start..start + READ_CHUNK)
            .unwrap_or_default();
        let n = s.recv(room)?;
        buf.len = start + n;
        Ok(Got {
            bytes: n,
            short: n < READ_CHUNK,
        })
    }

    /// Sends `parts` in order, as far as the socket takes them, and returns how many bytes
    /// went. With `more`, plain TCP may hold the last segment back for the bytes that follow at
    /// once (a body by `sendfile`, or the FIN).
    ///
    /// # Errors
    ///
    /// `WouldBlock` when the socket takes nothing; socket errors.
    pub fn write(&mut self, s: &mut impl Socket, parts: &[&[u8]], more: bool) -> io::Result<usize> {
        let Some(tls) = &mut self.tls else {
            // On the stack: a vector of them cost an allocation a response. Parts past the
            // last slot wait for the next call, as a short write's rest does.
            let mut slices = [IoSlice::new(&[]); MAX_PARTS];
            let mut count = 0;
            for (slot, part) in slices
                .iter_mut()
                .zip(parts.iter().filter(|p| !p.is_empty()))
            {
                *slot = IoSlice::new(part);
                count += 1;
            }
            return s.send(slices.get(..count).unwrap_or_default(), more);
        };
        let mut total = 0;
        for part in parts {
            let mut done = 0;
            while done < part.len() {
                match tls.session.write(s, part.get(done..).unwrap_or_default()) {
                    Ok(n) => done += n,
                    Err(e) if would_block(&e) && total + done > 0 => return Ok(total + done),
                    Err(e) => return Err(e),
                }
            }
            total += done;
        }
        Ok(total)
    }

    /// Sends `body` until it is done, the socket would block, or `allowance` bytes have gone,
    /// adding the bytes sent to `sent`.
    ///
    /// # Errors
    ///
    /// Socket errors, and `UnexpectedEof` if the file has shrunk: the promised length can no
    /// longer be met, so the caller must close the connection.
    pub fn write_body(
        &mut self,
        s: &mut impl Socket,
        body: &mut FileBody,
        allowance: u64,
        sent: &mut u64,
    ) -> io::Result<Sent> {
        match &mut self.tls {
            Some(tls) => tls.write_body(s, body, allowance, sent),
            None => write_body_plain(s, body, allowance, sent),
        }
    }

    /// Moves what TLS has encrypted to the socket: `Ok(true)` once nothing waits (always, on
    /// plain TCP), `Ok(false)` when the socket is full.
    ///
    /// # Errors
    ///
    /// Socket errors.
    pub fn flush(&mut self, s: &mut impl Socket) -> io::Result<bool> {
        match &mut self.tls {
            Some(tls) => tls.session.flush(s),
            None => Ok(true),
        }
    }

    /// Ends what the server sends: TLS's `close_notify`, then the FIN.
    pub fn shutdown(&mut self, s: &mut impl Socket) {
        if let Some(tls) = &mut self.tls {
            tls.session.close(s);
        }
        s.shutdown_write();
    }

    /// Reads and drops up to one scratch buffer of whatever the client still sends (raw bytes:
    /// after `close_notify` nothing is decrypted any more). `Ok(0)` when it has closed.
    ///
    /// # Errors
    ///
    /// `WouldBlock` when nothing waits; socket errors.
    pub fn discard(&mut self, s: &mut impl Socket) -> io::Result<usize> {
        let mut scratch = [0u8; READ_CHUNK];
        s.recv(&mut scratch)
    }

    /// Whether no input waits unread in the socket. `short_read` says the last plain read
    /// returned less than it asked for (so the socket had nothing more then); otherwise the
    /// kernel is asked. TLS reads stop at the first record, so they never vouch for it.
    pub fn nothing_unread(&self, s: &impl Socket, short_read: bool) -> bool {
        (short_read && self.tls.is_none()) || s.unread().is_ok_and(|n| n == 0)
    }
}

/// A transport with its socket, as the codecs use them: one value to pass around.
pub struct Wire<'a, S: Socket> {
    /// The transport.
    pub transport: &'a mut Transport,
    /// Its socket.
    pub socket: &'a mut S,
}

impl<S: Socket> Wire<'_, S> {
    /// See [`Transport::read`].
    ///
    /// # Errors
    ///
    /// As [`Transport::read`].
    pub fn read(&mut self, buf: &mut ReadBuf) -> io::Result<Got> {
        self.transport.read(self.socket, buf)
    }

    /// See [`Transport::write`].
    ///
    /// # Errors
    ///
    /// As [`Transport::write`].
    pub fn write(&mut self, parts: &[&[u8]], more: bool) -> io::Result<usize> {
        self.transport.write(self.socket, parts, more)
    }

    /// See [`Transport::record_size`].
    pub fn record_size(&self) -> Option<usize> {
        self.transport.record_size()
    }

    /// See [`Transport::write_body`].
    ///
    /// # Errors
    ///
    /// As [`Transport::write_body`].
    pub fn write_body(
        &mut self,
        body: &mut FileBody,
        allowance: u64,
        sent: &mut u64,
    ) -> io::Result<Sent> {
        self.transport
            .write_body(self.socket, body, allowance, sent)
    }

    /// See [`Transport::flush`].
    ///
    /// # Errors
    ///
    /// As [`Transport::flush`].
    pub fn flush(&mut self) -> io::Result<bool> {
        self.transport.flush(self.socket)
    }

    /// See [`Transport::shutdown`].
    pub fn shutdown(&mut self) {
        self.transport.shutdown(self.socket);
    }

    /// See [`Transport::discard`].
    ///
    /// # Errors
    ///
    /// As [`Transport::discard`].
    pub fn discard(&mut self) -> io::Result<usize> {
        self.transport.discard(self.socket)
    }

    /// See [`Transport::nothing_unread`].
    pub fn nothing_unread(&self, short_read: bool) -> bool {
        self.transport.nothing_unread(self.socket, short_read)
    }
}

impl TlsState {
    /// As [`Transport::write_body`], through rustls: the body a [`TLS_CHUNK`] at a time, read
    /// from the file, into rustls as its bounded send buffer takes it. The body counts bytes as
    /// gone only once rustls has taken them, so a connection whose socket is full drops the
    /// rest of its chunk and reads it again when the client has made room: a stalled
    /// connection holds rustls's bounded buffer and no chunk besides (16 KiB less each).
    fn write_body(
        &mut self,
        s: &mut impl Socket,
        body: &mut FileBody,
        allowance: u64,
        sent: &mut u64,
    ) -> io::Result<Sent> {
        let mut left = allowance;
        loop {
            if body.remaining() == 0 {
                // Done: the chunk's memory goes, a connection between responses keeps none.
                self.chunk = Vec::new();
                self.chunk_taken = 0;
                return Ok(Sent::Done);
            }
            if left == 0 {
                // Let the client have what is encrypted while the others get their turn.
                self.session.flush(s)?;
                return Ok(Sent::Paused);
            }
            if self.chunk_taken >= self.chunk.len() {
                self.chunk.clear();
                self.chunk_taken = 0;
                let most = usize::try_from(left).map_or(TLS_CHUNK, |left| left.min(TLS_CHUNK));
                if body.peek_chunk(&mut self.chunk, most)? == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
            }
            let data = self.chunk.get(self.chunk_taken..).unwrap_or_default();
            let data = data.get(..usize::try_from(left).unwrap_or(usize::MAX).min(data.len()));
            match step(self.session.write(s, data.unwrap_or_default()))? {
                Step::Took(n) => {
                    self.chunk_taken += n;
                    body.advance(n);
                    *sent += n as u64;
                    left = left.saturating_sub(n as u64);
                }
                Step::Blocked => {
                    // What rustls has not taken is still the body's, read again on resuming.
                    self.chunk = Vec::new();
                    self.chunk_taken = 0;
                    return Ok(Sent::Blocked);
                }
                Step::Again => {}
            }
        }
    }
}

/// [`Transport::write_body`] on plain TCP: bytes in memory by `send`, file ranges by
/// `sendfile`.
fn write_body_plain(
    s: &mut impl Socket,
    body: &mut FileBody,
    allowance: u64,
    sent: &mut u64,
) -> io::Result<Sent> {
    let mut left = allowance;
    loop {
        let most = usize::try_from(left).unwrap_or(usize::MAX);
        let progress = match body.next() {
            None => return Ok(Sent::Done),
            Some(_) if left == 0 => return Ok(Sent::Paused),
            Some(Next::Bytes(bytes)) => {
                let bytes = bytes.get(..most.min(bytes.len())).unwrap_or_default();
                s.send(&[IoSlice::new(bytes)], false)
            }
            Some(Next::File { file, offset, len }) => {
                let want = usize::try_from(len)
                    .unwrap_or(usize::MAX)
                    .min(SENDFILE_CHUNK)
                    .min(most);
                match s.sendfile(file, offset, want) {
                    Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                    other => other,
                }
            }
        };
        match step(progress)? {
            Step::Took(n) => {
                body.advance(n);
                *sent += n as u64;
                left = left.saturating_sub(n as u64);
            }
            Step::Blocked => return Ok(Sent::Blocked),
            Step::Again => {}
        }
    }
}

/// What a write's outcome means to a loop that sends a body.
enum Step {
    /// It took this many bytes.
    Took(usize),
    /// The socket is full: stop until it is writable.
    Blocked,
    /// Interrupted: try again.
    Again,
}

/// Sorts a write's outcome into a [`Step`], or the error that ends the response.
fn step(result: io::Result<usize>) -> io::Result<Step> {
    match result {
        Ok(n) => Ok(Step::Took(n)),
        Err(e) if would_block(&e) => Ok(Step::Blocked),
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(Step::Again),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::borrow::Cow;

    use std::sync::Arc;

    use super::socket::MemorySocket;
    use super::*;

    #[test]
    fn a_plain_body_goes_within_its_allowance_and_resumes() {
        let mut s = MemorySocket::default();
        let mut t = Transport::plain();
        let mut body = FileBody::bytes(Cow::Owned(vec![7; 100]));
        let mut sent = 0;
        assert_eq!(
            t.write_body(&mut s, &mut body, 60, &mut sent).unwrap(),
            Sent::Paused
        );
        assert_eq!(sent, 60);
        s.room = Some(10);
        assert_eq!(
            t.write_body(&mut s, &mut body, 60, &mut sent).unwrap(),
            Sent::Blocked
        );
        s.room = None;
        assert_eq!(
            t.write_body(&mut s, &mut body, 60, &mut sent).unwrap(),
            Sent::Done
        );
        assert_eq!((sent, s.output.len()), (100, 100));
    }

    #[test]
    fn a_plain_write_gathers_the_non_empty_parts_and_leaves_the_rest_for_the_next_call() {
        let mut s = MemorySocket::default();
        let mut t = Transport::plain();
        let parts: [&[u8]; 7] = [b"a", b"", b"bc", b"d", b"", b"ef", b"g"];
        // Four non-empty parts fit one call; the caller sends the rest as after a short write.
        assert_eq!(t.write(&mut s, &parts, false).unwrap(), 6);
        assert_eq!(t.write(&mut s, &parts[6..], false).unwrap(), 1);
        assert_eq!((s.output.as_slice(), s.sends), (&b"abcdefg"[..], 2));
    }

    #[test]
    fn a_file_that_shrank_under_sendfile_is_an_error() {
        let mut file = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut file, b"abc").unwrap();
        let mut body = FileBody::range(crate::files::body::Source::File(file), 0, 10);
        let mut s = MemorySocket::default();
        let mut sent = 0;
        let err = Transport::plain()
            .write_body(&mut s, &mut body, 1 << 20, &mut sent)
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(s.output, b"abc");
    }

    #[test]
    fn plain_reads_say_when_the_socket_had_no_more() {
        let mut s = MemorySocket::default();
        s.feed(b"GET / HTTP/1.1\r\n");
        let mut buf = ReadBuf::default();
        let mut t = Transport::plain();
        let got = t.read(&mut s, &mut buf).unwrap();
        assert_eq!((got.bytes, got.short), (16, true));
        assert_eq!(buf.bytes(), b"GET / HTTP/1.1\r\n");
        let err = t.read(&mut s, &mut buf).unwrap_err();
        assert!(would_block(&err));
        buf.consume(4);
        assert_eq!(buf.bytes(), b"/ HTTP/1.1\r\n");
    }

    /// A server transport and a rustls client with the handshake done between them, over a
    /// memory socket: what the server sends is in `s.output`, for the client to read.
    pub(crate) fn tls_pair() -> (Transport, MemorySocket, rustls::ClientConnection) {
        use rustls::pki_types::{PrivateKeyDer, ServerName};
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let cert = made.cert.der().clone();
        let key = PrivateKeyDer::Pkcs8(made.signing_key.serialize_der().into());
        let server = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.clone()], key)
            .unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert).unwrap();
        let client = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = ServerName::try_from("localhost").unwrap();
        let mut client = rustls::ClientConnection::new(Arc::new(client), name).unwrap();
        let mut t = Transport::tls(Session::new(&Arc::new(server)).unwrap());
        let mut s = MemorySocket::default();
        for _ in 0..10 {
            let mut flight = Vec::new();
            while client.wants_write() {
                client.write_tls(&mut flight).unwrap();
            }
            if !flight.is_empty() {
                s.feed(&flight);
            }
            let done = matches!(t.handshake(&mut s), Handshake::Done);
            let mut from_server = &std::mem::take(&mut s.output)[..];
            while !from_server.is_empty() {
                client.read_tls(&mut from_server).unwrap();
                client.process_new_packets().unwrap();
            }
            if done && !client.is_handshaking() {
                return (t, s, client);
            }
        }
        panic!("the handshake did not complete");
    }

    /// Decrypts what the server has sent since the last call.
    fn plaintext(s: &mut MemorySocket, client: &mut rustls::ClientConnection) -> Vec<u8> {
        let mut from_server = &std::mem::take(&mut s.output)[..];
        let mut out = Vec::new();
        while !from_server.is_empty() {
            client.read_tls(&mut from_server).unwrap();
            client.process_new_packets().unwrap();
            let _ = std::io::Read::read_to_end(&mut client.reader(), &mut out);
        }
        out
    }

    #[test]
    fn a_stalled_tls_body_keeps_no_chunk_and_resumes_with_every_byte() {
        let (mut t, mut s, mut client) = tls_pair();
        let contents: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let mut file = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut file, &contents).unwrap();
        let len = contents.len() as u64;
        let mut body = FileBody::range(crate::files::body::Source::File(file), 0, len);
        let mut sent = 0;
        let mut got = Vec::new();
        // A client that reads 20,000 bytes now and then: each time the socket is full again.
        for _ in 0..100 {
            s.room = Some(20_000);
            match t.write_body(&mut s, &mut body, 1 << 20, &mut sent).unwrap() {
                Sent::Blocked => {
                    let chunk = &t.tls.as_ref().unwrap().chunk;
                    assert!(
                        chunk.capacity() < TLS_CHUNK / 2,
                        "a stalled connection holds a chunk of {} bytes",
                        chunk.capacity()
                    );
                }
                Sent::Done => {
                    // rustls may still hold the end, encrypted: a reading client takes it.
                    s.room = None;
                    assert!(t.flush(&mut s).unwrap());
                    got.extend(plaintext(&mut s, &mut client));
                    break;
                }
                Sent::Paused => panic!("within the allowance"),
            }
            got.extend(plaintext(&mut s, &mut client));
        }
        assert_eq!(sent, len);
        assert!(got == contents, "{} bytes arrived of {len}", got.len());
    }

    #[test]
    fn a_tls_request_grows_the_input_buffer_by_what_arrived_only() {
        let (mut t, mut s, mut client) = tls_pair();
        let request = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n";
        std::io::Write::write_all(&mut client.writer(), request).unwrap();
        let mut records = Vec::new();
        while client.wants_write() {
            client.write_tls(&mut records).unwrap();
        }
        s.feed(&records);
        let mut buf = ReadBuf::default();
        buf.give(Vec::with_capacity(READ_CHUNK));
        let got = t.read(&mut s, &mut buf).unwrap();
        assert_eq!((got.bytes, buf.bytes()), (request.len(), &request[..]));
        // A read's worth of room behind each piece of plaintext doubled it to 8 KiB, kept for
        // as long as the response took.
        assert_eq!(buf.buf.capacity(), READ_CHUNK);
    }
}
