//! One TLS connection's record layer, driven by the worker's event loop: a rustls
//! `ServerConnection` fed from and flushed to the non-blocking socket (`read_tls`/`write_tls`),
//! never waiting on it. Reads hand plaintext to the connection's input buffer; writes take
//! plaintext while rustls's send buffer ([`SEND_BUFFER`]) has room, so a client that stops
//! reading holds at most that much encrypted output, and the caller sees `WouldBlock` as from
//! a plain socket.
//!
//! It tells plain HTTP from TLS by the first byte (a TLS record starts with `0x16`, a
//! handshake), so that the connection can answer a `400` naming HTTPS instead of an opaque
//! alert. This module must not parse HTTP nor decide responses or deadlines.

use std::io::{self, Read, Write};
use std::sync::Arc;

use mio::net::TcpStream;
use pool::would_block;
use rustls::{ServerConfig, ServerConnection};

/// Encrypted bytes waiting for the socket, at most (rustls's default, stated here because the
/// memory per connection depends on it). Four full records: enough for one `writev` to fill a
/// socket buffer's worth of progress.
pub const SEND_BUFFER: usize = 64 * 1024;

/// Ciphertext taken from the socket per read.
const READ_CHUNK: usize = 4096;

/// Ciphertext one read may consume without yielding a byte of plaintext. A handshake flight is
/// far smaller; a client streaming records that decrypt to nothing (empty or padding-only
/// records, warnings) past this is closed rather than allowed to hold the worker.
const MAX_BARREN_CIPHERTEXT: usize = 256 * 1024;

/// The first byte of a TLS handshake record (RFC 8446 §5.1, `ContentType.handshake`).
const HANDSHAKE_RECORD: u8 = 0x16;

/// Why a read ended other than with plaintext, EOF or `WouldBlock`.
#[derive(Debug)]
pub enum ReadError {
    /// The socket failed (including `WouldBlock`: nothing to read now).
    Io(io::Error),
    /// The client spoke plain HTTP; what it sent has been appended to the caller's buffer.
    PlainHttp,
    /// The TLS protocol failed (an alert has been sent if the socket took it).
    Tls(rustls::Error),
}

/// Why a handshake did not complete, for the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Plain HTTP on the TLS port.
    PlainHttp,
    /// No protocol version, cipher suite or group in common (an old client, `-tls1_1`).
    Incompatible,
    /// The client offered ALPN without `http/1.1`.
    NoApplicationProtocol,
    /// The client sent an alert (it did not trust the certificate, say).
    AlertReceived,
    /// Bytes that are not a well-formed handshake.
    Malformed,
    /// The handshake did not complete within the header timeout.
    Timeout,
    /// The client closed during the handshake.
    Closed,
}

impl Failure {
    /// Every reason, in the order the metrics print them.
    pub const ALL: [Self; 7] = [
        Self::PlainHttp,
        Self::Incompatible,
        Self::NoApplicationProtocol,
        Self::AlertReceived,
        Self::Malformed,
        Self::Timeout,
        Self::Closed,
    ];

    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Self::PlainHttp => "plain_http",
            Self::Incompatible => "incompatible",
            Self::NoApplicationProtocol => "no_alpn",
            Self::AlertReceived => "alert_received",
            Self::Malformed => "malformed",
            Self::Timeout => "timeout",
            Self::Closed => "closed",
        }
    }

    /// The reason a rustls error stands for.
    pub fn of(e: &rustls::Error) -> Self {
        use rustls::Error as E;
        match e {
            E::PeerIncompatible(_) => Self::Incompatible,
            E::NoApplicationProtocol => Self::NoApplicationProtocol,
            E::AlertReceived(_) => Self::AlertReceived,
            _ => Self::Malformed,
        }
    }
}

/// A TLS connection's state.
#[derive(Debug)]
pub struct Session {
    conn: ServerConnection,
    /// The first byte has been looked at.
    checked_first_byte: bool,
    /// Some ciphertext has arrived (the handshake's time limit runs from then).
    received: bool,
    /// The completed handshake has been reported by [`Session::take_established`].
    reported: bool,
}

impl Session {
    /// A session for a new connection.
    ///
    /// # Errors
    ///
    /// When rustls cannot start one (it has no certificate resolver, say).
    pub fn new(config: &Arc<ServerConfig>) -> Result<Self, rustls::Error> {
        let mut conn = ServerConnection::new(Arc::clone(config))?;
        conn.set_buffer_limit(Some(SEND_BUFFER));
        Ok(Self {
            conn,
            checked_first_byte: false,
            received: false,
            reported: false,
        })
    }

    /// Whether the handshake is still going on.
    pub fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    /// Whether any ciphertext has arrived.
    pub fn has_received(&self) -> bool {
        self.received
    }

