//! What one worker's connections share, whatever their protocol: the exchange with the worker's
//! small-file cache (a panic in it contained and answered `500`), the `Date` clock, spare
//! buffers, and the access log and counters a finished response goes to.
//!
//! One value per worker, owned by its handler: nothing here is locked. It must not know about
//! sockets, transports or any HTTP version.

use std::cell::OnceCell;
use std::net::IpAddr;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http_core::date::HttpDate;

use crate::access_log::{AccessLog, Captured, Entry};
use crate::context::Context;
use crate::error::ServeError;
use crate::exchange::{self, Request, Response, Tree, reply};
use crate::files::cache::FileCache;
use crate::files::root::RootView;
use crate::site::reload::SiteReader;

/// Spare buffers a worker keeps for reuse, and the largest capacity worth keeping: enough to
/// spare most allocations, little enough not to look like per-connection memory.
const SPARE_BUFFERS: usize = 64;
pub const SPARE_CAPACITY_MAX: usize = 64 * 1024;

/// One worker's shared state.
#[derive(Debug)]
pub struct Service {
    ctx: Arc<Context>,
    worker: usize,
    cache: FileCache,
    /// This worker's hold on the document root, taken once per request.
    root: RootView,
    /// This worker's hold on the site rules, taken once per request.
    site: SiteReader,
    clock: Clock,
    log: AccessLog,
    spare: Vec<Vec<u8>>,
    /// The last [`Service::respond`] was answered from the small-file cache alone.
    from_memory: bool,
}

/// Who is at the other end of a connection, for the log and the response fields that depend on
/// the transport.
#[derive(Debug, Clone, Default)]
pub struct Peer {
    /// The client's address, looked up once, when first needed (at the start when the log is
    /// on, which prints it with every request).
    pub addr: OnceCell<Option<IpAddr>>,
    /// The TLS version agreed on, over TLS.
    pub tls: Option<&'static str>,
    /// The `Strict-Transport-Security` value every response carries, over TLS.
    pub hsts: Option<Arc<str>>,
}

impl Peer {
    /// The address, if it has been looked up.
    pub fn known_addr(&self) -> Option<IpAddr> {
        self.addr.get().copied().flatten()
    }
}

/// What a response being sent keeps for the log and the counters, whichever protocol sends
/// it: taken from the exchange's answer when its head goes out, made into a [`Record`] when it
/// is done or cut short.
#[derive(Debug)]
pub struct ResponseMeta {
    /// The status sent.
    pub status: u16,
    /// What the per-resource counters count.
    pub resource: Option<Arc<str>>,
    /// The user a protected path let in, for the log.
    pub user: Option<String>,
    /// When the request's first byte arrived.
    pub started: Instant,
    /// The wall-clock second it arrived, for the log.
    pub time: u64,
    /// What the log prints of the request.
    pub log: Option<Captured>,
}

impl ResponseMeta {
    /// The response as the log and the counters see it, `body_sent` bytes of its body out.
    pub fn record(
        &self,
        peer: Option<IpAddr>,
        tls: Option<&'static str>,
        body_sent: u64,
    ) -> Record<'_> {
        Record {
            peer,
            tls,
            status: self.status,
            resource: self.resource.as_deref(),
            body_sent,
            started: self.started,
            time: self.time,
            log: self.log.as_ref(),
            user: self.user.as_deref(),
        }
    }
}

/// A response finished (or cut short), as the log and the counters see it.
#[derive(Debug)]
pub struct Record<'a> {
    /// The client's address, when the log wants it.
    pub peer: Option<IpAddr>,
    /// The TLS version, over TLS.
    pub tls: Option<&'static str>,
    /// The status sent.
    pub status: u16,
    /// What the per-resource counters count.
    pub resource: Option<&'a str>,
    /// Body bytes actually sent.
    pub body_sent: u64,
    /// When the request's first byte arrived.
    pub started: Instant,
    /// The wall-clock second it arrived, for the log.
    pub time: u64,
    /// What the log prints of the request.
    pub log: Option<&'a Captured>,
    /// The user a protected path let in.
    pub user: Option<&'a str>,
}

/// The `Date` value, formatted once per second. The wall clock is not read per response (two
/// reads per HTTP/2 response were 3% of its time): until the instant its second ends, the
/// event round's own `Instant` says the second has not changed; and it is read again after
/// [`CLOCK_READ_EVERY`] responses whatever the round's instant says, so that a long round
/// (thousands of connections, a slow disk) cannot leave the `Date` behind by more than that
/// many responses' time.
#[derive(Debug)]
struct Clock {
    secs: u64,
    date: HttpDate,
    /// When the wall clock's second `secs` ends (its next reading is due).
    next: Instant,
    /// Answers given since the last reading.
    given: u32,
}

