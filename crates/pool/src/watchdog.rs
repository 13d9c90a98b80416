//! The watchdog: finds workers stuck in a long round (a slow handler call), so that no
//! connection is passed on to them, and when workers accept from sockets of their own, sends
//! an idle worker to accept the connections queued for a stuck one, which no other worker
//! would otherwise see.
//!
//! Each worker publishes a round counter ([`Rounds`]): odd while it works through a round, even
//! while it waits for events. The watchdog sleeps while every worker waits; the first worker to
//! start a round after that wakes it (at most once per look). A round costs a worker two
//! stores to its own cache line and two loads of lines the watchdog rarely writes; nothing per
//! request. Awake, it looks every interval (`Builder::stuck_after`, [`STUCK_AFTER`] unless
//! set): a worker seen in the same round twice has been in it that long. It is marked stuck
//! until a look finds it moving (workers pass no connection to a stuck one), and as many of
//! the least loaded other workers as there are stuck ones are asked to accept from the stuck
//! ones' sockets (each keeps at it until they are empty; the next look asks again while any is
//! still stuck).
//!
//! A worker that has exited (its poller failed) is left marked as in a round, so its queue is
//! taken over too; the watchdog then keeps looking, and asking, for the life of the pool.
//!
//! It must not accept or touch a connection itself: the workers do.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use mio::Waker;

/// How long a worker may stay in one round, unless the builder says otherwise, before its
/// queued connections go to another. A round of ordinary work takes microseconds to a few
/// milliseconds.
pub(crate) const STUCK_AFTER: Duration = Duration::from_millis(10);

/// What the workers and the watchdog share.
#[derive(Debug)]
pub(crate) struct Rounds {
    /// Per worker: its round counter, odd while in a round (each on a cache line of its own:
    /// every worker writes its own twice a round).
    counters: Box<[Padded<AtomicU64>]>,
    /// Per worker: whether it is asked to accept from the sockets of the workers marked
    /// stuck.
    take_over: Box<[AtomicBool]>,
    /// Per worker: whether the last look found it stuck.
    stuck: Box<[AtomicBool]>,
    /// Whether the watchdog is awake (looking every interval).
    awake: AtomicBool,
    /// Set when the pool shuts down.
    stop: AtomicBool,
}

impl Rounds {
    pub(crate) fn new(workers: usize) -> Self {
        Self {
            counters: (0..workers).map(|_| Padded(AtomicU64::new(0))).collect(),
            take_over: (0..workers).map(|_| AtomicBool::new(false)).collect(),
            stuck: (0..workers).map(|_| AtomicBool::new(false)).collect(),
            awake: AtomicBool::new(false),
            stop: AtomicBool::new(false),
        }
    }

    /// Publishes `worker`'s round counter `round`. A round's start is SeqCst, as is the
    /// watchdog's going to sleep: either the watchdog sees the round begun, or the worker sees
    /// it asleep and wakes it.
    fn publish(&self, worker: usize, round: u64, order: Ordering) {
        if let Some(counter) = self.counters.get(worker) {
            counter.0.store(round, order);
        }
    }

    fn counter(&self, worker: usize) -> u64 {
        self.counters
            .get(worker)
            .map_or(0, |c| c.0.load(Ordering::SeqCst))
    }

    fn asked_to_take_over(&self, worker: usize) -> bool {
        // Loaded first: a swap would write the line every round.
        self.take_over.get(worker).is_some_and(|asked| {
            asked.load(Ordering::Acquire) && asked.swap(false, Ordering::AcqRel)
        })
    }
}

/// A worker's side: its counter, and the bell that wakes the watchdog.
#[derive(Debug)]
pub(crate) struct Shift {
    index: usize,
    round: u64,
    rounds: Arc<Rounds>,
    bell: Sender<()>,
}

impl Shift {
    /// Marks the start of a round, waking the watchdog if it sleeps.
    pub(crate) fn begin(&mut self) {
        self.round = self.round.wrapping_add(1) | 1;
        self.rounds
            .publish(self.index, self.round, Ordering::SeqCst);
        if !self.rounds.awake.load(Ordering::SeqCst)
            && !self.rounds.awake.swap(true, Ordering::SeqCst)
        {
            // Full means a ring is pending already.
            let _ = self.bell.try_send(());
        }
    }

    /// Whether this worker is asked to accept from the stuck workers' sockets (asked once).
    pub(crate) fn asked_to_take_over(&self) -> bool {
        self.rounds.asked_to_take_over(self.index)
    }

    /// Whether the watchdog's last look found `worker` stuck.
    pub(crate) fn is_stuck(&self, worker: usize) -> bool {
        self.rounds
            .stuck
            .get(worker)
            .is_some_and(|s| s.load(Ordering::Acquire))
    }

