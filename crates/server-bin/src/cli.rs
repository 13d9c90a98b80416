//! Command-line parsing: turns arguments, and the settings of a `--config` site file, into a
//! [`Config`], checking what can be checked before anything listens (the root exists and is a
//! directory, the site file is valid whole). It must not bind or spawn anything.
//!
//! Every flag is also a top-level key of the site file, under its long name (`max-connections`;
//! `max_connections` too, see `site::file`), with the value the flag would take (`true`/`false`
//! for a switch; a number, a string, a list of strings joined with `,`, or a table written
//! `key=value,...`). Each value is checked by the flag's own parser, so a bad one is refused
//! with the file, line and column. A flag given on the command line wins over the file, and
//! flags that exclude each other go as a family: `ROOT` or `--root` on the command line
//! replaces the file's `root`, any of the certificate flags replaces all of the file's, and
//! `--precompressed`/`--no-precompressed` replace both keys. Relative paths in the file
//! (`root`, `tls-cert`, `tls-key`) are taken from the file's folder.

use std::ffi::{OsStr, OsString};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::builder::ValueParser;
use clap::error::{ContextKind, ContextValue};
use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};
use http_core::encoding::Coding;

use crate::config::{Config, LogFormat};
use crate::error::StartupError;
use crate::files::compress::{self, codec::Levels};
use crate::site::file::{Located, Problem, Setting, SettingValue, SiteError, SiteFile};
use crate::site::{Loaded, Site};

/// A static-file HTTP/1.1 and HTTP/2 server on a fixed-size worker pool.
#[derive(Debug, Parser)]
#[command(
    name = "http-server",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
