//! A fixed-size pool of event-loop worker threads that accept their own connections.
//!
//! Each worker (`pool-worker-<i>`) owns a `mio::Poll`, a `Waker`, a bounded crossbeam inbox, its
//! connections and their deadlines. Every worker polls its listening sockets (given to
//! [`Builder::listeners`]) and accepts from them itself, so a new connection costs no hand-off
//! between threads; a connection accepted over the connection limit goes to the caller's
//! refusal channel ([`Builder::refusals`]) to be answered and closed there. Sockets accepted
//! elsewhere can be handed in with [`Pool::try_dispatch`], which gives the socket back when every
//! inbox is full or the limit is reached. Nothing queues without bound.
//!
//! With more than one worker, a `pool-watchdog` thread watches the workers' rounds: no
//! connection is passed on to a worker stuck in a long call, and when each worker has a socket
//! of its own (an `SO_REUSEPORT` group, see [`Builder::listeners`]), an idle worker is sent to
//! the stuck one's queue (see `watchdog.rs`). When asked for ([`Builder::pin_to_cpus`]) and
//! possible, each worker is pinned to a CPU and its own sockets take the connections that CPU
//! receives (`affinity.rs`).
//!
//! The pool knows nothing of HTTP. Protocols plug in through [`Handler`]: one handler value per
//! worker (per-worker state such as counters needs no lock), called with each connection's state
//! and socket on readiness, on its deadline and when the pool starts draining. A panic in a
//! handler call closes that one connection (the handler hears of it in [`Handler::close`], and
//! counts it if it wants); the worker and its other connections live on. Another thread can
//! have a connection called again through a [`Notifier`] (see `notify.rs`).
//!
//! Shutdown uses crossbeam's disconnection: [`Pool::shutdown`] drops the inbox senders and wakes
//! the workers, which then drain (see [`Handler::drain`]) and exit; the drain is bounded by
//! [`Builder::drain_timeout`], after which the remaining connections are closed and counted.

mod affinity;
mod error;
mod handler;
mod notify;
mod slab;
mod watchdog;
mod worker;

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Sender, TrySendError};
use mio::Waker;
use mio::net::TcpStream;

use watchdog::Watchdog;
pub(crate) use worker::Refusals;

pub use affinity::Unpinned;
pub use error::{BuildError, DispatchError};
pub use handler::{CloseReason, Handler, Next, Readiness};
pub use notify::{Context, Notifier};

/// What the workers and the pool's owner share: counts, never connections.
#[derive(Debug)]
struct Shared {
    /// Connections dispatched and not yet closed, across all workers: the one count of open
    /// connections in the process (the connection limit is enforced on it).
    active: AtomicUsize,
    /// Per worker, the connections it holds or that are on their way to it: what a worker that
    /// accepts compares to decide whether to keep a connection or pass it on.
    loads: Box<[AtomicUsize]>,
    /// Per worker, the gate of its hand-off channel: the hand-offs being sent to it now, plus
    /// [`HANDOFFS_CLOSED`] once it drains. A worker only leaves its loop when no hand-off is on
    /// its way, so none is lost after its last look at the channel.
    handoff_gates: Box<[AtomicUsize]>,
}

/// In a hand-off gate: the worker takes no more hand-offs.
const HANDOFFS_CLOSED: usize = 1 << (usize::BITS - 1);

impl Shared {
    fn new(threads: usize) -> Self {
        Self {
            active: AtomicUsize::new(0),
            loads: (0..threads).map(|_| AtomicUsize::new(0)).collect(),
            handoff_gates: (0..threads).map(|_| AtomicUsize::new(0)).collect(),
        }
    }

    /// Enters `worker`'s hand-off gate: whether it still takes hand-offs. When it does, the
    /// caller must [`Shared::leave_handoff`] once its send is done.
    fn enter_handoff(&self, worker: usize) -> bool {
        let Some(gate) = self.handoff_gates.get(worker) else {
            return false;
        };
        if gate.fetch_add(1, Ordering::SeqCst) & HANDOFFS_CLOSED == 0 {
            return true;
        }
        gate.fetch_sub(1, Ordering::SeqCst);
        false
    }

