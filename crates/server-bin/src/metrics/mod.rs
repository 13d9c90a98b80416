//! Counters: per served resource, per status, bytes, connections, panics, refusals, request
//! durations and dropped access-log lines. Each worker counts into its own shard, so the request
//! path takes only its own, uncontended lock; shards are merged when read (the metrics endpoint,
//! the shutdown summary). The cap on distinct resource paths is one for the process: a path is
//! admitted once, in a set all workers share, which a worker consults only for a path its own
//! shard does not hold yet.
//!
//! Root swaps are counted by the root watcher (`files::root`), in a plain atomic.
//!
//! On-the-fly compression is counted apart ([`CompressionCounters`], plain atomics): its
//! counters are bumped by `respond` and by the compression threads, which own no shard.
//!
//! This module counts; it must not decide what counts as a served resource (the connection and
//! `respond` do). Rendering lives in [`prometheus`] and [`summary`].

pub mod http2;
pub mod prometheus;
pub mod summary;
pub mod tls;

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError, RwLock};
use std::time::{Duration, Instant};

use http_core::encoding::Coding;
use pool::ActiveConnections;

/// Distinct resource paths tracked at most, across all workers; more are counted under
/// [`OTHER`], so random URLs cannot grow memory without bound.
pub const MAX_RESOURCES: usize = 10_000;

/// The resource name that collects paths beyond [`MAX_RESOURCES`].
pub const OTHER: &str = "other";

/// Upper bounds of the request-duration histogram, in seconds (100 µs to 10 s).
pub const DURATION_BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// Counters of one worker (or, merged, of all).
#[derive(Debug, Default, Clone)]
pub struct Shard {
    /// Responses answered from each file (200, 206, 304), by the file's path (a listing by its
    /// directory's). Hashed with foldhash's randomly seeded fast hash, not SipHash: a client
    /// cannot choose the keys (only files served, at most [`MAX_RESOURCES`] of them), and the
    /// lookup is made for every response.
    pub resources: foldhash::HashMap<String, u64>,
    /// Responses by status code.
    pub statuses: BTreeMap<u16, u64>,
    /// Body bytes written to sockets.
    pub bytes_sent: u64,
    /// Connections handed to this worker.
    pub connections_opened: u64,
    /// Handler calls that panicked (each closed its connection).
    pub panics: u64,
    /// Request durations: counts per bucket of [`DURATION_BUCKETS`], then one for `+Inf`
    /// (not cumulative; the exposition adds them up).
    pub duration_counts: [u64; DURATION_BUCKETS.len() + 1],
    /// Sum of request durations in microseconds.
    pub duration_sum_micros: u64,
}

impl Shard {
    /// All responses counted.
    pub fn requests(&self) -> u64 {
        self.statuses.values().sum()
    }

    fn add(&mut self, other: &Shard) {
        for (path, n) in &other.resources {
            *self.resources.entry(path.clone()).or_default() += n;
        }
        for (status, n) in &other.statuses {
            *self.statuses.entry(*status).or_default() += n;
        }
        self.bytes_sent += other.bytes_sent;
        self.connections_opened += other.connections_opened;
        self.panics += other.panics;
        for (mine, theirs) in self.duration_counts.iter_mut().zip(other.duration_counts) {
            *mine += theirs;
        }
        self.duration_sum_micros += other.duration_sum_micros;
    }
}

/// The codings compression counters are kept for, in the order of their arrays.
pub const CODINGS: [Coding; 3] = Coding::ALL;

fn coding_index(coding: Coding) -> usize {
    match coding {
        Coding::Br => 0,
        Coding::Zstd => 1,
        Coding::Gzip => 2,
    }
}

/// On-the-fly compression's counters.
#[derive(Debug, Default)]
pub struct CompressionCounters {
    hits: [AtomicU64; 3],
    misses: [AtomicU64; 3],
    cpu_nanos: AtomicU64,
    evictions: AtomicU64,
    queue_full: AtomicU64,
    saved_bytes: AtomicU64,
    cache_bytes: AtomicU64,
    cache_entries: AtomicU64,
    verifications: AtomicU64,
    stale: AtomicU64,
    refused: AtomicU64,
}

impl CompressionCounters {
    /// A response was answered from the compressed cache.
    pub fn hit(&self, coding: Coding) {
        self.hits[coding_index(coding)].fetch_add(1, Ordering::Relaxed);
    }

    /// A response went out uncompressed because its compressed version was not ready (or not
    /// verified recently enough).
    pub fn miss(&self, coding: Coding) {
        self.misses[coding_index(coding)].fetch_add(1, Ordering::Relaxed);
    }

