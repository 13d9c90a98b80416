//! The site file's rules in responses (issue 24): header rules on files, listings, 304s and
//! error pages; redirects with the query kept; rewrites in one step; the single-page-app
//! fallback for a browser and not for a script; error pages with their status; basic auth with
//! its challenge, the user in the log, private caching, the credential cache and the rate limit;
//! CORS preflights without credentials and `Vary: Origin`; and a reload seen by the next request.

use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use argon2::{Algorithm, Argon2, Params, PasswordHasher, Version};
use rustix::process::Signal;

use crate::support::{Site, TestServer, wait_until};

const NAVIGATE: &str = "Accept: text/html,application/xhtml+xml,*/*;q=0.8\r\n";

/// A root like a Vite build: `index.html`, hashed assets, a 404 page, a protected folder.
fn app() -> Site {
    let site = Site::new();
    site.write("index.html", b"<h1>app</h1>\n");
    site.write("assets/app-1a2b.js", b"console.log(1);\n");
    site.write("404.html", b"<h1>not here</h1>\n");
    site.write("manual/intro.html", b"intro\n");
    site.write("private/report.txt", b"secret report\n");
    site.write("files/a.txt", b"a\n");
    site
}

/// An Argon2id hash of `password`, made cheap to check (the tests check it often).
fn hash(password: &str) -> String {
    let params = Params::new(1024, 1, 1, None).unwrap();
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    argon
        .hash_password_with_salt(password.as_bytes(), b"sixteen byte slt")
        .unwrap()
        .to_string()
}

fn site_file(site: &Site, text: &str) -> PathBuf {
    let path = site.outside().join("site.toml");
    fs::write(&path, text).unwrap();
    path
}

fn rules() -> String {
    format!(
        r#"fallback = "/index.html"

[[headers]]
match = "/assets/**"
set = {{ "Cache-Control" = "public, max-age=31536000, immutable" }}

[[headers]]
match = "/**"
set = {{ "X-Content-Type-Options" = "nosniff" }}

[[redirects]]
from = '^/blog/(\d+)/(.+)$'
to = "/posts/$1-$2"
status = 301

[[rewrites]]
from = '^/docs/(.*)$'
to = "/manual/$1"

[[rewrites]]
from = '^/manual/loop$'
to = "/docs/loop"

[error_pages]
404 = "/404.html"

[auth]
paths = ["/private/**"]
realm = "private"
users = {{ alice = "{}" }}

[cors]
allow_origins = ["https://example.com"]
"#,
        hash("wonderland")
    )
}

fn start(site: &Site, extra: &[&str]) -> TestServer {
    let file = site_file(site, &rules());
    let mut args = vec!["--config", file.to_str().unwrap(), "--listing"];
    args.extend_from_slice(extra);
    TestServer::start(&site.root(), &args)
}

