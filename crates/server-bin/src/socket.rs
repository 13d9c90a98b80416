//! Where the listening sockets come from: bound here from `--bind`/`--port`, inherited from
//! systemd socket activation (`LISTEN_PID`/`LISTEN_FDS`, as `sd_listen_fds(3)` reads them), or
//! handed over by another supervisor as `--listen-fd N`.
//!
//! An inherited socket stays open in the supervisor while this process stops, so connections
//! that arrive during a restart wait in the kernel's queue for the next process instead of
//! being refused. Inherited descriptors are taken with `pidfd_getfd(2)` (a duplicate of this
//! process's own descriptor, Linux 5.6+), which needs no `unsafe`: the original number stays
//! open, unused, until the process exits. Only listening TCP sockets are accepted.
//!
//! A socket bound to `::` is dual-stack where the OS allows it (`IPV6_V6ONLY` off), so IPv4
//! clients reach it too, as `::ffff:a.b.c.d`; [`is_dual_stack`] tells whether it is.
//!
//! A socket bound here gets a sibling per further worker, bound to the same address with
//! `SO_REUSEPORT` ([`Listeners::for_workers`]), as nginx's `listen ... reuseport` does: each
//! worker accepts from its own queue, so a new connection wakes only the worker the kernel
//! queued it for, where with one shared socket idle workers woke and took connections queued
//! while another was about to (two workers, a new connection per request, 3 alternating
//! rounds: 30.3k against 31.2k requests a second, 27.8 against 26.1 us of server CPU per
//! request, p99 4.2 against 3.0 ms). The pool's watchdog sends an idle worker to a queue whose
//! owner is stuck in a long call, so such a queue waits 10-20 ms, not for the call. An
//! inherited socket stays one socket shared by every worker: sockets of ours beside it would
//! drop what waits in their queues at a restart, which is what inheriting avoids. Since the
//! port is shared on purpose, binding first checks that nothing else holds the address (a
//! second server would otherwise join the group and take half its clients); a program of the
//! same user that binds the port with `SO_REUSEPORT` later can still join, as with nginx (in a
//! trial, one took 102 of 300 connections). `--no-reuseport` closes that door for shared hosts:
//! one socket without `SO_REUSEPORT`, shared by every worker as an inherited one is, which no
//! other socket can join; the cost is the shared queue's, measured above.
//!
//! A socket bound here defers accepting (`TCP_DEFER_ACCEPT`, [`DEFER_ACCEPT`], as systemd's
//! `DeferAcceptSec=1`): the kernel completes a client's handshake but queues the connection only
//! once its first bytes are there, so a worker is woken once per new connection, with the
//! request to read, instead of once for the handshake and again for the request. A client that
//! connects and says nothing is queued after about a second all the same, and is then timed as
//! any idle connection. An inherited socket keeps whatever its supervisor set.
//!
//! This module must not accept connections; the pool's workers do.

use std::env;
use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, TcpListener as StdListener};
use std::time::Duration;

use mio::net::TcpListener;
use rustix::net::{AddressFamily, SocketFlags, SocketType, sockopt};
use rustix::process::{PidfdFlags, PidfdGetfdFlags, getpid, pidfd_getfd, pidfd_open};

use crate::config::Config;
use crate::error::StartupError;
use crate::transport::sys;

/// Connections the kernel queues before they are accepted, as `std` and `mio` ask for.
const BACKLOG: i32 = 128;

/// The first descriptor systemd passes (`SD_LISTEN_FDS_START`).
const SD_LISTEN_FDS_START: i32 = 3;

/// How long a socket bound here holds back a connection that has sent nothing yet: one
/// SYN-ACK retransmission time, the shortest the kernel keeps (see [`sys::defer_accept`]).
/// HTTP clients send their request (or TLS ClientHello) at once, so nothing waits for it.
pub const DEFER_ACCEPT: Duration = Duration::from_secs(1);

/// How the sockets were obtained, for the start-up message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Bound by this process.
    Bound,
    /// Inherited through systemd socket activation.
    Systemd,
    /// Passed as `--listen-fd`.
    ListenFd,
}

/// The sockets to accept on, with their addresses.
#[derive(Debug)]
pub struct Listeners {
    /// Non-blocking listening sockets.
    pub sockets: Vec<TcpListener>,
    /// Their local addresses, in the same order.
    pub addrs: Vec<SocketAddr>,
    /// Where they came from.
    pub origin: Origin,
    /// Whether sockets bound here have siblings per worker (`SO_REUSEPORT`); else each is one
    /// socket shared by every worker.
    pub reuseport: bool,
}

