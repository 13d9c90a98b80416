//! HTTPS: curl, wget and a rustls client fetch over TLS with a CA made at test time (no private
//! key is committed); old protocol versions, plain HTTP, a trickled or garbage handshake are
//! refused without hurting the worker; the redirect listener, HSTS, the self-signed
//! certificate and SIGHUP reloads.

use std::fs;
use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use crate::support::{IO_TIMEOUT, Response, Site, TestServer, read_response, run_ok};

/// A test CA and the certificate files it signed, in a directory of their own.
pub struct Pki {
    dir: tempfile::TempDir,
    ca_key: rcgen::KeyPair,
    ca_params: rcgen::CertificateParams,
    /// The CA certificate, DER.
    pub ca_der: CertificateDer<'static>,
}

impl Pki {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "http-server test CA");
        let ca = ca_params.self_signed(&ca_key).unwrap();
        fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
        Self {
            ca_der: ca.der().clone(),
            dir,
            ca_key,
            ca_params,
        }
    }

    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// Issues an ECDSA P-256 certificate for localhost and 127.0.0.1 into `NAME.crt` and
    /// `NAME.key`; returns their paths and the certificate's DER.
    pub fn issue(&self, name: &str) -> (PathBuf, PathBuf, Vec<u8>) {
        let key = rcgen::KeyPair::generate().unwrap();
        let params =
            rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .unwrap();
        let issuer = rcgen::Issuer::from_params(&self.ca_params, &self.ca_key);
        let cert = params.signed_by(&key, &issuer).unwrap();
        let (crt, pem) = (
            self.dir.path().join(format!("{name}.crt")),
            self.dir.path().join(format!("{name}.key")),
        );
        fs::write(&crt, cert.pem()).unwrap();
        fs::write(&pem, key.serialize_pem()).unwrap();
        (crt, pem, cert.der().to_vec())
    }

    /// A rustls client trusting this CA, offering `http/1.1` unless `alpn` says otherwise.
    pub fn client(&self, versions: &[&'static rustls::SupportedProtocolVersion]) -> ClientConfig {
        let mut roots = RootCertStore::empty();
        roots.add(self.ca_der.clone()).unwrap();
        let mut config =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_protocol_versions(versions)
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        config
    }
}

type Tls = StreamOwned<ClientConnection, TcpStream>;

fn connect(server: &TestServer, config: ClientConfig) -> Tls {
    let tcp = server.connect();
    let conn = ClientConnection::new(Arc::new(config), ServerName::try_from("localhost").unwrap())
        .unwrap();
    StreamOwned::new(conn, tcp)
}

fn get(stream: &mut BufReader<Tls>, path: &str) -> Response {
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
    stream.get_mut().write_all(request.as_bytes()).unwrap();
    read_response(stream, false).expect("a response over TLS")
}

