//! A worker's accepting: its listening sockets, the connection limit, refusals, hand-offs to
//! less loaded workers, and the take-over of a stuck worker's queue when the watchdog asks.
//!
//! Each connection it keeps is passed at once to the `serve` function the loop gives it (the
//! request usually came with the connection), so that one served and closed in its first call
//! makes room under the limit before the next is accepted. It owns this worker's side of the
//! watchdog ([`Shift`]): which workers are stuck decides where connections go.
//!
//! It must not call a handler or touch a connection it keeps: the loop (`mod.rs`) does. It
//! never blocks: every channel is tried, and a full one pauses accepting instead.

use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crossbeam_channel::{Sender, TrySendError};
use mio::net::{TcpListener, TcpStream};
use mio::{Interest, Registry, Token, Waker};
use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::net::SocketFlags;

use crate::watchdog::Shift;
use crate::{Shared, affinity, is_resource_exhaustion};

/// Listener `i` has token `LAST_LISTENER - i`: far above any slot's token (slot index in the low
/// 32 bits, generation above; a generation this high is never reached), and below the waker's.
const LAST_LISTENER: usize = usize::MAX - 1;
/// The most connections accepted from one listener per round: a burst of new connections must
/// not keep the worker from the ones it already has. The rest wait for the next round.
const ACCEPT_BATCH: usize = 64;
/// How long to stop accepting when the process is out of file descriptors (or the system out of
/// memory for sockets): the pending connections stay in the kernel's backlog, and retrying at
/// once would burn a core.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// How long to leave new connections in the backlog when the connection limit is reached and
/// the refusal channel is full: the caller answers them once it has caught up, where accepting
/// them now could only close them unanswered.
const REFUSAL_BACKOFF: Duration = Duration::from_millis(10);
/// A worker keeps a connection it accepted unless it holds more than this many connections
/// beyond the least loaded worker; then it hands the connection over. Whichever worker wakes
/// first accepts a whole burst, and keep-alive connections would stay where they landed.
const IMBALANCE: usize = 2;

/// Another worker, as seen by one that hands it a connection.
#[derive(Debug, Clone)]
pub(crate) struct Peer {
    pub(crate) handoff: Sender<TcpStream>,
    pub(crate) waker: Arc<Waker>,
}

/// Where connections accepted over the connection limit go to be answered and closed.
#[derive(Debug, Clone)]
pub(crate) struct Refusals {
    pub(crate) sender: Sender<TcpStream>,
    pub(crate) waker: Arc<Waker>,
}

/// What an `accept` came to, for the loop around it.
enum Accepted {
    /// Served or refused, or a failure of that one connection: accept again.
    More,
    /// Nothing waits.
    Empty,
    /// Out of descriptors or the like: accepting pauses.
    Pause,
}

/// The listening sockets a worker accepts from, and where what it accepts goes.
pub(super) struct Acceptor {
    index: usize,
    shared: Arc<Shared>,
    /// Every worker, this one included, by index.
    peers: Vec<Peer>,
    /// This worker's rounds as the watchdog sees them (with more than one worker).
    shift: Option<Shift>,
    /// This worker's duplicates of its own socket of each group, registered with its poller;
    /// emptied when draining starts.
    listeners: Vec<TcpListener>,
    /// Every group's sockets, when some group has a socket per worker: those of a worker the
    /// watchdog finds stuck are accepted from by another. Dropped when draining starts, so that
    /// the sockets close once every worker drains.
    groups: Option<Arc<Vec<Vec<std::net::TcpListener>>>>,
    /// The sockets (group, index in it) of stuck workers this worker is accepting from, until
    /// each is empty.
    taking_over: Vec<(usize, usize)>,
    /// Per listener: connections may be waiting (an event came, or the last round stopped at
    /// [`ACCEPT_BATCH`]); registration is edge-triggered, so no new event may announce them.
    pending: Vec<bool>,
    /// Accepting is paused until then after running out of descriptors.
    paused_until: Option<Instant>,
    last_warning: Option<Instant>,
    max_connections: usize,
    refusals: Option<Refusals>,
    /// Refused connections the refusal channel had no room for yet, sent before accepting more
    /// (accepting pauses as soon as one waits, so in practice one; at most [`ACCEPT_BATCH`]).
    unsent: Vec<TcpStream>,
    /// Its own sockets take the connections its CPU receives ([`Acceptor::steer_to`]).
    steered: bool,
}

