//! Command-line parsing: turns arguments into a [`Config`], checking what can be checked before
//! anything listens (the root exists and is a directory). It must not bind or spawn anything.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use http_core::encoding::Coding;

use crate::config::{Config, LogFormat};
use crate::error::StartupError;
use crate::files::compress::{self, codec::Levels};

/// A static-file HTTP/1.1 server on a fixed-size worker pool.
#[derive(Debug, Parser)]
#[command(name = "http-server", version, about)]
#[command(group(clap::ArgGroup::new("tls").args(["tls_cert", "tls_self_signed"])))]
struct Args {
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

    /// Path of the Prometheus metrics endpoint ('' disables it)
    #[arg(long, default_value = "/-/metrics", value_parser = endpoint_path)]
    metrics_path: String,

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
}

/// Parses the process arguments. Exits with clap's usage message on bad flags, `--help` and
/// `--version`.
///
/// # Errors
///
/// [`StartupError::Root`] when the document root is missing or not a directory;
/// [`StartupError::NoDefaultRoot`] when no root was given and there is no `www` here.
pub fn parse() -> Result<Config, StartupError> {
    config_from(Args::parse())
}

/// The configuration the flags `args` give for serving `root`, for the tests of the modules
/// that read a configuration.
#[cfg(test)]
pub fn config_for_tests(root: &std::path::Path, args: &[&str]) -> Config {
    let root = root.to_str().expect("a UTF-8 test root");
    let all = ["http-server", "--root", root]
        .into_iter()
        .chain(args.iter().copied());
    config_from(Args::try_parse_from(all).expect("valid test flags")).expect("a usable test root")
}

/// The root served when none is given: `make` runs the server in the checkout, next to `www/`.
const DEFAULT_ROOT: &str = "www";