#[command(group(clap::ArgGroup::new("tls").args(["tls_cert", "tls_self_signed"])))]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,

    /// Document root to serve
    #[arg(value_name = "ROOT", conflicts_with = "root")]
    root_pos: Option<PathBuf>,

    /// Document root to serve (same as the ROOT argument) [default: www]
    #[arg(short, long, value_name = "DIR")]
    root: Option<PathBuf>,

    /// TCP port to listen on (0 picks a free one)
    #[arg(short, long, default_value_t = 8080)]
    port: u16,

    /// Address to listen on (0.0.0.0 or :: to accept connections from other hosts)
    #[arg(short, long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    bind: IpAddr,

    /// Accept on this inherited listening socket instead of binding (for supervisors other than
    /// systemd; systemd's LISTEN_FDS is used automatically)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i32).range(0..))]
    listen_fd: Option<i32>,

    /// Bind one socket that every worker shares, without SO_REUSEPORT, so that no other program
    /// of the same user can join the port and take connections (for shared hosts; a little
    /// slower with many new connections)
    #[arg(long)]
    no_reuseport: bool,

    /// With one worker per CPU, run worker i on the i-th CPU only and give it the new
    /// connections that CPU receives (SO_INCOMING_CPU; Linux 6.2 or later, a socket per worker).
    /// For network cards with a receive queue per CPU, or local clients with a thread per CPU
    #[arg(long)]
    cpu_affinity: bool,

    /// Worker threads; 0 means one per CPU [default: one per CPU]
    #[arg(short, long)]
    threads: Option<usize>,

    /// Most connections open at once; more get 503
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    max_connections: u64,

    /// Serve files and directories whose names start with a dot
    #[arg(long)]
    dotfiles: bool,

    /// Show an HTML listing for directories without index.html (else 403)
    #[arg(long)]
    listing: bool,

    /// Print a QR code of the first address other devices can open (with --bind 0.0.0.0 or ::)
    #[arg(long)]
    qr: bool,

    /// Serve file.br / file.gz next to a file to clients that accept them [default: on]
    #[arg(long, overrides_with = "no_precompressed")]
    precompressed: bool,

    /// Never serve precompressed sidecars
    #[arg(long, overrides_with = "precompressed")]
    no_precompressed: bool,

    /// Compress text files on the fly, once per coding, into a shared cache: 'off', or the
    /// codings offered (ties between them go to br, then zstd, then gzip)
    #[arg(long, value_name = "off|CODINGS", default_value = "br,zstd,gzip", value_parser = coding_list)]
    compress: CodingList,

    /// Compression level per coding, as CODING=LEVEL,... (br 0-11, zstd 1-19, gzip 1-9);
    /// codings not named keep their default
    #[arg(long, value_name = "LEVELS", default_value_t = Levels::default(), value_parser = Levels::parse)]
    compress_level: Levels,

    /// Memory for compressed copies, bookkeeping included (e.g. 64MiB, 512K, 1G); the least
    /// recently used are evicted
    #[arg(long, value_name = "SIZE", default_value = "64MiB", value_parser = cache_size)]
    compress_cache: u64,

    /// Files larger than this are sent uncompressed
    #[arg(long, value_name = "SIZE", default_value = "8MiB", value_parser = byte_size)]
    compress_max_size: u64,

    /// Access log format on stdout
    #[arg(long, value_enum, default_value_t = LogFormat::Combined)]
    access_log: LogFormat,

    /// Path of the Prometheus metrics endpoint ('' disables it); served to loopback clients
    /// only unless --metrics-public
    #[arg(long, default_value = "/-/metrics", value_parser = endpoint_path)]
    metrics_path: String,

    /// Speak HTTP/1.1 only: no HTTP/2, neither over TLS (ALPN h2) nor with prior knowledge on
    /// the plain port
    #[arg(long)]
    no_http2: bool,

    /// Serve the metrics endpoint to clients on other hosts too (it names every file fetched,
    /// so by default only clients on this machine get it)
    #[arg(long)]
    metrics_public: bool,

    /// Path of the health endpoint: 200 while serving, 503 once shutting down ('' disables it)
    #[arg(long, default_value = "/-/healthz", value_parser = endpoint_path)]
    health_path: String,

    /// Cache-Control value sent with every file
    #[arg(long, default_value = "no-cache", value_parser = header_value)]
    cache_control: String,

    /// Time allowed to send a request head, from its first byte (e.g. 10, 2.5s, 500ms)
    #[arg(long, default_value = "10s", value_parser = duration)]
    header_timeout: Duration,

    /// Idle keep-alive connections are closed after this long
    #[arg(long, default_value = "5s", value_parser = duration)]
    idle_timeout: Duration,

    /// A response that makes no progress for this long is abandoned
    #[arg(long, default_value = "30s", value_parser = duration)]
    send_timeout: Duration,

    /// On SIGINT/SIGTERM, how long in-flight responses may take to finish
    #[arg(long, default_value = "10s", value_parser = duration)]
    shutdown_timeout: Duration,

    /// Serve HTTPS with this PEM certificate chain (with --tls-key; reloaded on SIGHUP)
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,

    /// The PEM private key of --tls-cert (ECDSA or RSA)
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,

    /// Serve HTTPS with a certificate made at start-up for localhost, this host and its
    /// addresses (clients must be told to trust it, e.g. curl -k)
    #[arg(long, conflicts_with = "tls_cert")]
    tls_self_signed: bool,

    /// With HTTPS: send Strict-Transport-Security with this max-age
    #[arg(long, value_name = "SECONDS", requires = "tls")]
    hsts: Option<u64>,

    /// With HTTPS: also listen on this port for plain HTTP and redirect it to https:// (308)
    #[arg(long, value_name = "PORT", requires = "tls")]
    redirect_http: Option<u16>,

    /// Read settings (every flag is a key) and site rules (headers, redirects, rewrites, a
    /// fallback page, error pages, basic auth, CORS) from this TOML file; flags given here win.
    /// SIGHUP reloads its rules
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Only check the --config file and the flags with it: print one line, exit 0 if the
    /// server would start, 1 if not
    #[arg(long, requires = "config")]
    check: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the Argon2id hash of a password, for the site file's [auth] users: read from
    /// stdin, or asked for twice without echo on a terminal
    HashPassword,
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Invocation {
    /// Serve.
    Serve(Config),
    /// `--check`: the configuration is valid; say so and exit.
    Check(Config),
    /// `hash-password`.
    HashPassword,
}

