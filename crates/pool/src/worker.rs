//! One worker: an event loop over its own connections, their deadlines, its inbox and the
//! listening sockets it accepts from.
//!
//! It must never block on a socket, and it is the only thread that touches its connections.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TryRecvError, TrySendError};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};
use rustix::net::SocketFlags;

use crate::handler::{CloseReason, Handler, Next, Readiness};
use crate::slab::{Key, Slab};
use crate::watchdog::Shift;
use crate::{BuildError, Shared, is_resource_exhaustion};

const WAKER: Token = Token(usize::MAX);
/// Listener `i` has token `LAST_LISTENER - i`: far above any slot's token (slot index in the low
/// 32 bits, generation above; a generation this high is never reached).
const LAST_LISTENER: usize = usize::MAX - 1;
const EVENTS_PER_POLL: usize = 1024;
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

/// What a worker is made from, besides its handler.
pub(crate) struct Setup<'a> {
    pub(crate) index: usize,
    pub(crate) inbox: Receiver<TcpStream>,
    pub(crate) handoffs: Receiver<TcpStream>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) drain_timeout: Duration,
    pub(crate) max_connections: usize,
    pub(crate) listeners: &'a Arc<Vec<Vec<std::net::TcpListener>>>,
    pub(crate) refusals: Option<Refusals>,
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

/// The listening sockets a worker accepts from.
struct Acceptor {
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
}

struct Entry<C> {
    stream: TcpStream,
    conn: C,
    /// The deadline the handler asked for last.
    deadline: Option<Instant>,
    /// The earliest timer queued for this entry. Timers are only queued when the deadline moves
    /// earlier than this, so a connection whose deadline keeps moving later (the usual keep-alive
    /// pattern) has one heap entry, not one per request.
    queued: Option<Instant>,
    /// Registered with the poller: only once the first call has had to wait.
    registered: bool,
    /// Queued to resume after the next round's events (it yielded), with what events said
    /// about it meanwhile: it is called once then, not once per event as well.
    resume: Option<Readiness>,
}

#[derive(Clone, Copy)]
enum Call {
    Ready(Readiness),
    Timeout,
    Drain,
}

pub(crate) struct Worker<H: Handler> {
    index: usize,
    poll: Poll,
    waker: Arc<Waker>,
    inbox: Receiver<TcpStream>,
    /// Connections other workers accepted and passed on (already counted in this one's load).
    handoffs: Receiver<TcpStream>,
    /// Every worker, this one included, by index.
    peers: Vec<Peer>,
    acceptor: Acceptor,
    handler: H,
    shared: Arc<Shared>,
    conns: Slab<Entry<H::Conn>>,
    timers: BinaryHeap<Reverse<(Instant, Key)>>,
    drain_timeout: Duration,
    /// Set once the inbox is disconnected: the instant by which every connection must be gone.
    drain_deadline: Option<Instant>,
    tick_at: Option<Instant>,
    forced_closed: u64,
    /// Connections that yielded their turn: resumed after the next round's events.
    yielded: Vec<Key>,
    /// This worker's rounds as the watchdog sees them (with more than one worker).
    shift: Option<Shift>,
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
    /// Whether accepting has work now, so the worker must not sleep in the poller.
    fn has_work(&self, now: Instant) -> bool {
        self.paused_until.is_none_or(|until| now >= until)
            && (self.pending.contains(&true) || !self.taking_over.is_empty())
    }
}

impl<H: Handler> Worker<H> {
    pub(crate) fn new(setup: Setup<'_>, handler: H) -> Result<Self, BuildError> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let mut listeners = Vec::with_capacity(setup.listeners.len());
        for (slot, group) in setup.listeners.iter().enumerate() {
            let Some(listener) = group.get(own_socket(setup.index, group.len())) else {
                continue;
            };
            let copy = listener.try_clone()?;
            copy.set_nonblocking(true)?;
            let mut copy = TcpListener::from_std(copy);
            poll.registry()
                .register(&mut copy, Token(LAST_LISTENER - slot), Interest::READABLE)?;
            listeners.push(copy);
        }
        let groups = setup
            .listeners
            .iter()
            .any(|group| group.len() > 1)
            .then(|| Arc::clone(setup.listeners));
        Ok(Self {
            index: setup.index,
            poll,
            waker,
            inbox: setup.inbox,
            handoffs: setup.handoffs,
            peers: Vec::new(),
            acceptor: Acceptor {
                // Connections may have queued before the poller was there to see them arrive.
                pending: vec![true; listeners.len()],
                listeners,
                groups,
                taking_over: Vec::new(),
                paused_until: None,
                last_warning: None,
                max_connections: setup.max_connections,
                refusals: setup.refusals,
                unsent: Vec::new(),
            },
            handler,
            shared: setup.shared,
            conns: Slab::new(),
            timers: BinaryHeap::new(),
            drain_timeout: setup.drain_timeout,
            drain_deadline: None,
            tick_at: None,
            forced_closed: 0,
            yielded: Vec::new(),
            shift: None,
        })
    }

