//! What the main thread and every worker share for answering requests: the configuration
//! (read-only after start-up), the counters (sharded per worker), the open document root and
//! the compressed cache. (The TLS setup belongs to the transport, which the connection hands
//! it to.)

use std::sync::Arc;

use crate::config::Config;
use crate::files::compress::Compression;
use crate::files::resolve::Root;
use crate::metrics::Metrics;

/// Shared by all threads behind an `Arc`.
#[derive(Debug)]
pub struct Context {
    /// The validated configuration.
    pub config: Config,
    /// Counters, one shard per worker; shared with the access log's sinks, which count drops.
    pub metrics: Arc<Metrics>,
    /// The document root, opened once; the compression threads read beneath it too.
    pub root: Arc<Root>,
    /// On-the-fly compression (its cache and queue); `None` when off.
    pub compression: Option<Compression>,
}