/// Whether an `accept` error is about the one connection it would have returned, so that the
/// next call may well succeed: `EINTR`, `ECONNABORTED`, and the network errors accept(2) says
/// Linux passes on from the new socket and to treat like `EAGAIN` by retrying.
fn concerns_one_connection(err: &io::Error) -> bool {
    use rustix::io::Errno;
    if matches!(
        err.kind(),
        io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
    ) {
        return true;
    }
    [
        Errno::PROTO,
        Errno::NOPROTOOPT,
        Errno::HOSTDOWN,
        Errno::NONET,
        Errno::HOSTUNREACH,
        Errno::OPNOTSUPP,
        Errno::NETUNREACH,
        Errno::NETDOWN,
        Errno::PERM,
    ]
    .iter()
    .any(|errno| err.raw_os_error() == Some(errno.raw_os_error()))
}

/// Which socket of a listening group is worker `index`'s own: a group has either a socket per
/// worker (socket `j` is worker `j`'s, which is also how the watchdog numbers a stuck worker's
/// socket) or one socket that every worker shares.
fn own_socket(index: usize, group_len: usize) -> usize {
    index % group_len.max(1)
}

impl Acceptor {
    /// Worker `index`'s acceptor: a duplicate of its own socket of each group in `listeners`,
    /// made non-blocking and registered with `registry`.
    pub(super) fn new(
        index: usize,
        listeners: &Arc<Vec<Vec<std::net::TcpListener>>>,
        registry: &Registry,
        shared: Arc<Shared>,
        max_connections: usize,
        refusals: Option<Refusals>,
    ) -> io::Result<Self> {
        let mut own = Vec::with_capacity(listeners.len());
        for (slot, group) in listeners.iter().enumerate() {
            let Some(listener) = group.get(own_socket(index, group.len())) else {
                continue;
            };
            let copy = listener.try_clone()?;
            copy.set_nonblocking(true)?;
            let mut copy = TcpListener::from_std(copy);
            registry.register(&mut copy, Token(LAST_LISTENER - slot), Interest::READABLE)?;
            own.push(copy);
        }
        let groups = listeners
            .iter()
            .any(|group| group.len() > 1)
            .then(|| Arc::clone(listeners));
        Ok(Self {
            index,
            shared,
            peers: Vec::new(),
            shift: None,
            // Connections may have queued before the poller was there to see them arrive.
            pending: vec![true; own.len()],
            listeners: own,
            groups,
            taking_over: Vec::new(),
            paused_until: None,
            last_warning: None,
            max_connections,
            refusals,
            unsent: Vec::new(),
            steered: false,
        })
    }

    /// Tells the acceptor how to reach every worker (itself included), and gives it its shift
    /// with the watchdog if there is one, before the worker runs.
    pub(super) fn meet(&mut self, peers: Vec<Peer>, shift: Option<Shift>) {
        self.peers = peers;
        self.shift = shift;
    }

    /// Asks the kernel to queue on this worker's own socket of each group with a socket per
    /// worker the connections whose handshake `cpu` (the worker's, pinned) processed. A socket
    /// every worker shares is left alone.
    pub(super) fn steer_to(&mut self, cpu: usize) {
        // Every socket is steered: no short cut after the first.
        let steered = self
            .sockets_of(self.index)
            .filter(|socket| affinity::steer(socket, cpu).is_ok())
            .count();
        self.steered |= steered > 0;
    }

    /// `worker`'s own socket of each group with a socket per worker.
    fn sockets_of(&self, worker: usize) -> impl Iterator<Item = &std::net::TcpListener> {
        self.groups
            .iter()
            .flat_map(|groups| groups.iter())
            .filter(|group| group.len() > 1)
            .filter_map(move |group| group.get(own_socket(worker, group.len())))
    }

    /// Marks this worker's round begun; when the watchdog asks, notes the sockets of every
    /// worker it found stuck as to be accepted from.
    pub(super) fn round_begins(&mut self) {
        let Some(shift) = &mut self.shift else {
            return;
        };
        shift.begin();
        if !shift.asked_to_take_over() {
            return;
        }
        let Some(groups) = &self.groups else {
            return;
        };
        for (g, group) in groups.iter().enumerate().filter(|(_, g)| g.len() > 1) {
            for j in (0..group.len()).filter(|&j| shift.is_stuck(j)) {
                let own = own_socket(self.index, group.len());
                if j != own && !self.taking_over.contains(&(g, j)) {
                    self.taking_over.push((g, j));
                }
            }
        }
    }

    /// Marks this worker's round over: it is about to wait for events.
    pub(super) fn round_ends(&mut self) {
        if let Some(shift) = &mut self.shift {
            shift.end();
        }
    }