    /// A file was read again to verify its copies; `stale` of them were made from other bytes
    /// and dropped.
    pub fn verified(&self, stale: u64) {
        self.verifications.fetch_add(1, Ordering::Relaxed);
        self.stale.fetch_add(stale, Ordering::Relaxed);
    }

    /// A copy was not made (too large a share of the cache), or a response went out
    /// uncompressed because its copy was evicted too recently to be made again.
    pub fn refused(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
    }

    /// A compression thread spent `cpu` on one file.
    pub fn cpu(&self, cpu: Duration) {
        let nanos = u64::try_from(cpu.as_nanos()).unwrap_or(u64::MAX);
        self.cpu_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// A file could not be queued: the compression queue was full.
    pub fn queue_full(&self) {
        self.queue_full.fetch_add(1, Ordering::Relaxed);
    }

    /// A compressed body was sent in place of one `bytes` larger.
    pub fn saved(&self, bytes: u64) {
        self.saved_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// The cache now holds `entries` in `bytes`, after evicting `evicted`.
    pub fn cache(&self, bytes: usize, entries: usize, evicted: u64) {
        self.cache_bytes.store(bytes as u64, Ordering::Relaxed);
        self.cache_entries.store(entries as u64, Ordering::Relaxed);
        self.evictions.fetch_add(evicted, Ordering::Relaxed);
    }

    fn snapshot(&self) -> CompressionSnapshot {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        CompressionSnapshot {
            hits: self.hits.each_ref().map(load),
            misses: self.misses.each_ref().map(load),
            cpu_seconds: load(&self.cpu_nanos) as f64 / 1e9,
            evictions: load(&self.evictions),
            queue_full: load(&self.queue_full),
            saved_bytes: load(&self.saved_bytes),
            cache_bytes: load(&self.cache_bytes),
            cache_entries: load(&self.cache_entries),
            verifications: load(&self.verifications),
            stale: load(&self.stale),
            refused: load(&self.refused),
        }
    }
}

/// On-the-fly compression's counters as read at one moment; arrays follow [`CODINGS`].
#[derive(Debug, Clone, Default)]
pub struct CompressionSnapshot {
    /// Responses answered from the compressed cache, per coding.
    pub hits: [u64; 3],
    /// Responses sent uncompressed while their compressed version was not ready, per coding.
    pub misses: [u64; 3],
    /// CPU time the compression threads spent compressing.
    pub cpu_seconds: f64,
    /// Cache entries evicted to make room.
    pub evictions: u64,
    /// Files not queued for compression because the queue was full.
    pub queue_full: u64,
    /// Bytes not sent thanks to compression (identity size minus compressed size, per full
    /// compressed response).
    pub saved_bytes: u64,
    /// Bytes the cache holds, its bookkeeping included.
    pub cache_bytes: u64,
    /// Entries the cache holds.
    pub cache_entries: u64,
    /// Files read again to verify their copies.
    pub verifications: u64,
    /// Copies dropped because their file's bytes changed without a new identity.
    pub stale: u64,
    /// Copies refused for their size, and responses uncompressed because a copy was evicted
    /// too recently.
    pub refused: u64,
}

/// Everything merged, as read at one moment.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The workers' counters added together.
    pub total: Shard,
    /// Connections answered `503` at the connection limit.
    pub refused: u64,
    /// Access log lines dropped because stdout did not keep up.
    pub access_log_dropped: u64,
    /// Times the root's path was found leading to another tree (a deploy swapped it).
    pub root_swaps: u64,
    /// Connections open now (from the pool).
    pub connections_active: usize,
    /// Time since start.
    pub uptime: Duration,
    /// The TLS counters.
    pub tls: tls::TlsSnapshot,
    /// The HTTP/2 counters.
    pub http2: http2::Http2Snapshot,
    /// On-the-fly compression.
    pub compression: CompressionSnapshot,
}

/// All workers' counters, and the main thread's.
#[derive(Debug)]
pub struct Metrics {
    shards: Vec<Mutex<Shard>>,
    /// The paths admitted under [`MAX_RESOURCES`]. Shards keep their own keys, so that a hit
    /// (a path the worker has counted before) never touches this shared set.
    admitted: RwLock<HashSet<String>>,
    refused: AtomicU64,
    access_log_dropped: AtomicU64,
    root_swaps: AtomicU64,
    active: OnceLock<ActiveConnections>,
    started: Instant,
    /// Handshakes and the TLS setup (process-wide: see [`tls`]).
    pub tls: tls::TlsCounters,
    /// HTTP/2 connections, resets and GOAWAYs (process-wide: see [`http2`]).
    pub http2: http2::Http2Counters,
    /// On-the-fly compression's counters.
    pub compression: CompressionCounters,
}

impl Metrics {
    /// Counters for `workers` workers, starting the uptime clock.
    pub fn new(workers: usize) -> Self {
        Self {
            shards: (0..workers).map(|_| Mutex::default()).collect(),
            admitted: RwLock::default(),
            refused: AtomicU64::new(0),
            access_log_dropped: AtomicU64::new(0),
            root_swaps: AtomicU64::new(0),
            active: OnceLock::new(),
            started: Instant::now(),
            tls: tls::TlsCounters::default(),
            http2: http2::Http2Counters::default(),
            compression: CompressionCounters::default(),
        }
    }

