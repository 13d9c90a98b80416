//! What the server says at start, and who can reach it: `::` takes IPv4 clients too, every
//! worker accepts on a socket of its own, and a connection is accepted once it has said
//! something.

use std::net::{SocketAddr, TcpStream};
use std::process::Command;

use crate::support::{IO_TIMEOUT, Site, TestServer, listening_sockets, read_response};

/// `GET /test.html` on a new connection to `addr`.
fn get_from(addr: SocketAddr) -> u16 {
    use std::io::{BufReader, Write};
    let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT)
        .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut reader = BufReader::new(stream);
    reader
        .get_mut()
        .write_all(b"GET /test.html HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    read_response(&mut reader, false).unwrap().status
}

#[test]
fn binding_the_ipv6_wildcard_accepts_ipv4_clients_too_and_says_so() {
    let site = Site::new();
    let server = TestServer::start(&site.root(), &["--bind", "::"]);
    let port = server.addr.port();
    assert_eq!(
        server.addr.ip().to_string(),
        "::",
        "the first line is unchanged"
    );
    assert_eq!(get_from(SocketAddr::from(([127, 0, 0, 1], port))), 200);
    assert_eq!(get_from(format!("[::1]:{port}").parse().unwrap()), 200);
    assert!(
        server.wait_for_stderr("(every interface, IPv6 and IPv4)"),
        "{}",
        server.stderr()
    );
    // Loopback first, one URL a line.
    assert!(
        server.wait_for_stderr(&format!("  open      http://127.0.0.1:{port}/\n")),
        "{}",
        server.stderr()
    );
    // Each worker hands its log lines over on its own, so wait for the IPv4 client's line
    // itself, not for whichever line comes first.
    assert!(
        server.wait_for_log("127.0.0.1 - - ["),
        "an IPv4 client is logged as such, not as ::ffff:127.0.0.1: {:?}",
        server.stdout_lines()
    );
    assert!(
        !server
            .stdout_lines()
            .iter()
            .any(|l| l.starts_with("::ffff:")),
        "{:?}",
        server.stdout_lines()
    );
}

#[test]
fn a_qr_code_needs_an_address_other_devices_can_open() {
    let site = Site::new();
    let server = TestServer::start(&site.root(), &["--qr"]);
    assert!(
        server.wait_for_stderr("no address that another device can open"),
        "{}",
        server.stderr()
    );
    assert!(!server.stderr().contains('█'));
}

