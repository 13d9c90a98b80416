//! The access log: one line per request on stdout, in Combined or Common Log Format followed by
//! the duration in microseconds.
//!
//! A worker formats its lines into a buffer of its own and hands the buffer over as one batch (no
//! syscall per request) when it passes [`FLUSH_BYTES`], at most [`FLUSH_INTERVAL`] after its
//! oldest line, and when the worker exits. Batches go through one bounded queue
//! ([`QUEUE_BATCHES`]) to the writer thread, which alone writes stdout once the server listens and
//! writes each batch as it arrives. The queue keeps each worker's batches in order, so lines keep
//! request order within a worker.
//!
//! A worker never waits for stdout: when the queue is full (a pipe nobody reads, a terminal
//! slower than the traffic) the batch is dropped, its lines are counted
//! (`http_server_access_log_dropped_total`) and the drop is reported on stderr at most once a
//! second. The one bounded wait is a worker's last batch, at exit ([`EXIT_WAIT`]); shutdown joins
//! the writer after the workers, so a clean exit loses no line, and waits for it at most
//! [`FINISH_TIMEOUT`], so a stalled stdout cannot hold the exit.
//!
//! Client-supplied fields are escaped (by `escape::log_field`) so that no request can forge or
//! split a line. This module must not decide what a request's status or
//! size was, nor let a worker block on stdout.

use std::io::{self, Write as _};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use http_core::date::Civil;

use crate::config::LogFormat;
use crate::escape;
use crate::metrics::Metrics;

/// Buffered lines are handed to the writer at most this long after the oldest of them.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(100);

/// A buffer this full is handed to the writer at once.
pub const FLUSH_BYTES: usize = 32 * 1024;

/// Batches waiting for the writer, at most. Batches run to about [`FLUSH_BYTES`], so this holds
/// about half a MiB of lines: enough to ride out a terminal's hiccup, while a stdout slower than
/// the traffic for longer costs lines, never memory or workers.
pub const QUEUE_BATCHES: usize = 16;

/// How long a worker's last batch may wait for room in the queue when the worker exits, so that
/// a clean shutdown under load loses no line. The pool allows a second past the drain deadline
/// for the workers' last round, and this fits in it.
pub const EXIT_WAIT: Duration = Duration::from_millis(500);

/// How long shutdown waits for the writer to write what is queued.
pub const FINISH_TIMEOUT: Duration = Duration::from_secs(2);

/// Drops are reported on stderr at most this often.
const REPORT_INTERVAL: Duration = Duration::from_secs(1);

/// The most bytes of a client-supplied field that are logged; longer values are cut with `...`
/// so one request cannot write a 16 KiB line.
const MAX_FIELD: usize = 1024;

/// One finished request, as the log sees it.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    /// The client's address.
    pub remote: Option<IpAddr>,
    /// When the request arrived, in seconds since the Unix epoch.
    pub time: u64,
    /// The request line as received (empty when none could be read).
    pub request_line: &'a [u8],
    /// The response status.
    pub status: u16,
    /// Body bytes sent.
    pub bytes: u64,
    /// The `Referer` field.
    pub referer: &'a [u8],
    /// The `User-Agent` field.
    pub user_agent: &'a [u8],
    /// From the first byte of the request to the last byte of the response.
    pub duration: Duration,
    /// The TLS version (`TLSv1.3`) when the request came over TLS, printed after the duration.
    pub tls: Option<&'static str>,
    /// The user a protected path let in (the log's `authuser` field), never the password.
    pub user: Option<&'a str>,
}

/// What the log will print of a request, captured when its head is parsed and owned by its
/// response until that is logged: only the fields the format prints, each kept to one byte more
/// than is printed (so the line still shows the cut), in one allocation. An idle keep-alive
/// connection therefore holds nothing of its last request.
#[derive(Debug)]
pub struct Captured {
    fields: Box<[u8]>,
    line_end: usize,
    referer_end: usize,
}

impl Captured {
    /// The request line as received (empty when none could be read).
    pub fn request_line(&self) -> &[u8] {
        self.fields.get(..self.line_end).unwrap_or_default()
    }

    /// The `Referer` field (empty when the format does not print it).
    pub fn referer(&self) -> &[u8] {
        self.fields
            .get(self.line_end..self.referer_end)
            .unwrap_or_default()
    }

    /// The `User-Agent` field (empty when the format does not print it).
    pub fn user_agent(&self) -> &[u8] {
        self.fields.get(self.referer_end..).unwrap_or_default()
    }
}