    fn shard(&self, worker: usize) -> MutexGuard<'_, Shard> {
        // Counters stay meaningful after a panic elsewhere; a poisoned lock is still usable.
        self.shards[worker]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts one finished (or cut) response in worker `worker`: its status, the resource it
    /// answered from (if any), the body bytes sent and its duration. One lock per response.
    pub fn response(
        &self,
        worker: usize,
        status: u16,
        resource: Option<&str>,
        bytes: u64,
        took: Duration,
    ) {
        let mut shard = self.shard(worker);
        if let Some(path) = resource {
            if let Some(n) = shard.resources.get_mut(path) {
                *n += 1;
            } else {
                let key = if self.admit(path) { path } else { OTHER };
                *shard.resources.entry(key.to_owned()).or_default() += 1;
            }
        }
        *shard.statuses.entry(status).or_default() += 1;
        shard.bytes_sent += bytes;
        let secs = took.as_secs_f64();
        let bucket = DURATION_BUCKETS
            .iter()
            .position(|&upper| secs <= upper)
            .unwrap_or(DURATION_BUCKETS.len());
        shard.duration_counts[bucket] += 1;
        shard.duration_sum_micros += u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
    }

    /// Whether `path` is one of the [`MAX_RESOURCES`] paths counted by name, admitting it if
    /// there is room.
    fn admit(&self, path: &str) -> bool {
        {
            let admitted = self.admitted.read().unwrap_or_else(PoisonError::into_inner);
            if admitted.contains(path) {
                return true;
            }
            if admitted.len() >= MAX_RESOURCES {
                return false;
            }
        }
        let mut admitted = self
            .admitted
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        // Another worker may have admitted it, or filled the set, between the two locks.
        if admitted.contains(path) {
            return true;
        }
        if admitted.len() >= MAX_RESOURCES {
            return false;
        }
        admitted.insert(path.to_owned());
        true
    }

    /// A connection was handed to worker `worker`.
    pub fn connection_opened(&self, worker: usize) {
        self.shard(worker).connections_opened += 1;
    }

    /// A handler panic on worker `worker` closed a connection (or was answered 500).
    pub fn panicked(&self, worker: usize) {
        self.shard(worker).panics += 1;
    }

    /// Where the open-connection count comes from: the pool keeps the one count (it enforces
    /// the connection limit on it); this only reads it.
    pub fn observe_connections(&self, gauge: ActiveConnections) {
        let _ = self.active.set(gauge);
    }

    /// A connection accepted over the connection limit is being answered `503`.
    pub fn refused(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
    }

    /// The access log dropped `lines` lines: its writer's queue was full.
    pub fn access_log_dropped(&self, lines: u64) {
        self.access_log_dropped.fetch_add(lines, Ordering::Relaxed);
    }

    /// The root's path was found leading to another tree, which is served from now on.
    pub fn root_swapped(&self) {
        self.root_swaps.fetch_add(1, Ordering::Relaxed);
    }

