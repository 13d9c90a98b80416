//! A connection as the pool's workers run it: a transport (plain TCP, or TLS through its
//! handshake) and, once the transport is open, the codec the connection speaks. This module
//! implements the pool's [`Handler`] and routes each call to the layer it concerns; the layers
//! say what happens inside them (`transport`, `http1`).
//!
//! What happens when…
//! - **a connection arrives**: on the plain port its first bytes tell the protocol: HTTP/2's
//!   client preface (`PRI * HTTP/2.0…`) means HTTP/2 with prior knowledge (RFC 9113 §3.3),
//!   anything else HTTP/1.1 (nearly always decided by the first read, which the codec then
//!   starts from; with `--no-http2`, HTTP/1.1 at once); on the redirect listener, HTTP/1.1
//!   that answers `308` to `https://`; on the TLS port, it is handshaking.
//! - **the TLS handshake completes**: the codec is picked by the ALPN protocol agreed on (`h2`,
//!   else HTTP/1.1), and called at once (the first request may have come with the client's
//!   last flight).
//! - **the handshake fails** (no common version, cipher or protocol, an alert, garbage): counted
//!   by reason, closed (rustls has sent the alert). **Plain HTTP on the TLS port**: counted, and
//!   answered by the HTTP/1.1 codec with a `400` naming HTTPS, in plain text, then closed.
//! - **the handshake is slow**: it must complete within the header timeout of its first byte
//!   (counted as a `timeout` failure), and begin within the idle timeout, as a request head.
//! - **SIGINT/SIGTERM during a handshake**: it gets the drain grace to complete.
//!
//! This module must not parse bytes, decide responses or touch the socket but through the
//! transport.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use mio::net::TcpStream;
use pool::{CloseReason, Handler, Next, Readiness};

use crate::access_log::AccessLog;
use crate::context::Context;
use crate::http1::{self, DRAIN_GRACE, Mode};
use crate::http2;
use crate::metrics::tls::Failure;
use crate::service::{Peer, Service};
use crate::transport::socket::Socket;
use crate::transport::tls::Tls;
use crate::transport::tls::session::Session;
use crate::transport::{Got, Handshake, ReadBuf, Transport, Wire};

/// The peer's address as looked up at the start (when the log wants it), else to look up when
/// first needed.
fn known(addr: Option<IpAddr>) -> std::cell::OnceCell<Option<IpAddr>> {
    match addr {
        Some(addr) => std::cell::OnceCell::from(Some(addr)),
        None => std::cell::OnceCell::new(),
    }
}

/// One worker's handler.
#[derive(Debug)]
pub struct HttpHandler {
    svc: Service,
    tls: Option<Arc<Tls>>,
    /// HTTP/2 is on (`--no-http2` turns it off).
    http2: bool,
}

/// A connection's state between events.
#[derive(Debug)]
pub struct Conn {
    transport: Transport,
    /// The client's address, for the log (looked up only when the log is on).
    peer: Option<IpAddr>,
    state: State,
}

/// Which layer a connection is in.
#[derive(Debug)]
enum State {
    /// The TLS handshake is going on.
    Handshaking(Handshaking),
    /// On the plain port, with HTTP/2 on: the first bytes tell the protocol.
    Sniffing(Sniffing),
    /// Speaking HTTP/1.1.
    Http1(http1::Conn),
    /// Speaking HTTP/2 (boxed: its tables and buffers are larger than HTTP/1.1's).
    Http2(Box<http2::Conn>),
    /// Over: a handshake that failed, counted once.
    Done,
}

/// The first bytes of a plain connection, until they tell HTTP/2's preface from an HTTP/1.1
/// request (one read, nearly always: a request line's first byte already differs).
#[derive(Debug)]
struct Sniffing {
    opened: Instant,
    /// When the first byte arrived (the header timeout runs from it).
    started: Option<Instant>,
    draining: Option<Instant>,
    buf: ReadBuf,
}

