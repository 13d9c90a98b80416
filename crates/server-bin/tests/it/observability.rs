//! What the server tells about itself: the Prometheus endpoint, the access log, the summary.

use std::io::{BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use regex::Regex;

use crate::support::{Site, TestServer, read_response};

/// The value of the sample `name` (with its labels, exactly as exposed), if present.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .map(|v| v.parse().unwrap())
}

#[test]
fn metrics_count_known_traffic_exactly() {
    let site = Site::new();
    site.write_big("data.bin", 50_000);
    // One worker: each response is counted before the next request is read.
    let server = TestServer::start(&site.root(), &["--threads", "1"]);
    for _ in 0..3 {
        assert_eq!(server.get("/test.html", "").status, 200);
    }
    assert_eq!(server.get("/", "").status, 200);
    assert_eq!(server.get("/data.bin", "Range: bytes=0-99\r\n").status, 206);
    let etag = server
        .get("/style.css", "")
        .header("etag")
        .unwrap()
        .to_owned();
    assert_eq!(
        server
            .get("/style.css", &format!("If-None-Match: {etag}\r\n"))
            .status,
        304
    );
    assert_eq!(server.get("/missing-1", "").status, 404);
    assert_eq!(server.get("/missing-2", "").status, 404);
    assert_eq!(server.head("/test.html", "").status, 200);

    // The clients above have closed their connections, but the server may not have read their
    // end of stream yet when the scrape arrives: scrape until only the scrape's own is open.
    // Earlier scrapes are traffic too: 200s with bodies, counted in the last one.
    let (mut scrapes, mut earlier_bytes) = (0u32, 0usize);
    let (r, text) = loop {
        let r = server.get("/-/metrics", "");
        scrapes += 1;
        let text = String::from_utf8(r.body.clone()).unwrap();
        let active = sample(&text, "http_server_connections_active");
        if active == Some(1.0) || scrapes == 50 {
            break (r, text);
        }
        earlier_bytes += r.body.len();
        thread::sleep(Duration::from_millis(20));
    };
    let earlier = f64::from(scrapes - 1);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let resource = |path: &str| {
        sample(
            &text,
            &format!("http_server_resource_requests_total{{path=\"{path}\"}}"),
        )
    };
    assert_eq!(resource("/test.html"), Some(4.0), "{text}");
    assert_eq!(resource("/index.html"), Some(1.0), "the file `/` served");
    assert_eq!(resource("/data.bin"), Some(1.0));
    assert_eq!(resource("/style.css"), Some(2.0));
    assert_eq!(
        resource("/missing-1"),
        None,
        "missing files are not keyed by path"
    );
    let code = |c: u16| {
        sample(
            &text,
            &format!("http_server_responses_total{{code=\"{c}\"}}"),
        )
    };
    assert_eq!(
        (code(200), code(206), code(304), code(404)),
        (Some(6.0 + earlier), Some(1.0), Some(1.0), Some(2.0))
    );
    // Bodies: 3 × 14 (test.html) + 14 (/) + 100 (range) + 20 (style.css) + 2 × 14 (404s); HEAD none.
    assert_eq!(
        sample(&text, "http_server_response_bytes_total"),
        Some((3 * 14 + 14 + 100 + 20 + 2 * 14 + earlier_bytes) as f64)
    );
    assert_eq!(
        sample(&text, "http_server_request_duration_seconds_count"),
        Some(10.0 + earlier)
    );
    assert_eq!(
        sample(&text, "http_server_connections_total"),
        Some(f64::from(10 + scrapes)),
        "the scrapes' own connections too"
    );
    assert_eq!(
        sample(&text, "http_server_connections_active"),
        Some(1.0),
        "only the scrape's"
    );
    assert_eq!(sample(&text, "http_server_handler_panics_total"), Some(0.0));
    assert_eq!(
        sample(&text, "http_server_rejected_total{reason=\"limit\"}"),
        Some(0.0)
    );
    assert!(sample(&text, "http_server_uptime_seconds").is_some_and(|v| v > 0.0));
    let version = format!(
        "http_server_build_info{{version=\"{}\"}}",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(sample(&text, &version), Some(1.0));
}

#[test]
fn a_directory_and_its_index_file_count_as_one_resource() {
    let site = Site::new();
    let server = TestServer::start(&site.root(), &["--threads", "1"]);
    for path in ["/", "/index.html", "/", "/docs/", "/docs/index.html"] {
        assert_eq!(server.get(path, "").status, 200, "{path}");
    }
    let text = String::from_utf8(server.get("/-/metrics", "").body).unwrap();
    let resource = |path: &str| {
        sample(
            &text,
            &format!("http_server_resource_requests_total{{path=\"{path}\"}}"),
        )
    };
    assert_eq!(resource("/index.html"), Some(3.0), "{text}");
    assert_eq!(resource("/docs/index.html"), Some(2.0), "{text}");
    assert_eq!(resource("/"), None, "{text}");
    assert_eq!(resource("/docs/"), None, "{text}");
    // The access log keeps what was asked for.
    assert!(server.wait_for_log("\"GET / HTTP/1.1\" 200"));
    assert!(server.wait_for_log("\"GET /docs/ HTTP/1.1\" 200"));
}

#[test]
fn refusals_are_counted_by_reason() {
    let site = Site::new();
    let server = TestServer::start(&site.root(), &["--threads", "1", "--max-connections", "1"]);
    let held = server.held("/test.html");
    // The held connection takes the only slot, so the scrape itself would be refused: wait for
    // the refusal to be counted, then free the slot and scrape.
    assert_eq!(
        crate::support::read_response(
            &mut &server.raw(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")[..],
            false
        )
        .unwrap()
        .status,
        503
    );
    drop(held);
    // Until the server has seen the held connection close, scrapes are refused (and counted).
    let mut refused = 1;
    let text = loop {
        let r = server.get("/-/metrics", "");
        if r.status == 200 {
            break String::from_utf8(r.body).unwrap();
        }
        refused += 1;
    };
    let counted = sample(&text, "http_server_rejected_total{reason=\"limit\"}");
    assert_eq!(counted, Some(f64::from(refused)), "{text}");
}

#[test]
fn promtool_accepts_the_exposition() {
    let site = Site::new();
    site.write("we\"ird\\name.txt", b"x");
    // Control characters have no escape in the format: they must not reach it raw, nor as `\x`.
    site.write("esc\x1b[1m\r\tape%.txt", b"x");
    // One worker: a response is counted once it has been sent, and with two the scrape can be
    // served by the other worker before the first has counted (CI saw it miss the path).
    let server = TestServer::start(&site.root(), &["--threads", "1"]);
    assert_eq!(server.get("/we%22ird%5Cname.txt", "").status, 200);
    assert_eq!(server.get("/esc%1B%5B1m%0D%09ape%25.txt", "").status, 200);
    assert_eq!(server.get("/nope", "").status, 404);
    let text = server.get("/-/metrics", "").body;
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs (Debian package prometheus; .ci/run installs it)");
    promtool.stdin.take().unwrap().write_all(&text).unwrap();
    let out = promtool.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool: {}{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&text)
    );
    assert!(String::from_utf8_lossy(&text).contains("path=\"/we\\\"ird\\\\name.txt\""));
}

#[test]
fn the_metrics_path_can_be_moved_or_disabled_and_head_works() {
    let site = Site::new();
    let moved = TestServer::start(&site.root(), &["--metrics-path", "/internal/stats"]);
    assert_eq!(moved.get("/internal/stats", "").status, 200);
    assert_eq!(moved.get("/-/metrics", "").status, 404);
    let head = moved.head("/internal/stats", "");
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    drop(moved);
    let disabled = TestServer::start(&site.root(), &["--metrics-path", ""]);
    assert_eq!(disabled.get("/-/metrics", "").status, 404);
}

/// host - - [dd/Mon/yyyy:hh:mm:ss +0000] "request" status bytes "referer" "agent" micros
fn combined() -> Regex {
    let field = r#""((?:[^"\\]|\\.)*)""#;
    Regex::new(&format!(
        r"^([^ ]+) - - \[[0-9]{{2}}/[A-Z][a-z]{{2}}/[0-9]{{4}}:[0-9]{{2}}:[0-9]{{2}}:[0-9]{{2}} \+0000\] {field} ([0-9]{{3}}) ([0-9]+) {field} {field} ([0-9]+)$"
    ))
    .unwrap()
}

#[test]
fn access_log_lines_follow_the_combined_format() {
    let site = Site::new();
    // One worker, so that lines appear in request order.
    let server = TestServer::start(&site.root(), &["--threads", "1"]);
    server.get(
        "/test.html",
        "Referer: http://example.com/\r\nUser-Agent: tester/1.0\r\n",
    );
    server.get("/missing", "");
    server.raw(b"GARBAGE\r\n\r\n");
    assert!(server.wait_for_log("\"GARBAGE\""));
    let re = combined();
    let lines = server.stdout_lines();
    let parsed: Vec<_> = lines[1..]
        .iter()
        .map(|l| {
            re.captures(l)
                .unwrap_or_else(|| panic!("not Combined Log Format: {l}"))
        })
        .collect();
    let fields = |i: usize| -> Vec<String> { (1..=7).map(|g| parsed[i][g].to_owned()).collect() };
    assert_eq!(
        fields(0)[..6],
        [
            "127.0.0.1",
            "GET /test.html HTTP/1.1",
            "200",
            "14",
            "http://example.com/",
            "tester/1.0"
        ]
    );
    assert_eq!(fields(1)[1..4], ["GET /missing HTTP/1.1", "404", "14"]);
    assert_eq!(fields(2)[1..3], ["GARBAGE", "400"]);
}

#[test]
fn injected_quotes_and_line_breaks_stay_in_one_escaped_field() {
    let site = Site::new();
    let server = TestServer::start(&site.root(), &[]);
    // A bare LF ends the field line, so only a quote and an obs-text byte can reach the agent;
    // the request line carries the rest.
    server.raw(b"GET /test.html HTTP/1.1\r\nHost: t\r\nUser-Agent: evil\" 200 \"\xff\\\r\nConnection: close\r\n\r\n");
    assert!(server.wait_for_log("evil"));
    let lines = server.stdout_lines();
    let line = lines.iter().find(|l| l.contains("evil")).unwrap();
    let captures = combined()
        .captures(line)
        .unwrap_or_else(|| panic!("{line}"));
    assert_eq!(&captures[6], r#"evil\" 200 \"\xFF\\"#);
    assert_eq!(&captures[3], "200");
    assert_eq!(lines.len(), 2, "exactly one log line: {lines:?}");
}

#[test]
fn common_format_and_off() {
    let site = Site::new();
    let common = TestServer::start(&site.root(), &["--access-log", "common"]);
    common.get("/test.html", "User-Agent: tester\r\n");
    assert!(common.wait_for_log("GET /test.html"));
    let line = common.stdout_lines()[1].clone();
    assert!(
        line.ends_with(&format!(
            "\"GET /test.html HTTP/1.1\" 200 14 {}",
            line.rsplit(' ').next().unwrap()
        )),
        "{line}"
    );
    assert!(!line.contains("tester"));
    drop(common);
    let mut off = TestServer::start(&site.root(), &["--access-log", "off"]);
    off.get("/test.html", "");
    off.signal(rustix::process::Signal::TERM);
    off.wait_exit(Duration::from_secs(10));
    assert_eq!(off.stdout_lines().len(), 1, "only the listening line");
}

#[test]
fn the_summary_escapes_resource_names_as_the_access_log_does() {
    let site = Site::new();
    site.write("a\nforged 9 \x1b[2J.txt", b"x");
    let mut server = TestServer::start(&site.root(), &[]);
    assert_eq!(server.get("/a%0Aforged%209%20%1B%5B2J.txt", "").status, 200);
    server.signal(rustix::process::Signal::TERM);
    assert_eq!(server.wait_exit(Duration::from_secs(15)).code(), Some(0));
    let stderr = server.stderr();
    assert!(
        stderr.contains("  1  /a\\x0Aforged 9 \\x1B[2J.txt\n"),
        "{stderr}"
    );
    assert!(!stderr.contains('\x1b'), "{stderr}");
    assert!(!stderr.contains("\nforged"), "{stderr}");
}

#[test]
fn a_stdout_nobody_reads_never_stalls_serving_and_the_dropped_lines_are_counted() {
    const CONNECTIONS: usize = 20;
    const REQUESTS_EACH: usize = 100;
    const ANSWER_WITHIN: Duration = Duration::from_secs(2);
    let site = Site::new();
    let mut server = TestServer::start_with_unread_stdout(&site.root(), &[]);
    // 1 KiB agents fill the 64 KiB pipe after about 60 lines, and then the log's queue.
    let request = format!(
        "GET /test.html HTTP/1.1\r\nHost: t\r\nUser-Agent: {}\r\n\r\n",
        "a".repeat(1024)
    );
    let clients: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let stream = server.connect();
            // A worker stuck on stdout must fail the test, not hang it.
            stream.set_read_timeout(Some(ANSWER_WITHIN)).unwrap();
            let request = request.clone();
            thread::spawn(move || {
                let mut reader = BufReader::new(stream);
                let mut slowest = Duration::ZERO;
                for i in 0..REQUESTS_EACH {
                    let started = Instant::now();
                    reader.get_mut().write_all(request.as_bytes()).unwrap();
                    let response = read_response(&mut reader, false)
                        .unwrap_or_else(|| panic!("request {i} got no answer within 2 s"));
                    assert_eq!(response.status, 200);
                    slowest = slowest.max(started.elapsed());
                }
                slowest
            })
        })
        .collect();
    let slowest = clients
        .into_iter()
        .map(|c| c.join().expect("every request is answered"))
        .max()
        .unwrap();
    assert!(slowest < ANSWER_WITHIN, "slowest answer took {slowest:?}");

    let started = Instant::now();
    assert_eq!(server.get("/-/healthz", "").status, 200);
    assert!(started.elapsed() < ANSWER_WITHIN);
    let text = String::from_utf8(server.get("/-/metrics", "").body).unwrap();
    let dropped = sample(&text, "http_server_access_log_dropped_total").unwrap_or(0.0);
    assert!(dropped > 0.0, "{text}");
    assert!(
        server.wait_for_stderr("access log lines dropped"),
        "{}",
        server.stderr()
    );

    // Shutdown does not wait forever for the stalled stdout either.
    server.signal(rustix::process::Signal::TERM);
    assert_eq!(server.wait_exit(Duration::from_secs(20)).code(), Some(0));
}

/// A `Connection: close` download that took more than one turn (its last call did no read)
/// is closed at once when nothing waits unread, not left lingering for the client to close:
/// the open-connections gauge says so while the client still holds its end.
#[test]
fn a_close_download_finished_over_several_turns_is_closed_not_left_lingering() {
    let site = Site::new();
    let data = site.write_big("big.bin", 3 * 1024 * 1024);
    let server = TestServer::start(&site.root(), &["--threads", "1"]);
    let mut held = server.connect();
    held.write_all(b"GET /big.bin HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut raw = Vec::new();
    held.read_to_end(&mut raw).unwrap();
    assert!(raw.ends_with(&data), "the whole file arrived");
    let text = String::from_utf8(server.get("/-/metrics", "").body).unwrap();
    assert_eq!(
        sample(&text, "http_server_connections_active"),
        Some(1.0),
        "only the scrape's own connection is open"
    );
}