    fn leave_handoff(&self, worker: usize) {
        if let Some(gate) = self.handoff_gates.get(worker) {
            gate.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Closes `worker`'s gate; from now on no hand-off is started to it.
    fn close_handoffs(&self, worker: usize) {
        if let Some(gate) = self.handoff_gates.get(worker) {
            gate.fetch_or(HANDOFFS_CLOSED, Ordering::SeqCst);
        }
    }

    /// Whether a hand-off to `worker` may still be on its way (its gate is not closed, or a
    /// send that entered before it closed has not finished).
    fn handoffs_in_flight(&self, worker: usize) -> bool {
        self.handoff_gates
            .get(worker)
            .is_some_and(|gate| gate.load(Ordering::SeqCst) != HANDOFFS_CLOSED)
    }

    fn load(&self, worker: usize) -> usize {
        self.loads
            .get(worker)
            .map_or(usize::MAX, |l| l.load(Ordering::Acquire))
    }

    fn add_load(&self, worker: usize, n: usize) {
        if let Some(load) = self.loads.get(worker) {
            load.fetch_add(n, Ordering::AcqRel);
        }
    }

    fn sub_load(&self, worker: usize, n: usize) {
        if let Some(load) = self.loads.get(worker) {
            load.fetch_sub(n, Ordering::AcqRel);
        }
    }
}

/// A read-only view of how many connections the pool holds now, for observers such as a
/// metrics endpoint that live outside the pool.
#[derive(Debug, Clone)]
pub struct ActiveConnections(Arc<Shared>);

impl ActiveConnections {
    /// Connections open now, across all workers.
    pub fn get(&self) -> usize {
        self.0.active.load(Ordering::Acquire)
    }
}

/// Configures and starts a [`Pool`].
#[derive(Debug, Clone)]
pub struct Builder {
    threads: usize,
    inbox_capacity: usize,
    notify_capacity: usize,
    max_connections: usize,
    drain_timeout: Duration,
    stuck_after: Duration,
    listeners: Arc<Vec<Vec<std::net::TcpListener>>>,
    refusals: Option<Refusals>,
    pin_to_cpus: bool,
}

impl Default for Builder {
    fn default() -> Self {
        Self {
            threads: 1,
            inbox_capacity: 1024,
            notify_capacity: notify::NOTIFY_CAPACITY,
            max_connections: 10_000,
            drain_timeout: Duration::from_secs(10),
            stuck_after: watchdog::STUCK_AFTER,
            listeners: Arc::new(Vec::new()),
            refusals: None,
            pin_to_cpus: false,
        }
    }
}

impl Builder {
    /// A builder with one worker, inboxes of 1,024 sockets, queues of 1,024 notices, 10,000
    /// connections and a 10 s drain.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of worker threads (at least one).
    pub fn threads(&mut self, n: usize) -> &mut Self {
        self.threads = n.max(1);
        self
    }

    /// How many accepted sockets may wait in each worker's inbox (at least one).
    pub fn inbox_capacity(&mut self, n: usize) -> &mut Self {
        self.inbox_capacity = n.max(1);
        self
    }

    /// How many connections' notices ([`Notifier::notify`]) may wait in each worker's queue (at
    /// least one). Past it a notify is not lost: the worker then looks at every connection that
    /// has a notifier.
    pub fn notify_capacity(&mut self, n: usize) -> &mut Self {
        self.notify_capacity = n.max(1);
        self
    }

    /// The most connections open at once across all workers (at least one).
    pub fn max_connections(&mut self, n: usize) -> &mut Self {
        self.max_connections = n.max(1);
        self
    }

    /// How long workers may keep serving in-flight connections after shutdown begins.
    pub fn drain_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.drain_timeout = timeout;
        self
    }

    /// How long a worker may stay in one round (one wake-up's work) before the watchdog counts
    /// it as stuck: no connection is passed on to it, and its own socket's queue is accepted
    /// from by another worker (default 10 ms; at least 1 ms). The watchdog cannot tell a slow
    /// handler call from a worker the scheduler left waiting that long on a busy machine; both
    /// make its connections wait.
    pub fn stuck_after(&mut self, after: Duration) -> &mut Self {
        self.stuck_after = after.max(Duration::from_millis(1));
        self
    }

    /// The listening sockets, one group per address: either one socket, which every worker
    /// polls, or one per worker (bound to one address with `SO_REUSEPORT`), socket `i` being
    /// worker `i`'s own; [`Builder::spawn`] refuses other sizes. With a socket each, a new
    /// connection wakes only the owner of the socket the kernel queued it on, and while that
    /// worker is stuck in a long round the watchdog sends another to accept for it (through
    /// the group, which the workers share until they drain). Each worker polls a duplicate of
    /// its own socket (made non-blocking) and stops accepting when it starts to drain.
    pub fn listeners(&mut self, listeners: Vec<Vec<std::net::TcpListener>>) -> &mut Self {
        self.listeners = Arc::new(listeners);
        self
    }

    /// Where a worker sends a connection it accepted over the connection limit, waking `waker`,
    /// so that the caller can answer it (`503`) and close it. When the channel is full, or
    /// without one, such a connection is closed at once.
    pub fn refusals(&mut self, sender: Sender<TcpStream>, waker: Arc<Waker>) -> &mut Self {
        self.refusals = Some(Refusals { sender, waker });
        self
    }

    /// Whether worker `i` is pinned to the `i`th CPU the process may run on, and its own socket
    /// of each group takes the connections whose handshake that CPU processed
    /// (`SO_INCOMING_CPU`). Done only with exactly as many workers as CPUs, a socket per worker
    /// in some group and Linux 6.2 or later; else [`Pool::unpinned`] says why. A worker whose
    /// pinning fails runs unpinned and does not steer. Default: off.
    pub fn pin_to_cpus(&mut self, on: bool) -> &mut Self {
        self.pin_to_cpus = on;
        self
    }

    /// Starts the workers, each with a handler made by `make_handler(worker_index)`.
    ///
    /// # Errors
    ///
    /// [`BuildError`] when a group of listeners has neither one socket nor one per worker, or
    /// a poller, a waker, a listener's duplicate or a thread cannot be created; workers already
    /// started are shut down before returning.
    pub fn spawn<H, F>(&self, mut make_handler: F) -> Result<Pool, BuildError>
    where
        H: Handler,
        F: FnMut(usize) -> H,
    {
        if let Some(group) = self
            .listeners
            .iter()
            .find(|group| group.len() != 1 && group.len() != self.threads)
        {
            let message = format!(
                "a group of {} listening sockets for {} workers (one, or one per worker)",
                group.len(),
                self.threads
            );
            return Err(io::Error::new(io::ErrorKind::InvalidInput, message).into());
        }
        let socket_per_worker = self.listeners.iter().any(|group| group.len() > 1);
        let pinning = self.pin_to_cpus.then(|| {
            let allowed = affinity::allowed_cpus();
            affinity::plan(
                self.threads,
                &allowed,
                socket_per_worker,
                &affinity::kernel_release(),
            )
        });
        let cpus: Vec<Option<usize>> = match &pinning {
            Some(Ok(cpus)) => cpus.iter().copied().map(Some).collect(),
            _ => vec![None; self.threads],
        };
        let shared = Arc::new(Shared::new(self.threads));
        let mut pool = Pool {
            workers: Vec::with_capacity(self.threads),
            next: 0,
            max_connections: self.max_connections,
            drain_timeout: self.drain_timeout,
            shared: Arc::clone(&shared),
            watchdog: None,
            unpinned: pinning.and_then(Result::err),
        };
        // Every worker is made before any starts: each needs the others' hand-off channels.
        let mut made = Vec::with_capacity(self.threads);
        let mut peers = Vec::with_capacity(self.threads);
        for (index, cpu) in cpus.into_iter().enumerate() {
            let (tx, rx) = crossbeam_channel::bounded(self.inbox_capacity);
            let (handoff_tx, handoff_rx) = crossbeam_channel::bounded(self.inbox_capacity);
            let worker = worker::Worker::new(
                worker::Setup {
                    index,
                    inbox: rx,
                    handoffs: handoff_rx,
                    shared: Arc::clone(&shared),
                    drain_timeout: self.drain_timeout,
                    notify_capacity: self.notify_capacity,
                    max_connections: self.max_connections,
                    listeners: &self.listeners,
                    refusals: self.refusals.clone(),
                    cpu,
                },
                make_handler(index),
            )?;
            peers.push(worker::Peer {
                handoff: handoff_tx,
                waker: worker.waker(),
            });
            made.push((worker, tx));
        }
        let mut shifts = Vec::new();
        if self.threads > 1 {
            let wakers = peers.iter().map(|p| Arc::clone(&p.waker)).collect();
            let (watchdog, made_shifts) =
                Watchdog::start(wakers, Arc::clone(&shared), self.stuck_after)?;
            pool.watchdog = Some(watchdog);
            shifts = made_shifts;
        }
        let mut shifts = shifts.into_iter();
        for (index, (mut worker, tx)) in made.into_iter().enumerate() {
            worker.meet(peers.clone(), shifts.next());
            let waker = worker.waker();
            let thread = thread::Builder::new()
                .name(format!("pool-worker-{index}"))
                .spawn(move || worker.run())
                .map_err(BuildError::from)?;
            pool.workers.push(WorkerHandle {
                inbox: Some(tx),
                waker,
                thread: Some(thread),
            });
        }
        Ok(pool)
    }
}

struct WorkerHandle {
    inbox: Option<Sender<TcpStream>>,
    waker: Arc<Waker>,
    /// Returns how many connections the drain deadline closed.
    thread: Option<JoinHandle<u64>>,
}

/// A running pool. Dropping it shuts it down as [`Pool::shutdown`] does.
pub struct Pool {
    workers: Vec<WorkerHandle>,
    next: usize,
    max_connections: usize,
    drain_timeout: Duration,
    shared: Arc<Shared>,
    watchdog: Option<Watchdog>,
    /// Why [`Builder::pin_to_cpus`] was asked for and not done.
    unpinned: Option<Unpinned>,
}

/// How a shutdown went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ShutdownReport {
    /// Connections still busy when the drain deadline passed, closed by force.
    pub forced_closed: u64,
    /// Workers that had not exited by the join deadline (they are left to the process exit).
    pub unjoined: usize,
    /// Workers whose thread ended in a panic outside any handler call.
    pub crashed: usize,
}

