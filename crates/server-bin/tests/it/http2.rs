//! HTTP/2 with a real client: curl over h2c with prior knowledge and over TLS by ALPN, the
//! responses a browser relies on (ranges, validators, errors), the access log and the metrics,
//! and `--no-http2`. The codec's frame-level rules are tested in `src/http2/tests.rs` and by
//! `scripts/h2check.sh`.

use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;

use http_core::Status;
use http_core::h2::frame::{self, Frame};

use crate::support::{Site, TestServer, run_ok};

/// curl's arguments for HTTP/2 to `server`: prior knowledge on a plain port, ALPN over TLS
/// (the self-signed certificate unchecked: these tests are about the protocol).
fn curl(server: &TestServer) -> Command {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--max-time", "20"]);
    if server.url("/").starts_with("https") {
        cmd.args(["-k", "--http2"]);
    } else {
        cmd.arg("--http2-prior-knowledge");
    }
    cmd
}

/// The response head curl printed with `-D -`, lower-cased, and the body after it.
fn split(out: &[u8]) -> (String, Vec<u8>) {
    let end = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8_lossy(&out[..end]).to_ascii_lowercase();
    (head, out[end + 4..].to_vec())
}

#[test]
fn curl_fetches_small_and_large_files_over_h2c_with_prior_knowledge() {
    let site = Site::new();
    let big = site.write_big("big.bin", 3 * 1024 * 1024);
    let server = TestServer::start(&site.root(), &[]);
    let out = run_ok(
        curl(&server)
            .args(["--fail", "-w", "\n%{http_version}"])
            .arg(server.url("/test.html")),
    );
    assert_eq!(out.stdout, b"<h1>test</h1>\n\n2");
    let dest = site.outside().join("h2-big.bin");
    run_ok(
        curl(&server)
            .args(["--fail", "-o"])
            .arg(&dest)
            .arg(server.url("/big.bin")),
    );
    assert!(fs::read(&dest).unwrap() == big, "the download differs");
    assert!(server.wait_for_log("\"GET /big.bin HTTP/2.0\" 200 3145728"));
}

#[test]
fn a_browser_style_client_gets_h2_by_alpn_over_tls() {
    let site = Site::new();
    let big = site.write_big("big.bin", 1024 * 1024);
    let server = TestServer::start(&site.root(), &["--tls-self-signed", "--hsts", "600"]);
    let dest = site.outside().join("h2-tls.bin");
    let out = run_ok(
        curl(&server)
            .args(["--fail", "-D", "-", "-o"])
            .arg(&dest)
            .arg(server.url("/big.bin")),
    );
    let head = String::from_utf8_lossy(&out.stdout).to_ascii_lowercase();
    assert!(head.starts_with("http/2 200"), "{head}");
    assert!(
        head.contains("strict-transport-security: max-age=600"),
        "{head}"
    );
    assert!(fs::read(&dest).unwrap() == big, "the download differs");
    assert!(server.wait_for_log("\"GET /big.bin HTTP/2.0\" 200 1048576"));
}

#[test]
fn ranges_validators_and_errors_work_over_h2() {
    let site = Site::new();
    let server = TestServer::start(&site.root(), &[]);
    let get = |args: &[&str], path: &str| {
        let out = run_ok(
            curl(&server)
                .args(["-D", "-"])
                .args(args)
                .arg(server.url(path)),
        );
        split(&out.stdout)
    };
    let (head, body) = get(&["-r", "4-7"], "/test.html");
    assert!(head.starts_with("http/2 206"), "{head}");
    assert!(head.contains("content-range: bytes 4-7/14"), "{head}");
    assert_eq!(body, b"test");

    let (head, _) = get(&[], "/test.html");
    let etag = head
        .lines()
        .find_map(|l| l.strip_prefix("etag: "))
        .expect("an etag")
        .to_owned();
    let (head, body) = get(&["-H", &format!("if-none-match: {etag}")], "/test.html");
    assert!(head.starts_with("http/2 304"), "{head}");
    assert!(body.is_empty());

    let (head, body) = get(&[], "/missing");
    assert!(head.starts_with("http/2 404"), "{head}");
    assert!(head.contains("content-type: text/plain"), "{head}");
    assert!(!body.is_empty());

    let out = run_ok(curl(&server).arg("-I").arg(server.url("/test.html")));
    let (head, body) = split(&out.stdout);
    assert!(head.starts_with("http/2 200"), "{head}");
    assert!(head.contains("content-length: 14"), "{head}");
    assert!(body.is_empty());
    // Fields HTTP/2 forbids never appear.
    for forbidden in ["connection:", "keep-alive:", "transfer-encoding:"] {
        assert!(!head.contains(forbidden), "{forbidden} in {head}");
    }
}

