//! A connection as the pool's workers run it: a transport (plain TCP, or TLS through its
//! handshake) and, once the transport is open, the codec the connection speaks. This module
//! implements the pool's [`Handler`] and routes each call to the layer it concerns; the layers
//! say what happens inside them (`transport`, `http1`).
//!
//! What happens when…
//! - **a connection arrives**: on the plain port it is HTTP/1.1 at once (the first request
//!   usually came with it); on the redirect listener, HTTP/1.1 that answers `308` to
//!   `https://`; on the TLS port, it is handshaking. (HTTP/2 plugs in here: by the ALPN
//!   protocol after the handshake, and by the connection preface on the plain port.)
//! - **the TLS handshake completes**: the codec is picked by the ALPN protocol agreed on, and
//!   called at once (the first request may have come with the client's last flight).
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
use crate::metrics::tls::Failure;
use crate::service::{Peer, Service};
use crate::transport::tls::Tls;
use crate::transport::tls::session::Session;
use crate::transport::{Handshake, Transport, Wire};

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
    /// Speaking HTTP/1.1.
    Http1(http1::Conn),
    /// Over: a handshake that failed, counted once.
    Done,
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
        if let State::Handshaking(h) = c.state {
            if let Some(next) = self.handshake(c, s, h, now) {
                return next;
            }
            draining = h.draining;
        }
        let mut io = Wire {
            transport: &mut c.transport,
            socket: s,
        };
        match &mut c.state {
            // Shutdown began during the handshake: the codec drains from its first call.
            State::Http1(h) if draining.is_some() => h.drain(&mut self.svc, &mut io, now),
            State::Http1(h) => h.ready(&mut self.svc, &mut io, r, now),
            State::Handshaking(_) | State::Done => Next::Close,
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
        if let State::Handshaking(h) = &mut c.state {
            h.draining = Some(now);
            return self.ready(c, s, Readiness::default(), now, cx);
        }
        let mut io = Wire {
            transport: &mut c.transport,
            socket: s,
        };
        match &mut c.state {
            State::Http1(h) => h.drain(&mut self.svc, &mut io, now),
            State::Handshaking(_) | State::Done => Next::Close,
        }
    }

    fn close(&mut self, mut c: Conn, s: &mut TcpStream, reason: CloseReason) {
        let mut io = Wire {
            transport: &mut c.transport,
            socket: s,
        };
        match c.state {
            State::Http1(h) => h.close(&mut self.svc, &mut io, reason),
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
        self.svc.recheck();
        self.svc.flush_log_if_due(now)
    }
}

impl HttpHandler {
    /// The handler of worker `worker`, logging into `log`.
    pub fn new(ctx: Arc<Context>, tls: Option<Arc<Tls>>, worker: usize, log: AccessLog) -> Self {
        Self {
            svc: Service::new(ctx, worker, log),
            tls,
        }
    }

    fn http1(
        &self,
        mode: Mode,
        addr: Option<IpAddr>,
        tls: Option<&'static str>,
        now: Instant,
    ) -> State {
        let hsts = match (mode, tls) {
            (Mode::Serve, Some(_)) => self.tls.as_ref().and_then(|t| t.hsts.clone()),
            _ => None,
        };
        let peer = Peer {
            addr: known(addr),
            tls,
            hsts,
        };
        State::Http1(http1::Conn::new(mode, peer, &[], now))
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
