//! How the open-file limit (`RLIMIT_NOFILE`) is shared out: raised toward the hard limit at
//! start, then split into the descriptors the server holds whatever its load, those of the
//! connections it serves, and those of the connections it refuses. The caps that follow (the
//! connection limit, the refusal queue, the refusals lingering at once) are chosen here once,
//! so that no accept, file open or refusal ever fails for want of a descriptor within them.
//!
//! A connection counts for its socket and for the file it sends (by `sendfile`, or read in
//! chunks for TLS), the files up to [`FILES_AT_ONCE`]: at a limit that binds, every connection
//! can send a file as long as there are fewer than that, and past it a response whose file
//! cannot be opened is answered `503` with `Retry-After` (nginx reserves nothing for files, and
//! answers `500`). With the soft limit raised as far as `--max-connections` needs, nothing
//! changes; below that, the refusal path gets an eighth of what is left (at least
//! [`MIN_REFUSALS`], at most its usual [`MAX_REFUSALS`]) and the connections the rest, so a
//! limit of 64 still serves several clients at once and answers the others `503`, where fixed
//! reserves for the refusal path once left room for a single connection under 400.
//!
//! This module must not open, accept or refuse anything; it only counts.

use crate::files::cache::MAX_OPEN;
use crate::refusals;

/// Descriptors held whatever the load, besides the workers': measured at 12 (stdio, the root's
/// directory, the main thread's poller and waker, the signal pipe, the root watcher's inotify
/// instance and eventfd, the bound socket and its duplicate), with room for the short-lived
/// ones: the files the compression threads read (at most 4 at once), a reload reading the
/// certificate or site file, the root watcher's recheck.
pub const FIXED: u64 = 24;

/// Descriptors per worker: measured at 5 with one listening address (its poller, waker and
/// inotify instance, its socket of the port's `SO_REUSEPORT` group and its own duplicate) and
/// 9 with TLS's second, the `--redirect-http` listener; with room for a file being opened for
/// the small-file cache or a listing's directory, and a refused connection waiting to be
/// queued for the main thread.
pub const PER_WORKER: u64 = 12;

/// Files being sent at once for which a descriptor is always kept, one per connection up to
/// this many: enough that a limit that binds at thousands of connections (a hard limit of
/// 20,000 and `--max-connections 16384`, as the benchmarks run) still serves them all, and
/// that under a few thousand every connection can send a file.
pub const FILES_AT_ONCE: u64 = 1024;

/// The refusal path's share (queue plus lingering) when the limit is no constraint: the
/// refusal queue's and the lingering's usual caps.
pub const MAX_REFUSALS: usize = refusals::QUEUE + refusals::MAX_LINGERING;

/// The refusal path's share however low the limit: one queued, one lingering.
pub const MIN_REFUSALS: usize = 2;

/// What the open-file limit allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// The soft limit the server runs with.
    pub open_files: u64,
    /// Connections served at once: `--max-connections`, or fewer when the limit is lower.
    pub connections: usize,
    /// Refused connections that may wait for the main thread (the refusal channel's bound).
    pub refusal_queue: usize,
    /// Refused connections the main thread keeps open at once while the client reads its
    /// `503`.
    pub lingering: usize,
    /// Whether the limit made the connection limit lower than asked.
    pub lowered: bool,
    /// Files each worker's cache may keep open: [`MAX_OPEN`] when the limit has room for them
    /// beside everything else, none when it binds (the descriptors go to connections).
    pub cached_open: usize,
}

impl Budget {
    /// Refused connections held at once: queued plus lingering.
    pub fn refusals(&self) -> usize {
        self.refusal_queue + self.lingering
    }

    /// What the limit allows, for the start-up block: "so at most N connections" when it
    /// lowered the connection limit, else that it is enough; and how many files may be sent and
    /// connections refused at once.
    pub fn describe(&self) -> String {
        let allows = if self.lowered {
            "so at most"
        } else {
            "enough for"
        };
        format!(
            "{allows} {} connections, {} files being sent and {} refusals at once",
            self.connections,
            (self.connections as u64).min(FILES_AT_ONCE),
            self.refusals()
        )
    }
}

/// The soft limit that `max_connections` with `threads` workers want: nothing lowered, and
/// the files their caches keep open.
pub fn wanted(max_connections: usize, threads: usize) -> u64 {
    needed(max_connections, threads)
        .saturating_add((MAX_OPEN as u64).saturating_mul(threads as u64))
}

/// The soft limit that `max_connections` with `threads` workers need, nothing lowered, the
/// caches keeping no file open.
fn needed(max_connections: usize, threads: usize) -> u64 {
    let connections = max_connections as u64;
    fixed(threads)
        .saturating_add(connections)
        .saturating_add(connections.min(FILES_AT_ONCE))
        .saturating_add(MAX_REFUSALS as u64)
}

/// Descriptors held whatever the load by a server of `threads` workers.
fn fixed(threads: usize) -> u64 {
    FIXED.saturating_add(PER_WORKER.saturating_mul(threads as u64))
}

