//! The validated configuration every other module reads. Built once by `cli`, then shared
//! read-only by the main thread and the workers; it must not change after start-up (the site
//! file's rules are reloaded through `site::reload`, not here).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::files::compress;

/// How requests are logged on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Combined Log Format followed by the duration in microseconds.
    Combined,
    /// Common Log Format followed by the duration in microseconds.
    Common,
    /// No access log.
    Off,
}

/// Everything the server needs to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// The document root as given, made absolute; symlinks are kept, so that a deploy that
    /// points it elsewhere is served (`files::root`).
    pub root: PathBuf,
    /// Where to listen (unless a socket is inherited).
    pub addr: SocketAddr,
    /// Accept on this inherited descriptor instead of binding.
    pub listen_fd: Option<i32>,
    /// Bind a socket per worker with `SO_REUSEPORT` (else one socket, shared, without it).
    pub reuseport: bool,
    /// With one worker per CPU allowed, pin worker `i` to the `i`th CPU and steer its own
    /// socket to it (`pool::Builder::pin_to_cpus`); off unless asked for.
    pub cpu_affinity: bool,
    /// Worker threads.
    pub threads: usize,
    /// Most connections open at once.
    pub max_connections: usize,
    /// Files each worker's cache may keep open (`fd_limit::Budget::cached_open`).
    pub cached_open: usize,
    /// Serve names starting with a dot (other than `/.well-known/`, always served).
    pub dotfiles: bool,
    /// List directories that have no index file.
    pub listing: bool,
    /// Print a QR code of the first address other devices can open.
    pub qr: bool,
    /// Serve `file.br`/`file.gz` to clients that accept them.
    pub precompressed: bool,
    /// On-the-fly compression; `None` when off.
    pub compress: Option<compress::Settings>,
    /// Path of the Prometheus metrics endpoint; `None` disables it.
    pub metrics_path: Option<String>,
    /// Serve the metrics to clients on other hosts too (else loopback clients only).
    pub metrics_public: bool,
    /// Speak HTTP/2 (ALPN `h2` over TLS, prior knowledge on the plain port).
    pub http2: bool,
    /// Path of the health endpoint; `None` disables it.
    pub health_path: Option<String>,
    /// Access log format.
    pub access_log: LogFormat,
    /// `Cache-Control` value on file responses.
    pub cache_control: std::sync::Arc<str>,
    /// A request head must be complete this long after its first byte (else 408).
    pub header_timeout: Duration,
    /// An idle keep-alive connection is closed after this long without a byte.
    pub idle_timeout: Duration,
    /// A response that makes no write progress for this long is abandoned.
    pub send_timeout: Duration,
    /// How long shutdown waits for in-flight responses.
    pub shutdown_timeout: Duration,
    /// HTTPS: where the certificate comes from, HSTS, the redirect listener.
    pub tls: Option<crate::tls::Settings>,
    /// The site file (`--config`): its settings and its rules as loaded at start-up.
    pub site: Option<crate::site::Loaded>,
}
