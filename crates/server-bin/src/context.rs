//! What the main thread and every worker share for answering requests: the configuration
//! (read-only after start-up), the counters (sharded per worker), the document root (the tree
//! its path leads to, swapped when a deploy points the path elsewhere), the compressed cache and
//! the listings read lately.
//! (The TLS setup belongs to the transport, which the connection hands it to.)

use std::sync::Arc;

use crate::config::Config;
use crate::files::compress::Compression;
use crate::files::listing::ListingCache;
use crate::files::root::SwappableRoot;
use crate::metrics::Metrics;
use crate::site::reload::SiteHandle;

/// Shared by all threads behind an `Arc`.
#[derive(Debug)]
pub struct Context {
    /// The validated configuration.
    pub config: Config,
    /// Counters, one shard per worker; shared with the access log's sinks, which count drops.
    pub metrics: Arc<Metrics>,
    /// The document root: each worker takes its own view of it, and a request takes the tree
    /// once (`files::root`).
    pub root: Arc<SwappableRoot>,
    /// The site file's rules: each worker takes its own reader, and a request takes the rules
    /// once (`site::reload`).
    pub site: Arc<SiteHandle>,
    /// On-the-fly compression (its cache and queue); `None` when off.
    pub compression: Option<Compression>,
    /// Directory listings read lately, and the gate on reading directories.
    pub listings: ListingCache,
}