/// In a network namespace of its own, where `net.ipv6.bindv6only` is 1 (as some systems have
/// it by default), a server on `::` must still answer IPv4. Creating the namespace needs root;
/// elsewhere the test says so and passes.
#[test]
fn binding_the_ipv6_wildcard_is_dual_stack_even_where_the_system_default_is_ipv6_only() {
    let site = Site::new();
    // A fresh namespace has only its own loopback, so a fixed port cannot collide.
    let script = r#"
        ip link set lo up && sysctl -qw net.ipv6.bindv6only=1 || exit 3
        "$0" --bind :: --port 8080 --access-log off "$1" > /dev/null 2>&1 &
        pid=$!
        for _ in $(seq 100); do curl -s -o /dev/null "http://[::1]:8080/" && break; sleep 0.05; done
        ipv4=$(curl -s -m 5 -o /dev/null -w '%{http_code}' http://127.0.0.1:8080/test.html)
        kill -TERM "$pid"; wait "$pid"
        echo "ipv4 $ipv4"
    "#;
    let out = Command::new("timeout")
        .args(["30", "unshare", "--net", "sh", "-c", script])
        .arg(env!("CARGO_BIN_EXE_http-server"))
        .arg(site.root())
        .output()
        .unwrap();
    if !out.status.success() && out.stdout.is_empty() {
        eprintln!(
            "skipped: no network namespace with bindv6only=1 here (needs root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ipv4 200\n");
}

#[test]
fn each_worker_accepts_from_a_socket_of_its_own_on_the_port() {
    let site = Site::new();
    let server = TestServer::start(&site.root(), &["--threads", "3"]);
    // An answer means the workers run, and their sockets are bound before any starts.
    assert_eq!(get_from(server.addr), 200);
    assert_eq!(listening_sockets(server.addr.port()), 3);
    // The kernel spreads new connections over the three: each is answered, so every socket has
    // a worker polling it.
    for _ in 0..30 {
        assert_eq!(get_from(server.addr), 200);
    }
}

/// Binds a listening socket with `SO_REUSEPORT` on 127.0.0.1:`port`, as another program of the
/// same user could, to see whether it joins the port.
fn join_with_reuseport(port: u16) -> rustix::io::Result<rustix::fd::OwnedFd> {
    use rustix::net::{AddressFamily, SocketType, bind, listen, socket, sockopt};
    let socket = socket(AddressFamily::INET, SocketType::STREAM, None)?;
    sockopt::set_socket_reuseaddr(&socket, true)?;
    sockopt::set_socket_reuseport(&socket, true)?;
    bind(&socket, &SocketAddr::from(([127, 0, 0, 1], port)))?;
    listen(&socket, 16)?;
    Ok(socket)
}

#[test]
fn with_no_reuseport_the_workers_share_one_socket_that_no_other_program_can_join() {
    let site = Site::new();
    // By default, the port is open to a program of the same user that asks for SO_REUSEPORT
    // (as with nginx's reuseport): that is what the option is for.
    let server = TestServer::start(&site.root(), &["--threads", "2"]);
    let joined = join_with_reuseport(server.addr.port());
    assert!(joined.is_ok(), "{joined:?}");
    drop((joined, server));

    let server = TestServer::start(&site.root(), &["--threads", "2", "--no-reuseport"]);
    assert_eq!(get_from(server.addr), 200);
    assert_eq!(
        join_with_reuseport(server.addr.port()).err(),
        Some(rustix::io::Errno::ADDRINUSE)
    );
    assert_eq!(listening_sockets(server.addr.port()), 1);
    assert!(server.wait_for_stderr("one socket shared (--no-reuseport)"));
    // The workers keep answering from the one socket.
    for _ in 0..20 {
        assert_eq!(get_from(server.addr), 200);
    }
}

#[test]
fn the_startup_block_says_which_http_versions_are_spoken() {
    let site = Site::new();
    let server = TestServer::start(&site.root(), &[]);
    let line =
        "  http      HTTP/1.1 and HTTP/2 (h2c with prior knowledge; browsers use it over TLS)\n";
    assert!(server.wait_for_stderr(line), "{}", server.stderr());
    let tls = TestServer::start(&site.root(), &["--tls-self-signed"]);
    let line = "  http      HTTP/2 (ALPN h2) and HTTP/1.1\n";
    assert!(tls.wait_for_stderr(line), "{}", tls.stderr());
    let off = TestServer::start(&site.root(), &["--no-http2"]);
    let line = "  http      HTTP/1.1 (HTTP/2 off: --no-http2)\n";
    assert!(off.wait_for_stderr(line), "{}", off.stderr());
}

#[test]
fn the_startup_block_says_where_the_metrics_are_and_who_gets_them() {
    let site = Site::new();
    let server = TestServer::start(&site.root(), &[]);
    assert!(
        server.wait_for_stderr(
            "  admin     metrics /-/metrics (to this machine only; --metrics-public for others), health /-/healthz\n"
        ),
        "{}",
        server.stderr()
    );
    let public = TestServer::start(&site.root(), &["--metrics-public", "--health-path", ""]);
    assert!(
        public.wait_for_stderr(
            "  admin     metrics /-/metrics (to any client: --metrics-public), health off\n"
        ),
        "{}",
        public.stderr()
    );
}

#[test]
fn a_connection_that_has_sent_nothing_takes_no_slot_until_a_second_has_passed() {
    use std::io::{BufReader, Write};
    use std::time::{Duration, Instant};
    let site = Site::new();
    let server = TestServer::start(&site.root(), &["--threads", "2", "--max-connections", "1"]);
    assert!(
        server.wait_for_stderr("after 1s of silence (TCP_DEFER_ACCEPT)"),
        "{}",
        server.stderr()
    );
    // Silent: the kernel has completed the handshake but keeps it from the workers, so the
    // one slot is free for a client that asks (without deferring, this is a 503).
    let silent = server.connect();
    let start = Instant::now();
    assert_eq!(get_from(server.addr), 200);
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "deferred for long"
    );
    // Once it speaks (or its second has passed), it is accepted and answered as any other.
    let mut reader = BufReader::new(silent);
    reader
        .get_mut()
        .write_all(b"GET /test.html HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut reader, false).unwrap().status, 200);
}