/// Why the command line cannot be used.
#[derive(Debug)]
enum CliError {
    /// Bad flags, `--help`, `--version`: clap prints and exits.
    Usage(clap::Error),
    /// A missing root, a bad site file.
    Startup(StartupError),
}

impl From<SiteError> for CliError {
    fn from(e: SiteError) -> Self {
        Self::Startup(StartupError::Site(e))
    }
}

/// Parses the process arguments (and the site file they name). Exits with clap's usage message
/// on bad flags, `--help` and `--version`.
///
/// # Errors
///
/// [`StartupError::Root`] when the document root is missing or not a directory;
/// [`StartupError::NoDefaultRoot`] when no root was given and there is no `www` here;
/// [`StartupError::Site`] when the site file cannot be used.
pub fn parse() -> Result<Invocation, StartupError> {
    match try_parse_from(std::env::args_os()) {
        Ok(invocation) => Ok(invocation),
        Err(CliError::Usage(e)) => e.exit(),
        Err(CliError::Startup(e)) => Err(e),
    }
}

fn try_parse_from(argv: impl IntoIterator<Item = OsString>) -> Result<Invocation, CliError> {
    let argv: Vec<OsString> = argv.into_iter().collect();
    let matches = Args::command()
        .try_get_matches_from(&argv)
        .map_err(CliError::Usage)?;
    let args = Args::from_arg_matches(&matches).map_err(CliError::Usage)?;
    if let Some(Command::HashPassword) = args.command {
        return Ok(Invocation::HashPassword);
    }
    let check = args.check;
    let (args, site) = match &args.config {
        None => (args, None),
        Some(path) => {
            let loaded = load_site(path)?;
            let merged = with_file_settings(&argv, &matches, &loaded.file);
            let args = Args::try_parse_from(merged).map_err(|e| blame(&loaded.file, &e))?;
            (args, Some(loaded))
        }
    };
    let config = config_from(args, site).map_err(CliError::Startup)?;
    Ok(match check {
        true => Invocation::Check(config),
        false => Invocation::Serve(config),
    })
}

/// The flags that are keys of the site file: every long flag but those about the file itself.
pub fn flag_names() -> Vec<String> {
    Args::command()
        .get_arguments()
        .filter_map(|a| a.get_long())
        .filter(|long| !["help", "version", "config", "check"].contains(long))
        .map(str::to_owned)
        .collect()
}

/// Reads the site file at `path`, checks every setting with its flag's parser and compiles the
/// rules: at start-up and on each reload.
///
/// # Errors
///
/// [`SiteError`] at the first thing in the file that cannot be used.
pub fn load_site(path: &Path) -> Result<Loaded, SiteError> {
    let names = flag_names();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let file = SiteFile::read(path, &names)?;
    let command = Args::command();
    for setting in &file.settings {
        check_setting(&command, setting).map_err(|e| file.error(e))?;
    }
    let site = Site::compile(&file)?;
    Ok(Loaded {
        file,
        site: Arc::new(site),
    })
}

fn flag<'c>(command: &'c clap::Command, long: &str) -> Option<&'c clap::Arg> {
    command.get_arguments().find(|a| a.get_long() == Some(long))
}

