//! The site file (`--config`) against the real binary: every kind of bad file refused with one
//! line naming its line and column before anything listens, `--check`, `hash-password` and its
//! hash accepted back, settings from the file with the command line winning, and SIGHUP
//! reloading a good file and refusing a bad one (with the certificate too, one line each).
//!
//! The rules do not show in responses until the exchange calls them (issue 24); these tests
//! see reloads through stderr and `--check`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use argon2::{Argon2, PasswordHash, PasswordVerifier};
use rustix::process::Signal;

use crate::support::{Site, TestServer, run_ok};
use crate::tls::Pki;

const BIN: &str = env!("CARGO_BIN_EXE_http-server");

/// Writes `text` as `site.toml` beside the root (outside it) and returns its path.
fn site_file(site: &Site, text: &str) -> PathBuf {
    let path = site.outside().join("site.toml");
    fs::write(&path, text).unwrap();
    path
}

/// Runs the binary to its end (at most 20 s), with `stdin` as its input.
fn run(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new("timeout")
        .arg("20")
        .arg(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

/// Starts the binary on `file` (and the test root on port 0) and expects it to refuse: status
/// 1, nothing on stdout, one line on stderr, which is returned.
fn refused(site: &Site, file: &Path) -> String {
    let root = site.root();
    let out = run(
        &[
            "--port",
            "0",
            "--root",
            root.to_str().unwrap(),
            "--config",
            file.to_str().unwrap(),
        ],
        b"",
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing listens: {:?}", out.stdout);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    stderr.trim_end().to_owned()
}

const GOOD: &str = r#"fallback = "/index.html"

[[headers]]
match = "/assets/**"
set = { "Cache-Control" = "public, max-age=31536000, immutable" }

[[redirects]]
from = '^/blog/(\d+)/(.+)$'
to = "/posts/$1-$2"
status = 301
"#;

#[test]
fn each_kind_of_bad_file_is_refused_with_its_line_and_column_before_listening() {
    let site = Site::new();
    let cases = [
        (
            "port = 8080\n\n[cors]\n  allow_origin = ['*']\n",
            "4:3: unknown key 'allow_origin' in [cors] (did you mean 'allow_origins'?)",
        ),
        (
            "[[headers]]\nmatch = '/assets**'\nset = { X-A = '1' }\n",
            "2:17: 'match': bad glob: '**' must be a whole segment, as in /a/**/b",
        ),
        (
            "[[redirects]]\nfrom = '^/blog/(\\d+'\nto = '/x'\n",
            "2:16: 'from': bad regex: unclosed group",
        ),
        (
            "[[redirects]]\nfrom = '^/a$'\nto = '/b'\nstatus = 200\n",
            "4:10: 'status': a redirect's status is 301, 302, 303, 307 or 308",
        ),
        (
            "[[rewrites]]\nfrom = '^/a$'\nto = '/../etc/passwd'\n",
            "3:7: 'to': not a path this server can serve: '..' above the root, or a bad %-escape",
        ),
        (
            "fallback = '/../index.html'\n",
            "1:12: 'fallback': a page is a file's path such as /404.html (as in a URL, not above the root, no query, no trailing '/')",
        ),
        (
            "[auth]\nusers = { alice = '$argon2id$v=19$...' }\n",
            "2:19: 'users': not a password hash",
        ),
        (
            "[error_pages]\n302 = '/x.html'\n",
            "2:1: '302': error pages are for statuses 400 to 599",
        ),
        (
            "[[headers]]\nmatch = '/**'\nset = { 'Content-Length' = '0' }\n",
            "3:9: 'Content-Length': the server sets this field itself; a rule may not replace it",
        ),
        (
            "threads = 'many'\n",
            "1:11: 'threads': invalid value 'many'",
        ),
        ("port = \n", "1:8: not valid TOML"),
    ];
    for (text, expected) in cases {
        let file = site_file(&site, text);
        let line = refused(&site, &file);
        let prefix = format!("http-server: {}:{expected}", file.display());
        assert!(line.starts_with(&prefix), "{text:?}:\n{line}\n{prefix}");
    }
}

#[test]
fn a_missing_site_file_is_one_line() {
    let site = Site::new();
    let line = refused(&site, &site.outside().join("nope.toml"));
    assert!(
        line.ends_with(
            "nope.toml: cannot read the site file: No such file or directory (os error 2)"
        ),
        "{line}"
    );
}

#[test]
fn check_validates_without_listening() {
    let site = Site::new();
    let root = site.root();
    let file = site_file(&site, &format!("root = '{}'\n{GOOD}", root.display()));
    let out = run(&["--check", "--config", file.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(0), "{:?}", out);
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!(
            "{}: ok (1 header rule, 1 redirect, 0 rewrites, fallback /index.html)\n",
            file.display()
        )
    );
    assert!(out.stderr.is_empty());

    fs::write(&file, format!("root = '{}'\n[cors]\n", root.display())).unwrap();
    let out = run(&["--check", "--config", file.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        format!(
            "http-server: {}:2:1: [cors] needs 'allow_origins'\n",
            file.display()
        )
    );
    // The root must be there too, as for a start.
    fs::write(&file, "root = 'no-such-folder'\n").unwrap();
    let out = run(&["--check", "--config", file.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
}

#[test]
fn hash_password_prints_a_hash_the_site_file_takes_and_that_verifies() {
    let out = run(&["hash-password"], b"correct horse\n");
    assert_eq!(out.status.code(), Some(0), "{:?}", out);
    let phc = String::from_utf8(out.stdout).unwrap();
    let phc = phc.trim_end();
    assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
    let parsed = PasswordHash::new(phc).unwrap();
    assert!(
        Argon2::default()
            .verify_password(b"correct horse", &parsed)
            .is_ok()
    );
    assert!(
        Argon2::default()
            .verify_password(b"correct horse\n", &parsed)
            .is_err()
    );

    let site = Site::new();
    let file = site_file(
        &site,
        &format!(
            "root = '{}'\n[auth]\nusers = {{ alice = '{phc}' }}\n",
            site.root().display()
        ),
    );
    let out = run(&["--check", "--config", file.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(0), "{:?}", out);

    let out = run(&["hash-password"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "http-server: hash-password: the password is empty\n"
    );
}

#[test]
fn the_file_s_settings_apply_and_flags_on_the_command_line_win() {
    let site = Site::new();
    site.write("plain/a.txt", b"a");
    // The file's port and root lose to the harness's --port 0 and --root.
    let file = site_file(
        &site,
        "port = 1\nroot = 'no-such-folder'\nlisting = true\ncache-control = 'max-age=77'\n",
    );
    let server = TestServer::start(&site.root(), &["--config", file.to_str().unwrap()]);
    assert_eq!(
        server.get("/plain/", "").status,
        200,
        "listing from the file"
    );
    let r = server.get("/test.html", "");
    assert_eq!(r.header("cache-control"), Some("max-age=77"));
    drop(server);
    let server = TestServer::start(
        &site.root(),
        &[
            "--config",
            file.to_str().unwrap(),
            "--cache-control",
            "max-age=5",
        ],
    );
    assert_eq!(
        server.get("/test.html", "").header("cache-control"),
        Some("max-age=5")
    );
}

#[test]
fn sighup_reloads_a_good_file_and_refuses_a_bad_one_that_leaves_the_old_rules() {
    let site = Site::new();
    let file = site_file(&site, GOOD);
    let server = TestServer::start(&site.root(), &["--config", file.to_str().unwrap()]);
    let reload_then_see = |text: String, line: &str| {
        fs::write(&file, text).unwrap();
        server.signal(Signal::HUP);
        assert!(server.wait_for_stderr(line), "{}", server.stderr());
    };

    reload_then_see(
        format!("{GOOD}\n[[rewrites]]\nfrom = '^/a$'\nto = 'b'\n"),
        &format!(
            "http-server: SIGHUP: kept the current site rules: {}:14:7: 'to': a rewrite goes to a path starting with '/'\n",
            file.display()
        ),
    );
    assert_eq!(server.get("/test.html", "").status, 200, "still serving");
    // `port` after `[[rewrites]]` belongs to the rewrite: refused as such.
    reload_then_see(
        format!("{GOOD}\n[[rewrites]]\nfrom = '^/a$'\nto = '/b'\nport = 1\n"),
        "unknown key 'port' in [[rewrites]]",
    );
    reload_then_see(
        format!("port = 1\n{GOOD}\n[[rewrites]]\nfrom = '^/a$'\nto = '/b'\n"),
        &format!(
            "http-server: SIGHUP: reloaded the site file {} (1 header rule, 1 redirect, 1 rewrite, fallback /index.html); changed settings need a restart: port\n",
            file.display()
        ),
    );
    assert_eq!(server.get("/test.html", "").status, 200);
}

#[test]
fn one_sighup_reloads_the_certificate_and_the_site_file_with_a_line_each() {
    let (pki, site) = (Pki::new(), Site::new());
    let (crt, key, _) = pki.issue("server");
    let file = site_file(&site, GOOD);
    let server = TestServer::start(
        &site.root(),
        &[
            "--config",
            file.to_str().unwrap(),
            "--tls-cert",
            crt.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    server.signal(Signal::HUP);
    assert!(
        server.wait_for_stderr("reloaded the TLS certificate"),
        "{}",
        server.stderr()
    );
    assert!(
        server.wait_for_stderr("reloaded the site file"),
        "{}",
        server.stderr()
    );
    let stderr = server.stderr();
    assert_eq!(stderr.matches("SIGHUP: reloaded").count(), 2, "{stderr}");
    // With TLS, auth raises no warning.
    assert!(!stderr.contains("without TLS"), "{stderr}");
}

#[test]
fn auth_without_tls_warns_at_start() {
    let site = Site::new();
    let out = run(&["hash-password"], b"pw\n");
    let phc = String::from_utf8(out.stdout).unwrap();
    let file = site_file(
        &site,
        &format!("[auth]\nusers = {{ a = '{}' }}\n", phc.trim_end()),
    );
    let server = TestServer::start(&site.root(), &["--config", file.to_str().unwrap()]);
    assert!(
        server.wait_for_stderr("warning: [auth] without TLS: passwords cross the network in clear"),
        "{}",
        server.stderr()
    );
}

#[test]
fn the_help_names_the_site_file_and_hash_password() {
    let out = run_ok(Command::new(BIN).arg("--help"));
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(help.contains("--config <FILE>"), "{help}");
    assert!(help.contains("--check"), "{help}");
    assert!(help.contains("hash-password"), "{help}");
}