impl Pool {
    /// Hands an accepted socket to a worker, round robin, skipping workers whose inbox is full.
    ///
    /// # Errors
    ///
    /// Gives the socket back as [`DispatchError::AtLimit`] when the connection limit is reached,
    /// [`DispatchError::Full`] when every inbox is full, or [`DispatchError::ShuttingDown`].
    pub fn try_dispatch(&mut self, stream: TcpStream) -> Result<(), DispatchError> {
        // Reserve a slot first so that concurrent closes can only make room, never overshoot.
        let active = self.shared.active.fetch_add(1, Ordering::AcqRel);
        if active >= self.max_connections {
            self.shared.active.fetch_sub(1, Ordering::AcqRel);
            return Err(DispatchError::AtLimit(stream));
        }
        let mut stream = stream;
        for _ in 0..self.workers.len() {
            let index = self.next;
            let worker = &self.workers[index];
            self.next = (self.next + 1) % self.workers.len();
            let Some(inbox) = &worker.inbox else {
                self.shared.active.fetch_sub(1, Ordering::AcqRel);
                return Err(DispatchError::ShuttingDown(stream));
            };
            // Counted before it is sent: the worker may close it before this thread runs again.
            self.shared.add_load(index, 1);
            match inbox.try_send(stream) {
                Ok(()) => {
                    // A failed wake leaves the socket in the inbox until the next wake-up; the
                    // worker also drains its inbox on every loop, so it is not lost.
                    let _ = worker.waker.wake();
                    return Ok(());
                }
                Err(TrySendError::Full(s) | TrySendError::Disconnected(s)) => {
                    self.shared.sub_load(index, 1);
                    stream = s;
                }
            }
        }
        self.shared.active.fetch_sub(1, Ordering::AcqRel);
        Err(DispatchError::Full(stream))
    }