/// Checks a setting's value as its flag would: a switch takes `true`/`false`, any other flag
/// a value its parser accepts.
fn check_setting(command: &clap::Command, setting: &Setting) -> Result<(), Located> {
    let Some(arg) = flag(command, &setting.flag) else {
        return Ok(());
    };
    let type_error = |expected| {
        Located::new(
            setting.span.clone(),
            Problem::Type {
                key: setting.flag.clone(),
                expected,
            },
        )
    };
    match (&setting.value, arg.get_action().takes_values()) {
        (SettingValue::Switch(_), false) => Ok(()),
        (SettingValue::Switch(_), true) => Err(type_error("a value, not true or false")),
        (SettingValue::Text(_), false) => Err(type_error("true or false")),
        (SettingValue::Text(value), true) => {
            // The flag's own parser, alone: its relations to other flags are checked once
            // the file and the command line are put together.
            let alone = clap::Command::new("check").no_binary_name(true).arg(
                clap::Arg::new("value")
                    .long("value")
                    .value_parser(arg.get_value_parser().clone()),
            );
            alone
                .try_get_matches_from([OsStr::new("--value"), OsStr::new(value)])
                .map(drop)
                .map_err(|e| {
                    Located::invalid(
                        setting.span.clone(),
                        &setting.flag,
                        format!("invalid value '{value}': {}", value_error(&e)),
                    )
                })
        }
    }
}

/// What a flag's parser said about a value, without clap's framing.
fn value_error(e: &clap::Error) -> String {
    if let Some(source) = std::error::Error::source(e) {
        return source.to_string();
    }
    if let Some(ContextValue::Strings(valid)) = e.get(ContextKind::ValidValue) {
        return format!("possible values: {}", valid.join(", "));
    }
    first_line(e)
}

/// A clap error's message on one line, without its `error: ` and its usage.
fn first_line(e: &clap::Error) -> String {
    let text = e.to_string();
    let message: Vec<&str> = text
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect();
    let line = message.join(" ");
    line.strip_prefix("error: ").unwrap_or(&line).to_owned()
}

/// Flags that exclude each other: one of them on the command line replaces them all in the file.
const FAMILIES: &[&[&str]] = &[
    &["root_pos", "root"],
    &["tls_cert", "tls_key", "tls_self_signed"],
    &["precompressed", "no_precompressed"],
];

/// The command line with the file's settings put first, those the command line gives (itself
/// or through its family) left out.
fn with_file_settings(argv: &[OsString], matches: &ArgMatches, file: &SiteFile) -> Vec<OsString> {
    let command = Args::command();
    let on_command_line = |id: &str| matches.value_source(id) == Some(ValueSource::CommandLine);
    let mut merged: Vec<OsString> = argv.iter().take(1).cloned().collect();
    for setting in &file.settings {
        let Some(arg) = flag(&command, &setting.flag) else {
            continue;
        };
        let id = arg.get_id().as_str();
        let family = FAMILIES
            .iter()
            .find(|f| f.contains(&id))
            .copied()
            .unwrap_or(std::slice::from_ref(&id));
        if family.iter().any(|member| on_command_line(member)) {
            continue;
        }
        let mut flag = OsString::from(format!("--{}", setting.flag));
        match &setting.value {
            SettingValue::Switch(true) => {}
            SettingValue::Switch(false) => continue,
            SettingValue::Text(value) => {
                flag.push("=");
                match arg.get_value_parser().type_id() == ValueParser::path_buf().type_id() {
                    true => flag.push(file.dir().join(value)),
                    false => flag.push(value),
                }
            }
        }
        merged.push(flag);
    }
    merged.extend(argv.iter().skip(1).cloned());
    merged
}

/// A clap error about the file's settings and the command line together, placed at the
/// setting it names if there is one.
fn blame(file: &SiteFile, e: &clap::Error) -> CliError {
    let message = first_line(e);
    let named = [ContextKind::InvalidArg, ContextKind::PriorArg]
        .into_iter()
        .filter_map(|kind| match e.get(kind) {
            Some(ContextValue::String(s)) => Some(vec![s.clone()]),
            Some(ContextValue::Strings(list)) => Some(list.clone()),
            _ => None,
        })
        .flatten()
        .find_map(|arg| {
            let long = arg.trim_start_matches('-');
            let long = long.split([' ', '=']).next().unwrap_or(long);
            file.settings.iter().find(|s| s.flag == long)
        });
    let problem = Problem::Together(message);
    match named {
        Some(setting) => file
            .error(Located::new(setting.key_span.clone(), problem))
            .into(),
        None => SiteError {
            file: file.path.clone(),
            at: None,
            problem,
        }
        .into(),
    }
}