impl Listeners {
    /// The sockets `workers` workers accept from, one group per socket in the same order (as
    /// the pool's `Builder::listeners` takes them): a duplicate of the socket, and for a socket
    /// bound here a sibling on the same address for each further worker.
    ///
    /// # Errors
    ///
    /// When the process is out of descriptors or a sibling cannot be bound.
    pub fn for_workers(&self, workers: usize) -> io::Result<Vec<Vec<StdListener>>> {
        let siblings = if self.origin == Origin::Bound && self.reuseport {
            workers.saturating_sub(1)
        } else {
            0
        };
        self.sockets
            .iter()
            .zip(&self.addrs)
            .map(|(socket, &addr)| {
                let mut group = Vec::with_capacity(1 + siblings);
                group.push(StdListener::from(rustix::io::fcntl_dupfd_cloexec(
                    socket, 0,
                )?));
                for _ in 0..siblings {
                    group.push(StdListener::from(open_listener(addr, true)?));
                }
                Ok(group)
            })
            .collect()
    }
}

/// Opens the listening sockets the configuration asks for: `--listen-fd` first, then
/// systemd's, else a new one bound to `--bind`/`--port`.
///
/// # Errors
///
/// [`StartupError::Inherit`] when an inherited descriptor is not a listening TCP socket;
/// [`StartupError::Bind`] when binding fails.
pub fn open(config: &Config) -> Result<Listeners, StartupError> {
    let (fds, origin) = match config.listen_fd {
        Some(fd) => (vec![fd], Origin::ListenFd),
        None => match systemd_fds() {
            Some(fds) => (fds, Origin::Systemd),
            None => return bind(config.addr, config.reuseport),
        },
    };
    let mut listeners = Listeners {
        sockets: Vec::with_capacity(fds.len()),
        addrs: Vec::with_capacity(fds.len()),
        origin,
        reuseport: false,
    };
    for fd in fds {
        let std = adopt(fd).map_err(|source| StartupError::Inherit { fd, source })?;
        let addr = std
            .local_addr()
            .map_err(|source| StartupError::Inherit { fd, source })?;
        no_delay(&std).map_err(|source| StartupError::Inherit { fd, source })?;
        listeners.sockets.push(TcpListener::from_std(std));
        listeners.addrs.push(addr);
    }
    Ok(listeners)
}

fn bind(addr: SocketAddr, reuseport: bool) -> Result<Listeners, StartupError> {
    let bind_error = |source| StartupError::Bind {
        addr,
        option: "--port",
        source,
    };
    let socket = listen_on(addr, reuseport).map_err(bind_error)?;
    let local = socket.local_addr().map_err(bind_error)?;
    Ok(Listeners {
        sockets: vec![socket],
        addrs: vec![local],
        origin: Origin::Bound,
        reuseport,
    })
}

/// A listening socket on `addr`, which nothing else may hold (see [`claim`]); with `reuseport`,
/// one that sockets of the same user can join (the workers' siblings).
pub fn listen_on(addr: SocketAddr, reuseport: bool) -> io::Result<TcpListener> {
    // Without SO_REUSEPORT, binding fails by itself when the address is held.
    if reuseport && addr.port() != 0 {
        claim(addr)?;
    }
    Ok(TcpListener::from_std(StdListener::from(open_listener(
        addr, reuseport,
    )?)))
}

/// Fails as binding would without `SO_REUSEPORT` (`EADDRINUSE` when another socket listens on
/// `addr`), so that a port in use is reported, not joined. A port the kernel picks is free by
/// construction. Two servers started in the same instant could both pass; that is all this
/// leaves open.
fn claim(addr: SocketAddr) -> io::Result<()> {
    // Set up as the real socket is: TIME_WAIT left by an earlier run is no conflict, and `::`
    // conflicts with an IPv4 listener on the port too.
    let probe = socket_for(addr)?;
    Ok(rustix::net::bind(&probe, &addr)?)
}