    /// Everything added together now.
    pub fn snapshot(&self) -> Snapshot {
        let mut total = Shard::default();
        for worker in 0..self.shards.len() {
            let shard = self.shard(worker).clone();
            total.add(&shard);
        }
        Snapshot {
            total,
            refused: self.refused.load(Ordering::Relaxed),
            access_log_dropped: self.access_log_dropped.load(Ordering::Relaxed),
            root_swaps: self.root_swaps.load(Ordering::Relaxed),
            connections_active: self.active.get().map_or(0, ActiveConnections::get),
            uptime: self.started.elapsed(),
            tls: self.tls.snapshot(),
            http2: self.http2.snapshot(),
            compression: self.compression.snapshot(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn shards_merge_by_path_and_status() {
        let m = Metrics::new(2);
        m.response(0, 200, Some("/a"), 5, MS);
        m.response(1, 200, Some("/a"), 5, MS);
        m.response(1, 206, Some("/b"), 3, MS);
        m.response(1, 404, None, 14, MS);
        let total = m.snapshot().total;
        assert_eq!(total.resources["/a"], 2);
        assert_eq!(total.resources["/b"], 1);
        assert_eq!(total.resources.len(), 2, "a 404 is no resource");
        assert_eq!(total.statuses[&200], 2);
        assert_eq!(total.statuses[&404], 1);
        assert_eq!(total.requests(), 4);
        assert_eq!(total.bytes_sent, 27);
    }

    #[test]
    fn distinct_paths_beyond_the_cap_count_as_other() {
        let m = Metrics::new(1);
        for i in 0..MAX_RESOURCES + 5 {
            m.response(0, 200, Some(&format!("/{i}")), 0, MS);
        }
        m.response(0, 200, Some("/0"), 0, MS);
        let total = m.snapshot().total;
        assert_eq!(total.resources.len(), MAX_RESOURCES + 1);
        assert_eq!(total.resources[OTHER], 5);
        assert_eq!(total.resources["/0"], 2);
    }

    #[test]
    fn the_path_cap_is_one_for_the_process_not_one_per_worker() {
        // Every path is served by both workers, as round-robin dispatch does.
        let m = Metrics::new(2);
        for i in 0..MAX_RESOURCES {
            let path = format!("/{i}");
            m.response(0, 200, Some(&path), 0, MS);
            m.response(1, 200, Some(&path), 0, MS);
        }
        m.response(1, 200, Some("/one-too-many"), 0, MS);
        let total = m.snapshot().total;
        assert_eq!(total.resources.get(OTHER), Some(&1));
        assert_eq!(total.resources.len(), MAX_RESOURCES + 1);
        assert_eq!(total.resources["/0"], 2);
        assert_eq!(total.resources[&format!("/{}", MAX_RESOURCES - 1)], 2);
    }

    #[test]
    fn durations_fall_in_the_first_bucket_that_holds_them() {
        let m = Metrics::new(1);
        m.response(0, 200, None, 0, Duration::from_micros(50)); // <= 100 µs
        m.response(0, 200, None, 0, Duration::from_micros(100)); // <= 100 µs (inclusive)
        m.response(0, 200, None, 0, Duration::from_millis(3)); // <= 5 ms
        m.response(0, 200, None, 0, Duration::from_secs(60)); // +Inf
        let total = m.snapshot().total;
        assert_eq!(total.duration_counts[0], 2);
        assert_eq!(total.duration_counts[5], 1);
        assert_eq!(total.duration_counts[DURATION_BUCKETS.len()], 1);
        assert_eq!(total.duration_sum_micros, 50 + 100 + 3000 + 60_000_000);
    }

    #[test]
    fn compression_is_counted_per_coding_and_the_cache_gauge_is_set() {
        let m = Metrics::new(1);
        let c = &m.compression;
        c.hit(Coding::Br);
        c.hit(Coding::Br);
        c.miss(Coding::Gzip);
        c.cpu(Duration::from_millis(1500));
        c.saved(70);
        c.cache(1000, 3, 2);
        c.cache(900, 2, 1);
        c.queue_full();
        c.verified(0);
        c.verified(2);
        c.refused();
        let s = m.snapshot().compression;
        assert_eq!((s.hits, s.misses), ([2, 0, 0], [0, 0, 1]));
        assert_eq!((s.verifications, s.stale, s.refused), (2, 2, 1));
        assert!((s.cpu_seconds - 1.5).abs() < 1e-9);
        assert_eq!((s.cache_bytes, s.cache_entries, s.evictions), (900, 2, 3));
        assert_eq!((s.saved_bytes, s.queue_full), (70, 1));
    }

    #[test]
    fn connections_and_refusals_are_counted() {
        let m = Metrics::new(2);
        m.connection_opened(0);
        m.connection_opened(1);
        m.connection_opened(1);
        m.panicked(1);
        m.refused();
        m.refused();
        m.root_swapped();
        let s = m.snapshot();
        assert_eq!(s.total.connections_opened, 3);
        assert_eq!(s.total.panics, 1);
        assert_eq!(s.refused, 2);
        assert_eq!(s.root_swaps, 1);
    }
}