/// Shares out a soft limit of `open_files` for `threads` workers asked to serve
/// `max_connections`.
pub fn share(open_files: u64, max_connections: usize, threads: usize) -> Budget {
    let split = |refusals: usize| {
        // The usual proportion, a queue of a fifth (64 of 320), at least one of each.
        let queue = (refusals / 5).max(1);
        (queue, refusals.saturating_sub(queue).max(1))
    };
    if open_files >= needed(max_connections, threads) {
        let (refusal_queue, lingering) = split(MAX_REFUSALS);
        // The caches' open files come last: a limit short of them lowers nothing else.
        let cached_open = match open_files >= wanted(max_connections, threads) {
            true => MAX_OPEN,
            false => 0,
        };
        return Budget {
            open_files,
            connections: max_connections,
            refusal_queue,
            lingering,
            lowered: false,
            cached_open,
        };
    }
    let spare = open_files.saturating_sub(fixed(threads));
    let refusals = usize::try_from(spare / 8)
        .unwrap_or(usize::MAX)
        .clamp(MIN_REFUSALS, MAX_REFUSALS);
    // The most connections that fit beside a file each, up to FILES_AT_ONCE files.
    let room = spare.saturating_sub(refusals as u64);
    let for_connections = match room.checked_sub(FILES_AT_ONCE) {
        Some(beyond) if beyond >= FILES_AT_ONCE => beyond,
        _ => room / 2,
    };
    let (refusal_queue, lingering) = split(refusals);
    let connections = usize::try_from(for_connections)
        .unwrap_or(usize::MAX)
        .clamp(1, max_connections.max(1));
    Budget {
        open_files,
        connections,
        refusal_queue,
        lingering,
        lowered: connections < max_connections,
        cached_open: 0,
    }
}

/// Raises the soft `RLIMIT_NOFILE` toward the hard limit, as far as `max_connections` with
/// `threads` workers need, and shares out what it is then; says on stderr when the limit cannot
/// be raised or lowers the connection limit.
pub fn raise_and_share(max_connections: usize, threads: usize) -> Budget {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let want = wanted(max_connections, threads);
    let mut limit = getrlimit(Resource::Nofile);
    let hard = limit.maximum.unwrap_or(u64::MAX);
    let soft = limit.current.unwrap_or(u64::MAX);
    if soft < want {
        limit.current = Some(want.min(hard));
        if let Err(e) = setrlimit(Resource::Nofile, limit) {
            eprintln!("http-server: warning: cannot raise the open-file limit: {e}");
        }
    }
    let available = getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX);
    let budget = share(available, max_connections, threads);
    if budget.lowered {
        eprintln!(
            "http-server: warning: the open-file limit is {available}; serving at most {} connections instead of {max_connections}",
            budget.connections
        );
    }
    budget
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_that_fits_every_connection_changes_nothing() {
        let want = wanted(10_000, 2);
        assert_eq!(want, 24 + 2 * (12 + 16) + 10_000 + 1_024 + 320);
        for limit in [want, want + 1, u64::MAX] {
            let b = share(limit, 10_000, 2);
            assert_eq!(
                (b.connections, b.refusal_queue, b.lingering),
                (10_000, refusals::QUEUE, refusals::MAX_LINGERING),
                "{limit}"
            );
            assert!(!b.lowered);
            assert_eq!(b.cached_open, MAX_OPEN, "{limit}");
        }
        // Short of it, the workers' caches keep no file open, and nothing else is lowered.
        for limit in [want - 1, want - 2 * 16] {
            let b = share(limit, 10_000, 2);
            assert_eq!(
                (b.connections, b.refusals(), b.cached_open, b.lowered),
                (10_000, MAX_REFUSALS, 0, false),
                "{limit}"
            );
        }
    }

    #[test]
    fn below_what_is_wanted_every_share_shrinks_and_all_of_them_fit_the_limit() {
        // (limit, threads, connections, refusal queue, lingering)
        #[rustfmt::skip]
        let cases = [
            (64,     2, 7,     1,  1),
            (64,     1, 12,    1,  2),
            (256,    2, 91,    5,  21),
            (1_000,  2, 416,   23, 96),
            (2_388,  2, 1_024, 58, 234),
            (4_096,  4, 2_680, 64, 256),
            (20_000, 2, 18_608, 64, 256),
        ];
        for (limit, threads, connections, queue, lingering) in cases {
            let b = share(limit, 20_000, threads);
            assert_eq!(
                (b.connections, b.refusal_queue, b.lingering),
                (connections, queue, lingering),
                "limit {limit}, {threads} workers"
            );
            assert!(b.lowered);
            let sockets = b.connections as u64;
            let files = sockets.min(FILES_AT_ONCE);
            let used = fixed(threads) + sockets + files + b.refusals() as u64;
            assert!(used <= limit, "limit {limit}: {used} used");
        }
    }

    #[test]
    fn a_limit_too_small_for_the_fixed_descriptors_still_leaves_one_connection() {
        let b = share(20, 100, 2);
        assert_eq!((b.connections, b.refusal_queue, b.lingering), (1, 1, 1));
        assert!(b.lowered);
    }

    #[test]
    fn a_hard_limit_of_20000_keeps_16384_connections_as_the_benchmarks_ask() {
        let b = share(20_000, 16_384, 2);
        assert_eq!(b.connections, 16_384);
        assert!(!b.lowered);
    }

    #[test]
    fn never_more_connections_than_asked_for() {
        let b = share(100, 3, 1);
        assert_eq!(b.connections, 3);
        assert!(!b.lowered);
        assert!(b.describe().starts_with("enough for 3 connections"));
    }
}
