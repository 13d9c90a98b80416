//! Unit tests of `cli`.

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
    let err = config_from(parse_args(&["/definitely/not/here"]).unwrap(), None).unwrap_err();
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
        config_from(parse_args(&["--threads", n, root]).unwrap(), None)
            .unwrap()
            .threads
    };
    assert_eq!(threads("0"), num_cpus::get());
    assert_eq!(threads("3"), 3);
    let default = config_from(parse_args(&[root]).unwrap(), None).unwrap();
    assert_eq!(default.threads, num_cpus::get());
}

#[test]
fn the_root_is_kept_as_given_not_resolved_through_its_symlinks() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("release-1")).unwrap();
    let current = dir.path().join("current");
    std::os::unix::fs::symlink("release-1", &current).unwrap();
    let config = config_from(parse_args(&[current.to_str().unwrap()]).unwrap(), None).unwrap();
    assert_eq!(config.root, current);
    let cwd = std::env::current_dir().unwrap();
    let relative = config_from(parse_args(&["."]).unwrap(), None).unwrap();
    assert_eq!(relative.root, cwd);
}

#[test]
fn a_file_as_root_is_refused() {
    let file = tempfile::NamedTempFile::new().unwrap();
    let args = parse_args(&[file.path().to_str().unwrap()]).unwrap();
    assert!(config_from(args, None).is_err());
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
    let a = parse_args(&["--tls-self-signed", "--hsts", "60", "--redirect-http", "80"]).unwrap();
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

/// A folder with `www/` (the default root) and `site/public/`, and a site file in `site/`.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new(toml: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("site/public")).unwrap();
        std::fs::create_dir_all(dir.path().join("other")).unwrap();
        std::fs::write(dir.path().join("site/site.toml"), toml).unwrap();
        Self { dir }
    }

    fn file(&self) -> String {
        self.dir.path().join("site/site.toml").display().to_string()
    }

    /// The invocation for `args` after `--config FILE`, or its error's line.
    fn run(&self, args: &[&str]) -> Result<Invocation, String> {
        let file = self.file();
        let argv = ["http-server", "--config", &file]
            .into_iter()
            .chain(args.iter().copied())
            .map(OsString::from);
        try_parse_from(argv).map_err(|e| match e {
            CliError::Usage(e) => first_line(&e),
            CliError::Startup(e) => e.to_string(),
        })
    }

    fn config(&self, args: &[&str]) -> Config {
        match self.run(args) {
            Ok(Invocation::Serve(config)) => config,
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn every_flag_is_a_key_of_the_site_file() {
    let names = flag_names();
    for name in [
        "root",
        "port",
        "max-connections",
        "no-precompressed",
        "tls-cert",
        "redirect-http",
    ] {
        assert!(names.iter().any(|n| n == name), "{name}");
    }
    for not_a_key in ["config", "check", "help", "version"] {
        assert!(!names.iter().any(|n| n == not_a_key), "{not_a_key}");
    }
}

#[test]
fn the_file_s_settings_apply_and_the_command_line_wins() {
    let site = Fixture::new(
        "root = 'public'\nport = 9000\nmax_connections = 5\nlisting = true\ncache-control = 'max-age=60'\ncompress = ['gzip']\nidle-timeout = '1.5s'\n",
    );
    let config = site.config(&[]);
    assert_eq!(
        config.root,
        site.dir.path().join("site/public").canonicalize().unwrap()
    );
    assert_eq!(config.addr.port(), 9000);
    assert_eq!(config.max_connections, 5);
    assert!(config.listing);
    assert_eq!(&*config.cache_control, "max-age=60");
    assert_eq!(config.compress.unwrap().codings, vec![Coding::Gzip]);
    assert_eq!(config.idle_timeout, Duration::from_millis(1500));
    assert!(config.site.is_some());
    let config = site.config(&["--port", "9001", "--max-connections", "7"]);
    assert_eq!(config.addr.port(), 9001);
    assert_eq!(config.max_connections, 7);
    assert!(config.listing);
}

#[test]
fn flags_that_exclude_each_other_replace_the_file_s_as_a_family() {
    let site = Fixture::new("root = 'public'\nno-precompressed = true\n");
    let other = site.dir.path().join("other");
    let other = other.to_str().unwrap();
    assert_eq!(
        site.config(&[other]).root,
        Path::new(other).canonicalize().unwrap()
    );
    assert_eq!(
        site.config(&["--root", other]).root,
        Path::new(other).canonicalize().unwrap()
    );
    assert!(!site.config(&[]).precompressed);
    assert!(site.config(&["--precompressed"]).precompressed);
    let tls = Fixture::new("root = 'public'\ntls-self-signed = true\nhsts = 60\n");
    let config = tls.config(&["--tls-cert", "c.pem", "--tls-key", "k.pem"]);
    let settings = config.tls.unwrap();
    assert!(matches!(settings.source, crate::tls::Source::Files { .. }));
    assert_eq!(settings.hsts, Some(60));
}

#[test]
fn relative_paths_in_the_file_are_taken_from_its_folder() {
    let site = Fixture::new("root = 'public'\ntls-cert = 'certs/c.pem'\ntls-key = '/abs/k.pem'\n");
    let config = site.config(&[]);
    assert_eq!(
        config.tls.unwrap().source,
        crate::tls::Source::Files {
            cert: site.dir.path().join("site/certs/c.pem"),
            key: "/abs/k.pem".into(),
        }
    );
}

#[test]
fn a_bad_setting_is_refused_with_its_file_line_and_column() {
    let refused = |toml: &str| {
        let site = Fixture::new(toml);
        let err = site.run(&[]).unwrap_err();
        err.strip_prefix(&site.file()).unwrap().to_owned()
    };
    assert_eq!(
        refused("root = 'public'\nport = 70000\n"),
        ":2:8: 'port': invalid value '70000': 70000 is not in 0..=65535"
    );
    assert_eq!(
        refused("dotfiles = 'yes'\n"),
        ":1:12: 'dotfiles' must be true or false"
    );
    assert_eq!(
        refused("\nport = true\n"),
        ":2:8: 'port' must be a value, not true or false"
    );
    assert_eq!(
        refused("idle-timeout = 'soon'\n"),
        ":1:16: 'idle-timeout': invalid value 'soon': 'soon' is not a duration (try 10, 2.5s or 500ms)"
    );
    assert_eq!(
        refused("access-log = 'loud'\n"),
        ":1:14: 'access-log': invalid value 'loud': possible values: combined, common, off"
    );
    assert_eq!(
        refused("config = 'x.toml'\n"),
        ":1:1: unknown key 'config' in the top level"
    );
    assert_eq!(
        refused("max-conections = 1\n"),
        ":1:1: unknown key 'max-conections' in the top level (did you mean 'max-connections'?)"
    );
}

#[test]
fn settings_that_do_not_go_together_are_refused_naming_one() {
    let site =
        Fixture::new("root = 'public'\ntls-self-signed = true\ntls-cert = 'c'\ntls-key = 'k'\n");
    let err = site.run(&[]).unwrap_err();
    assert!(err.starts_with(&format!("{}:", site.file())), "{err}");
    assert!(
        err.contains("settings and flags that do not go together: the argument"),
        "{err}"
    );
    let site = Fixture::new("root = 'public'\nhsts = 60\n");
    let err = site.run(&[]).unwrap_err();
    assert_eq!(
        err,
        format!(
            "{}: settings and flags that do not go together: the following required arguments were not provided: <--tls-cert <FILE>|--tls-self-signed>",
            site.file()
        )
    );
}

#[test]
fn check_and_hash_password_are_their_own_invocations() {
    let site = Fixture::new("root = 'public'\n");
    assert!(matches!(site.run(&["--check"]), Ok(Invocation::Check(_))));
    let missing_root = Fixture::new("root = 'nowhere'\n");
    assert!(
        missing_root
            .run(&["--check"])
            .unwrap_err()
            .contains("does not exist")
    );
    assert!(parse_args(&["--check"]).is_err());
    let hash = try_parse_from(["http-server", "hash-password"].map(OsString::from));
    assert!(matches!(hash, Ok(Invocation::HashPassword)));
    assert!(
        try_parse_from(["http-server", "hash-password", "--port", "1"].map(OsString::from))
            .is_err()
    );
}

#[test]
fn a_missing_site_file_is_one_line_naming_it() {
    let err = try_parse_from(["http-server", "--config", "/no/such.toml"].map(OsString::from));
    match err {
        Err(CliError::Startup(e)) => {
            assert_eq!(e.to_string(), "/no/such.toml: cannot read the site file")
        }
        other => panic!("{other:?}"),
    }
}