    /// Takes an event if it is a listener's (connections wait on it); whether it was.
    pub(super) fn listener_event(&mut self, token: Token) -> bool {
        let Some(pending) = LAST_LISTENER
            .checked_sub(token.0)
            .and_then(|i| self.pending.get_mut(i))
        else {
            return false;
        };
        *pending = true;
        true
    }

    /// Whether accepting has work now, so the worker must not sleep in the poller.
    pub(super) fn has_work(&self, now: Instant) -> bool {
        self.paused_until.is_none_or(|until| now >= until)
            && (self.pending.contains(&true) || !self.taking_over.is_empty())
    }

    /// Until when accepting is paused.
    pub(super) fn paused_until(&self) -> Option<Instant> {
        self.paused_until
    }

    /// Accepts what waits on the listeners (at most [`ACCEPT_BATCH`] from each) and passes each
    /// new connection to `serve`, or to a less loaded worker, or refuses it over the connection
    /// limit.
    pub(super) fn accept(&mut self, now: Instant, serve: &mut dyn FnMut(TcpStream)) {
        if self.paused_until.is_some_and(|until| now < until) {
            return;
        }
        if self.paused_until.take().is_some() {
            self.pending.fill(true);
        }
        if !self.send_refusals() {
            self.paused_until = Some(now + REFUSAL_BACKOFF);
            return;
        }
        for i in 0..self.listeners.len() {
            for _ in 0..ACCEPT_BATCH {
                if !self.pending.get(i).copied().unwrap_or(false) {
                    break;
                }
                if self.refusals_backed_up() {
                    self.paused_until = Some(now + REFUSAL_BACKOFF);
                    return;
                }
                let Some(listener) = self.listeners.get(i) else {
                    break;
                };
                let accepted = listener.accept().map(|(stream, _)| stream);
                match self.admit_accepted(accepted, now, serve) {
                    Accepted::More => {}
                    Accepted::Empty => self.pending[i] = false,
                    Accepted::Pause => return,
                }
            }
        }
        self.take_over(now, serve);
    }

    /// Accepts (at most [`ACCEPT_BATCH`] each round) from the stuck workers' sockets this
    /// worker was asked to take over, until each is empty.
    fn take_over(&mut self, now: Instant, serve: &mut dyn FnMut(TcpStream)) {
        // Checked first: this runs every round, and the clone is an atomic write.
        if self.taking_over.is_empty() {
            return;
        }
        let Some(groups) = self.groups.clone() else {
            return;
        };
        let mut k = 0;
        while let Some(&(g, j)) = self.taking_over.get(k) {
            let mut empty = true;
            if let Some(listener) = groups.get(g).and_then(|group| group.get(j)) {
                for _ in 0..ACCEPT_BATCH {
                    if self.refusals_backed_up() {
                        self.paused_until = Some(now + REFUSAL_BACKOFF);
                        return;
                    }
                    let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
                    let accepted = rustix::net::accept_with(listener, flags)
                        .map(|fd| TcpStream::from_std(std::net::TcpStream::from(fd)))
                        .map_err(io::Error::from);
                    match self.admit_accepted(accepted, now, serve) {
                        Accepted::More => empty = false,
                        Accepted::Empty => {
                            empty = true;
                            break;
                        }
                        Accepted::Pause => return,
                    }
                }
            }
            if empty {
                self.taking_over.swap_remove(k);
            } else {
                k += 1;
            }
        }
    }