    /// Connections open now, across all workers.
    pub fn active_connections(&self) -> usize {
        self.shared.active.load(Ordering::Acquire)
    }

    /// A view of [`Pool::active_connections`] that outlives borrows of the pool.
    pub fn active_gauge(&self) -> ActiveConnections {
        ActiveConnections(Arc::clone(&self.shared))
    }

    /// The number of workers.
    pub fn threads(&self) -> usize {
        self.workers.len()
    }

    /// Why the workers are not pinned although [`Builder::pin_to_cpus`] asked for it, if so.
    pub fn unpinned(&self) -> Option<&Unpinned> {
        self.unpinned.as_ref()
    }

    /// Stops taking sockets, lets the workers drain and joins them.
    ///
    /// Waits at most the drain timeout plus one second: workers close whatever is still open when
    /// the drain timeout expires, so the extra second only covers their last loop.
    pub fn shutdown(mut self) -> ShutdownReport {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> ShutdownReport {
        // Draining workers accept nothing, so there is nothing left to take over.
        drop(self.watchdog.take());
        // Disconnection is the signal: once the senders are gone, each worker drains its inbox,
        // sees `Disconnected` and starts draining its connections.
        for worker in &mut self.workers {
            drop(worker.inbox.take());
            let _ = worker.waker.wake();
        }
        let deadline = Instant::now() + self.drain_timeout + Duration::from_secs(1);
        let mut report = ShutdownReport::default();
        for worker in &mut self.workers {
            let Some(thread) = worker.thread.take() else {
                continue;
            };
            while !thread.is_finished() && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(5));
            }
            if !thread.is_finished() {
                report.unjoined += 1;
                continue;
            }
            match thread.join() {
                Ok(forced) => report.forced_closed += forced,
                Err(_) => report.crashed += 1,
            }
        }
        report
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("threads", &self.workers.len())
            .field("active", &self.active_connections())
            .field("max_connections", &self.max_connections)
            .finish_non_exhaustive()
    }
}

/// A convenience for handlers and tests: the result of `io::Error::kind() == WouldBlock`.
pub fn would_block(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::WouldBlock
}

/// Whether an error means the process or the system ran out of descriptors or memory
/// (`EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM`): it passes with time, and retrying at once only
/// burns a core.
pub fn is_resource_exhaustion(err: &io::Error) -> bool {
    use rustix::io::Errno;
    [Errno::MFILE, Errno::NFILE, Errno::NOBUFS, Errno::NOMEM]
        .iter()
        .any(|errno| err.raw_os_error() == Some(errno.raw_os_error()))
}