/// Starts the writer thread on stdout. Each worker gets a clone of the [`Sink`]; the writer ends
/// once every clone is gone and the queue is written out.
///
/// # Errors
///
/// When the thread cannot be spawned.
pub fn start(metrics: Arc<Metrics>) -> io::Result<(Writer, Sink)> {
    start_on(io::stdout(), QUEUE_BATCHES, metrics)
}

fn start_on<W: io::Write + Send + 'static>(
    out: W,
    capacity: usize,
    metrics: Arc<Metrics>,
) -> io::Result<(Writer, Sink)> {
    let (queue, batches) = crossbeam_channel::bounded(capacity);
    let thread = thread::Builder::new()
        .name("access-log".into())
        .spawn(move || write_batches(&batches, out))?;
    let drops = Arc::new(Drops {
        metrics,
        unreported: AtomicU64::new(0),
        next_report: Mutex::new(Instant::now()),
    });
    Ok((Writer { thread }, Sink { queue, drops }))
}

/// The writer thread's loop: each batch is written, and flushed, as it arrives.
fn write_batches(batches: &Receiver<Vec<u8>>, mut out: impl io::Write) {
    let mut failed = false;
    for batch in batches {
        // A closed stdout (`| head`) must not stop the server: the lines are discarded, and
        // the queue keeps moving so that workers do not count them as dropped.
        if let Err(e) = out.write_all(&batch).and_then(|()| out.flush())
            && !failed
        {
            failed = true;
            let _ = writeln!(
                io::stderr(),
                "http-server: cannot write the access log to stdout: {e}; its lines are discarded"
            );
        }
    }
}

/// The writer thread, joined at shutdown.
#[derive(Debug)]
pub struct Writer {
    thread: JoinHandle<()>,
}

impl Writer {
    /// Waits, at most [`FINISH_TIMEOUT`], for the writer to write every queued line and end; call
    /// it after the workers, whose sinks feed the writer, have been joined. Returns whether it
    /// ended: it does not while stdout is stalled (or a worker was left unjoined), and is then
    /// left to the process exit.
    pub fn finish(self) -> bool {
        let deadline = Instant::now() + FINISH_TIMEOUT;
        while !self.thread.is_finished() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
        self.thread.is_finished() && self.thread.join().is_ok()
    }
}

/// A worker's end of the writer's queue.
#[derive(Debug, Clone)]
pub struct Sink {
    queue: Sender<Vec<u8>>,
    drops: Arc<Drops>,
}

/// What every sink shares about dropped lines.
#[derive(Debug)]
struct Drops {
    metrics: Arc<Metrics>,
    /// Lines dropped since the last report on stderr.
    unreported: AtomicU64,
    /// When the next report may be made; a worker that finds it locked leaves the report to the
    /// one holding it.
    next_report: Mutex<Instant>,
}

impl Sink {
    /// Counts `lines` dropped and reports on stderr if the last report is old enough.
    fn dropped(&self, lines: u64) {
        let drops = &self.drops;
        drops.metrics.access_log_dropped(lines);
        drops.unreported.fetch_add(lines, Ordering::Relaxed);
        let Ok(mut next) = drops.next_report.try_lock() else {
            return;
        };
        let now = Instant::now();
        if now < *next {
            return;
        }
        *next = now + REPORT_INTERVAL;
        let n = drops.unreported.swap(0, Ordering::Relaxed);
        // Not `eprintln!`, which panics when stderr is gone.
        let _ = writeln!(
            io::stderr(),
            "http-server: stdout is not keeping up: {n} access log lines dropped"
        );
    }
}

/// A worker's log buffer.
#[derive(Debug)]
pub struct AccessLog {
    format: LogFormat,
    sink: Option<Sink>,
    buf: Vec<u8>,
    /// Lines in `buf`: drops are counted in lines, not batches.
    lines: u64,
    oldest: Option<Instant>,
}

impl AccessLog {
    /// A worker's log writing `format` into `sink`; no sink, no log.
    pub fn new(format: LogFormat, sink: Option<Sink>) -> Self {
        Self {
            format,
            sink,
            buf: Vec::new(),
            lines: 0,
            oldest: None,
        }
    }

    /// Whether lines are written at all.
    pub fn enabled(&self) -> bool {
        self.sink.is_some()
    }