    /// Serves what an `accept` gave; whether to accept from that socket again.
    fn admit_accepted(
        &mut self,
        accepted: io::Result<TcpStream>,
        now: Instant,
        serve: &mut dyn FnMut(TcpStream),
    ) -> Accepted {
        match accepted {
            Ok(stream) => {
                self.admit(stream, serve);
                Accepted::More
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Accepted::Empty,
            // One connection's trouble (it was reset while queued, say): the next one is
            // unaffected.
            Err(e) if concerns_one_connection(&e) => Accepted::More,
            Err(e) => {
                // Out of descriptors, or a failure that retrying at once would repeat.
                if !is_resource_exhaustion(&e) {
                    eprintln!("pool-worker-{}: accept: {e}", self.index);
                } else if self
                    .last_warning
                    .is_none_or(|t| now >= t + Duration::from_secs(1))
                {
                    eprintln!(
                        "pool-worker-{}: accept: {e}; pausing accepts briefly",
                        self.index
                    );
                    self.last_warning = Some(now);
                }
                self.paused_until = Some(now + ACCEPT_BACKOFF);
                Accepted::Pause
            }
        }
    }

    /// Whether a connection accepted now could only wait to be refused: the limit is reached
    /// and the refusal channel is full, or refusals wait here already.
    fn refusals_backed_up(&self) -> bool {
        let Some(refusals) = &self.refusals else {
            return false;
        };
        !self.unsent.is_empty()
            || refusals.sender.is_full()
                && self.shared.active.load(Ordering::Acquire) >= self.max_connections
    }

    /// Sends what waits to be refused; whether nothing waits any more.
    fn send_refusals(&mut self) -> bool {
        let Some(refusals) = &self.refusals else {
            return true;
        };
        while let Some(stream) = self.unsent.pop() {
            match refusals.sender.try_send(stream) {
                Ok(()) => {
                    let _ = refusals.waker.wake();
                }
                Err(TrySendError::Full(stream)) => {
                    self.unsent.push(stream);
                    return false;
                }
                // Nobody answers any more (shutting down): closed unanswered.
                Err(TrySendError::Disconnected(_)) => self.unsent.clear(),
            }
        }
        true
    }

    /// Serves a connection this worker accepted (or hands it to a less loaded worker), within
    /// the connection limit.
    fn admit(&mut self, stream: TcpStream, serve: &mut dyn FnMut(TcpStream)) {
        // Reserve first, as `Pool::try_dispatch` does: concurrent closes only make room.
        let active = self.shared.active.fetch_add(1, Ordering::AcqRel);
        if active < self.max_connections {
            let mut stream = stream;
            let target = self.less_loaded_peer();
            if let Some((target, peer)) = target.and_then(|t| self.peers.get(t).map(|p| (t, p)))
                && self.shared.enter_handoff(target)
            {
                // Counted before it is sent: the peer may close it before this thread runs on.
                self.shared.add_load(target, 1);
                let sent = peer.handoff.try_send(stream);
                self.shared.leave_handoff(target);
                match sent {
                    Ok(()) => {
                        // A failed wake leaves it queued until the peer's next round.
                        let _ = peer.waker.wake();
                        return;
                    }
                    Err(TrySendError::Full(s) | TrySendError::Disconnected(s)) => {
                        self.shared.sub_load(target, 1);
                        stream = s;
                    }
                }
            }
            self.shared.add_load(self.index, 1);
            serve(stream);
            return;
        }
        self.shared.active.fetch_sub(1, Ordering::AcqRel);
        let Some(refusals) = &self.refusals else {
            return; // nobody to answer it: closed here
        };
        match refusals.sender.try_send(stream) {
            // A failed wake leaves it queued until the refuser's next wake-up.
            Ok(()) => {
                let _ = refusals.waker.wake();
            }
            // Another worker filled the channel first: kept until there is room (accepting
            // pauses meanwhile), unless too many wait already.
            Err(TrySendError::Full(stream)) if self.unsent.len() < ACCEPT_BATCH => {
                self.unsent.push(stream);
            }
            Err(_) => {}
        }
    }

    /// The least loaded other worker that is not stuck in a long round, if this one holds more
    /// than [`IMBALANCE`] connections beyond it. When sockets are steered to CPUs, a worker
    /// with connections waiting on its own socket is about to take its CPU's share and is not
    /// handed more, up to [`ACCEPT_BATCH`] beyond it: two client threads that connect at once
    /// from two CPUs would otherwise see the first burst accepted split between both workers
    /// before the second is accepted at all.
    fn less_loaded_peer(&self) -> Option<usize> {
        let mine = self.shared.load(self.index);
        let about_to_take_its_own = |load: usize, i: usize| {
            self.steered && mine <= load.saturating_add(ACCEPT_BATCH) && self.has_waiting(i)
        };
        (0..self.peers.len())
            .filter(|&i| i != self.index)
            .filter(|&i| !self.shift.as_ref().is_some_and(|s| s.is_stuck(i)))
            .map(|i| (self.shared.load(i), i))
            .filter(|&(load, _)| mine > load.saturating_add(IMBALANCE))
            .filter(|&(load, i)| !about_to_take_its_own(load, i))
            .min()
            .map(|(_, i)| i)
    }

    /// Whether a connection waits on `worker`'s own socket of some group with a socket per
    /// worker (a poll that does not wait: one system call per group).
    fn has_waiting(&self, worker: usize) -> bool {
        self.sockets_of(worker).any(|socket| {
            let mut fds = [PollFd::new(socket, PollFlags::IN)];
            rustix::event::poll(&mut fds, Some(&Timespec::default())).is_ok_and(|n| n > 0)
        })
    }

    /// Stops accepting, for the drain. The registrations must go explicitly: the epoll set
    /// forgets a socket only when every descriptor of it is closed, and the caller may hold one.
    pub(super) fn stop(&mut self, registry: &Registry) {
        for listener in &mut self.listeners {
            let _ = registry.deregister(listener);
        }
        self.listeners.clear();
        self.pending.clear();
        self.groups = None;
        self.taking_over.clear();
        self.paused_until = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepting_has_work_while_a_socket_may_have_connections_or_a_take_over_goes_on_unless_paused()
    {
        let poll = mio::Poll::new().unwrap();
        let none = Arc::new(Vec::new());
        let shared = Arc::new(Shared::new(1));
        let mut acceptor = Acceptor::new(0, &none, poll.registry(), shared, 1, None).unwrap();
        let now = Instant::now();
        let ms = Duration::from_millis;
        // (name, pending per listener, taking over, paused until, has work)
        #[rustfmt::skip]
        let cases = [
            ("nothing waits",                    vec![false, false], false, None,              false),
            ("a socket had an event",            vec![false, true],  false, None,              true),
            ("a stuck worker's queue",           vec![false],        true,  None,              true),
            ("paused, with a socket waiting",    vec![true],         false, Some(now + ms(5)), false),
            ("paused, taking over",              vec![],             true,  Some(now + ms(5)), false),
            ("a pause that has ended",           vec![true],         false, Some(now),         true),
            ("an ended pause, nothing waiting",  vec![false],        false, Some(now - ms(5)), false),
        ];
        for (name, pending, taking_over, paused_until, expected) in cases {
            acceptor.pending = pending;
            acceptor.taking_over = if taking_over { vec![(0, 1)] } else { vec![] };
            acceptor.paused_until = paused_until;
            assert_eq!(acceptor.has_work(now), expected, "{name}");
        }
    }

    #[test]
    fn a_listener_s_event_marks_its_socket_and_no_other_token_is_taken() {
        let poll = mio::Poll::new().unwrap();
        let none = Arc::new(Vec::new());
        let shared = Arc::new(Shared::new(1));
        let mut acceptor = Acceptor::new(0, &none, poll.registry(), shared, 1, None).unwrap();
        acceptor.pending = vec![false, false];
        assert!(acceptor.listener_event(Token(LAST_LISTENER - 1)));
        assert_eq!(acceptor.pending, [false, true]);
        assert!(
            !acceptor.listener_event(Token(LAST_LISTENER - 2)),
            "no third socket"
        );
        assert!(!acceptor.listener_event(Token(usize::MAX)), "the waker's");
        assert!(!acceptor.listener_event(Token(7)), "a connection's");
        assert_eq!(acceptor.pending, [false, true]);
    }

    #[test]
    fn a_steered_worker_hands_no_connection_to_a_peer_whose_own_socket_has_some_waiting() {
        let poll = mio::Poll::new().unwrap();
        let group: Vec<std::net::TcpListener> = (0..2)
            .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
            .collect();
        let peer_socket = group[1].local_addr().unwrap();
        let groups = Arc::new(vec![group]);
        let shared = Arc::new(Shared::new(2));
        let registry = poll.registry();
        let mut acceptor =
            Acceptor::new(0, &groups, registry, Arc::clone(&shared), 100, None).unwrap();
        let waker = Arc::new(Waker::new(registry, Token(0)).unwrap());
        let peer = || Peer {
            handoff: crossbeam_channel::bounded(1).0,
            waker: Arc::clone(&waker),
        };
        acceptor.meet(vec![peer(), peer()], None);
        shared.add_load(0, IMBALANCE + 1);
        let _client = std::net::TcpStream::connect(peer_socket).unwrap();
        let waiting = (0..100).any(|_| {
            std::thread::sleep(Duration::from_millis(10));
            acceptor.has_waiting(1)
        });
        assert!(waiting && !acceptor.has_waiting(0), "the connection waits");
        assert_eq!(
            acceptor.less_loaded_peer(),
            Some(1),
            "unsteered: the balance alone"
        );
        acceptor.steer_to(affinity::allowed_cpus()[0]);
        assert!(acceptor.steered);
        assert_eq!(
            acceptor.less_loaded_peer(),
            None,
            "the peer has its own to take"
        );
        shared.add_load(0, ACCEPT_BATCH - (IMBALANCE + 1));
        assert_eq!(acceptor.less_loaded_peer(), None, "a batch beyond it");
        shared.add_load(0, 1);
        assert_eq!(
            acceptor.less_loaded_peer(),
            Some(1),
            "more than a batch beyond it: handed over all the same"
        );
    }
}