    /// Marks the end of a round: the worker is about to wait for events.
    pub(crate) fn end(&mut self) {
        self.round = self.round.wrapping_add(1) & !1;
        self.rounds
            .publish(self.index, self.round, Ordering::Release);
    }
}

impl Drop for Shift {
    /// An exited worker stays "in a round" for good, so that its queue goes to the others.
    fn drop(&mut self) {
        self.rounds
            .publish(self.index, self.round | 1, Ordering::SeqCst);
    }
}

/// The running watchdog; dropping it stops and joins the thread.
#[derive(Debug)]
pub(crate) struct Watchdog {
    rounds: Arc<Rounds>,
    bell: Sender<()>,
    thread: Option<JoinHandle<()>>,
}

impl Watchdog {
    /// Starts the watchdog over `wakers.len()` workers, looking once per `every` while any
    /// works, and returns it with one [`Shift`] per worker.
    pub(crate) fn start(
        wakers: Vec<Arc<Waker>>,
        loads: Arc<crate::Shared>,
        every: Duration,
    ) -> std::io::Result<(Self, Vec<Shift>)> {
        let workers = wakers.len();
        let rounds = Arc::new(Rounds::new(workers));
        let (bell, ring) = crossbeam_channel::bounded(1);
        let shifts = (0..workers)
            .map(|index| Shift {
                index,
                round: 0,
                rounds: Arc::clone(&rounds),
                bell: bell.clone(),
            })
            .collect();
        let watched = Arc::clone(&rounds);
        let thread = thread::Builder::new()
            .name("pool-watchdog".into())
            .spawn(move || watch(&watched, &wakers, &loads, &ring, every))?;
        let watchdog = Self {
            rounds,
            bell,
            thread: Some(thread),
        };
        Ok((watchdog, shifts))
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.rounds.stop.store(true, Ordering::SeqCst);
        // When the bell is full, a ring is pending: the watchdog wakes for it and sees `stop`.
        let _ = self.bell.try_send(());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn watch(
    rounds: &Rounds,
    wakers: &[Arc<Waker>],
    loads: &crate::Shared,
    ring: &Receiver<()>,
    every: Duration,
) {
    let workers = wakers.len();
    let mut seen = vec![0u64; workers];
    loop {
        if rounds.stop.load(Ordering::SeqCst) {
            return;
        }
        if !rounds.awake.load(Ordering::SeqCst) {
            if ring.recv().is_err() {
                return;
            }
            // Awake now: the first look is a full interval away.
            for (worker, last) in seen.iter_mut().enumerate() {
                *last = rounds.counter(worker);
            }
            continue;
        }
        match ring.recv_timeout(every) {
            Ok(()) => continue,
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        let now: Vec<u64> = (0..workers).map(|w| rounds.counter(w)).collect();
        if now.iter().all(|round| round.is_multiple_of(2)) {
            for flag in &rounds.stuck {
                set(flag, false);
            }
            rounds.awake.store(false, Ordering::SeqCst);
            // A worker that began a round before it could see the watchdog asleep did not
            // ring: look once more.
            if (0..workers).all(|w| rounds.counter(w).is_multiple_of(2)) {
                continue;
            }
            rounds.awake.store(true, Ordering::SeqCst);
        }
        let stuck: Vec<bool> = now
            .iter()
            .zip(&seen)
            .map(|(round, last)| !round.is_multiple_of(2) && round == last)
            .collect();
        // Marked before any take-over is asked for: a worker taking over passes nothing back.
        for (flag, &is_stuck) in rounds.stuck.iter().zip(&stuck) {
            set(flag, is_stuck);
        }
        // Each stuck worker gets a helper, the least loaded first; a helper takes over from
        // every stuck worker, so a helper that is slow to come does not leave one unserved.
        let mut helpers: Vec<usize> = (0..workers)
            .filter(|&w| !stuck.get(w).copied().unwrap_or(true))
            .collect();
        helpers.sort_by_key(|&w| loads.load(w));
        let victims = stuck.iter().filter(|s| **s).count();
        for &helper in helpers.iter().take(victims) {
            if let Some(asked) = rounds.take_over.get(helper) {
                asked.store(true, Ordering::Release);
            }
            if let Some(waker) = wakers.get(helper) {
                let _ = waker.wake();
            }
        }
        seen = now;
    }
}

/// Stores `value` in `flag` unless it holds it already: the workers read these flags, and a
/// store, even of the same value, takes the line from their caches.
fn set(flag: &AtomicBool, value: bool) {
    if flag.load(Ordering::Relaxed) != value {
        flag.store(value, Ordering::Release);
    }
}

/// A value alone on its cache line (128 bytes: two lines, for CPUs that fetch pairs).
#[derive(Debug, Default)]
#[repr(align(128))]
struct Padded<T>(T);