fn config_from(args: Args) -> Result<Config, StartupError> {
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
        threads: match args.threads {
            None | Some(0) => num_cpus::get().max(1),
            Some(n) => n,
        },
        max_connections: usize::try_from(args.max_connections).unwrap_or(usize::MAX),
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
        Ok(t) if t.path == s && t.query.is_none() => Ok(t.path),
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
mod tests {
    use super::*;

    fn parse_args(args: &[&str]) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("http-server").chain(args.iter().copied()))
    }

    #[test]
    fn durations_accept_seconds_and_milliseconds() {
        assert_eq!(duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(duration("2.5s"), Ok(Duration::from_millis(2500)));
        assert_eq!(duration("500ms"), Ok(Duration::from_millis(500)));
        assert!(duration("soon").is_err());
        assert!(duration("-1").is_err());
    }

    #[test]
    fn defaults_match_the_design() {
        let args = parse_args(&[]).unwrap();
        assert_eq!(args.port, 8080);
        assert_eq!(args.bind, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(args.max_connections, 10_000);
        assert_eq!(args.header_timeout, Duration::from_secs(10));
        assert_eq!(args.idle_timeout, Duration::from_secs(5));
        assert_eq!(args.send_timeout, Duration::from_secs(30));
        assert_eq!(args.shutdown_timeout, Duration::from_secs(10));
        assert_eq!(args.cache_control, "no-cache");
    }

    #[test]
    fn root_is_positional_or_a_flag_but_not_both() {
        assert_eq!(parse_args(&["site"]).unwrap().root_pos, Some("site".into()));
        assert_eq!(
            parse_args(&["-r", "site"]).unwrap().root,
            Some("site".into())
        );
        assert!(parse_args(&["a", "--root", "b"]).is_err());
    }

    #[test]
    fn a_missing_root_is_a_startup_error_naming_the_path() {
        let err = config_from(parse_args(&["/definitely/not/here"]).unwrap()).unwrap_err();
        assert!(err.to_string().contains("/definitely/not/here"), "{err}");
    }

    #[test]
    fn without_a_root_and_without_www_the_error_says_how_to_name_a_folder() {
        let err = StartupError::NoDefaultRoot {
            path: DEFAULT_ROOT.into(),
            cwd: "/home/me".into(),
        };
        assert_eq!(
            err.to_string(),
            "no folder 'www' in /home/me to serve; to serve another folder: http-server DIR"
        );
    }

    #[test]
    fn zero_threads_means_one_per_cpu() {
        let root = tempfile::tempdir().unwrap();
        let root = root.path().to_str().unwrap();
        let threads = |n: &str| {
            config_from(parse_args(&["--threads", n, root]).unwrap())
                .unwrap()
                .threads
        };
        assert_eq!(threads("0"), num_cpus::get());
        assert_eq!(threads("3"), 3);
        let default = config_from(parse_args(&[root]).unwrap()).unwrap();
        assert_eq!(default.threads, num_cpus::get());
    }

    #[test]
    fn the_root_is_kept_as_given_not_resolved_through_its_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("release-1")).unwrap();
        let current = dir.path().join("current");
        std::os::unix::fs::symlink("release-1", &current).unwrap();
        let config = config_from(parse_args(&[current.to_str().unwrap()]).unwrap()).unwrap();
        assert_eq!(config.root, current);
        let cwd = std::env::current_dir().unwrap();
        let relative = config_from(parse_args(&["."]).unwrap()).unwrap();
        assert_eq!(relative.root, cwd);
    }

    #[test]
    fn a_file_as_root_is_refused() {
        let file = tempfile::NamedTempFile::new().unwrap();
        let args = parse_args(&[file.path().to_str().unwrap()]).unwrap();
        assert!(config_from(args).is_err());
    }

    #[test]
    fn precompressed_is_on_unless_turned_off_last_flag_wins() {
        let on = |args: &[&str]| !parse_args(args).unwrap().no_precompressed;
        assert!(on(&[]));
        assert!(!on(&["--no-precompressed"]));
        assert!(on(&["--no-precompressed", "--precompressed"]));
        assert!(!on(&["--precompressed", "--no-precompressed"]));
    }

    #[test]
    fn compression_is_on_with_every_coding_in_server_order_unless_off() {
        let args = parse_args(&[]).unwrap();
        assert_eq!(
            args.compress,
            CodingList(vec![Coding::Br, Coding::Zstd, Coding::Gzip])
        );
        assert_eq!(args.compress_level, Levels::default());
        assert_eq!(args.compress_cache, 64 << 20);
        assert_eq!(args.compress_max_size, 8 << 20);
        let codings = |v: &str| parse_args(&["--compress", v]).map(|a| a.compress.0);
        assert_eq!(codings("off").unwrap(), vec![]);
        assert_eq!(codings("gzip, br").unwrap(), vec![Coding::Br, Coding::Gzip]);
        assert!(codings("deflate").is_err());
        assert!(codings("").is_err());
    }

    #[test]
    fn sizes_take_binary_units_and_the_cache_a_minimum() {
        assert_eq!(byte_size("65536"), Ok(65536));
        assert_eq!(byte_size("512KiB"), Ok(512 << 10));
        assert_eq!(byte_size("64MiB"), Ok(64 << 20));
        assert_eq!(byte_size("8m"), Ok(8 << 20));
        assert_eq!(byte_size("1G"), Ok(1 << 30));
        for bad in ["", "MiB", "1.5MiB", "-1", "2GiB", "10 parsecs"] {
            assert!(byte_size(bad).is_err(), "{bad}");
        }
        assert!(parse_args(&["--compress-cache", "512KiB"]).is_err());
        assert_eq!(
            parse_args(&["--compress-level", "br=11"])
                .unwrap()
                .compress_level
                .br,
            11
        );
        assert!(parse_args(&["--compress-level", "br=12"]).is_err());
    }

    #[test]
    fn the_metrics_path_is_a_normal_path_or_empty() {
        assert_eq!(parse_args(&[]).unwrap().metrics_path, "/-/metrics");
        assert_eq!(
            parse_args(&["--metrics-path", ""]).unwrap().metrics_path,
            ""
        );
        assert_eq!(
            parse_args(&["--metrics-path", "/stats"])
                .unwrap()
                .metrics_path,
            "/stats"
        );
        for bad in ["metrics", "/a/../b", "/m?x", "/m/", "//m"] {
            assert!(parse_args(&["--metrics-path", bad]).is_err(), "{bad}");
        }
    }

    #[test]
    fn tls_flags_come_together() {
        assert!(parse_args(&["--tls-cert", "c.pem"]).is_err());
        assert!(parse_args(&["--tls-key", "k.pem"]).is_err());
        assert!(parse_args(&["--tls-cert", "c", "--tls-key", "k"]).is_ok());
        assert!(parse_args(&["--tls-self-signed", "--tls-cert", "c", "--tls-key", "k"]).is_err());
        assert!(parse_args(&["--hsts", "60"]).is_err());
        assert!(parse_args(&["--redirect-http", "8080"]).is_err());
        let a =
            parse_args(&["--tls-self-signed", "--hsts", "60", "--redirect-http", "80"]).unwrap();
        let tls = tls_settings(
            a.tls_cert,
            a.tls_key,
            a.tls_self_signed,
            a.hsts,
            a.redirect_http,
        );
        assert_eq!(
            tls,
            Some(crate::tls::Settings {
                source: crate::tls::Source::SelfSigned,
                hsts: Some(60),
                redirect_http: Some(80),
            })
        );
    }

    #[test]
    fn header_values_with_control_characters_are_refused() {
        assert!(parse_args(&["--cache-control", "max-age=60\r\nX-Evil: 1"]).is_err());
        assert_eq!(
            parse_args(&["--cache-control", "max-age=60"])
                .unwrap()
                .cache_control,
            "max-age=60"
        );
    }
}