    /// Keeps what this log's format prints of a request; `None` when the log is off.
    pub fn capture(
        &self,
        request_line: &[u8],
        referer: Option<&[u8]>,
        user_agent: Option<&[u8]>,
    ) -> Option<Captured> {
        if !self.enabled() {
            return None;
        }
        fn keep(field: Option<&[u8]>) -> &[u8] {
            let field = field.unwrap_or_default();
            field.get(..=MAX_FIELD).unwrap_or(field)
        }
        let line = keep(Some(request_line));
        let (referer, user_agent) = match self.format {
            LogFormat::Combined => (keep(referer), keep(user_agent)),
            LogFormat::Common | LogFormat::Off => (&[][..], &[][..]),
        };
        let fields: Box<[u8]> = [line, referer, user_agent].concat().into();
        Some(Captured {
            fields,
            line_end: line.len(),
            referer_end: line.len() + referer.len(),
        })
    }

    /// Adds one line, handing the buffer to the writer if it is full.
    pub fn record(&mut self, entry: &Entry<'_>, now: Instant) {
        if !self.enabled() {
            return;
        }
        format_line(&mut self.buf, self.format, entry);
        self.lines += 1;
        self.oldest.get_or_insert(now);
        if self.buf.len() >= FLUSH_BYTES {
            self.hand_over();
        }
    }

    /// Hands the buffer to the writer if its oldest line is due; returns when it will next be due.
    pub fn flush_if_due(&mut self, now: Instant) -> Option<Instant> {
        let due = self.oldest? + FLUSH_INTERVAL;
        if now >= due {
            self.hand_over();
            None
        } else {
            Some(due)
        }
    }

    /// Queues the buffered lines for the writer without waiting; when the queue is full they are
    /// dropped and counted.
    fn hand_over(&mut self) {
        let Some(sink) = &self.sink else { return };
        if self.buf.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.buf);
        if let Err(TrySendError::Full(batch) | TrySendError::Disconnected(batch)) =
            sink.queue.try_send(batch)
        {
            sink.dropped(self.lines);
            // The dropped batch's allocation serves the next one.
            self.buf = batch;
            self.buf.clear();
        }
        self.lines = 0;
        self.oldest = None;
    }
}

impl Drop for AccessLog {
    /// The worker is exiting, so its last lines may wait a little for room in the queue.
    fn drop(&mut self) {
        let Some(sink) = &self.sink else { return };
        if self.buf.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.buf);
        if sink.queue.send_timeout(batch, EXIT_WAIT).is_err() {
            sink.dropped(self.lines);
        }
    }
}

/// `host - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 2326 "referer" "agent" 153`
fn format_line(buf: &mut Vec<u8>, format: LogFormat, e: &Entry<'_>) {
    let t = Civil::from_unix(e.time);
    // An IPv4 client of a dual-stack `::` socket arrives as `::ffff:a.b.c.d`; log it as the
    // IPv4 address it is, as a socket bound to 0.0.0.0 would.
    let remote = e
        .remote
        .map_or_else(|| "-".to_owned(), |ip| ip.to_canonical().to_string());
    let _ = write!(buf, "{remote} - ");
    match e.user {
        // A space would split the field: it is written as `\x20`.
        Some(user) => {
            for (i, part) in user.split(' ').enumerate() {
                if i > 0 {
                    buf.extend_from_slice(b"\\x20");
                }
                escape::log_field(buf, part.as_bytes());
            }
        }
        None => buf.push(b'-'),
    }
    let _ = write!(
        buf,
        " [{:02}/{}/{}:{:02}:{:02}:{:02} +0000] \"",
        t.day, t.month_name, t.year, t.hour, t.minute, t.second
    );
    escape_into(buf, e.request_line);
    let _ = write!(buf, "\" {} {}", e.status, e.bytes);
    if format == LogFormat::Combined {
        buf.extend_from_slice(b" \"");
        escape_into(buf, e.referer);
        buf.extend_from_slice(b"\" \"");
        escape_into(buf, e.user_agent);
        buf.push(b'"');
    }
    let _ = write!(buf, " {}", e.duration.as_micros());
    if let Some(version) = e.tls {
        let _ = write!(buf, " {version}");
    }
    buf.push(b'\n');
}

/// A client-supplied field, escaped and cut at [`MAX_FIELD`]; an empty field is logged as `-`.
fn escape_into(buf: &mut Vec<u8>, field: &[u8]) {
    if field.is_empty() {
        buf.push(b'-');
        return;
    }
    let (field, cut) = match field.get(..MAX_FIELD) {
        Some(head) if field.len() > MAX_FIELD => (head, true),
        _ => (field, false),
    };
    escape::log_field(buf, field);
    if cut {
        buf.extend_from_slice(b"...");
    }
}

