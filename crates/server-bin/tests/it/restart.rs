//! Inherited listening sockets (systemd socket activation, `--listen-fd`), restarting without
//! losing a request, and the health endpoint a balancer watches.

use std::io::{BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use rustix::process::Signal;

use crate::support::{IO_TIMEOUT, Site, TestServer, listening_sockets, read_response, wait_until};

/// A listening socket the test owns, as systemd would, and can hand to servers.
///
/// It sits at descriptor 10 or above, where a test process with other tests running beside it
/// finds its sockets: CI once failed because `sh` (dash) takes only one-digit descriptors in a
/// redirection.
fn supervisor_socket() -> TcpListener {
    let bound = TcpListener::bind("127.0.0.1:0").unwrap();
    let high = rustix::io::fcntl_dupfd_cloexec(&bound, 10).unwrap();
    let listener = TcpListener::from(high);
    assert!(listener.as_raw_fd() >= 10);
    // The child must inherit it: std opens everything close-on-exec.
    rustix::io::fcntl_setfd(&listener, rustix::io::FdFlags::empty()).unwrap();
    listener
}

/// `sh` moves the socket, handed to it as standard input, to descriptor 3 and sets LISTEN_PID to
/// its own PID, which `exec` hands to the server: what systemd does, without any unsafe pre-exec
/// hook in the test, whatever descriptor number the socket has in the test process.
const SYSTEMD_WRAPPER: [&str; 3] = [
    "sh",
    "-c",
    "exec 3<&0 0</dev/null; export LISTEN_PID=$$ LISTEN_FDS=1; exec \"$0\" \"$@\"",
];

fn start_activated(site: &Site, listener: &TcpListener, args: &[&str]) -> TestServer {
    let socket = listener.try_clone().unwrap();
    TestServer::start_wrapped_with_stdin(
        &SYSTEMD_WRAPPER,
        &site.root(),
        args,
        Stdio::from(OwnedFd::from(socket)),
    )
}

#[test]
fn serves_on_a_socket_inherited_from_systemd() {
    let site = Site::new();
    let listener = supervisor_socket();
    let server = start_activated(&site, &listener, &[]);
    assert_eq!(
        server.addr,
        listener.local_addr().unwrap(),
        "--port 0 is ignored"
    );
    assert_eq!(server.get("/test.html", "").status, 200);
    assert!(
        server.wait_for_stderr("sockets from systemd"),
        "{}",
        server.stderr()
    );
}

#[test]
fn serves_on_a_socket_passed_with_listen_fd() {
    let site = Site::new();
    let listener = supervisor_socket();
    let fd = listener.as_raw_fd().to_string();
    let server = TestServer::start(&site.root(), &["--listen-fd", &fd]);
    assert_eq!(server.addr, listener.local_addr().unwrap());
    assert_eq!(server.get("/test.html", "").status, 200);
}

#[test]
fn the_workers_share_an_inherited_socket_and_bind_none_beside_it() {
    // Sockets of the server's own on the port would drop what waits in them at a restart.
    let site = Site::new();
    let listener = supervisor_socket();
    let fd = listener.as_raw_fd().to_string();
    let server = TestServer::start(&site.root(), &["--listen-fd", &fd, "--threads", "3"]);
    for _ in 0..10 {
        assert_eq!(server.get("/test.html", "").status, 200);
    }
    assert_eq!(listening_sockets(server.addr.port()), 1);
}

#[test]
fn a_descriptor_that_is_no_listening_socket_is_refused() {
    let site = Site::new();
    let out = Command::new(env!("CARGO_BIN_EXE_http-server"))
        .args(["--listen-fd", "0"])
        .arg(site.root())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("cannot use inherited socket (descriptor 0): not a listening TCP socket"),
        "{stderr}"
    );
}