fn serve(pki: &Pki, site: &Site, extra: &[&str]) -> TestServer {
    let (crt, key, _) = pki.issue("server");
    let mut args = vec![
        "--tls-cert",
        crt.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let args: Vec<String> = args.into_iter().map(str::to_owned).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    TestServer::start(&site.root(), &args)
}

fn metrics(pki: &Pki, server: &TestServer) -> String {
    let mut s = BufReader::new(connect(server, pki.client(rustls::ALL_VERSIONS)));
    String::from_utf8(get(&mut s, "/-/metrics").body).unwrap()
}

fn sha256_hex(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    let hex: Vec<String> = digest.as_ref().iter().map(|b| format!("{b:02X}")).collect();
    hex.join(":")
}

#[test]
fn curl_and_wget_fetch_exact_bytes_over_https_with_hsts() {
    let (pki, site) = (Pki::new(), Site::new());
    let big = site.write_big("big.bin", 3 * 1024 * 1024 + 7);
    let server = serve(&pki, &site, &["--hsts", "31536000"]);
    assert_eq!(server.scheme, "https");
    let out = run_ok(
        Command::new("curl")
            .args([
                "-sS",
                "--fail",
                "--max-time",
                "20",
                "--http1.1",
                "-D",
                "-",
                "--cacert",
            ])
            .arg(pki.ca_file())
            .arg(server.url("/test.html")),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Strict-Transport-Security: max-age=31536000\r\n"),
        "{text}"
    );
    assert!(text.ends_with("\r\n\r\n<h1>test</h1>\n"), "{text}");
    let dest = site.outside().join("curl-big.bin");
    run_ok(
        Command::new("curl")
            .args(["-sS", "--fail", "--max-time", "20", "--cacert"])
            .arg(pki.ca_file())
            .arg("-o")
            .arg(&dest)
            .arg(server.url("/big.bin")),
    );
    assert!(fs::read(&dest).unwrap() == big, "curl download differs");
    let wget_dir = site.outside().join("wget");
    run_ok(
        Command::new("wget")
            .args(["-q", "--tries=1", "--timeout=20", "--ca-certificate"])
            .arg(pki.ca_file())
            .arg("-P")
            .arg(&wget_dir)
            .arg(server.url("/big.bin")),
    );
    assert!(
        fs::read(wget_dir.join("big.bin")).unwrap() == big,
        "wget download differs"
    );
    assert!(server.wait_for_log("\"GET /big.bin HTTP/1.1\" 200 3145735"));
    assert!(
        server
            .stdout_lines()
            .iter()
            .filter(|l| l.contains("GET /"))
            .all(|l| l.ends_with(" TLSv1.3")),
        "{:?}",
        server.stdout_lines()
    );
}

#[test]
fn tls_1_2_and_1_3_negotiate_http_1_1_and_keep_the_connection_alive() {
    let (pki, site) = (Pki::new(), Site::new());
    let server = serve(&pki, &site, &[]);
    for (versions, name) in [
        (
            &[&rustls::version::TLS12][..],
            rustls::ProtocolVersion::TLSv1_2,
        ),
        (
            &[&rustls::version::TLS13][..],
            rustls::ProtocolVersion::TLSv1_3,
        ),
    ] {
        let mut s = BufReader::new(connect(&server, pki.client(versions)));
        assert_eq!(get(&mut s, "/test.html").body, b"<h1>test</h1>\n");
        let conn = &s.get_ref().conn;
        assert_eq!(conn.protocol_version(), Some(name));
        assert_eq!(conn.alpn_protocol(), Some(&b"http/1.1"[..]));
        // Two pipelined requests on the same connection.
        s.get_mut()
            .write_all(b"GET /style.css HTTP/1.1\r\nHost: l\r\n\r\nGET /test.html HTTP/1.1\r\nHost: l\r\n\r\n")
            .unwrap();
        assert_eq!(read_response(&mut s, false).unwrap().status, 200);
        assert_eq!(
            read_response(&mut s, false).unwrap().body,
            b"<h1>test</h1>\n"
        );
    }
    let m = metrics(&pki, &server);
    assert!(
        m.contains("http_server_tls_handshakes_total{version=\"1.2\"} 1\n"),
        "{m}"
    );
    assert!(
        m.contains("http_server_tls_alpn_total{protocol=\"http/1.1\"} 3\n"),
        "{m}"
    );
    assert!(
        m.contains("http_server_tls_alpn_total{protocol=\"h2\"} 0\n"),
        "{m}"
    );
}

#[test]
fn a_client_offering_only_other_alpn_protocols_is_refused() {
    let (pki, site) = (Pki::new(), Site::new());
    let server = serve(&pki, &site, &[]);
    let mut config = pki.client(rustls::ALL_VERSIONS);
    config.alpn_protocols = vec![b"spdy/3.1".to_vec(), b"h3".to_vec()];
    let mut s = connect(&server, config);
    let err = s
        .write_all(b"GET / HTTP/1.1\r\nHost: l\r\n\r\n")
        .and_then(|()| s.flush());
    let mut buf = [0u8; 16];
    let read = s.read(&mut buf);
    assert!(err.is_err() || read.is_err(), "{err:?} {read:?}");
    assert!(metrics(&pki, &server).contains("reason=\"no_alpn\"} 1\n"));
}

#[test]
fn openssl_refuses_tls_1_1_and_accepts_1_2_with_an_rsa_key() {
    let site = Site::new();
    let dir = tempfile::tempdir().unwrap();
    let (crt, key) = (dir.path().join("rsa.crt"), dir.path().join("rsa.key"));
    run_ok(
        Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=localhost",
                "-keyout",
            ])
            .arg(&key)
            .arg("-out")
            .arg(&crt),
    );
    let server = TestServer::start(
        &site.root(),
        &[
            "--tls-cert",
            crt.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    let s_client = |version: &str| {
        let mut child = Command::new("openssl")
            // -ign_eof: read until the server closes, not until stdin ends.
            .args(["s_client", "-ign_eof", version, "-connect"])
            .arg(server.addr.to_string())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("openssl runs");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"GET /test.html HTTP/1.1\r\nHost: l\r\nConnection: close\r\n\r\n")
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (ok, out) = s_client("-tls1_1");
    assert!(!ok && !out.contains("<h1>test</h1>"), "{out}");
    let (ok, out) = s_client("-tls1_2");
    assert!(ok && out.contains("<h1>test</h1>"), "{out}");
    assert!(out.contains("ECDHE-RSA-"), "{out}");
}

#[test]
fn plain_http_on_the_tls_port_gets_400_naming_https_and_is_closed() {
    let (pki, site) = (Pki::new(), Site::new());
    let server = serve(&pki, &site, &[]);
    let started = Instant::now();
    let out = server.raw(b"GET /test.html HTTP/1.1\r\nHost: t\r\n\r\n");
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{text}");
    assert!(text.contains("Connection: close\r\n"), "{text}");
    assert!(text.contains("this port speaks HTTPS"), "{text}");
    assert!(!text.contains("<h1>test</h1>"), "{text}");
    assert!(started.elapsed() < Duration::from_secs(5));
    // To a HEAD, the same head without its body.
    let out = server.raw(b"HEAD /test.html HTTP/1.1\r\nHost: t\r\n\r\n");
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{text}");
    assert!(
        text.ends_with("\r\n\r\n"),
        "content after the head: {text:?}"
    );
    assert!(metrics(&pki, &server).contains("reason=\"plain_http\"} 2\n"));
}

#[test]
fn a_trickled_handshake_is_closed_at_the_header_timeout() {
    let (pki, site) = (Pki::new(), Site::new());
    let server = serve(
        &pki,
        &site,
        &["--header-timeout", "1s", "--idle-timeout", "30s"],
    );
    let mut s = server.connect();
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let started = Instant::now();
    // A TLS record header announcing a long ClientHello, then a byte every 200 ms.
    s.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00]).unwrap();
    let mut closed = false;
    while started.elapsed() < Duration::from_secs(5) {
        let mut buf = [0u8; 64];
        match s.read(&mut buf) {
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            _ => {
                closed = true;
                break;
            }
        }
        if s.write_all(&[0x01]).is_err() {
            closed = true;
            break;
        }
    }
    let took = started.elapsed();
    assert!(closed, "still open after {took:?}");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(4),
        "{took:?}"
    );
    assert!(metrics(&pki, &server).contains("reason=\"timeout\"} 1\n"));
}