    /// The negotiated version (`TLSv1.3`, `TLSv1.2`), as nginx's `$ssl_protocol` names it.
    pub fn version(&self) -> Option<&'static str> {
        match self.conn.protocol_version()? {
            rustls::ProtocolVersion::TLSv1_3 => Some("TLSv1.3"),
            rustls::ProtocolVersion::TLSv1_2 => Some("TLSv1.2"),
            _ => Some("TLS"),
        }
    }

    /// The negotiated ALPN protocol, if the client offered ALPN.
    pub fn alpn(&self) -> Option<&[u8]> {
        self.conn.alpn_protocol()
    }

    /// `true` once, the first time it is asked after the handshake completed.
    pub fn take_established(&mut self) -> bool {
        if self.reported || self.conn.is_handshaking() {
            return false;
        }
        self.reported = true;
        true
    }

    /// Moves encrypted output to the socket. `Ok(true)` when none is left, `Ok(false)` when
    /// the socket is full.
    ///
    /// # Errors
    ///
    /// Socket errors other than `WouldBlock`.
    pub fn flush(&mut self, s: &mut TcpStream) -> io::Result<bool> {
        while self.conn.wants_write() {
            match self.conn.write_tls(s) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if would_block(&e) => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// Reads from the socket until some plaintext arrives, appending it to `out`; sends what the
    /// handshake owes on the way. `Ok(0)` when the client has closed.
    ///
    /// # Errors
    ///
    /// [`ReadError::Io`] with `WouldBlock` when the socket has nothing more now; the others
    /// end the connection.
    pub fn read(&mut self, s: &mut TcpStream, out: &mut Vec<u8>) -> Result<usize, ReadError> {
        let mut raw = [0u8; READ_CHUNK];
        let mut barren = 0;
        loop {
            match self.take_plaintext(out) {
                Plain::Got(n) => return Ok(n),
                Plain::Closed => return Ok(0),
                Plain::None => {}
            }
            self.flush(s).map_err(ReadError::Io)?;
            let n = match s.read(&mut raw) {
                Ok(0) => return Ok(0),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(ReadError::Io(e)),
            };
            let mut rest = raw.get(..n).unwrap_or_default();
            if !self.checked_first_byte {
                self.checked_first_byte = true;
                if rest.first() != Some(&HANDSHAKE_RECORD) {
                    out.extend_from_slice(rest);
                    return Err(ReadError::PlainHttp);
                }
            }
            self.received = true;
            barren += n;
            if barren > MAX_BARREN_CIPHERTEXT {
                return Err(ReadError::Io(io::ErrorKind::InvalidData.into()));
            }
            let mut got = 0;
            while !rest.is_empty() {
                self.conn.read_tls(&mut rest).map_err(ReadError::Io)?;
                if let Err(e) = self.conn.process_new_packets() {
                    // rustls has queued the alert that tells the client why.
                    let _ = self.flush(s);
                    return Err(ReadError::Tls(e));
                }
                // Take plaintext as it comes, so rustls's own plaintext limit is never hit.
                match self.take_plaintext(out) {
                    Plain::Got(more) => got += more,
                    Plain::Closed if got == 0 => return Ok(0),
                    Plain::Closed | Plain::None => {}
                }
            }
            // The handshake's next flight, or a TLS 1.3 session ticket after it.
            self.flush(s).map_err(ReadError::Io)?;
            if got > 0 {
                return Ok(got);
            }
        }
    }

    fn take_plaintext(&mut self, out: &mut Vec<u8>) -> Plain {
        let start = out.len();
        loop {
            let at = out.len();
            out.resize(at + READ_CHUNK, 0);
            let result = self
                .conn
                .reader()
                .read(out.get_mut(at..).unwrap_or_default());
            let n = *result.as_ref().unwrap_or(&0);
            out.truncate(at + n);
            match result {
                Ok(n) if n > 0 => continue,
                Err(e) if would_block(&e) && out.len() > start => {
                    return Plain::Got(out.len() - start);
                }
                Err(e) if would_block(&e) => return Plain::None,
                // A clean close_notify (Ok(0)) or EOF without one (an error): the client is done
                // sending; what arrived before still counts.
                _ if out.len() > start => return Plain::Got(out.len() - start),
                _ => return Plain::Closed,
            }
        }
    }

    /// Encrypts what of `data` the send buffer takes, and sends what the socket takes.
    ///
    /// # Errors
    ///
    /// `WouldBlock` when the buffer is full and the socket takes nothing; socket errors.
    pub fn write(&mut self, s: &mut TcpStream, data: &[u8]) -> io::Result<usize> {
        let mut n = self.conn.writer().write(data)?;
        if n == 0 && !data.is_empty() {
            if !self.flush(s)? {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            n = self.conn.writer().write(data)?;
        }
        Ok(n)
    }

    /// Queues `close_notify` and sends what the socket takes (the connection closes next).
    pub fn close(&mut self, s: &mut TcpStream) {
        self.conn.send_close_notify();
        let _ = self.flush(s);
    }
}

enum Plain {
    Got(usize),
    None,
    Closed,
}
