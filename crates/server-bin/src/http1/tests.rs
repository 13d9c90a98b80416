//! The codec over an in-memory socket: what a client sends, in which chunks, and what it gets
//! back, without a real socket or clock.

use std::fs;
use std::time::{Duration, Instant};

use http_core::limits::MAX_HEADERS;
use pool::{CloseReason, Next, Readiness};

use super::{Conn, LINGER_TIMEOUT, Mode};
use crate::service::Peer;
use crate::service::Service;
use crate::transport::socket::MemorySocket;
use crate::transport::{Transport, Wire};

const BIG: usize = 100 * 1024;

/// One connection of a server with a root holding `hello.txt` and the 100 KiB `big.bin`.
struct Harness {
    _dir: tempfile::TempDir,
    svc: Service,
    socket: MemorySocket,
    transport: Transport,
    conn: Option<Conn>,
    now: Instant,
}

impl Harness {
    fn new() -> Self {
        Self::with_flags(&[])
    }

    fn with_flags(flags: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("hello.txt"), "hello\n").unwrap();
        fs::write(dir.path().join("big.bin"), vec![b'x'; BIG]).unwrap();
        let root = dir.path().canonicalize().unwrap();
        let mut args = vec!["--access-log", "off"];
        args.extend_from_slice(flags);
        let config = crate::cli::config_for_tests(&root, &args);
        let svc = Service::for_tests(&root, config);
        let now = Instant::now();
        Self {
            _dir: dir,
            svc,
            socket: MemorySocket::default(),
            transport: Transport::plain(),
            conn: Some(Conn::new(Mode::Serve, Peer::default(), &[], now)),
            now,
        }
    }

    fn call(
        &mut self,
        what: fn(&mut Conn, &mut Service, &mut Wire<'_, MemorySocket>, Instant) -> Next,
    ) -> Next {
        let mut io = Wire {
            transport: &mut self.transport,
            socket: &mut self.socket,
        };
        what(
            self.conn.as_mut().unwrap(),
            &mut self.svc,
            &mut io,
            self.now,
        )
    }

    fn ready(&mut self) -> Next {
        self.call(|c, svc, io, now| c.ready(svc, io, Readiness::default(), now))
    }

    fn timeout(&mut self) -> Next {
        self.call(|c, svc, io, now| c.timeout(svc, io, now))
    }

    fn drain(&mut self) -> Next {
        self.call(|c, svc, io, now| c.drain(svc, io, now))
    }

    fn close(&mut self, reason: CloseReason) {
        let mut io = Wire {
            transport: &mut self.transport,
            socket: &mut self.socket,
        };
        self.conn
            .take()
            .unwrap()
            .close(&mut self.svc, &mut io, reason);
    }

    fn after(&self, d: Duration) -> Next {
        Next::Wait(Some(self.now + d))
    }

    fn config(&self) -> &crate::config::Config {
        &self.svc.ctx().config
    }

    /// The responses written so far: status code, head, and body (none for `heads`, the
    /// indexes of responses to `HEAD`).
    fn responses(&self, heads: &[usize]) -> Vec<(u16, String, Vec<u8>)> {
        let mut out = &self.socket.output[..];
        let mut all = Vec::new();
        while !out.is_empty() {
            let end = out
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .expect("a whole head")
                + 4;
            let head = String::from_utf8(out[..end].to_vec()).unwrap();
            let status = head[9..12].parse().unwrap();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .map_or(0, |n| n.trim().parse().unwrap());
            let len = if heads.contains(&all.len()) { 0 } else { len };
            all.push((status, head, out[end..end + len].to_vec()));
            out = &out[end + len..];
        }
        all
    }

    fn statuses(&self) -> Vec<u16> {
        self.responses(&[]).iter().map(|r| r.0).collect()
    }
}

fn get(path: &str, extra: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: h\r\n{extra}\r\n")
}

