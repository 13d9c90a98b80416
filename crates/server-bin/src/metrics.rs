//! Request counters: per served resource, per status, bytes and connections, kept in one shard
//! per worker so the request path takes only its own, uncontended lock. Shards are merged when
//! read (shutdown summary, and later the metrics endpoint).
//!
//! This module counts; it must not decide what counts as a served resource (the connection
//! does) or print anything but the summary it is asked for.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// Distinct resource paths tracked at most; more are counted under [`OTHER`], so random URLs
/// cannot grow memory without bound.
pub const MAX_RESOURCES: usize = 10_000;

/// The resource name that collects paths beyond [`MAX_RESOURCES`].
pub const OTHER: &str = "other";

/// Counters of one worker.
#[derive(Debug, Default, Clone)]
pub struct Shard {
    /// Responses answered from each file (200, 206, 304), by request path.
    pub resources: HashMap<String, u64>,
    /// Responses by status code.
    pub statuses: BTreeMap<u16, u64>,
    /// Body bytes written to sockets.
    pub bytes_sent: u64,
    /// Connections accepted by this worker.
    pub connections: u64,
}

/// All workers' counters.
#[derive(Debug)]
pub struct Metrics {
    shards: Vec<Mutex<Shard>>,
    distinct_resources: AtomicUsize,
}

impl Metrics {
    /// Counters for `workers` workers.
    pub fn new(workers: usize) -> Self {
        Self {
            shards: (0..workers).map(|_| Mutex::default()).collect(),
            distinct_resources: AtomicUsize::new(0),
        }
    }

    /// The shard of worker `index`. Lock it only from that worker, or to read.
    pub fn shard(&self, index: usize) -> MutexGuard<'_, Shard> {
        // Counters stay meaningful after a panic elsewhere; a poisoned lock is still usable.
        self.shards[index]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts one response answered from the file at `path` in worker `index`.
    pub fn count_resource(&self, index: usize, path: &str) {
        let mut shard = self.shard(index);
        if let Some(n) = shard.resources.get_mut(path) {
            *n += 1;
            return;
        }
        let key = if self.distinct_resources.fetch_add(1, Ordering::Relaxed) < MAX_RESOURCES {
            path
        } else {
            OTHER
        };
        *shard.resources.entry(key.to_owned()).or_default() += 1;
    }

    /// All shards added together.
    pub fn merged(&self) -> Shard {
        let mut total = Shard::default();
        for i in 0..self.shards.len() {
            let shard = self.shard(i);
            for (path, n) in &shard.resources {
                *total.resources.entry(path.clone()).or_default() += n;
            }
            for (status, n) in &shard.statuses {
                *total.statuses.entry(*status).or_default() += n;
            }
            total.bytes_sent += shard.bytes_sent;
            total.connections += shard.connections;
        }
        total
    }
}

/// The shutdown summary: uptime, totals, statuses and the busiest resources in an aligned table.
pub fn summary(total: &Shard, uptime: Duration, forced_closed: u64, top: usize) -> String {
    let requests: u64 = total.statuses.values().sum();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "summary: uptime {:.1}s, {requests} requests, {} connections, {} bytes sent",
        uptime.as_secs_f64(),
        total.connections,
        total.bytes_sent
    );
    if !total.statuses.is_empty() {
        let statuses: Vec<String> = total
            .statuses
            .iter()
            .map(|(s, n)| format!("{s}: {n}"))
            .collect();
        let _ = writeln!(out, "responses by status: {}", statuses.join(", "));
    }
    if forced_closed > 0 {
        let _ = writeln!(
            out,
            "connections closed by the shutdown deadline: {forced_closed}"
        );
    }
    let mut resources: Vec<(&String, &u64)> = total.resources.iter().collect();
    resources.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    if resources.is_empty() {
        let _ = writeln!(out, "no files served");
        return out;
    }
    let width = resources
        .iter()
        .take(top)
        .map(|(_, n)| n.to_string().len())
        .max()
        .unwrap_or(1);
    let _ = writeln!(out, "requests per resource:");
    for (path, n) in resources.iter().take(top) {
        let _ = writeln!(out, "  {n:>width$}  {path}");
    }
    if resources.len() > top {
        let rest: u64 = resources[top..].iter().map(|(_, n)| **n).sum();
        let _ = writeln!(
            out,
            "  {rest:>width$}  ({} more resources)",
            resources.len() - top
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_merge_by_path_and_status() {
        let m = Metrics::new(2);
        m.count_resource(0, "/a");
        m.count_resource(1, "/a");
        m.count_resource(1, "/b");
        *m.shard(0).statuses.entry(200).or_default() += 2;
        *m.shard(1).statuses.entry(404).or_default() += 1;
        m.shard(1).bytes_sent += 10;
        let total = m.merged();
        assert_eq!(total.resources["/a"], 2);
        assert_eq!(total.resources["/b"], 1);
        assert_eq!(total.statuses[&200], 2);
        assert_eq!(total.statuses[&404], 1);
        assert_eq!(total.bytes_sent, 10);
    }

    #[test]
    fn distinct_paths_beyond_the_cap_count_as_other() {
        let m = Metrics::new(1);
        for i in 0..MAX_RESOURCES + 5 {
            m.count_resource(0, &format!("/{i}"));
        }
        m.count_resource(0, "/0");
        let total = m.merged();
        assert_eq!(total.resources.len(), MAX_RESOURCES + 1);
        assert_eq!(total.resources[OTHER], 5);
        assert_eq!(total.resources["/0"], 2);
    }

    #[test]
    fn summary_lists_top_resources_aligned_with_the_rest_folded() {
        let mut total = Shard::default();
        total.resources.insert("/a".into(), 120);
        total.resources.insert("/b".into(), 7);
        total.resources.insert("/c".into(), 1);
        total.statuses.insert(200, 128);
        let text = summary(&total, Duration::from_secs(3), 0, 2);
        assert!(text.contains("128 requests"), "{text}");
        assert!(text.contains("  120  /a\n    7  /b\n"), "{text}");
        assert!(text.contains("    1  (1 more resources)"), "{text}");
        assert!(!text.contains("shutdown deadline"), "{text}");
    }
}