/// The configuration the flags `args` give for serving `root`, for the tests of the modules
/// that read a configuration.
#[cfg(test)]
pub fn config_for_tests(root: &std::path::Path, args: &[&str]) -> Config {
    let root = root.to_str().expect("a UTF-8 test root");
    let all = ["http-server", "--root", root]
        .into_iter()
        .chain(args.iter().copied());
    config_from(Args::try_parse_from(all).expect("valid test flags"), None)
        .expect("a usable test root")
}

/// The root served when none is given: `make` runs the server in the checkout, next to `www/`.
const DEFAULT_ROOT: &str = "www";

fn config_from(args: Args, site: Option<Loaded>) -> Result<Config, StartupError> {
    let given = args.root_pos.or(args.root);
    let defaulted = given.is_none();
    let root_arg = given.unwrap_or_else(|| PathBuf::from(DEFAULT_ROOT));
    // Absolute but not canonical: the root is the path given, and when a deploy points it (or
    // a symlink in it) at another tree, that tree is served (`files::root`).
    let checked = std::path::absolute(&root_arg)
        .and_then(|root| std::fs::metadata(&root).map(|meta| (root, meta.is_dir())));
    let (root, is_dir) = checked.map_err(|source| {
        // Someone who ran the binary outside the checkout needs to hear how to name a folder,
        // not that a folder they never named is missing.
        if defaulted && source.kind() == std::io::ErrorKind::NotFound {
            StartupError::NoDefaultRoot {
                path: root_arg.clone(),
                cwd: std::env::current_dir().unwrap_or_default(),
            }
        } else {
            StartupError::Root {
                path: root_arg.clone(),
                source,
            }
        }
    })?;
    if !is_dir {
        return Err(StartupError::Root {
            path: root_arg,
            source: std::io::Error::from(std::io::ErrorKind::NotADirectory),
        });
    }
    Ok(Config {
        root,
        addr: SocketAddr::new(args.bind, args.port),
        listen_fd: args.listen_fd,
        reuseport: !args.no_reuseport,
        cpu_affinity: args.cpu_affinity,
        threads: match args.threads {
            None | Some(0) => num_cpus::get().max(1),
            Some(n) => n,
        },
        max_connections: usize::try_from(args.max_connections).unwrap_or(usize::MAX),
        // As many as the cache keeps; lowered at start when the open-file limit binds.
        cached_open: crate::files::cache::MAX_OPEN,
        dotfiles: args.dotfiles,
        listing: args.listing,
        qr: args.qr,
        precompressed: !args.no_precompressed,
        compress: (!args.compress.0.is_empty()).then(|| compress::Settings {
            codings: args.compress.0,
            levels: args.compress_level,
            cache_bytes: usize::try_from(args.compress_cache).unwrap_or(usize::MAX),
            max_size: args.compress_max_size,
        }),
        access_log: args.access_log,
        metrics_path: Some(args.metrics_path).filter(|p| !p.is_empty()),
        metrics_public: args.metrics_public,
        http2: !args.no_http2,
        health_path: Some(args.health_path).filter(|p| !p.is_empty()),
        cache_control: args.cache_control.into(),
        header_timeout: args.header_timeout,
        idle_timeout: args.idle_timeout,
        send_timeout: args.send_timeout,
        shutdown_timeout: args.shutdown_timeout,
        tls: tls_settings(
            args.tls_cert,
            args.tls_key,
            args.tls_self_signed,
            args.hsts,
            args.redirect_http,
        ),
        site,
    })
}