#[test]
fn many_requests_share_one_connection_and_are_counted() {
    let site = Site::new();
    // Over TLS: curl 7.88 fails its own parallel transfers on an h2c connection with prior
    // knowledge ("Error in the HTTP2 framing layer", against nginx too).
    let server = TestServer::start(&site.root(), &["--tls-self-signed"]);
    let mut cmd = curl(&server);
    cmd.args(["--fail", "-Z", "--parallel-max", "20"])
        .args(["-w", "%{http_version} %{num_connects}\n"]);
    for _ in 0..20 {
        cmd.args(["-o", "/dev/null"]).arg(server.url("/style.css"));
    }
    let out = run_ok(&mut cmd);
    let lines = String::from_utf8(out.stdout).unwrap();
    assert_eq!(lines.lines().count(), 20, "{lines}");
    assert!(lines.lines().all(|l| l.starts_with("2 ")), "{lines}");
    let connects: u32 = lines
        .lines()
        .map(|l| l.split(' ').nth(1).unwrap().parse::<u32>().unwrap())
        .sum();
    assert_eq!(connects, 1, "curl opened more than one connection: {lines}");

    let metrics = run_ok(curl(&server).arg(server.url("/-/metrics")));
    let text = String::from_utf8(metrics.stdout).unwrap();
    assert!(
        text.contains("http_server_resource_requests_total{path=\"/style.css\"} 20\n"),
        "{text}"
    );
    assert!(
        text.contains("http_server_http2_connections_total{via=\"tls\"} 2\n"),
        "{text}"
    );
}

#[test]
fn with_no_http2_the_server_speaks_http11_only() {
    let site = Site::new();
    let server = TestServer::start(&site.root(), &["--no-http2"]);
    let refused = curl(&server)
        .arg(server.url("/test.html"))
        .output()
        .unwrap();
    assert!(!refused.status.success(), "{refused:?}");
    let answer = server.raw(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    assert!(
        answer.starts_with(b"HTTP/1.1 505 "),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    // HTTP/1.1 clients are served as ever.
    let out = run_ok(
        Command::new("curl")
            .args(["-sS", "--fail"])
            .arg(server.url("/test.html")),
    );
    assert_eq!(out.stdout, b"<h1>test</h1>\n");

    let tls = TestServer::start(&site.root(), &["--no-http2", "--tls-self-signed"]);
    let out = run_ok(
        curl(&tls)
            .args(["--fail", "-o", "/dev/null", "-w", "%{http_version}"])
            .arg(tls.url("/test.html")),
    );
    assert_eq!(out.stdout, b"1.1");
}

/// A raw HTTP/2 connection to `server` with prior knowledge: the preface and `settings` sent.
fn h2_connect(server: &TestServer, settings: &[(u16, u32)]) -> TcpStream {
    let mut stream = server.connect();
    let mut hello = frame::PREFACE.to_vec();
    frame::write_settings(&mut hello, settings);
    stream.write_all(&hello).unwrap();
    stream
}

/// A GET of `path` as a header block that needs no HPACK state: `:method GET` and `:scheme
/// http` from the static table, `:path` and `:authority` as literals without indexing.
fn h2_get(path: &str) -> Vec<u8> {
    let mut block = vec![0x82, 0x86, 0x04, path.len() as u8];
    block.extend_from_slice(path.as_bytes());
    block.extend_from_slice(&[0x01, 1, b't']);
    block
}

/// Reads frames until a PING ACK: every frame sent before the PING has then been handled.
fn h2_sync(stream: &mut TcpStream) {
    let mut ping = Vec::new();
    frame::write_header(&mut ping, 8, frame::TYPE_PING, 0, 0);
    ping.extend_from_slice(b"syncsync");
    stream.write_all(&ping).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 64 * 1024];
    loop {
        while let Ok(Status::Complete((parsed, used))) =
            frame::parse(&buf, frame::MAX_MAX_FRAME_SIZE)
        {
            if let Frame::Ping { ack: true, .. } = parsed {
                return;
            }
            buf.drain(..used);
        }
        let n = stream.read(&mut chunk).expect("the PING ACK");
        assert!(n > 0, "the server closed the connection");
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Descriptors the process holds.
fn open_fds(server: &TestServer) -> usize {
    fs::read_dir(format!("/proc/{}/fd", server.pid()))
        .unwrap()
        .count()
}

#[test]
fn many_downloads_held_at_a_zero_window_hold_few_of_the_servers_descriptors() {
    // Each response of a file too large for the cache holds the file open; 100 of them per
    // connection let 200 connections use up a 20,000-descriptor limit.
    let site = Site::new();
    site.write_big("big.bin", 1024 * 1024);
    let server = TestServer::start(&site.root(), &[]);
    let before = open_fds(&server);
    let conns: Vec<TcpStream> = (0..4)
        .map(|_| {
            let mut c = h2_connect(&server, &[(frame::SETTINGS_INITIAL_WINDOW_SIZE, 0)]);
            let mut requests = Vec::new();
            for i in 0..100 {
                frame::write_headers(&mut requests, 2 * i + 1, &h2_get("/big.bin"), true, 16_384);
            }
            c.write_all(&requests).unwrap();
            h2_sync(&mut c);
            c
        })
        .collect();
    let held = open_fds(&server) - before;
    // Per connection its socket and 8 files (MAX_OPEN_FILES); then what the workers open on
    // their first requests (an inotify instance, an eventfd each: 8 at most).
    assert!(
        held <= conns.len() * 9 + 8,
        "{held} descriptors for {} connections",
        conns.len()
    );
    // The others are still served.
    let out = run_ok(curl(&server).args(["--fail"]).arg(server.url("/test.html")));
    assert_eq!(out.stdout, b"<h1>test</h1>\n");
}