    pub(crate) fn waker(&self) -> Arc<Waker> {
        Arc::clone(&self.waker)
    }

    /// Tells the worker how to reach every worker (itself included), and gives it its shift
    /// with the watchdog if there is one, before it runs.
    pub(crate) fn meet(&mut self, peers: Vec<Peer>, shift: Option<Shift>) {
        self.peers = peers;
        self.shift = shift;
    }

    /// Marks this worker's round begun; when the watchdog asks, notes the sockets of every
    /// worker it found stuck as to be accepted from.
    fn begin_round(&mut self) {
        let Some(shift) = &mut self.shift else {
            return;
        };
        shift.begin();
        if !shift.asked_to_take_over() {
            return;
        }
        let Some(groups) = &self.acceptor.groups else {
            return;
        };
        for (g, group) in groups.iter().enumerate().filter(|(_, g)| g.len() > 1) {
            for j in (0..group.len()).filter(|&j| shift.is_stuck(j)) {
                let own = own_socket(self.index, group.len());
                if j != own && !self.acceptor.taking_over.contains(&(g, j)) {
                    self.acceptor.taking_over.push((g, j));
                }
            }
        }
    }

    /// Runs until shutdown; returns how many connections the drain deadline closed.
    pub(crate) fn run(mut self) -> u64 {
        let mut events = Events::with_capacity(EVENTS_PER_POLL);
        loop {
            if let Some(shift) = &mut self.shift {
                shift.end();
            }
            // A round that had events ends by letting the other threads runnable on this CPU go
            // first. Where clients, a proxy or the other workers share the cores, the requests
            // they send meanwhile are then waiting for the next round; a worker that went
            // straight on would be preempted in the middle of a round, and the connections it
            // had not reached would wait a whole time slice (measured: p99 8 ms against 1.1 ms,
            // docs/benchmarks.md). Alone on its CPU, the call returns at once. It comes before
            // the poll's timeout is taken, so time spent yielded does not delay a deadline.
            if !events.is_empty() {
                std::thread::yield_now();
            }
            // Connections waiting for their next turn, or for accepting, are work for now:
            // only look for events.
            let now = Instant::now();
            let timeout = match self.yielded.is_empty() && !self.acceptor.has_work(now) {
                true => self.poll_timeout(now),
                false => Some(Duration::ZERO),
            };
            let polled = self.poll.poll(&mut events, timeout);
            self.begin_round();
            if let Err(err) = polled {
                if err.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                // The poller itself failed: nothing can be served any more by this worker.
                eprintln!("pool-worker-{}: poll failed: {err}", self.index);
                break;
            }
            let now = Instant::now();
            for event in &events {
                if event.token() == WAKER {
                    continue;
                }
                if let Some(pending) = LAST_LISTENER
                    .checked_sub(event.token().0)
                    .and_then(|i| self.acceptor.pending.get_mut(i))
                {
                    *pending = true;
                    continue;
                }
                let key = Key::from_token(event.token());
                let readiness = Readiness {
                    read_closed: event.is_read_closed(),
                };
                if let Some(Some(waiting)) = self.conns.get_mut(key).map(|e| e.resume.as_mut()) {
                    // It has its turn after the others; keep what the event said for then.
                    waiting.read_closed |= readiness.read_closed;
                    continue;
                }
                self.call(key, Call::Ready(readiness), now);
            }
            self.accept(now);
            // Those that yielded last round go after every connection that became ready, so a
            // pipelining flood or a fast download shares the worker instead of holding it.
            // (Slot keys carry a generation: a key whose connection closed meanwhile is ignored.)
            for key in std::mem::take(&mut self.yielded) {
                let Some(readiness) = self.conns.get_mut(key).and_then(|e| e.resume.take()) else {
                    continue;
                };
                self.call(key, Call::Ready(readiness), now);
            }
            // The inbox is checked every round, not only on a wake-up, so that a lost wake-up
            // can delay a socket by one round at most.
            self.take_handoffs(now);
            self.take_inbox(now);
            self.expire_timers(now);
            self.tick_at = self.handler.tick(now);

            if let Some(deadline) = self.drain_deadline {
                if self.conns.len() == 0 && !self.late_handoffs(now) {
                    break;
                }
                if now >= deadline {
                    self.close_all(CloseReason::DrainDeadline);
                    break;
                }
            }
        }
        // Passed on too late to be served (the drain deadline closed the rest, or the poller
        // failed): closed, and no longer counted. None can come after the wait.
        self.shared.close_handoffs(self.index);
        while self.shared.handoffs_in_flight(self.index) {
            std::thread::yield_now();
        }
        while let Ok(stream) = self.handoffs.try_recv() {
            drop(stream);
            self.shared.active.fetch_sub(1, Ordering::AcqRel);
            self.shared.sub_load(self.index, 1);
        }
        self.handler.tick(Instant::now());
        self.forced_closed
    }

