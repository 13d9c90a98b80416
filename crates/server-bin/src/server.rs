//! Start-up and shutdown: from a [`Config`] to a listening server, and from a stop signal to the
//! summary. The order matters and is the point of this module: signals are registered before any
//! thread starts, nothing listens before the root has been checked, the listener is closed
//! before the pool drains so that new connections are refused at once, and the access-log writer
//! is joined after the workers so that it writes their last lines.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use mio::{Poll, Waker};
use pool::Builder;

use crate::access_log::{self, AccessLog, FINISH_TIMEOUT, Sink, Writer};
use crate::config::{Config, LogFormat};
use crate::connection::HttpHandler;
use crate::context::Context;
use crate::error::StartupError;
use crate::files::compress::{self, Compression, Compressors};
use crate::files::root::{self, SwappableRoot};
use crate::metrics::{Metrics, summary};
use crate::refusals::{WAKE, refusal_loop};
use crate::site::reload::{self as site_reload, SiteHandle};
use crate::socket::{self, Listeners};
use crate::tls::{self, Tls};
use crate::{fd_limit, signals, startup};

/// Runs the server until a signal stops it.
///
/// # Errors
///
/// A [`StartupError`] when anything fails before the server listens.
pub fn run(mut config: Config) -> Result<ExitCode, StartupError> {
    let cert_files = config
        .tls
        .as_ref()
        .is_some_and(|t| matches!(t.source, tls::Source::Files { .. }));
    let site = Arc::new(SiteHandle::new(
        config.site.clone(),
        crate::cli::load_site,
        config.tls.is_none(),
    ));
    let signals = signals::register(cert_files || site.has_file())
        .map_err(|e| setup("signal handlers", e))?;
    let budget = fd_limit::raise_and_share(config.max_connections, config.threads);
    config.max_connections = budget.connections;
    config.cached_open = budget.cached_open;

    let mut listeners = socket::open(&config)?;
    let tls = match &config.tls {
        Some(settings) => Some(Arc::new(start_tls(settings, &mut listeners, config.http2)?)),
        None => None,
    };
    let mut poll = Poll::new().map_err(|e| setup("the main thread's poller", e))?;
    let waker = Arc::new(
        Waker::new(poll.registry(), WAKE).map_err(|e| setup("the main thread's waker", e))?,
    );
    let (refused_tx, refused_rx) = crossbeam_channel::bounded(budget.refusal_queue);
    let stop = Arc::new(AtomicBool::new(false));
    let reloadable = Reloadable {
        tls: tls.as_ref().filter(|_| cert_files),
        site: &site,
    };
    watch_signals(signals, reloadable, &stop, &waker)?;
    if config.tls.is_none() && site.current().has_auth() {
        eprintln!("http-server: {}", crate::site::PLAIN_AUTH_WARNING);
    }

    let threads = config.threads;
    let root = Arc::new(SwappableRoot::open(config.root.clone()).map_err(|source| {
        StartupError::Root {
            path: config.root.clone(),
            source,
        }
    })?);
    let metrics = Arc::new(Metrics::new(threads));
    if tls.is_some() {
        metrics.tls.enable();
    }
    if config.http2 {
        metrics.http2.enable();
    }
    let (mut helpers, compression, log_sink) = Helpers::start(&config, &root, &metrics)?;
    let log_format = config.access_log;
    let ctx = Arc::new(Context {
        metrics,
        root,
        site: Arc::clone(&site),
        compression,
        listings: crate::files::listing::ListingCache::new(threads),
        config,
    });
    let config = &ctx.config;
    let worker_listeners = listeners
        .for_workers(threads)
        .map_err(|e| setup("the workers' listeners", e))?;
    // Announced before the workers start: they accept at once, and whoever reads the address
    // and gets an answer must already find the whole start-up block.
    startup::announce(config, &budget, &ctx.root, &listeners, tls.as_deref());
    let pool = Builder::new()
        .threads(threads)
        .max_connections(config.max_connections)
        .drain_timeout(config.shutdown_timeout)
        .listeners(worker_listeners)
        .pin_to_cpus(config.cpu_affinity)
        .refusals(refused_tx, Arc::clone(&waker))
        .spawn(|i| {
            let log = AccessLog::new(log_format, log_sink.clone());
            HttpHandler::new(Arc::clone(&ctx), tls.clone(), i, log)
        })
        .map_err(|e| setup("the worker pool", e))?;
    if let Some(why) = pool.unpinned() {
        eprintln!("http-server: --cpu-affinity not applied: {why}; the workers run on any CPU");
    }
    ctx.metrics.observe_connections(pool.active_gauge());
    // The workers hold the only sinks now, so the writer ends once they are gone.
    drop(log_sink);

    let refused = &refused_rx;
    let lingering = budget.lingering;
    if let Err(e) = refusal_loop(
        &mut poll,
        refused,
        lingering,
        &ctx.metrics,
        &stop,
        tls.as_deref(),
    ) {
        eprintln!("http-server: the main thread's poller failed: {e}; shutting down");
    }
    // Nobody answers refusals any more: what workers refuse from now on is closed at once.
    drop(refused_rx);
    // Closing the sockets we bound makes the kernel refuse new connections during the drain
    // (once every worker has started to drain and let go of its own and of the shared group; a
    // worker in a long call delays that, and connections queued meanwhile are reset); an
    // inherited one stays open in the supervisor, so new connections wait for the next process.
    drop(listeners);
    // Compression is background work: it stops now, so the drain has the CPU.
    helpers.stop();
    let report = pool.shutdown();
    let late = helpers.finish();
    let mut text = summary::render(&ctx.metrics.snapshot(), report.forced_closed);
    text.push_str(&late);
    if report.unjoined > 0 || report.crashed > 0 {
        text.push_str(&format!(
            "workers not joined: {}, crashed: {}\n",
            report.unjoined, report.crashed
        ));
    }
    eprint!("{text}");
    Ok(ExitCode::SUCCESS)
}