/// Answers [`Clock`] gives from one reading of the wall clock, at most.
const CLOCK_READ_EVERY: u32 = 64;

impl Clock {
    fn new() -> Self {
        let now = Instant::now();
        Self {
            secs: u64::MAX,
            date: HttpDate::from_unix(0),
            next: now,
            given: 0,
        }
    }

    /// The second at `at`, an event round's instant: the second of the last reading, which
    /// was at most [`CLOCK_READ_EVERY`] answers ago, and not past its end as far as `at` shows.
    fn now(&mut self, at: Instant) -> (u64, HttpDate) {
        self.given += 1;
        if at >= self.next || self.given > CLOCK_READ_EVERY || self.secs == u64::MAX {
            self.given = 0;
            let wall = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            // After the wall clock: `next` is then never before the second's end.
            let read = Instant::now();
            let secs = wall.as_secs();
            if secs != self.secs {
                self.secs = secs;
                self.date = HttpDate::from_unix(secs);
            }
            let left = Duration::from_secs(1)
                .saturating_sub(Duration::from_nanos(u64::from(wall.subsec_nanos())));
            self.next = read + left;
        }
        (self.secs, self.date)
    }
}

impl Service {
    /// The state of worker `worker`, logging into `log`.
    pub fn new(ctx: Arc<Context>, worker: usize, log: AccessLog) -> Self {
        // With TLS on, every connection that is served files speaks TLS (the plain listener
        // only redirects); without, HTTP/1.1 sends files by sendfile, HTTP/2 copies them.
        let config = &ctx.config;
        let cache = FileCache::for_bodies(config.tls.is_none() && !config.http2)
            .keeping_open(config.cached_open);
        Self {
            root: ctx.root.view(),
            site: ctx.site.reader(),
            ctx,
            worker,
            cache,
            clock: Clock::new(),
            log,
            spare: Vec::new(),
            from_memory: false,
        }
    }

    /// What every thread shares.
    pub fn ctx(&self) -> &Context {
        &self.ctx
    }

    /// The wall-clock second at `at` (the event round's instant) and its `Date` value.
    pub fn now(&mut self, at: Instant) -> (u64, HttpDate) {
        self.clock.now(at)
    }

    /// The response to `req`. A panic in the exchange is a bug, reported in one line by the
    /// panic hook: the request is answered `500` (nothing has been sent yet), the cache the
    /// panic may have left half-updated is dropped, and the second value says it happened so
    /// that the connection closes after the response and counts it.
    pub fn respond(
        &mut self,
        req: &Request<'_, '_>,
        date: &HttpDate,
        draining: bool,
        now: Instant,
    ) -> (Response, bool) {
        let (hits, misses) = self.cache.tally();
        let (ctx, cache) = (&self.ctx, &mut self.cache);
        let root = self.root.current();
        let site = self.site.get();
        let made = panic::catch_unwind(AssertUnwindSafe(|| {
            exchange::respond(ctx, Tree { root, cache, site }, req, date, draining, now)
        }));
        // A hit and no miss: a fallback page served from memory after the path asked for was
        // looked for on disk is no answer from memory.
        let (hits_after, misses_after) = self.cache.tally();
        self.from_memory = hits_after != hits && misses_after == misses;
        match made {
            Ok(response) => (response, false),
            Err(_) => {
                self.cache.reset();
                (
                    reply::error(ServeError::Internal, reply::Audience::of(req)),
                    true,
                )
            }
        }
    }

    /// Whether the last [`Service::respond`] was answered from the worker's small-file cache
    /// alone (a hit and no miss), not by a look into the file system or a listing.
    pub fn answered_from_memory(&self) -> bool {
        self.from_memory
    }

    /// Keeps what the access log prints of a request; `None` when the log is off.
    pub fn capture(
        &self,
        line: &[u8],
        referer: Option<&[u8]>,
        user_agent: Option<&[u8]>,
    ) -> Option<Captured> {
        self.log.capture(line, referer, user_agent)
    }

    /// Whether the access log is on (so a connection's peer address is worth a system call).
    pub fn logs(&self) -> bool {
        self.log.enabled()
    }

