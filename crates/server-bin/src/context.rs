//! What the acceptor and every worker share: the configuration (read-only after start-up) and
//! the counters (sharded per worker).

use crate::config::Config;
use crate::metrics::Metrics;

/// Shared by all threads behind an `Arc`.
#[derive(Debug)]
pub struct Context {
    /// The validated configuration.
    pub config: Config,
    /// Counters, one shard per worker.
    pub metrics: Metrics,
}