/// What SIGHUP reloads: the certificate (when it comes from files) and the site file.
struct Reloadable<'a> {
    tls: Option<&'a Arc<Tls>>,
    site: &'a Arc<SiteHandle>,
}

/// Starts the thread that turns signals into a stop (SIGINT, SIGTERM) or reloads (SIGHUP), and
/// a reload thread for each thing that can be reloaded. One pending reload is enough: a SIGHUP
/// while one waits asks for the same thing.
fn watch_signals(
    signals: signal_hook::iterator::Signals,
    reloadable: Reloadable<'_>,
    stop: &Arc<AtomicBool>,
    waker: &Arc<Waker>,
) -> Result<(), StartupError> {
    let mut reloaders = Vec::new();
    if let Some(tls) = reloadable.tls {
        let (reload_tx, reload_rx) = crossbeam_channel::bounded(1);
        tls::watch(Arc::clone(tls), reload_rx).map_err(|e| setup("the TLS reload thread", e))?;
        reloaders.push(reload_tx);
    }
    if reloadable.site.has_file() {
        let (reload_tx, reload_rx) = crossbeam_channel::bounded(1);
        site_reload::watch(Arc::clone(reloadable.site), reload_rx)
            .map_err(|e| setup("the site reload thread", e))?;
        reloaders.push(reload_tx);
    }
    signals::watch(signals, Arc::clone(stop), Arc::clone(waker), reloaders)
        .map_err(|e| setup("the signal thread", e))
}

/// The threads beside the workers: the root watcher, the compression threads and the access
/// log writer.
struct Helpers {
    watcher: root::Watcher,
    compressors: Option<Compressors>,
    log_writer: Option<Writer>,
}

impl Helpers {
    /// Starts them; returns what the workers share of them: the compressed cache and the
    /// access log's sink.
    fn start(
        config: &Config,
        root: &Arc<SwappableRoot>,
        metrics: &Arc<Metrics>,
    ) -> Result<(Self, Option<Compression>, Option<Sink>), StartupError> {
        let watcher = root::watch(
            Arc::clone(root),
            Arc::clone(metrics),
            root::RECHECK_INTERVAL,
        )
        .map_err(|e| setup("the root watcher", e))?;
        let (compression, compressors) = match config.compress.clone() {
            Some(settings) => {
                let (compression, compressors) = compress::start(
                    settings,
                    Arc::clone(root),
                    Arc::clone(metrics),
                    compress::Settings::threads(config.threads),
                )
                .map_err(|e| setup("the compression threads", e))?;
                (Some(compression), Some(compressors))
            }
            None => (None, None),
        };
        let (log_writer, log_sink) = if config.access_log == LogFormat::Off {
            (None, None)
        } else {
            let (writer, sink) = access_log::start(Arc::clone(metrics))
                .map_err(|e| setup("the access log writer", e))?;
            (Some(writer), Some(sink))
        };
        let helpers = Self {
            watcher,
            compressors,
            log_writer,
        };
        Ok((helpers, compression, log_sink))
    }

    /// Stops the background work (compression), so that the drain has the CPU.
    fn stop(&mut self) {
        if let Some(compressors) = &mut self.compressors {
            compressors.stop();
        }
    }

    /// Joins them (the log writer last, after the workers' last lines); returns the summary's
    /// lines about those that did not finish in time.
    fn finish(self) -> String {
        let mut text = String::new();
        let compressors_late = self.compressors.map_or(0, Compressors::finish);
        if !self.watcher.finish() {
            text.push_str(&format!(
                "the root watcher did not stop within {:?}\n",
                root::JOIN_TIMEOUT
            ));
        }
        if compressors_late > 0 {
            text.push_str(&format!(
                "compression threads still busy after {:?}: {compressors_late}\n",
                compress::JOIN_TIMEOUT
            ));
        }
        if !self.log_writer.is_none_or(Writer::finish) {
            text.push_str(&format!(
                "the access log writer did not finish within {FINISH_TIMEOUT:?}; lines it still held are lost\n"
            ));
        }
        text
    }
}

/// Loads (or makes) the certificate for the bound addresses and, if asked, binds the plain-HTTP
/// redirect listener beside the TLS one (same address, its own port).
fn start_tls(
    settings: &tls::Settings,
    listeners: &mut Listeners,
    http2: bool,
) -> Result<Tls, StartupError> {
    let ips: Vec<_> = listeners.addrs.iter().map(|a| a.ip()).collect();
    let names = match settings.source {
        tls::Source::SelfSigned => tls::self_signed::names_for(&ips),
        tls::Source::Files { .. } => Vec::new(),
    };
    let mut tls = Tls::new(settings.clone(), &names, http2).map_err(|e| setup("TLS", e))?;
    let Some(first) = listeners.addrs.first().copied() else {
        return Ok(tls);
    };
    tls.https_port = first.port();
    if let Some(port) = settings.redirect_http {
        let addr = std::net::SocketAddr::new(first.ip(), port);
        let bind_error = |source| StartupError::Bind {
            addr,
            option: "--redirect-http",
            source,
        };
        let socket = socket::listen_on(addr, listeners.reuseport).map_err(bind_error)?;
        let local = socket.local_addr().map_err(bind_error)?;
        tls.redirect_port = local.port();
        listeners.sockets.push(socket);
        listeners.addrs.push(local);
    }
    Ok(tls)
}

fn setup(what: &'static str, e: impl std::error::Error + Send + Sync + 'static) -> StartupError {
    StartupError::Setup {
        what,
        source: Box::new(e),
    }
}