#[test]
fn header_rules_apply_to_files_listings_304s_and_error_pages() {
    let site = app();
    let server = start(&site, &[]);
    let asset = server.get("/assets/app-1a2b.js", "");
    assert_eq!(asset.status, 200);
    assert_eq!(
        asset.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    assert_eq!(asset.header("x-content-type-options"), Some("nosniff"));
    let etag = asset.header("etag").unwrap().to_owned();
    let revalidated = server.get("/assets/app-1a2b.js", &format!("If-None-Match: {etag}\r\n"));
    assert_eq!(revalidated.status, 304);
    assert_eq!(
        revalidated.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    let listing = server.get("/files/", "");
    assert_eq!(listing.status, 200);
    assert_eq!(listing.header("x-content-type-options"), Some("nosniff"));
    // An error keeps `no-store`: a missing hashed asset may be deployed a second later.
    let missing = server.get("/assets/gone.js", "Accept: */*\r\n");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.header("cache-control"), Some("no-store"));
    assert_eq!(missing.header("x-content-type-options"), Some("nosniff"));
}

#[test]
fn redirects_keep_the_query_and_rewrites_serve_another_path_in_one_step() {
    let site = app();
    let server = start(&site, &[]);
    let moved = server.get("/blog/7/hello?ref=x", "");
    assert_eq!(moved.status, 301);
    assert_eq!(moved.header("location"), Some("/posts/7-hello?ref=x"));
    let rewritten = server.get("/docs/intro.html", "");
    assert_eq!(rewritten.status, 200);
    assert_eq!(rewritten.body, b"intro\n");
    // `/docs/loop` is rewritten to `/manual/loop`, whose own rule is never applied again.
    let looped = server.get("/docs/loop", "Accept: */*\r\n");
    assert_eq!(looped.status, 404);
}

#[test]
fn a_browser_gets_the_fallback_and_a_script_keeps_its_404() {
    let site = app();
    let server = start(&site, &[]);
    let page = server.get("/some/route", NAVIGATE);
    assert_eq!(page.status, 200);
    assert_eq!(page.body, b"<h1>app</h1>\n");
    assert!(page.header("vary").is_some_and(|v| v.contains("Accept")));
    // Validated as its own file.
    let index = server.get("/index.html", "");
    assert_eq!(page.header("etag"), index.header("etag"));
    let etag = page.header("etag").unwrap().to_owned();
    let again = server.get(
        "/other/route",
        &format!("{NAVIGATE}If-None-Match: {etag}\r\n"),
    );
    assert_eq!(again.status, 304);
    // A script that is missing is not the app's HTML: the error page, with its status.
    let script = server.get("/missing.js", "Accept: */*\r\n");
    assert_eq!(script.status, 404);
    assert_eq!(script.body, b"<h1>not here</h1>\n");
    assert_eq!(
        script.header("content-type"),
        Some("text/html; charset=utf-8")
    );
}

#[test]
fn a_protected_path_asks_for_credentials_and_logs_the_user_never_the_password() {
    let site = app();
    let server = start(&site, &[]);
    let asked = server.get("/private/report.txt", "");
    assert_eq!(asked.status, 401);
    assert_eq!(
        asked.header("www-authenticate"),
        Some("Basic realm=\"private\", charset=\"UTF-8\"")
    );
    assert!(!String::from_utf8_lossy(&asked.body).contains("secret"));
    // alice:wonderland
    let good = "Authorization: Basic YWxpY2U6d29uZGVybGFuZA==\r\n";
    for _ in 0..3 {
        let served = server.get("/private/report.txt", good);
        assert_eq!(served.status, 200);
        assert_eq!(served.body, b"secret report\n");
        assert!(
            served
                .header("cache-control")
                .is_some_and(|v| v.contains("private")),
            "{:?}",
            served.header("cache-control")
        );
    }
    assert!(
        server.wait_for_log(" - alice ["),
        "{:?}",
        server.stdout_lines()
    );
    assert!(
        server
            .stdout_lines()
            .iter()
            .all(|line| !line.contains("wonderland") && !line.contains("YWxpY2U6")),
    );
}

#[test]
fn failed_passwords_are_rate_limited_per_client() {
    let site = app();
    let server = start(&site, &[]);
    // alice:wrong
    let bad = "Authorization: Basic YWxpY2U6d3Jvbmc=\r\n";
    let mut statuses = Vec::new();
    for _ in 0..30 {
        statuses.push(server.get("/private/report.txt", bad).status);
        if statuses.last() == Some(&429) {
            break;
        }
    }
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    let limited = server.get("/private/report.txt", bad);
    assert_eq!(limited.status, 429);
    assert!(limited.header("retry-after").is_some());
}

#[test]
fn a_cors_preflight_needs_no_credentials_and_simple_requests_vary_by_origin() {
    let site = app();
    let server = start(&site, &[]);
    let preflight = server.request(
        "OPTIONS /private/report.txt HTTP/1.1\r\nHost: t\r\nOrigin: https://example.com\r\n\
         Access-Control-Request-Method: GET\r\nAccess-Control-Request-Headers: authorization\r\n\r\n",
    );
    assert_eq!(preflight.status, 204);
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some("https://example.com")
    );
    assert!(preflight.header("access-control-max-age").is_some());
    let simple = server.get(
        "/index.html",
        "Origin: https://example.com\r\nAccept-Encoding: gzip\r\n",
    );
    assert_eq!(
        simple.header("access-control-allow-origin"),
        Some("https://example.com")
    );
    assert!(simple.header("vary").is_some_and(|v| v.contains("Origin")));
    let other = server.get("/index.html", "Origin: https://evil.example\r\n");
    assert_eq!(other.header("access-control-allow-origin"), None);
}