/// The clock of a handshake.
#[derive(Debug, Clone, Copy)]
struct Handshaking {
    /// When the connection opened (the idle timeout runs from it until a byte arrives).
    opened: Instant,
    /// When the first byte arrived (the header timeout runs from it).
    started: Option<Instant>,
    /// Shutdown has begun at this instant.
    draining: Option<Instant>,
}

impl Handler for HttpHandler {
    type Conn = Conn;

    fn open(&mut self, stream: &TcpStream, now: Instant) -> Conn {
        self.svc.connection_opened();
        // Its first request is read at once, and may have been sent after this round's reading
        // of the cache's change queue.
        self.svc.recheck();
        // getpeername costs a syscall per connection; only the access log needs it.
        let peer = self
            .svc
            .logs()
            .then(|| stream.peer_addr().ok().map(|a| a.ip()))
            .flatten();
        let (transport, state) = match &self.tls {
            None if self.http2 => {
                let sniffing = Sniffing {
                    opened: now,
                    started: None,
                    draining: None,
                    buf: ReadBuf::default(),
                };
                (Transport::plain(), State::Sniffing(sniffing))
            }
            None => (Transport::plain(), self.http1(Mode::Serve, peer, None, now)),
            // Only with a redirect listener is a connection's port worth a system call.
            Some(t)
                if t.redirect_port != 0
                    && stream
                        .local_addr()
                        .is_ok_and(|a| a.port() == t.redirect_port) =>
            {
                let mode = Mode::RedirectToHttps {
                    https_port: t.https_port,
                };
                (Transport::plain(), self.http1(mode, peer, None, now))
            }
            Some(t) => {
                // rustls refuses a new session only for a configuration it rejected at start-up;
                // the pool closes this one socket.
                let session = Session::new(&t.config)
                    .unwrap_or_else(|e| panic!("rustls refused a new session: {e}"));
                let handshaking = Handshaking {
                    opened: now,
                    started: None,
                    draining: None,
                };
                (Transport::tls(session), State::Handshaking(handshaking))
            }
        };
        // TCP_NODELAY comes from the listening socket (see `socket::no_delay`).
        Conn {
            transport,
            peer,
            state,
        }
    }

    fn ready(
        &mut self,
        c: &mut Conn,
        s: &mut TcpStream,
        r: Readiness,
        now: Instant,
        _: &pool::Context<'_>,
    ) -> Next {
        let mut draining = None;
        let mut sniffed = false;
        if let State::Handshaking(h) = c.state {
            if let Some(next) = self.handshake(c, s, h, now) {
                return next;
            }
            draining = h.draining;
        }
        if let State::Sniffing(sniffing) = &c.state {
            draining = sniffing.draining;
            if let Some(next) = self.sniff(c, s, now) {
                return next;
            }
            sniffed = true;
        }
        let mut io = Wire {
            transport: &mut c.transport,
            socket: s,
        };
        let svc = &mut self.svc;
        match &mut c.state {
            // Shutdown began before the codec was chosen: it drains from its first call.
            State::Http1(h) if draining.is_some() => h.drain(svc, &mut io, now),
            State::Http2(h) if draining.is_some() => h.drain(svc, &mut io, now),
            State::Http1(h) if sniffed => h.resume(svc, &mut io, now),
            State::Http1(h) => h.ready(svc, &mut io, r, now),
            State::Http2(h) => h.ready(svc, &mut io, r, now),
            State::Handshaking(_) | State::Sniffing(_) | State::Done => Next::Close,
        }
    }

    fn timeout(
        &mut self,
        c: &mut Conn,
        s: &mut TcpStream,
        now: Instant,
        _: &pool::Context<'_>,
    ) -> Next {
        let mut io = Wire {
            transport: &mut c.transport,
            socket: s,
        };
        match &mut c.state {
            State::Http1(h) => h.timeout(&mut self.svc, &mut io, now),
            State::Http2(h) => h.timeout(&mut self.svc, &mut io, now),
            // Nothing, or not a whole request line, in time: closed without a word.
            State::Sniffing(_) => Next::Close,
            State::Handshaking(h) => {
                // Not done within the header timeout (or never begun within the idle timeout):
                // closed, as a head that never completes is.
                if h.started.is_some() {
                    self.svc.ctx().metrics.tls.failed(Failure::Timeout);
                }
                c.state = State::Done;
                Next::Close
            }
            State::Done => Next::Close,
        }
    }