#[cfg(test)]
mod tests {
    use std::sync::PoisonError;

    use super::*;

    fn line(format: LogFormat, entry: &Entry<'_>) -> String {
        let mut buf = Vec::new();
        format_line(&mut buf, format, entry);
        String::from_utf8(buf).unwrap()
    }

    fn entry<'a>(request_line: &'a [u8], user_agent: &'a [u8]) -> Entry<'a> {
        Entry {
            remote: Some("127.0.0.1".parse().unwrap()),
            time: 784_111_777,
            request_line,
            status: 200,
            bytes: 42,
            referer: b"",
            user_agent,
            duration: Duration::from_micros(153),
            tls: None,
            user: None,
        }
    }

    #[test]
    fn the_user_a_protected_path_let_in_is_logged_escaped() {
        let e = Entry {
            user: Some("alice \"admin\""),
            ..entry(b"GET /private/ HTTP/1.1", b"")
        };
        assert!(
            line(LogFormat::Common, &e).starts_with("127.0.0.1 - alice\\x20\\\"admin\\\" ["),
            "{}",
            line(LogFormat::Common, &e)
        );
    }

    #[test]
    fn tls_requests_end_with_their_version() {
        let e = Entry {
            tls: Some("TLSv1.3"),
            ..entry(b"GET / HTTP/1.1", b"curl/8.0")
        };
        assert!(line(LogFormat::Combined, &e).ends_with("\"curl/8.0\" 153 TLSv1.3\n"));
        assert!(line(LogFormat::Common, &e).ends_with(" 42 153 TLSv1.3\n"));
    }

    #[test]
    fn combined_format_has_every_field() {
        assert_eq!(
            line(LogFormat::Combined, &entry(b"GET / HTTP/1.1", b"curl/8.0")),
            "127.0.0.1 - - [06/Nov/1994:08:49:37 +0000] \"GET / HTTP/1.1\" 200 42 \"-\" \"curl/8.0\" 153\n"
        );
    }

    #[test]
    fn ipv4_clients_of_a_dual_stack_socket_are_logged_as_ipv4() {
        let mut e = entry(b"GET / HTTP/1.1", b"");
        e.remote = Some("::ffff:192.0.2.7".parse().unwrap());
        assert!(line(LogFormat::Common, &e).starts_with("192.0.2.7 - - ["));
        e.remote = Some("2001:db8::1".parse().unwrap());
        assert!(line(LogFormat::Common, &e).starts_with("2001:db8::1 - - ["));
    }

    #[test]
    fn common_format_leaves_out_referer_and_agent() {
        assert_eq!(
            line(LogFormat::Common, &entry(b"GET / HTTP/1.1", b"curl/8.0")),
            "127.0.0.1 - - [06/Nov/1994:08:49:37 +0000] \"GET / HTTP/1.1\" 200 42 153\n"
        );
    }