#[test]
fn a_reload_is_seen_by_the_next_request() {
    let site = app();
    let file = site_file(&site, &rules());
    let server = TestServer::start(&site.root(), &["--config", file.to_str().unwrap()]);
    assert_eq!(server.get("/blog/1/x", "").status, 301);
    fs::write(&file, "fallback = \"/index.html\"\n").unwrap();
    server.signal(Signal::HUP);
    assert!(
        wait_until(Duration::from_secs(10), || server
            .get("/blog/1/x", "Accept: */*\r\n")
            .status
            == 404),
        "{}",
        server.stderr()
    );
}

/// `curl` over HTTP/2 with prior knowledge: the response head (lower-case names) and body.
fn h2(server: &TestServer, path: &str, args: &[&str]) -> (String, Vec<u8>) {
    let out = std::process::Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "20",
            "--http2-prior-knowledge",
            "-D",
            "-",
        ])
        .args(args)
        .arg(server.url(path))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let end = out
        .stdout
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap();
    let head = String::from_utf8_lossy(&out.stdout[..end]).into_owned();
    assert!(head.starts_with("HTTP/2 "), "{head}");
    (head, out.stdout[end + 4..].to_vec())
}

#[test]
fn the_rules_answer_the_same_over_http2() {
    let site = app();
    let server = start(&site, &[]);
    let (head, _) = h2(&server, "/assets/app-1a2b.js", &[]);
    assert!(
        head.contains("cache-control: public, max-age=31536000, immutable"),
        "{head}"
    );
    assert!(head.contains("x-content-type-options: nosniff"), "{head}");
    let (head, _) = h2(&server, "/blog/7/hello?ref=x", &[]);
    assert!(head.starts_with("HTTP/2 301"), "{head}");
    assert!(head.contains("location: /posts/7-hello?ref=x"), "{head}");
    let (_, body) = h2(&server, "/docs/intro.html", &[]);
    assert_eq!(body, b"intro\n");
    let (head, body) = h2(&server, "/some/route", &["-H", "accept: text/html"]);
    assert!(head.starts_with("HTTP/2 200"), "{head}");
    assert_eq!(body, b"<h1>app</h1>\n");
    let (head, body) = h2(&server, "/missing.js", &[]);
    assert!(head.starts_with("HTTP/2 404"), "{head}");
    assert_eq!(body, b"<h1>not here</h1>\n");
    let (head, _) = h2(&server, "/private/report.txt", &[]);
    assert!(head.starts_with("HTTP/2 401"), "{head}");
    assert!(
        head.contains("www-authenticate: Basic realm=\"private\""),
        "{head}"
    );
    let (head, body) = h2(&server, "/private/report.txt", &["-u", "alice:wonderland"]);
    assert!(head.starts_with("HTTP/2 200"), "{head}");
    assert!(head.contains("cache-control: private"), "{head}");
    assert_eq!(body, b"secret report\n");
    let preflight = [
        "-X",
        "OPTIONS",
        "-H",
        "origin: https://example.com",
        "-H",
        "access-control-request-method: GET",
    ];
    let (head, _) = h2(&server, "/private/report.txt", &preflight);
    assert!(head.starts_with("HTTP/2 204"), "{head}");
    assert!(
        head.contains("access-control-allow-origin: https://example.com"),
        "{head}"
    );
    assert!(server.wait_for_log("\"GET /private/report.txt HTTP/2.0\" 200"));
}
