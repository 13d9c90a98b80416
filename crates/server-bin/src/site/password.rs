//! `http-server hash-password`: reads a password and prints its Argon2id hash as a PHC string,
//! the form `[auth] users` takes.
//!
//! From a terminal it asks twice on stderr with echo off (through `rustix::termios`, no unsafe
//! code), and puts echo back even when interrupted: SIGINT, SIGTERM, SIGHUP and SIGQUIT restore
//! the terminal before exiting. Otherwise the first line of stdin is the password (so
//! `printf %s "$PW" | http-server hash-password` works in scripts). The parameters are the
//! `argon2` crate's defaults, OWASP's recommendation (m = 19 MiB, t = 2, p = 1), with a random
//! salt. This module must not start a server.

use std::io::{self, BufRead, IsTerminal, Read, Write};
use std::process::ExitCode;

use argon2::{Argon2, PasswordHasher};
use rustix::termios::{self, LocalModes, OptionalActions, Termios};
use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
use signal_hook::iterator::Signals;

/// The longest password read (a line of stdin is bounded by it).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Why no hash was printed.
#[derive(Debug)]
pub enum HashError {
    /// Stdin or the terminal failed.
    Io(io::Error),
    /// The password is empty.
    Empty,
    /// The password is longer than [`MAX_PASSWORD_BYTES`].
    TooLong,
    /// The two passwords typed differ.
    Mismatch,
    /// The hash could not be computed.
    Hash(argon2::password_hash::Error),
}

impl std::fmt::Display for HashError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Io(e) => write!(f, "cannot read the password: {e}"),
            Self::Empty => write!(f, "the password is empty"),
            Self::TooLong => write!(f, "the password is longer than {MAX_PASSWORD_BYTES} bytes"),
            Self::Mismatch => write!(f, "the passwords differ"),
            Self::Hash(e) => write!(f, "cannot hash the password: {e}"),
        }
    }
}

/// Runs the subcommand: the hash on stdout, or one line on stderr and status 1.
pub fn run() -> ExitCode {
    match read_password().and_then(|p| hash(p.as_bytes())) {
        Ok(phc) => {
            println!("{phc}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("http-server: hash-password: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The Argon2id PHC string of `password`, with a random salt and the default parameters.
///
/// # Errors
///
/// [`HashError::Hash`] when the system has no random bytes for the salt.
pub fn hash(password: &[u8]) -> Result<String, HashError> {
    Argon2::default()
        .hash_password(password)
        .map(|h| h.to_string())
        .map_err(HashError::Hash)
}

fn read_password() -> Result<String, HashError> {
    let stdin = io::stdin();
    if !stdin.is_terminal() {
        return first_line(&mut stdin.lock());
    }
    let first = prompt("password: ")?;
    let second = prompt("again: ")?;
    match first == second {
        true => Ok(first),
        false => Err(HashError::Mismatch),
    }
}

/// The first line of `input`, without its line end.
fn first_line(input: &mut impl BufRead) -> Result<String, HashError> {
    let mut line = String::new();
    input
        .by_ref()
        .take(MAX_PASSWORD_BYTES as u64 + 2)
        .read_line(&mut line)
        .map_err(HashError::Io)?;
    let password = line
        .strip_suffix('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .unwrap_or(&line);
    match password.len() {
        0 => Err(HashError::Empty),
        n if n > MAX_PASSWORD_BYTES => Err(HashError::TooLong),
        _ => Ok(password.to_owned()),
    }
}

/// Asks on stderr and reads a line from the terminal with echo off.
fn prompt(question: &str) -> Result<String, HashError> {
    let stdin = io::stdin();
    let saved = termios::tcgetattr(&stdin).map_err(|e| HashError::Io(e.into()))?;
    let mut quiet = saved.clone();
    quiet.local_modes.remove(LocalModes::ECHO);
    // The newline typed at the end is still shown, so the next prompt starts on its own line.
    quiet.local_modes.insert(LocalModes::ECHONL);
    let restore = RestoreOnSignal::install(saved.clone());
    eprint!("{question}");
    let _ = io::stderr().flush();
    termios::tcsetattr(&stdin, OptionalActions::Now, &quiet)
        .map_err(|e| HashError::Io(e.into()))?;
    let line = first_line(&mut stdin.lock());
    let restored = termios::tcsetattr(&stdin, OptionalActions::Now, &saved);
    drop(restore);
    restored.map_err(|e| HashError::Io(e.into()))?;
    line
}

/// While it lives, a signal that would end the process puts the terminal back first.
struct RestoreOnSignal {
    handle: Option<signal_hook::iterator::Handle>,
}

impl RestoreOnSignal {
    fn install(saved: Termios) -> Self {
        let Ok(mut signals) = Signals::new([SIGINT, SIGTERM, SIGHUP, SIGQUIT]) else {
            return Self { handle: None };
        };
        let handle = signals.handle();
        let spawned = std::thread::Builder::new()
            .name("hash-password-signals".into())
            .spawn(move || {
                if let Some(signal) = signals.forever().next() {
                    let _ = termios::tcsetattr(io::stdin(), OptionalActions::Now, &saved);
                    eprintln!();
                    std::process::exit(128 + signal);
                }
            });
        Self {
            handle: spawned.is_ok().then_some(handle),
        }
    }
}

impl Drop for RestoreOnSignal {
    fn drop(&mut self) {
        if let Some(handle) = &self.handle {
            handle.close();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::{PasswordHash, PasswordVerifier};

    #[test]
    fn the_first_line_is_the_password_without_its_line_end() {
        let line = |s: &str| first_line(&mut s.as_bytes());
        assert_eq!(line("secret\n").unwrap(), "secret");
        assert_eq!(line("secret\r\nnext\n").unwrap(), "secret");
        assert_eq!(line("no newline").unwrap(), "no newline");
        assert_eq!(line(" spaces kept \n").unwrap(), " spaces kept ");
        assert!(matches!(line("\n"), Err(HashError::Empty)));
        assert!(matches!(line(""), Err(HashError::Empty)));
        let long = "a".repeat(MAX_PASSWORD_BYTES + 1);
        assert!(matches!(line(&long), Err(HashError::TooLong)));
        assert_eq!(
            line(&"a".repeat(MAX_PASSWORD_BYTES)).unwrap().len(),
            MAX_PASSWORD_BYTES
        );
    }

    #[test]
    fn the_hash_is_argon2id_with_a_random_salt_and_verifies() {
        let phc = hash(b"wonderland").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert_ne!(phc, hash(b"wonderland").unwrap());
        let parsed = PasswordHash::new(&phc).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"wonderland", &parsed)
                .is_ok()
        );
        assert!(
            Argon2::default()
                .verify_password(b"Wonderland", &parsed)
                .is_err()
        );
    }
}