/// What `mio`'s `TcpListener::bind` does (`SO_REUSEADDR`, then bind and listen), plus
/// `SO_REUSEPORT` when asked so that the workers' sockets can share the address, `TCP_NODELAY`
/// (see [`no_delay`]), [`DEFER_ACCEPT`], and `::` accepting IPv4 where the OS allows (see
/// [`socket_for`]).
fn open_listener(addr: SocketAddr, reuseport: bool) -> io::Result<rustix::fd::OwnedFd> {
    let socket = socket_for(addr)?;
    if reuseport {
        sockopt::set_socket_reuseport(&socket, true)?;
    }
    rustix::net::bind(&socket, &addr)?;
    // Set before listening, so that no connection is queued without it. Without it (no
    // kernel refuses it on TCP), the server works as before, and the start-up block says so.
    let _ = sys::set_defer_accept(&socket, DEFER_ACCEPT);
    rustix::net::listen(&socket, BACKLOG)?;
    no_delay(&socket)?;
    Ok(socket)
}

/// A TCP socket for `addr`, not yet bound: non-blocking, `SO_REUSEADDR`, and for `::` IPv4
/// too where the OS allows (Linux's default comes from the `net.ipv6.bindv6only` sysctl and
/// other systems default to IPv6 only, so it is set here).
fn socket_for(addr: SocketAddr) -> io::Result<rustix::fd::OwnedFd> {
    let family = match addr {
        SocketAddr::V4(_) => AddressFamily::INET,
        SocketAddr::V6(_) => AddressFamily::INET6,
    };
    let flags = SocketFlags::CLOEXEC | SocketFlags::NONBLOCK;
    let socket = rustix::net::socket_with(family, SocketType::STREAM, flags, None)?;
    sockopt::set_socket_reuseaddr(&socket, true)?;
    if addr.ip() == IpAddr::V6(Ipv6Addr::UNSPECIFIED) {
        // Where policy forbids it the socket stays IPv6-only, and the start-up block says so.
        let _ = sockopt::set_ipv6_v6only(&socket, false);
    }
    Ok(socket)
}

/// Whether `socket`, listening on `addr`, takes IPv4 clients on an IPv6 wildcard address.
pub fn is_dual_stack(socket: &TcpListener, addr: SocketAddr) -> bool {
    addr.ip() == IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        && sockopt::ipv6_v6only(socket).is_ok_and(|only| !only)
}

/// How long `socket` holds back a connection that has sent nothing (`TCP_DEFER_ACCEPT`); `None`
/// when it does not, or the kernel cannot say.
pub fn deferred_accept(socket: &TcpListener) -> Option<Duration> {
    sys::defer_accept(socket).ok().filter(|d| !d.is_zero())
}

/// Sets `TCP_NODELAY` on a listening socket. Linux copies it to every accepted socket, which
/// saves a system call per connection. Responses are written whole, so Nagle's algorithm could
/// only hold back the last segment of a pipelined or sendfile response behind a delayed ACK.
fn no_delay(listener: &impl rustix::fd::AsFd) -> io::Result<()> {
    Ok(rustix::net::sockopt::set_tcp_nodelay(listener, true)?)
}

/// The descriptors systemd passed to this very process, if any (`LISTEN_PID` must be ours, so
/// a variable inherited by a child of ours is ignored).
fn systemd_fds() -> Option<Vec<i32>> {
    let pid: u32 = env::var("LISTEN_PID").ok()?.trim().parse().ok()?;
    if pid != std::process::id() {
        return None;
    }
    let count: i32 = env::var("LISTEN_FDS").ok()?.trim().parse().ok()?;
    (count > 0).then(|| (SD_LISTEN_FDS_START..SD_LISTEN_FDS_START + count).collect())
}

/// Takes over descriptor `fd` of this process as a non-blocking listening TCP socket.
fn adopt(fd: i32) -> io::Result<StdListener> {
    let me = pidfd_open(getpid(), PidfdFlags::empty())?;
    let socket = pidfd_getfd(&me, fd, PidfdGetfdFlags::empty())?;
    let is_listening_tcp = || -> rustix::io::Result<bool> {
        use rustix::net::sockopt::{socket_acceptconn, socket_domain, socket_type};
        let inet = matches!(
            socket_domain(&socket)?,
            AddressFamily::INET | AddressFamily::INET6
        );
        Ok(inet
            && socket_type(&socket)? == rustix::net::SocketType::STREAM
            && socket_acceptconn(&socket)?)
    };
    match is_listening_tcp() {
        Ok(true) => {}
        Ok(false) | Err(rustix::io::Errno::NOTSOCK) => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a listening TCP socket",
            ));
        }
        Err(e) => return Err(e.into()),
    }
    let listener = StdListener::from(socket);
    listener.set_nonblocking(true)?;
    Ok(listener)
}
