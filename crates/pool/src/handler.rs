//! The contract between a worker and the protocol it runs.

use std::time::Instant;

use mio::net::TcpStream;

use crate::notify::Context;

/// What a connection wants after a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Keep the connection; call [`Handler::timeout`] once this instant passes (if any).
    Wait(Option<Instant>),
    /// The connection used up its turn with work left: call [`Handler::ready`] again after the
    /// worker's other ready connections, without waiting for new readiness. No deadline runs
    /// meanwhile.
    Yield,
    /// Close the connection now.
    Close,
}

/// What the poller reported with a readiness event, for [`Handler::ready`] (all `false` when the
/// call was not caused by an event: the first call, a resumed turn, or a notify).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Readiness {
    /// The peer has shut its writing side: an end of stream waits behind any unread bytes, so
    /// a read that returns fewer bytes than asked does not mean the socket is drained.
    pub read_closed: bool,
}

/// Why a connection was closed, passed to [`Handler::close`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The handler returned [`Next::Close`].
    Done,
    /// A handler call panicked.
    Panicked,
    /// It was still open when the drain deadline passed.
    DrainDeadline,
}

/// A protocol run by one worker. The pool makes one value per worker, so state kept in the
/// handler (counters, buffers to reuse, a log buffer) is per worker and needs no lock.
///
/// Right after [`Handler::open`], [`Handler::ready`] is called once without waiting for
/// readiness (the first request usually comes with the connection). Sockets are registered
/// edge-triggered for reading and writing when a call first returns [`Next::Wait`]: every call
/// that gets readiness must read and write until the socket answers `WouldBlock` (or until it
/// has nothing left to do in that direction), or it will not be called again for that socket;
/// or return [`Next::Yield`], to be called again once the worker has served its other
/// connections. A call must do bounded work, so that one busy connection cannot starve the
/// others.
///
/// Each call but `open` and `close` gets the [`Context`] of the connection it is for: from it a
/// handler that gives the connection's work to another thread gets a
/// [`Notifier`](crate::Notifier), with which that thread has `ready` called again once the work
/// is done (the connection may wait without a deadline meanwhile).
pub trait Handler: Send + 'static {
    /// Per-connection state.
    type Conn: Send;

    /// A socket has been handed to this worker. If this panics, the socket is closed and
    /// [`Handler::close`] is not called (there is no connection state to pass).
    fn open(&mut self, stream: &TcpStream, now: Instant) -> Self::Conn;

    /// The socket became readable or writable, or a [`Notifier`](crate::Notifier) of the
    /// connection was notified.
    fn ready(
        &mut self,
        conn: &mut Self::Conn,
        stream: &mut TcpStream,
        readiness: Readiness,
        now: Instant,
        cx: &Context<'_>,
    ) -> Next;

    /// The deadline the connection asked for has passed.
    fn timeout(
        &mut self,
        conn: &mut Self::Conn,
        stream: &mut TcpStream,
        now: Instant,
        cx: &Context<'_>,
    ) -> Next;

    /// The pool has begun to shut down: finish what is in flight, close what is idle.
    /// Called once per connection, including for sockets that arrive while draining.
    fn drain(
        &mut self,
        conn: &mut Self::Conn,
        stream: &mut TcpStream,
        now: Instant,
        cx: &Context<'_>,
    ) -> Next;

    /// The connection is gone: its slot no longer counts against the connection limit, and
    /// its socket is closed right after this returns. A handler that ends the connection here
    /// (shutting the write side, which sends the FIN) lets a client that reconnects as soon as
    /// it reads the end of stream find room, where one that does so in an earlier call may see
    /// it refused.
    fn close(&mut self, conn: Self::Conn, stream: &mut TcpStream, reason: CloseReason) {
        let _ = (conn, stream, reason);
    }

    /// Called after each round of events, and once more before the worker exits: after every
    /// other call of the round (connections accepted, resumed or handed over included) and
    /// before the worker polls again, so state kept per round can be reset here. Returns the
    /// latest instant at which it wants to be called again (to flush a buffer, say).
    fn tick(&mut self, now: Instant) -> Option<Instant> {
        let _ = now;
        None
    }
}