/// The TLS settings, when a certificate (or a self-signed one) was asked for; clap has
/// checked that the flags come together.
fn tls_settings(
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    self_signed: bool,
    hsts: Option<u64>,
    redirect_http: Option<u16>,
) -> Option<crate::tls::Settings> {
    let source = match (cert, key) {
        (Some(cert), Some(key)) => crate::tls::Source::Files { cert, key },
        _ if self_signed => crate::tls::Source::SelfSigned,
        _ => return None,
    };
    Some(crate::tls::Settings {
        source,
        hsts,
        redirect_http,
    })
}

/// Seconds (`10`, `2.5`, `10s`) or milliseconds (`500ms`).
fn duration(s: &str) -> Result<Duration, String> {
    let (number, scale) = if let Some(ms) = s.strip_suffix("ms") {
        (ms, 1e-3)
    } else {
        (s.strip_suffix('s').unwrap_or(s), 1.0)
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a duration (try 10, 2.5s or 500ms)"))?;
    Duration::try_from_secs_f64(value * scale)
        .map_err(|_| format!("'{s}' is not a duration (try 10, 2.5s or 500ms)"))
}

/// The codings `--compress` offers, in the server's order of preference; empty when off.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CodingList(Vec<Coding>);

/// `off`, or a comma-separated list of `br`, `zstd`, `gzip` (any order).
fn coding_list(s: &str) -> Result<CodingList, String> {
    if s.trim().eq_ignore_ascii_case("off") {
        return Ok(CodingList(Vec::new()));
    }
    let mut named = Vec::new();
    for name in s.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        named.push(compress::codec::parse_coding(name)?);
    }
    if named.is_empty() {
        return Err("name at least one of br, zstd, gzip, or 'off'".into());
    }
    // The server's order, whatever the command line's: ties go to the smaller output.
    let ordered = Coding::ALL
        .into_iter()
        .filter(|c| named.contains(c))
        .collect();
    Ok(CodingList(ordered))
}

/// A size in bytes: a whole number with an optional binary unit (`K`/`KiB`, `M`/`MiB`,
/// `G`/`GiB`, any case; a trailing `B` is optional), at most 1 GiB.
fn byte_size(s: &str) -> Result<u64, String> {
    const MAX: u64 = 1 << 30;
    let bad = || format!("'{s}' is not a size (try 65536, 512KiB or 64MiB, at most 1GiB)");
    let lower = s.trim().to_ascii_lowercase();
    let digits = lower
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(lower.len());
    let (number, unit) = lower.split_at(digits);
    let scale: u64 = match unit.trim() {
        "" | "b" => 1,
        "k" | "kb" | "ki" | "kib" => 1 << 10,
        "m" | "mb" | "mi" | "mib" => 1 << 20,
        "g" | "gb" | "gi" | "gib" => 1 << 30,
        _ => return Err(bad()),
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .filter(|&n| n <= MAX)
        .ok_or_else(bad)
}

/// `--compress-cache`: a [`byte_size`] of at least 1 MiB (`--compress off` turns compression off).
fn cache_size(s: &str) -> Result<u64, String> {
    let size = byte_size(s)?;
    if size < 1 << 20 {
        return Err(
            "the compressed cache needs at least 1MiB (--compress off turns it off)".into(),
        );
    }
    Ok(size)
}

/// Empty, or an absolute path in its decoded, normalised form (as requests are compared to it).
fn endpoint_path(s: &str) -> Result<String, String> {
    if s.is_empty() {
        return Ok(String::new());
    }
    match http_core::target::decode(s.as_bytes()) {
        Ok(t) if t.path == s && t.query.is_none() => Ok(t.path.into_owned()),
        _ => Err(
            "must be empty or a path such as /-/metrics (no query, no '..', no trailing '/')"
                .into(),
        ),
    }
}

/// A value that can be sent in a header field: visible ASCII and spaces only.
fn header_value(s: &str) -> Result<String, String> {
    if s.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) {
        Ok(s.trim().to_owned())
    } else {
        Err("must be printable ASCII".to_owned())
    }
}

#[cfg(test)]
mod tests;
