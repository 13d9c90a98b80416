//! How a panic is reported: one line on stderr, at most once a second, with a count of those
//! left unsaid. A panic in a request handler is a bug, but one a client may be able to trigger
//! at will; the default hook's report (a backtrace when asked for, several lines always) would
//! then let that client fill a disk. Containing the panic and answering it is the connection's
//! and the pool's job, not this module's.

use std::panic::{self, PanicHookInfo};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Panics are reported at most this often.
const REPORT_INTERVAL: Duration = Duration::from_secs(1);

/// When the last report was printed, and how many panics have gone unreported since.
static LAST_REPORT: Mutex<(Option<Instant>, u64)> = Mutex::new((None, 0));

/// Replaces the default panic hook for the whole process.
pub fn install() {
    panic::set_hook(Box::new(report));
}

fn report(info: &PanicHookInfo<'_>) {
    let now = Instant::now();
    let mut last = LAST_REPORT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if last
        .0
        .is_some_and(|at| now.duration_since(at) < REPORT_INTERVAL)
    {
        last.1 += 1;
        return;
    }
    let unreported = std::mem::take(&mut last.1);
    last.0 = Some(now);
    drop(last);
    eprintln!("{}", describe(info, unreported));
}

fn describe(info: &PanicHookInfo<'_>, unreported: u64) -> String {
    let thread = std::thread::current();
    let message = info
        .payload()
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| info.payload().downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_owned());
    let location = info
        .location()
        .map(|l| format!(" at {}:{}", l.file(), l.line()))
        .unwrap_or_default();
    let mut line = format!(
        "http-server: panic in {}: {}{location}",
        thread.name().unwrap_or("a thread"),
        message.escape_debug()
    );
    if unreported > 0 {
        line.push_str(&format!(" ({unreported} more not reported)"));
    }
    line
}
