//! What the acceptor and every worker share: the configuration (read-only after start-up), the
//! counters (sharded per worker) and the open document root.

use std::sync::Arc;

use crate::config::Config;
use crate::files::resolve::Root;
use crate::metrics::Metrics;

/// Shared by all threads behind an `Arc`.
#[derive(Debug)]
pub struct Context {
    /// The validated configuration.
    pub config: Config,
    /// Counters, one shard per worker; shared with the access log's sinks, which count drops.
    pub metrics: Arc<Metrics>,
    /// The document root, opened once.
    pub root: Root,
    /// The TLS setup, when the server speaks HTTPS.
    pub tls: Option<std::sync::Arc<crate::tls::Tls>>,
}