#[test]
fn a_restart_on_an_inherited_socket_loses_no_request() {
    let site = Site::new();
    let listener = supervisor_socket();
    let addr = listener.local_addr().unwrap();
    let mut old = start_activated(&site, &listener, &[]);

    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let client = {
        let (stop, ok, failed) = (Arc::clone(&stop), Arc::clone(&ok), Arc::clone(&failed));
        thread::spawn(move || {
            // Bounded: at most 20,000 requests or until told to stop.
            for _ in 0..20_000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let result = TcpStream::connect(addr).and_then(|mut conn| {
                    conn.set_read_timeout(Some(IO_TIMEOUT))?;
                    conn.write_all(
                        b"GET /test.html HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
                    )?;
                    let mut raw = Vec::new();
                    conn.read_to_end(&mut raw)?;
                    Ok(raw)
                });
                let good = result
                    .ok()
                    .and_then(|raw| read_response(&mut &raw[..], false))
                    .is_some_and(|r| r.status == 200 && r.body == b"<h1>test</h1>\n");
                let counter = if good { &ok } else { &failed };
                counter.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    // A hundred requests before the restart and after it (at most 10 s each way): waited
    // for, not slept on, as on a busy machine the client may need more than a moment.
    let served = |more_than: usize| {
        wait_until(Duration::from_secs(10), || {
            ok.load(Ordering::Relaxed) > more_than
        });
        ok.load(Ordering::Relaxed)
    };
    let before = served(100);
    old.signal(Signal::TERM);
    let new = start_activated(&site, &listener, &[]);
    assert_eq!(
        old.wait_exit(Duration::from_secs(15)).code(),
        Some(0),
        "the old process drains and exits 0"
    );
    served(before + 100);
    stop.store(true, Ordering::Relaxed);
    client.join().unwrap();

    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    assert_eq!(failed, 0, "{failed} failed requests out of {}", ok + failed);
    assert!(
        before > 0 && ok > before,
        "requests before ({before}) and after the restart ({ok})"
    );
    assert!(
        new.wait_for_log("GET /test.html"),
        "the new process served requests"
    );
}

#[test]
fn health_is_ok_while_serving_and_503_once_draining() {
    let site = Site::new();
    site.write_big("big.bin", 8 * 1024 * 1024);
    let server = TestServer::start(&site.root(), &[]);
    let ok = server.get("/-/healthz", "");
    assert_eq!((ok.status, ok.body.as_slice()), (200, &b"ok\n"[..]));
    assert_eq!(ok.header("cache-control"), Some("no-store"));

    // A connection busy with a download when the drain begins, with a health check queued
    // behind it: the check is answered 503 and the connection closed.
    let mut reader = BufReader::with_capacity(64 * 1024, server.connect());
    reader
        .get_mut()
        .write_all(
            b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\nGET /-/healthz HTTP/1.1\r\nHost: t\r\n\r\n",
        )
        .unwrap();
    let mut first = vec![0u8; 1024];
    reader.read_exact(&mut first).unwrap();
    server.signal(Signal::TERM);
    assert!(
        server.wait_for_stderr("SIGTERM: finishing in-flight responses"),
        "{}",
        server.stderr()
    );
    // The signal is taken; the main thread starts the drain a moment later.
    thread::sleep(Duration::from_millis(200));
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest).unwrap();
    let body_end = rest.len()
        - rest
            .windows(9)
            .rev()
            .position(|w| w == b"HTTP/1.1 ")
            .unwrap()
        - 9;
    let health = read_response(&mut &rest[body_end..], false).unwrap();
    assert_eq!(health.status, 503);
    assert_eq!(health.header("connection"), Some("close"));
    assert_eq!(health.header("retry-after"), Some("1"));
    let started = Instant::now();
    drop(server);
    assert!(started.elapsed() < IO_TIMEOUT);
}

#[test]
fn the_health_path_can_be_moved_or_disabled() {
    let site = Site::new();
    let moved = TestServer::start(&site.root(), &["--health-path", "/ready"]);
    assert_eq!(moved.get("/ready", "").status, 200);
    assert_eq!(moved.get("/-/healthz", "").status, 404);
    drop(moved);
    let off = TestServer::start(&site.root(), &["--health-path", ""]);
    assert_eq!(off.get("/-/healthz", "").status, 404);
}