#[test]
fn random_bytes_as_a_client_hello_never_hang_or_crash_a_worker() {
    let (pki, site) = (Pki::new(), Site::new());
    let server = serve(&pki, &site, &["--threads", "1", "--header-timeout", "2s"]);
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for i in 0..200 {
        let len = (next() % 600) as usize + 1;
        let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        // Half look like a handshake record, so they get past the first byte into rustls.
        if i % 2 == 0 {
            bytes[0] = 0x16;
            if len > 2 {
                bytes[1] = 0x03;
            }
        }
        let mut s = server.connect();
        s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        let _ = s.write_all(&bytes);
        let _ = s.shutdown(std::net::Shutdown::Write);
        let mut sink = Vec::new();
        let started = Instant::now();
        let _ = s.read_to_end(&mut sink);
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "input {i} held the connection open"
        );
    }
    // The one worker still serves.
    let mut s = BufReader::new(connect(&server, pki.client(rustls::ALL_VERSIONS)));
    assert_eq!(get(&mut s, "/test.html").status, 200);
    assert!(!server.stderr().contains("panicked"), "{}", server.stderr());
}

#[test]
fn a_tls_client_refused_at_the_connection_limit_gets_a_503_it_can_read() {
    let (pki, site) = (Pki::new(), Site::new());
    let server = serve(&pki, &site, &["--threads", "1", "--max-connections", "1"]);
    // Takes the only slot (a connection counts from its accept, handshake or not; the socket
    // defers accepting until a first byte, here that of a handshake record, arrives).
    let mut held = server.connect();
    held.write_all(&[0x16]).unwrap();
    let mut s = BufReader::new(connect(&server, pki.client(rustls::ALL_VERSIONS)));
    let r = get(&mut s, "/test.html");
    assert_eq!(r.status, 503);
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(r.header("connection"), Some("close"));
    // curl too reads it, where a plaintext 503 made it say "wrong version number".
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "20", "-w", "%{http_code}"])
        .args(["-o", "/dev/null"])
        .arg("--cacert")
        .arg(pki.ca_file())
        .arg(format!(
            "https://localhost:{}/test.html",
            server.addr.port()
        ))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "503",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(held);
}