    fn drain(
        &mut self,
        c: &mut Conn,
        s: &mut TcpStream,
        now: Instant,
        cx: &pool::Context<'_>,
    ) -> Next {
        match &mut c.state {
            State::Handshaking(h) => {
                h.draining = Some(now);
                return self.ready(c, s, Readiness::default(), now, cx);
            }
            State::Sniffing(sniffing) => {
                sniffing.draining = Some(now);
                return self.ready(c, s, Readiness::default(), now, cx);
            }
            _ => {}
        }
        let mut io = Wire {
            transport: &mut c.transport,
            socket: s,
        };
        match &mut c.state {
            State::Http1(h) => h.drain(&mut self.svc, &mut io, now),
            State::Http2(h) => h.drain(&mut self.svc, &mut io, now),
            State::Handshaking(_) | State::Sniffing(_) | State::Done => Next::Close,
        }
    }

    fn close(&mut self, mut c: Conn, s: &mut TcpStream, reason: CloseReason) {
        let mut io = Wire {
            transport: &mut c.transport,
            socket: s,
        };
        match c.state {
            State::Http1(h) => h.close(&mut self.svc, &mut io, reason),
            State::Http2(h) => h.close(&mut self.svc, &mut io, reason),
            State::Sniffing(mut sniffing) => {
                self.svc.give_buffer(sniffing.buf.take());
                if reason == CloseReason::Panicked {
                    self.svc.panicked();
                }
            }
            State::Handshaking(h) => {
                if h.started.is_some() {
                    self.svc.ctx().metrics.tls.failed(Failure::Closed);
                }
                if reason == CloseReason::Panicked {
                    self.svc.panicked();
                }
            }
            State::Done => {}
        }
    }

    fn tick(&mut self, now: Instant) -> Option<Instant> {
        // The worker polls next: what it reads then may have been sent after a file changed.
        // It is woken when a file its cache keeps open ages, even with nothing else to do.
        let aging = self.svc.recheck();
        let flush = self.svc.flush_log_if_due(now);
        flush.into_iter().chain(aging).min()
    }
}

impl HttpHandler {
    /// The handler of worker `worker`, logging into `log`.
    pub fn new(ctx: Arc<Context>, tls: Option<Arc<Tls>>, worker: usize, log: AccessLog) -> Self {
        Self {
            http2: ctx.config.http2,
            svc: Service::new(ctx, worker, log),
            tls,
        }
    }

