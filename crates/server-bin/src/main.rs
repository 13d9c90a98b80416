//! `http-server`: a static-file HTTP/1.1 and HTTP/2 server on a fixed-size worker pool.
//!
//! This crate wires the others together: the command line, start-up checks, the listening
//! sockets, signals, the HTTP connection state machine, file serving, the access log and the
//! counters. It must not parse HTTP bytes by hand (http-core does) nor own threads (the pool
//! does, and its workers accept; besides them there are the signal thread, the access-log
//! writer, the compression threads and the main thread, which answers refused connections).
//! `unsafe` is denied (the workspace's lints) everywhere but in `transport::sys`, the one
//! audited module for a system call no safe wrapper offers.

mod access_log;
mod cli;
mod config;
mod connection;
mod context;
mod error;
mod escape;
mod exchange;
mod fd_limit;
mod files;
mod html;
mod http1;
mod http2;
mod human;
mod metrics;
mod panic_hook;
mod refusals;
mod server;
mod service;
mod signals;
#[allow(
    dead_code,
    reason = "TODO(#24): the exchange calls the rule engine once the restructuring lands"
)]
mod site;
mod socket;
mod startup;
mod transport;

use transport::tls;

use std::process::ExitCode;

fn main() -> ExitCode {
    panic_hook::install();
    let outcome = cli::parse().and_then(|invocation| match invocation {
        cli::Invocation::Serve(config) => server::run(config),
        cli::Invocation::Check(config) => Ok(check(&config)),
        cli::Invocation::HashPassword => Ok(site::password::run()),
    });
    match outcome {
        Ok(code) => code,
        Err(err) => {
            // One line: the error and its causes, each at its own level.
            let mut line = format!("http-server: {err}");
            let mut source = std::error::Error::source(&err);
            while let Some(cause) = source {
                line.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            eprintln!("{line}");
            ExitCode::FAILURE
        }
    }
}

/// `--check`: everything start-up checks before it listens has passed; say what the site
/// file holds.
fn check(config: &config::Config) -> ExitCode {
    if let Some(site) = &config.site {
        println!("{}: ok ({})", site.file.path.display(), site.site.summary());
    }
    ExitCode::SUCCESS
}