#[test]
fn the_redirect_listener_answers_308_to_the_https_url() {
    let (pki, site) = (Pki::new(), Site::new());
    let server = serve(&pki, &site, &["--redirect-http", "0"]);
    assert!(server.wait_for_log("redirecting http://"));
    let line = server
        .stdout_lines()
        .into_iter()
        .find(|l| l.starts_with("redirecting http://"))
        .expect("a redirect line");
    let addr: std::net::SocketAddr = line
        .trim_start_matches("redirecting http://")
        .trim_end_matches(" to https")
        .parse()
        .unwrap();
    // Without a Host there is nowhere to send the client: 400, and to a HEAD no body.
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.write_all(b"HEAD / HTTP/1.0\r\n\r\n").unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{text}");
    assert!(
        text.ends_with("\r\n\r\n"),
        "content after the head: {text:?}"
    );
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.write_all(b"GET /docs/a%20b?x=1 HTTP/1.1\r\nHost: example.test:8080\r\n\r\n")
        .unwrap();
    let r = read_response(&mut BufReader::new(s), false).unwrap();
    assert_eq!(r.status, 308);
    assert_eq!(
        r.header("location"),
        Some(format!("https://example.test:{}/docs/a%20b?x=1", server.addr.port()).as_str())
    );
    // An absolute-form target's authority wins over Host (RFC 9112 §3.2.2), and what the query
    // holds that a URL may not is encoded.
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.write_all(b"GET http://right.test/a?<b>=\"c\" HTTP/1.1\r\nHost: wrong.test\r\n\r\n")
        .unwrap();
    let r = read_response(&mut BufReader::new(s), false).unwrap();
    assert_eq!(
        r.header("location"),
        Some(
            format!(
                "https://right.test:{}/a?%3Cb%3E=%22c%22",
                server.addr.port()
            )
            .as_str()
        )
    );
    // curl follows it to the file.
    let out = run_ok(
        Command::new("curl")
            .args(["-sS", "--fail", "-L", "--max-time", "20", "--cacert"])
            .arg(pki.ca_file())
            .arg(format!("http://localhost:{}/test.html", addr.port())),
    );
    assert_eq!(out.stdout, b"<h1>test</h1>\n");
}