#[test]
fn requests_in_one_chunk_are_answered_in_order_on_a_kept_connection() {
    struct Case {
        name: &'static str,
        input: String,
        statuses: &'static [u16],
        /// The write side was shut after the last response.
        shut: bool,
    }
    let fields: String = (0..=MAX_HEADERS).map(|i| format!("X-{i}: v\r\n")).collect();
    // The host is the limit's last field, past the first slots a head is parsed into.
    let most: String = (2..MAX_HEADERS).map(|i| format!("X-{i}: v\r\n")).collect();
    let cases = [
        Case {
            name: "one request",
            input: get("/hello.txt", ""),
            statuses: &[200],
            shut: false,
        },
        Case {
            name: "pipelined requests",
            input: get("/hello.txt", "") + &get("/missing", "") + &get("/hello.txt", ""),
            statuses: &[200, 404, 200],
            shut: false,
        },
        Case {
            name: "pipelined leftovers after Connection: close are not answered",
            input: get("/hello.txt", "Connection: close\r\n") + &get("/hello.txt", ""),
            statuses: &[200],
            shut: true,
        },
        Case {
            name: "too many fields: 431, then linger",
            input: get("/hello.txt", &fields),
            statuses: &[431],
            shut: true,
        },
        Case {
            name: "as many fields as the limit allows, the host last",
            input: format!("GET /hello.txt HTTP/1.1\r\n{most}Host: h\r\n\r\n"),
            statuses: &[200],
            shut: false,
        },
        Case {
            name: "a request body is not read: answered, then linger",
            input: get("/hello.txt", "Content-Length: 5\r\n") + "hello",
            statuses: &[200],
            shut: true,
        },
        Case {
            name: "an unknown version",
            input: "GET / HTTP/1.2\r\nHost: h\r\n\r\n".to_owned(),
            statuses: &[505],
            shut: true,
        },
        Case {
            name: "empty lines between requests are ignored",
            input: get("/hello.txt", "") + "\r\n\r\n" + &get("/hello.txt", ""),
            statuses: &[200, 200],
            shut: false,
        },
    ];
    for case in cases {
        let mut h = Harness::new();
        h.socket.feed(case.input.as_bytes());
        let next = h.ready();
        assert_eq!(h.statuses(), case.statuses, "{}", case.name);
        assert_eq!(h.socket.shut, case.shut, "{}", case.name);
        let expected = match case.shut {
            true => h.after(LINGER_TIMEOUT),
            false => h.after(h.config().idle_timeout),
        };
        assert_eq!(next, expected, "{}", case.name);
    }
}

#[test]
fn the_last_response_s_fin_waits_for_the_close_that_frees_the_connection_s_slot() {
    // Issue 25: a client that reconnects the moment it reads the end of stream must not find
    // the connection still counted against the limit.
    let mut h = Harness::new();
    h.socket
        .feed(get("/hello.txt", "Connection: close\r\n").as_bytes());
    assert_eq!(h.ready(), Next::Close);
    assert_eq!(h.statuses(), [200]);
    assert!(!h.socket.shut, "shut before the pool freed the slot");
    h.close(CloseReason::Done);
    assert!(h.socket.shut, "never shut");
}

#[test]
fn a_head_refused_before_it_is_parsed_gets_no_content() {
    let mut h = Harness::new();
    h.socket.feed(b"HEAD / HTTP/1.2\r\nHost: h\r\n\r\n");
    h.ready();
    let responses = h.responses(&[0]);
    assert_eq!(responses.len(), 1);
    assert_eq!(responses[0].0, 505);
    assert!(responses[0].1.contains("Content-Length: "));
    assert_eq!(
        h.socket.output.len(),
        responses[0].1.len(),
        "no body after the head"
    );
}

#[test]
fn an_idle_connection_closes_without_a_word() {
    let mut h = Harness::new();
    assert_eq!(h.ready(), h.after(h.config().idle_timeout));
    assert_eq!(h.timeout(), Next::Close);
    assert!(h.socket.output.is_empty());
}

#[test]
fn a_head_that_does_not_complete_in_time_gets_408() {
    let mut h = Harness::new();
    h.socket.feed(b"GET /hello.txt HTTP/1.1\r\n");
    assert_eq!(h.ready(), h.after(h.config().header_timeout));
    assert_eq!(h.timeout(), h.after(LINGER_TIMEOUT));
    assert_eq!(h.statuses(), [408]);
    assert!(h.socket.shut);
}

