//! SIGINT and SIGTERM: the first starts a graceful shutdown, a second exits at once with
//! status 130. The handlers are registered before any thread is spawned (signal-hook's
//! "Limitations"); a dedicated thread turns signals into a flag plus a wake-up of the main thread.
//! SIGHUP asks each reloader (the TLS certificate's thread when it comes from files, the site
//! file's thread when there is one) to read its files again; each prints its own line.

use std::io::{self, IsTerminal};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use crossbeam_channel::Sender;
use mio::Waker;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// The exit status after a second signal, as shells report death by SIGINT (128 + 2).
pub const FORCED_EXIT: i32 = 130;

/// Registers the handlers, SIGHUP's too when `hup` (else it keeps its default action). Call
/// before spawning threads.
///
/// # Errors
///
/// When the handlers cannot be installed.
pub fn register(hup: bool) -> io::Result<Signals> {
    match hup {
        true => Signals::new([SIGINT, SIGTERM, SIGHUP]),
        false => Signals::new([SIGINT, SIGTERM]),
    }
}

/// Watches for signals on a thread of its own: sets `stop` and wakes the main thread on the first,
/// exits the process on the second. SIGHUP goes to every one of `reloaders` (a full queue
/// already holds one).
///
/// # Errors
///
/// When the thread cannot be spawned.
pub fn watch(
    mut signals: Signals,
    stop: Arc<AtomicBool>,
    waker: Arc<Waker>,
    reloaders: Vec<Sender<()>>,
) -> io::Result<()> {
    thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let terminal = io::stderr().is_terminal();
            for signal in signals.forever() {
                if signal == SIGHUP {
                    for reload in &reloaders {
                        let _ = reload.try_send(());
                    }
                    continue;
                }
                let second = stop.swap(true, Ordering::AcqRel);
                eprint!("{}", notice(signal == SIGINT, second, terminal));
                if second {
                    std::process::exit(FORCED_EXIT);
                }
                // Set the flag first, then wake: the main thread checks the flag after waking.
                let _ = waker.wake();
            }
        })?;
    Ok(())
}

/// What a signal makes us say. A Ctrl-C on a terminal has just been echoed as `^C` where the
/// cursor was, so the line starts on a line of its own.
fn notice(sigint: bool, second: bool, terminal: bool) -> String {
    let name = if sigint { "SIGINT" } else { "SIGTERM" };
    let newline = if sigint && terminal { "\n" } else { "" };
    if second {
        format!("{newline}http-server: second {name}: exiting now\n")
    } else {
        format!("{newline}http-server: {name}: finishing in-flight responses (again to exit now)\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_a_ctrl_c_on_a_terminal_the_notice_starts_on_a_new_line() {
        assert_eq!(
            notice(true, false, true),
            "\nhttp-server: SIGINT: finishing in-flight responses (again to exit now)\n"
        );
        assert_eq!(
            notice(true, true, true),
            "\nhttp-server: second SIGINT: exiting now\n"
        );
        assert!(notice(true, false, false).starts_with("http-server: SIGINT"));
        assert!(notice(false, false, true).starts_with("http-server: SIGTERM"));
    }
}