#[test]
fn sighup_reloads_the_certificate_and_keeps_open_connections() {
    let (pki, site) = (Pki::new(), Site::new());
    let (crt, key, first_der) = pki.issue("server");
    let server = TestServer::start(
        &site.root(),
        &[
            "--tls-cert",
            crt.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    let peer = |s: &BufReader<Tls>| s.get_ref().conn.peer_certificates().unwrap()[0].to_vec();
    let mut old = BufReader::new(connect(&server, pki.client(rustls::ALL_VERSIONS)));
    assert_eq!(get(&mut old, "/test.html").status, 200);
    assert_eq!(peer(&old), first_der);

    // A bad pair is refused with one line; the old certificate still serves.
    fs::write(&key, "not a key").unwrap();
    server.signal(rustix::process::Signal::HUP);
    assert!(
        server.wait_for_stderr("kept the current TLS certificate"),
        "{}",
        server.stderr()
    );
    let mut s = BufReader::new(connect(&server, pki.client(rustls::ALL_VERSIONS)));
    assert_eq!(get(&mut s, "/test.html").status, 200);
    assert_eq!(peer(&s), first_der);

    // A good pair serves new connections; the open one goes on.
    let (crt2, key2, second_der) = pki.issue("next");
    fs::copy(crt2, &crt).unwrap();
    fs::copy(key2, &key).unwrap();
    server.signal(rustix::process::Signal::HUP);
    assert!(
        server.wait_for_stderr(&format!(
            "reloaded the TLS certificate (SHA-256 {})",
            sha256_hex(&second_der)
        )),
        "{}",
        server.stderr()
    );
    let mut s = BufReader::new(connect(&server, pki.client(rustls::ALL_VERSIONS)));
    assert_eq!(get(&mut s, "/test.html").status, 200);
    assert_eq!(peer(&s), second_der);
    assert_eq!(get(&mut old, "/style.css").status, 200);
}

#[test]
fn a_self_signed_certificate_serves_and_its_fingerprint_is_printed() {
    let site = Site::new();
    let server = TestServer::start(&site.root(), &["--tls-self-signed"]);
    assert!(
        server.wait_for_stderr("wget --no-check"),
        "{}",
        server.stderr()
    );
    // The commands printed work as they are, and check the key they name.
    let stderr = server.stderr();
    let command = |program: &str| -> Vec<String> {
        let line = stderr
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with(&format!("{program} ")))
            .unwrap_or_else(|| panic!("no {program} line: {stderr}"));
        line.split_whitespace().map(str::to_owned).collect()
    };
    let curl = command("curl");
    assert!(curl.iter().any(|a| a == "--pinnedpubkey"), "{curl:?}");
    let out = run_ok(
        Command::new("curl")
            .args(&curl[1..curl.len() - 1])
            .args(["-sS", "--fail", "--max-time", "20"])
            .arg(server.url("/test.html")),
    );
    assert!(out.stdout.starts_with(b"<h1>test</h1>\n"));
    let wget = command("wget");
    let out = run_ok(
        Command::new("wget")
            .args(&wget[1..wget.len() - 1])
            .args(["-q", "-O", "-", "--tries", "1", "--timeout", "20"])
            .arg(server.url("/test.html")),
    );
    assert!(out.stdout.starts_with(b"<h1>test</h1>\n"));
    // Another key's pin is refused: one base64 digit changed.
    let wrong: Vec<String> = wget[1..wget.len() - 1]
        .iter()
        .map(|a| match a.split_once("sha256//") {
            Some((flag, pin)) => {
                let other = if pin.starts_with('A') { 'B' } else { 'A' };
                format!("{flag}sha256//{other}{}", &pin[1..])
            }
            None => a.clone(),
        })
        .collect();
    let refused = Command::new("wget")
        .args(&wrong)
        .args(["-q", "-O", "-", "--tries", "1", "--timeout", "20"])
        .arg(server.url("/test.html"))
        .output()
        .unwrap();
    assert!(!refused.status.success(), "{refused:?}");
    // The certificate the server presents is the one whose fingerprint it printed.
    let mut tcp = server.connect();
    let verifier = Arc::new(AcceptAny);
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
    let mut conn =
        ClientConnection::new(Arc::new(config), ServerName::try_from("localhost").unwrap())
            .unwrap();
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp).unwrap();
    }
    let der = conn.peer_certificates().unwrap()[0].to_vec();
    assert!(
        server.wait_for_stderr(&sha256_hex(&der)),
        "{}",
        server.stderr()
    );
}

/// Accepts any certificate: only for looking at the one a self-signed server presents.
#[derive(Debug)]
struct AcceptAny;

impl rustls::client::danger::ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        rustls::crypto::ring::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}