#[test]
fn a_partial_head_then_the_end_of_stream_closes_silently() {
    let mut h = Harness::new();
    h.socket.feed(b"GET /hel");
    h.socket.eof = true;
    // The poller says the peer closed: the short read is then no sign that nothing follows.
    let closed = h.call(|c, svc, io, now| c.ready(svc, io, Readiness { read_closed: true }, now));
    assert_eq!(closed, Next::Close);
    assert!(h.socket.output.is_empty());
}

#[test]
fn a_client_that_stops_reading_is_closed_after_the_send_timeout_and_logged_cut_short() {
    let mut h = Harness::new();
    h.socket.room = Some(0);
    h.socket.feed(get("/big.bin", "").as_bytes());
    assert_eq!(h.ready(), h.after(h.config().send_timeout));
    assert_eq!(h.timeout(), Next::Close);
    h.close(CloseReason::Done);
    let s = h.svc.ctx().metrics.snapshot().total;
    assert_eq!(s.statuses.get(&200), Some(&1), "counted once, cut short");
    assert_eq!(s.bytes_sent, 0);
}

#[test]
fn sigint_mid_response_lets_it_finish_then_closes() {
    let mut h = Harness::new();
    h.socket.room = Some(10_000);
    h.socket.feed(get("/big.bin", "").as_bytes());
    assert_eq!(h.ready(), h.after(h.config().send_timeout));
    assert_eq!(h.drain(), h.after(h.config().send_timeout), "still blocked");
    h.socket.room = None;
    assert_eq!(h.ready(), Next::Close);
    let responses = h.responses(&[]);
    assert_eq!(responses.len(), 1);
    assert_eq!(responses[0].2.len(), BIG, "the whole body");
}

#[test]
fn sigint_answers_pipelined_requests_with_connection_close() {
    let mut h = Harness::new();
    h.drain();
    h.socket
        .feed((get("/hello.txt", "") + &get("/hello.txt", "")).as_bytes());
    h.ready();
    let responses = h.responses(&[]);
    assert_eq!(responses.len(), 1, "the first, then close");
    assert!(responses[0].1.contains("Connection: close"));
}

#[test]
fn a_pipelining_flood_yields_its_turn() {
    let mut h = Harness::new();
    let flood: String = (0..20).map(|_| get("/hello.txt", "")).collect();
    h.socket.feed(flood.as_bytes());
    assert_eq!(h.ready(), Next::Yield);
    assert_eq!(h.statuses().len(), 16);
    assert_eq!(h.ready(), h.after(h.config().idle_timeout));
    assert_eq!(h.statuses().len(), 20);
}

#[test]
fn plain_http_on_the_tls_port_gets_400_naming_https() {
    let mut h = Harness::new();
    let first = get("/", "");
    h.conn = Some(Conn::new(
        Mode::HttpsOnly { https_port: 8443 },
        Peer::default(),
        first.as_bytes(),
        h.now,
    ));
    assert_eq!(h.ready(), h.after(LINGER_TIMEOUT));
    let responses = h.responses(&[]);
    assert_eq!(responses[0].0, 400);
    assert!(String::from_utf8_lossy(&responses[0].2).contains("https://HOST:8443/"));
    assert!(h.socket.shut);
}

#[test]
fn the_metrics_are_for_loopback_clients_unless_made_public() {
    let from = |ip: &str, flags: &[&str]| {
        let mut h = Harness::with_flags(flags);
        h.socket.peer = Some(ip.parse().unwrap());
        h.socket.feed(get("/-/metrics", "").as_bytes());
        h.ready();
        h.statuses()
    };
    assert_eq!(from("127.0.0.1", &[]), [200]);
    assert_eq!(from("::1", &[]), [200]);
    assert_eq!(from("::ffff:127.0.0.1", &[]), [200]);
    // To another host the path is like any other: there is no such file.
    assert_eq!(from("192.0.2.7", &[]), [404]);
    assert_eq!(from("2001:db8::1", &[]), [404]);
    assert_eq!(from("192.0.2.7", &["--metrics-public"]), [200]);
    // Health says nothing private: anyone may ask.
    let mut h = Harness::new();
    h.socket.peer = Some("192.0.2.7".parse().unwrap());
    h.socket.feed(get("/-/healthz", "").as_bytes());
    h.ready();
    assert_eq!(h.statuses(), [200]);
}