    fn poll_timeout(&self, now: Instant) -> Option<Duration> {
        let next_timer = self.timers.peek().map(|Reverse((at, _))| *at);
        [
            next_timer,
            self.tick_at,
            self.drain_deadline,
            self.acceptor.paused_until,
        ]
        .into_iter()
        .flatten()
        .min()
        .map(|at| at.saturating_duration_since(now))
    }

    /// Accepts what waits on the listeners (at most [`ACCEPT_BATCH`] from each) and serves each
    /// new connection at once, or refuses it over the connection limit.
    fn accept(&mut self, now: Instant) {
        if self.acceptor.paused_until.is_some_and(|until| now < until) {
            return;
        }
        if self.acceptor.paused_until.take().is_some() {
            self.acceptor.pending.fill(true);
        }
        if !self.send_refusals() {
            self.acceptor.paused_until = Some(now + REFUSAL_BACKOFF);
            return;
        }
        for i in 0..self.acceptor.listeners.len() {
            for _ in 0..ACCEPT_BATCH {
                if !self.acceptor.pending.get(i).copied().unwrap_or(false) {
                    break;
                }
                if self.refusals_backed_up() {
                    self.acceptor.paused_until = Some(now + REFUSAL_BACKOFF);
                    return;
                }
                let Some(listener) = self.acceptor.listeners.get(i) else {
                    break;
                };
                let accepted = listener.accept().map(|(stream, _)| stream);
                match self.admit_accepted(accepted, now) {
                    Accepted::More => {}
                    Accepted::Empty => self.acceptor.pending[i] = false,
                    Accepted::Pause => return,
                }
            }
        }
        self.take_over(now);
    }