    /// Logs a response and counts it (also one cut short). The clock is read here rather than
    /// taken from the event round, which began before the response was written.
    pub fn record(&mut self, r: &Record<'_>, now: Instant) {
        let now = now.max(Instant::now());
        let took: Duration = now.saturating_duration_since(r.started);
        let metrics = &self.ctx.metrics;
        metrics.response(self.worker, r.status, r.resource, r.body_sent, took);
        let Some(log) = r.log else { return };
        let entry = Entry {
            remote: r.peer,
            time: r.time,
            request_line: log.request_line(),
            status: r.status,
            bytes: r.body_sent,
            referer: log.referer(),
            user_agent: log.user_agent(),
            duration: took,
            tls: r.tls,
            user: r.user,
        };
        self.log.record(&entry, now);
    }

    /// A connection was handed to this worker.
    pub fn connection_opened(&self) {
        self.ctx.metrics.connection_opened(self.worker);
    }

    /// A panic closed a connection (or was answered `500`).
    pub fn panicked(&self) {
        self.ctx.metrics.panicked(self.worker);
    }

    /// The service of a one-worker server of `config` (whose root is `root`), without
    /// compression or a site file and with the access log off, for the codecs' unit tests.
    #[cfg(test)]
    pub fn for_tests(root: &std::path::Path, config: crate::config::Config) -> Self {
        let ctx = Context {
            root: Arc::new(crate::files::root::SwappableRoot::open(root.to_path_buf()).unwrap()),
            metrics: Arc::new(crate::metrics::Metrics::new(1)),
            compression: None,
            listings: crate::files::listing::ListingCache::new(1),
            site: Arc::new(crate::site::reload::SiteHandle::new(
                None,
                crate::cli::load_site,
                true,
            )),
            config,
        };
        let log = AccessLog::new(crate::config::LogFormat::Off, None);
        Self::new(Arc::new(ctx), 0, log)
    }

    /// Bytes of file contents in the worker's small-file cache.
    #[cfg(test)]
    pub fn cached_bytes(&self) -> usize {
        self.cache.bytes()
    }

    /// Before the worker polls, or a new connection is read: what arrives next may have been
    /// sent after a file changed, so the cache must look at its change queue again. Returns
    /// when to call it again if nothing else wakes the worker: when a file kept open ages.
    pub fn recheck(&mut self) -> Option<Instant> {
        self.cache.recheck()
    }

    /// Hands the log's buffer over if due; returns when it next will be.
    pub fn flush_log_if_due(&mut self, now: Instant) -> Option<Instant> {
        self.log.flush_if_due(now)
    }

    /// A spare buffer, as it was given back: its length is initialised memory (for input) and
    /// must be cleared before it is written to as a `Vec` (for output).
    pub fn take_buffer(&mut self) -> Vec<u8> {
        self.spare.pop().unwrap_or_default()
    }

    /// A spare buffer, emptied, to write into.
    pub fn take_output_buffer(&mut self) -> Vec<u8> {
        let mut buf = self.take_buffer();
        buf.clear();
        buf
    }

    /// Takes a buffer back for reuse, unless it is too large to be worth keeping.
    pub fn give_buffer(&mut self, buf: Vec<u8>) {
        if buf.capacity() > 0
            && buf.capacity() <= SPARE_CAPACITY_MAX
            && self.spare.len() < SPARE_BUFFERS
        {
            self.spare.push(buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wall_secs() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    #[test]
    fn the_date_is_read_once_a_second_and_again_once_the_rounds_instant_passes_it() {
        let mut clock = Clock::new();
        let before = wall_secs();
        let round = Instant::now();
        let (secs, date) = clock.now(round);
        assert!((before..=wall_secs()).contains(&secs));
        assert_eq!(date, HttpDate::from_unix(secs));
        let next = clock.next;
        assert!(next > round && next <= Instant::now() + Duration::from_secs(1));
        // Within the second the same round's instant is answered without a reading.
        assert_eq!(clock.now(round), (secs, date));
        assert_eq!(clock.next, next);
        // However long a round lasts, the clock is read again after so many answers.
        for _ in 0..CLOCK_READ_EVERY {
            clock.now(round);
        }
        assert_eq!(
            clock.given, 0,
            "read again after {CLOCK_READ_EVERY} answers"
        );
        let next = clock.next;
        // Once a round's instant is past the second, the wall clock is read again.
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
        let (later, date) = clock.now(Instant::now());
        assert!(later > secs, "{later} after {secs}");
        assert_eq!(date, HttpDate::from_unix(later));
        assert!(clock.next > next);
    }
}