    #[test]
    fn injected_quotes_and_line_breaks_stay_inside_one_field() {
        let text = line(
            LogFormat::Combined,
            &entry(b"GET / HTTP/1.1", b"x\" 500 \"evil\r\nforged \\ \xff"),
        );
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(
            text.contains(r#""x\" 500 \"evil\x0D\x0Aforged \\ \xFF" 153"#),
            "{text}"
        );
    }

    /// Collects what the writer writes; the first write waits until `gate` is closed, as a
    /// stdout nobody reads does.
    struct Stalled {
        gate: Option<Receiver<()>>,
        written: Arc<Mutex<Vec<u8>>>,
    }

    impl io::Write for Stalled {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            if let Some(gate) = self.gate.take() {
                let _ = gate.recv();
            }
            self.written
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// A log whose writer is stuck on `Stalled` until `release` is dropped.
    struct Fixture {
        log: AccessLog,
        writer: Writer,
        release: Sender<()>,
        written: Arc<Mutex<Vec<u8>>>,
        metrics: Arc<Metrics>,
    }

    /// A [`Fixture`] whose queue holds `capacity` batches.
    fn stalled_log(capacity: usize) -> Fixture {
        let (release, gate) = crossbeam_channel::bounded(0);
        let written = Arc::default();
        let out = Stalled {
            gate: Some(gate),
            written: Arc::clone(&written),
        };
        let metrics = Arc::new(Metrics::new(1));
        let (writer, sink) = start_on(out, capacity, Arc::clone(&metrics)).unwrap();
        Fixture {
            log: AccessLog::new(LogFormat::Combined, Some(sink)),
            writer,
            release,
            written,
            metrics,
        }
    }

    #[test]
    fn a_stalled_stdout_costs_lines_not_waiting_and_every_line_is_accounted_for() {
        const LINES: usize = 200;
        let Fixture {
            mut log,
            writer,
            release,
            written,
            metrics,
        } = stalled_log(2);
        let start = Instant::now();
        let mut now = start;
        for i in 0..LINES {
            let agent = format!("agent-{i:03}");
            log.record(&entry(b"GET / HTTP/1.1", agent.as_bytes()), now);
            // Every line is due at once, so that each is one batch.
            now += FLUSH_INTERVAL;
            assert_eq!(log.flush_if_due(now), None);
        }
        assert!(start.elapsed() < Duration::from_secs(1), "a worker waited");
        let dropped = metrics.snapshot().access_log_dropped;
        // One batch in the writer's hands, two in the queue; the rest must have been dropped.
        assert!(dropped >= (LINES - 3) as u64, "{dropped}");

        drop(release);
        drop(log);
        assert!(writer.finish(), "the writer ends once its sinks are gone");
        let text = String::from_utf8(written.lock().unwrap().clone()).unwrap();
        let agents: Vec<usize> = text
            .lines()
            .map(|l| l.split("agent-").nth(1).unwrap()[..3].parse().unwrap())
            .collect();
        assert_eq!(agents.len() as u64 + dropped, LINES as u64, "{text}");
        assert!(agents.is_sorted(), "request order is kept: {agents:?}");
    }

    #[test]
    fn lines_are_batched_and_written_in_order_when_the_worker_exits() {
        let Fixture {
            mut log,
            writer,
            release,
            written,
            metrics,
        } = stalled_log(QUEUE_BATCHES);
        drop(release);
        let now = Instant::now();
        for i in 0..5 {
            log.record(&entry(format!("GET /{i} HTTP/1.1").as_bytes(), b""), now);
        }
        assert_eq!(log.flush_if_due(now), Some(now + FLUSH_INTERVAL));
        assert!(written.lock().unwrap().is_empty(), "nothing is due yet");
        drop(log);
        assert!(writer.finish());
        let text = String::from_utf8(written.lock().unwrap().clone()).unwrap();
        let paths: Vec<&str> = text.lines().map(|l| l.split('"').nth(1).unwrap()).collect();
        assert_eq!(
            paths,
            [
                "GET /0 HTTP/1.1",
                "GET /1 HTTP/1.1",
                "GET /2 HTTP/1.1",
                "GET /3 HTTP/1.1",
                "GET /4 HTTP/1.1"
            ]
        );
        assert_eq!(metrics.snapshot().access_log_dropped, 0);
    }

    #[test]
    fn long_fields_are_cut() {
        let long = vec![b'a'; MAX_FIELD * 4];
        let text = line(LogFormat::Combined, &entry(b"GET / HTTP/1.1", &long));
        assert!(text.len() < MAX_FIELD + 200, "{}", text.len());
        assert!(text.contains("aaa...\""));
    }

    #[test]
    fn capture_keeps_only_what_the_format_prints_and_the_line_still_shows_the_cut() {
        let long = vec![b'u'; MAX_FIELD * 8];
        let (writer, sink) = start_on(io::sink(), 1, Arc::new(Metrics::new(1))).unwrap();
        let combined = AccessLog::new(LogFormat::Combined, Some(sink.clone()));
        let c = combined
            .capture(b"GET / HTTP/1.1", Some(&long), Some(b"curl"))
            .unwrap();
        assert_eq!(c.request_line(), b"GET / HTTP/1.1");
        assert_eq!(c.referer().len(), MAX_FIELD + 1);
        assert_eq!(c.user_agent(), b"curl");
        let captured = Entry {
            referer: c.referer(),
            ..entry(c.request_line(), c.user_agent())
        };
        let text = line(LogFormat::Combined, &captured);
        assert!(
            text.contains(&format!("{}...", "u".repeat(MAX_FIELD))),
            "{text}"
        );
        let common = AccessLog::new(LogFormat::Common, Some(sink));
        let c = common
            .capture(b"GET / HTTP/1.1", Some(&long), Some(&long))
            .unwrap();
        assert_eq!((c.referer(), c.user_agent()), (&b""[..], &b""[..]));
        assert!(
            AccessLog::new(LogFormat::Combined, None)
                .capture(b"x", None, None)
                .is_none()
        );
        drop((combined, common));
        assert!(writer.finish());
    }
}