    /// Accepts (at most [`ACCEPT_BATCH`] each round) from the stuck workers' sockets this
    /// worker was asked to take over, until each is empty.
    fn take_over(&mut self, now: Instant) {
        // Checked first: this runs every round, and the clone is an atomic write.
        if self.acceptor.taking_over.is_empty() {
            return;
        }
        let Some(groups) = self.acceptor.groups.clone() else {
            return;
        };
        let mut k = 0;
        while let Some(&(g, j)) = self.acceptor.taking_over.get(k) {
            let mut empty = true;
            if let Some(listener) = groups.get(g).and_then(|group| group.get(j)) {
                for _ in 0..ACCEPT_BATCH {
                    if self.refusals_backed_up() {
                        self.acceptor.paused_until = Some(now + REFUSAL_BACKOFF);
                        return;
                    }
                    let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
                    let accepted = rustix::net::accept_with(listener, flags)
                        .map(|fd| TcpStream::from_std(std::net::TcpStream::from(fd)))
                        .map_err(io::Error::from);
                    match self.admit_accepted(accepted, now) {
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
                self.acceptor.taking_over.swap_remove(k);
            } else {
                k += 1;
            }
        }
    }

    /// Serves what an `accept` gave; whether to accept from that socket again.
    fn admit_accepted(&mut self, accepted: io::Result<TcpStream>, now: Instant) -> Accepted {
        match accepted {
            Ok(stream) => {
                self.admit(stream, now);
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
                    .acceptor
                    .last_warning
                    .is_none_or(|t| now >= t + Duration::from_secs(1))
                {
                    eprintln!(
                        "pool-worker-{}: accept: {e}; pausing accepts briefly",
                        self.index
                    );
                    self.acceptor.last_warning = Some(now);
                }
                self.acceptor.paused_until = Some(now + ACCEPT_BACKOFF);
                Accepted::Pause
            }
        }
    }

    /// Whether a connection accepted now could only wait to be refused: the limit is reached
    /// and the refusal channel is full, or refusals wait here already.
    fn refusals_backed_up(&self) -> bool {
        let Some(refusals) = &self.acceptor.refusals else {
            return false;
        };
        !self.acceptor.unsent.is_empty()
            || refusals.sender.is_full()
                && self.shared.active.load(Ordering::Acquire) >= self.acceptor.max_connections
    }

    /// Sends what waits to be refused; whether nothing waits any more.
    fn send_refusals(&mut self) -> bool {
        let Some(refusals) = &self.acceptor.refusals else {
            return true;
        };
        while let Some(stream) = self.acceptor.unsent.pop() {
            match refusals.sender.try_send(stream) {
                Ok(()) => {
                    let _ = refusals.waker.wake();
                }
                Err(TrySendError::Full(stream)) => {
                    self.acceptor.unsent.push(stream);
                    return false;
                }
                // Nobody answers any more (shutting down): closed unanswered.
                Err(TrySendError::Disconnected(_)) => self.acceptor.unsent.clear(),
            }
        }
        true
    }

    /// Serves a connection this worker accepted (or hands it to a less loaded worker), within
    /// the connection limit.
    fn admit(&mut self, stream: TcpStream, now: Instant) {
        // Reserve first, as `Pool::try_dispatch` does: concurrent closes only make room.
        let active = self.shared.active.fetch_add(1, Ordering::AcqRel);
        if active < self.acceptor.max_connections {
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
            self.open(stream, now);
            return;
        }
        self.shared.active.fetch_sub(1, Ordering::AcqRel);
        let Some(refusals) = &self.acceptor.refusals else {
            return; // nobody to answer it: closed here
        };
        match refusals.sender.try_send(stream) {
            // A failed wake leaves it queued until the refuser's next wake-up.
            Ok(()) => {
                let _ = refusals.waker.wake();
            }
            // Another worker filled the channel first: kept until there is room (accepting
            // pauses meanwhile), unless too many wait already.
            Err(TrySendError::Full(stream)) if self.acceptor.unsent.len() < ACCEPT_BATCH => {
                self.acceptor.unsent.push(stream);
            }
            Err(_) => {}
        }
    }

    /// The least loaded other worker that is not stuck in a long round, if this one holds more
    /// than [`IMBALANCE`] connections beyond it.
    fn less_loaded_peer(&self) -> Option<usize> {
        let mine = self.shared.load(self.index);
        (0..self.peers.len())
            .filter(|&i| i != self.index)
            .filter(|&i| !self.shift.as_ref().is_some_and(|s| s.is_stuck(i)))
            .map(|i| (self.shared.load(i), i))
            .min()
            .filter(|&(load, _)| mine > load.saturating_add(IMBALANCE))
            .map(|(_, i)| i)
    }

    /// Before a drained worker leaves: waits for hand-offs that began before its gate closed
    /// (a send takes no time: nothing blocks in it) and opens what came. Whether it has
    /// connections again.
    fn late_handoffs(&mut self, now: Instant) -> bool {
        while self.shared.handoffs_in_flight(self.index) {
            std::thread::yield_now();
        }
        self.take_handoffs(now);
        self.conns.len() > 0
    }

    /// Opens what other workers passed on.
    fn take_handoffs(&mut self, now: Instant) {
        while let Ok(stream) = self.handoffs.try_recv() {
            self.open(stream, now);
        }
    }

    fn take_inbox(&mut self, now: Instant) {
        loop {
            match self.inbox.try_recv() {
                Ok(stream) => self.open(stream, now),
                Err(TryRecvError::Empty) => return,
                Err(TryRecvError::Disconnected) => {
                    if self.drain_deadline.is_none() {
                        self.start_drain(now);
                    }
                    return;
                }
            }
        }
    }

    /// Takes a new socket and calls the handler at once: the request has usually arrived with
    /// the connection, and a connection served and closed in this first call never costs a
    /// registration with the poller (nor, since closing the socket removes it from the epoll set,
    /// a deregistration). Registration happens when a call first has to wait; the poller then
    /// reports any readiness that is already there, so nothing is missed.
    fn open(&mut self, stream: TcpStream, now: Instant) {
        let handler = &mut self.handler;
        let opened = panic::catch_unwind(AssertUnwindSafe(|| handler.open(&stream, now)));
        let Ok(conn) = opened else {
            // There is no connection state to hand to `close`: the socket is just dropped.
            self.shared.active.fetch_sub(1, Ordering::AcqRel);
            self.shared.sub_load(self.index, 1);
            return;
        };
        let key = self.conns.insert(Entry {
            stream,
            conn,
            deadline: None,
            queued: None,
            registered: false,
            resume: None,
        });
        let first = match self.drain_deadline {
            Some(_) => Call::Drain,
            None => Call::Ready(Readiness::default()),
        };
        self.call(key, first, now);
    }

    /// Registers a connection that has to wait, once; one that cannot be registered is closed.
    fn register(&mut self, key: Key) {
        let Some(entry) = self.conns.get_mut(key) else {
            return;
        };
        if entry.registered {
            return;
        }
        let interest = Interest::READABLE | Interest::WRITABLE;
        match self
            .poll
            .registry()
            .register(&mut entry.stream, key.token(), interest)
        {
            Ok(()) => entry.registered = true,
            Err(_) => self.close(key, CloseReason::Done),
        }
    }

    fn start_drain(&mut self, now: Instant) {
        self.drain_deadline = Some(now + self.drain_timeout);
        self.shared.close_handoffs(self.index);
        // Stop accepting. The registrations must go explicitly: the epoll set forgets a socket
        // only when every descriptor of it is closed, and the caller may hold one.
        for listener in &mut self.acceptor.listeners {
            let _ = self.poll.registry().deregister(listener);
        }
        self.acceptor.listeners.clear();
        self.acceptor.pending.clear();
        self.acceptor.groups = None;
        self.acceptor.taking_over.clear();
        self.acceptor.paused_until = None;
        for key in self.conns.keys() {
            self.call(key, Call::Drain, now);
        }
    }

    /// Calls the handler for one connection, containing any panic, and applies its answer.
    fn call(&mut self, key: Key, call: Call, now: Instant) {
        let Some(entry) = self.conns.get_mut(key) else {
            return; // a late event for a connection closed earlier in this round
        };
        let handler = &mut self.handler;
        let result = panic::catch_unwind(AssertUnwindSafe(|| {
            let (conn, stream) = (&mut entry.conn, &mut entry.stream);
            match call {
                Call::Ready(readiness) => handler.ready(conn, stream, readiness, now),
                Call::Timeout => handler.timeout(conn, stream, now),
                Call::Drain => handler.drain(conn, stream, now),
            }
        }));
        match result {
            Ok(Next::Wait(deadline)) => {
                entry.deadline = deadline;
                if let Some(at) = deadline
                    && entry.queued.is_none_or(|queued| at < queued)
                {
                    entry.queued = Some(at);
                    self.timers.push(Reverse((at, key)));
                }
                self.register(key);
            }
            Ok(Next::Yield) => {
                // A deadline asked for earlier may pass while the connection is busy; it will
                // ask for a fresh one when it next waits.
                entry.deadline = None;
                if entry.resume.is_none() {
                    entry.resume = Some(Readiness::default());
                    self.yielded.push(key);
                }
                self.register(key);
            }
            Ok(Next::Close) => self.close(key, CloseReason::Done),
            Err(_) => self.close(key, CloseReason::Panicked),
        }
    }

    fn expire_timers(&mut self, now: Instant) {
        while let Some(&Reverse((at, key))) = self.timers.peek() {
            if at > now {
                return;
            }
            self.timers.pop();
            let Some(entry) = self.conns.get_mut(key) else {
                continue;
            };
            if entry.queued != Some(at) {
                continue; // superseded by an earlier timer that has already been handled
            }
            entry.queued = None;
            match entry.deadline {
                Some(deadline) if deadline <= now => self.call(key, Call::Timeout, now),
                Some(later) => {
                    entry.queued = Some(later);
                    self.timers.push(Reverse((later, key)));
                }
                None => {}
            }
        }
    }

    fn close(&mut self, key: Key, reason: CloseReason) {
        // Dropping the stream closes the socket, which takes it out of the epoll set: no
        // deregistration call is needed (the socket is never duplicated).
        let Some(entry) = self.conns.remove(key) else {
            return;
        };
        let handler = &mut self.handler;
        let conn = entry.conn;
        // A panic in `close` itself has nobody left to tell (the panic hook has reported it).
        let _ = panic::catch_unwind(AssertUnwindSafe(|| handler.close(conn, reason)));
        self.shared.active.fetch_sub(1, Ordering::AcqRel);
        self.shared.sub_load(self.index, 1);
        if reason == CloseReason::DrainDeadline {
            self.forced_closed += 1;
        }
    }

    fn close_all(&mut self, reason: CloseReason) {
        for key in self.conns.keys() {
            self.close(key, reason);
        }
    }
}