    /// Reads a plain connection's first bytes until they tell the protocol, and starts its
    /// codec; `None` once it is started (and should be called), else what to wait for.
    fn sniff(&mut self, c: &mut Conn, s: &mut TcpStream, now: Instant) -> Option<Next> {
        let State::Sniffing(sniffing) = &mut c.state else {
            return None;
        };
        let mut got = Got {
            bytes: 0,
            short: false,
        };
        loop {
            match http2::sniff(sniffing.buf.bytes()) {
                Some(true) => {
                    let first = sniffing.buf.bytes().to_vec();
                    self.svc.give_buffer(sniffing.buf.take());
                    return self.start_http2(c, s, first, now);
                }
                Some(false) => {
                    let buf = std::mem::take(&mut sniffing.buf);
                    let peer = self.peer(Mode::Serve, c.peer, None);
                    let started = sniffing.started.unwrap_or(now);
                    let codec = http1::Conn::with_input(Mode::Serve, peer, buf, got, started);
                    c.state = State::Http1(codec);
                    return None;
                }
                None => {}
            }
            if !sniffing.buf.has_buffer() {
                sniffing.buf.give(self.svc.take_buffer());
            }
            match c.transport.read(s, &mut sniffing.buf) {
                Ok(read) if read.bytes == 0 => return Some(Next::Close),
                Ok(read) => {
                    got = read;
                    sniffing.started.get_or_insert(now);
                }
                Err(e) if pool::would_block(&e) => {
                    let config = &self.svc.ctx().config;
                    let deadline = match sniffing.started {
                        Some(started) => started + config.header_timeout,
                        None => sniffing.opened + config.idle_timeout,
                    };
                    let deadline = match sniffing.draining {
                        Some(since) => deadline.min(since + DRAIN_GRACE),
                        None => deadline,
                    };
                    if sniffing.buf.is_empty() {
                        self.svc.give_buffer(sniffing.buf.take());
                    }
                    return Some(Next::Wait(Some(deadline)));
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return Some(Next::Close),
            }
        }
    }

    /// Makes the connection HTTP/2, with `first` the bytes read so far.
    fn start_http2(
        &mut self,
        c: &mut Conn,
        s: &mut TcpStream,
        first: Vec<u8>,
        now: Instant,
    ) -> Option<Next> {
        let peer = self.peer(Mode::Serve, c.peer, c.transport.version());
        // One look-up serves every request the connection will carry.
        let client = c.peer.or_else(|| s.peer_ip());
        let metrics = Arc::clone(&self.svc.ctx().metrics);
        let codec = http2::Conn::new(peer, client, &first, metrics, now);
        c.state = State::Http2(Box::new(codec));
        None
    }

    fn http1(
        &self,
        mode: Mode,
        addr: Option<IpAddr>,
        tls: Option<&'static str>,
        now: Instant,
    ) -> State {
        let peer = self.peer(mode, addr, tls);
        State::Http1(http1::Conn::new(mode, peer, &[], now))
    }

    /// Who is at the other end of a connection in `mode`, over `tls` if any.
    fn peer(&self, mode: Mode, addr: Option<IpAddr>, tls: Option<&'static str>) -> Peer {
        let hsts = match (mode, tls) {
            (Mode::Serve, Some(_)) => self.tls.as_ref().and_then(|t| t.hsts.clone()),
            _ => None,
        };
        Peer {
            addr: known(addr),
            tls,
            hsts,
        }
    }

    /// Drives the handshake; `None` once it is over and the codec it chose should be called.
    fn handshake(
        &mut self,
        c: &mut Conn,
        s: &mut TcpStream,
        mut h: Handshaking,
        now: Instant,
    ) -> Option<Next> {
        let metrics = &self.svc.ctx().metrics.tls;
        match c.transport.handshake(s) {
            Handshake::Done => {
                metrics.established(c.transport.version(), c.transport.alpn());
                if c.transport.alpn() == Some(b"h2") {
                    return self.start_http2(c, s, Vec::new(), now);
                }
                c.state = self.http1(Mode::Serve, c.peer, c.transport.version(), now);
                None
            }
            Handshake::Pending => {
                if c.transport.has_received() {
                    h.started.get_or_insert(now);
                }
                c.state = State::Handshaking(h);
                let config = &self.svc.ctx().config;
                let deadline = match h.started {
                    Some(started) => started + config.header_timeout,
                    None => h.opened + config.idle_timeout,
                };
                let deadline = match h.draining {
                    Some(since) => deadline.min(since + DRAIN_GRACE),
                    None => deadline,
                };
                Some(Next::Wait(Some(deadline)))
            }
            Handshake::PlainHttp(first) => {
                metrics.failed(Failure::PlainHttp);
                c.transport = Transport::plain();
                let https_port = self.tls.as_ref().map_or(0, |t| t.https_port);
                let mode = Mode::HttpsOnly { https_port };
                let peer = Peer {
                    addr: known(c.peer),
                    tls: None,
                    hsts: None,
                };
                c.state = State::Http1(http1::Conn::new(
                    mode,
                    peer,
                    &first,
                    h.started.unwrap_or(now),
                ));
                None
            }
            Handshake::Failed(why) => {
                metrics.failed(why);
                c.state = State::Done;
                Some(Next::Close)
            }
            Handshake::Closed => {
                if c.transport.has_received() {
                    metrics.failed(Failure::Closed);
                }
                c.state = State::Done;
                Some(Next::Close)
            }
        }
    }
}
