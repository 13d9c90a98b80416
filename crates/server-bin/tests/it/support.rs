//! The test harness: a real `http-server` process on an ephemeral port, a fixture document
//! root, and raw-socket helpers that parse responses strictly.
#![allow(
    clippy::unwrap_in_result,
    reason = "a response that breaks the protocol must fail the test at the line that saw it"
)]

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

/// Socket timeouts: long enough for a loaded CI machine, short enough that a hang fails fast.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// A running server. Killed (and reaped) on drop if still running.
pub struct TestServer {
    child: Child,
    /// The threads copying stdout and stderr; they end at EOF, when the process exits.
    readers: Vec<thread::JoinHandle<()>>,
    /// The address from the `listening on` line.
    pub addr: SocketAddr,
    /// The scheme from that line: `http`, or `https` when the server speaks TLS.
    pub scheme: &'static str,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<String>>,
    /// For [`TestServer::start_with_unread_stdout`]: the pipe, held open and never read.
    _unread_stdout: Option<BufReader<ChildStdout>>,
}

impl TestServer {
    /// Starts the binary on `127.0.0.1:0` serving `root`, with `args` added.
    pub fn start(root: &Path, args: &[&str]) -> Self {
        Self::start_wrapped(&[], root, args)
    }

    /// As [`TestServer::start`], with `env` added to the environment.
    pub fn start_with_env(root: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        Self::spawn(&[], root, args, env, true, Stdio::null())
    }

    /// As [`TestServer::start`], but run through `wrapper` (such as `prlimit --nofile=…`).
    pub fn start_wrapped(wrapper: &[&str], root: &Path, args: &[&str]) -> Self {
        Self::spawn(wrapper, root, args, &[], true, Stdio::null())
    }

    /// As [`TestServer::start_wrapped`], with `stdin` as the wrapper's standard input.
    pub fn start_wrapped_with_stdin(
        wrapper: &[&str],
        root: &Path,
        args: &[&str],
        stdin: Stdio,
    ) -> Self {
        Self::spawn(wrapper, root, args, &[], true, stdin)
    }

    /// As [`TestServer::start`], but stdout is read only up to the `listening on` line and then
    /// held open unread, as by a consumer that has stalled: once the pipe is full, every write
    /// to it blocks.
    pub fn start_with_unread_stdout(root: &Path, args: &[&str]) -> Self {
        Self::spawn(&[], root, args, &[], false, Stdio::null())
    }

    fn spawn(
        wrapper: &[&str],
        root: &Path,
        args: &[&str],
        env: &[(&str, &str)],
        read_stdout: bool,
        stdin: Stdio,
    ) -> Self {
        let bin = env!("CARGO_BIN_EXE_http-server");
        let mut command = match wrapper.split_first() {
            Some((program, wrapper_args)) => {
                let mut c = Command::new(program);
                c.args(wrapper_args).arg(bin);
                c
            }
            None => Command::new(bin),
        };
        let mut child = command
            .arg("--port")
            .arg("0")
            .arg("--root")
            .arg(root)
            .args(args)
            .envs(env.iter().copied())
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the http-server binary starts");
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let lines = Arc::clone(&stdout);
        let stdout_reader = thread::spawn(move || {
            let mut line = String::new();
            while matches!(out.read_line(&mut line), Ok(n) if n > 0) {
                let text = line.strip_suffix('\n').unwrap_or(&line);
                let text = text.strip_suffix('\r').unwrap_or(text).to_owned();
                line.clear();
                let addr = [
                    ("http", "listening on http://"),
                    ("https", "listening on https://"),
                ]
                .into_iter()
                .find_map(|(scheme, prefix)| Some((scheme, text.strip_prefix(prefix)?)))
                .map(|(scheme, a)| (scheme, a.parse::<SocketAddr>().unwrap()));
                lines.lock().unwrap().push(text);
                if let Some(addr) = addr {
                    if !read_stdout {
                        let _ = port_tx.send((addr, Some(out)));
                        return;
                    }
                    let _ = port_tx.send((addr, None));
                }
            }
        });
        let mut err = child.stderr.take().unwrap();
        let errors = Arc::clone(&stderr);
        let stderr_reader = thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                errors
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let ((scheme, addr), unread_stdout) = match port_rx.recv_timeout(IO_TIMEOUT) {
            Ok(found) => found,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "server did not report its address; stderr: {}",
                    stderr.lock().unwrap()
                );
            }
        };
        Self {
            child,
            readers: vec![stdout_reader, stderr_reader],
            addr,
            scheme,
            stdout,
            stderr,
            _unread_stdout: unread_stdout,
        }
    }

    /// A memory figure of the server process from `/proc/PID/status` (`VmRSS`, `VmHWM`), in KiB.
    pub fn memory_kib(&self, field: &str) -> u64 {
        let status = fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let line = status
            .lines()
            .find(|l| {
                l.strip_prefix(field)
                    .is_some_and(|rest| rest.starts_with(':'))
            })
            .unwrap_or_else(|| panic!("{field} in {status}"));
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    /// `http://127.0.0.1:PORT` + `path` (`https://localhost:PORT` on TLS, the name the test
    /// certificates are made for).
    pub fn url(&self, path: &str) -> String {
        match self.scheme {
            "https" => format!("https://localhost:{}{path}", self.addr.port()),
            _ => format!("http://{}{path}", self.addr),
        }
    }

    /// A new client connection with timeouts set.
    pub fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(self.addr).expect("connect to the server");
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        stream
    }

    /// A keep-alive connection that has been served one `GET path` (asserted 200), left open:
    /// the way tests hold connections, idle or at the limit.
    pub fn held(&self, path: &str) -> BufReader<TcpStream> {
        let mut reader = BufReader::new(self.connect());
        let request = format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n");
        reader.get_mut().write_all(request.as_bytes()).unwrap();
        assert_eq!(read_response(&mut reader, false).unwrap().status, 200);
        reader
    }

    /// Sends `request` on a new connection and reads until the server closes it.
    pub fn raw(&self, request: &[u8]) -> Vec<u8> {
        let mut stream = self.connect();
        stream.write_all(request).unwrap();
        let mut out = Vec::new();
        let _ = stream.read_to_end(&mut out);
        out
    }

    /// Sends one request on a new connection and parses the one response.
    pub fn request(&self, request: &str) -> Response {
        let stream = self.connect();
        let mut reader = BufReader::new(stream);
        reader.get_mut().write_all(request.as_bytes()).unwrap();
        let head_only = request.starts_with("HEAD ");
        read_response(&mut reader, head_only).expect("a complete response")
    }

    /// `GET path` with `fields` (each ending in CRLF) added to the head.
    pub fn get(&self, path: &str, fields: &str) -> Response {
        self.request(&format!("GET {path} HTTP/1.1\r\nHost: t\r\n{fields}\r\n"))
    }

    /// `HEAD path` with `fields` (each ending in CRLF) added to the head.
    pub fn head(&self, path: &str, fields: &str) -> Response {
        self.request(&format!("HEAD {path} HTTP/1.1\r\nHost: t\r\n{fields}\r\n"))
    }

    /// Starts `GET path` on a new connection and reads the head and the first MiB of the body,
    /// so that the rest of a large response is surely in flight: the connection, and the body
    /// bytes read so far.
    pub fn download_in_flight(&self, path: &str) -> (BufReader<TcpStream>, Vec<u8>) {
        let mut reader = BufReader::with_capacity(64 * 1024, self.connect());
        let request = format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n");
        reader.get_mut().write_all(request.as_bytes()).unwrap();
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8; 1];
            reader.read_exact(&mut byte).unwrap();
            head.push(byte[0]);
        }
        let mut body = vec![0u8; 1024 * 1024];
        reader.read_exact(&mut body).unwrap();
        (reader, body)
    }

    /// A connection that asks for `path` and then never reads: its response stays in flight.
    pub fn stalled_download(&self, path: &str) -> TcpStream {
        let mut stream = self.connect();
        let request = format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n");
        stream.write_all(request.as_bytes()).unwrap();
        // Let the server start sending before the test goes on.
        thread::sleep(Duration::from_millis(200));
        stream
    }

    /// The PID, for sending signals.
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Sends `signal` to the server.
    pub fn signal(&self, signal: rustix::process::Signal) {
        let pid = rustix::process::Pid::from_raw(self.pid()).unwrap();
        rustix::process::kill_process(pid, signal).unwrap();
    }

    /// Waits for the process to exit (at most `limit`), returning its status.
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let end = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // The pipes are at EOF now: let the readers take the last output.
                for reader in self.readers.drain(..) {
                    let _ = reader.join();
                }
                return status;
            }
            assert!(
                Instant::now() < end,
                "server did not exit within {limit:?}; stderr: {}",
                self.stderr()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits (at most [`IO_TIMEOUT`]) until stderr contains `needle`; stdout and stderr are
    /// separate pipes, so stderr can lag what stdout already shows.
    pub fn wait_for_stderr(&self, needle: &str) -> bool {
        wait_until(IO_TIMEOUT, || self.stderr().contains(needle))
    }

    /// Everything written to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits (at most [`IO_TIMEOUT`]) for an access-log line containing `needle`; the log is
    /// flushed in batches, so a line can lag its response by up to 100 ms.
    pub fn wait_for_log(&self, needle: &str) -> bool {
        wait_until(IO_TIMEOUT, || {
            self.stdout_lines().iter().any(|l| l.contains(needle))
        })
    }

    /// Every stdout line so far (the first is `listening on`, then the access log).
    pub fn stdout_lines(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Asks `done` every 20 ms until it says yes (true) or `limit` passes (false): for what a
/// busy machine may take a while to show.
pub fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// A helper process holding a shared, writable memory mapping of a file (Python's `mmap`: this
/// crate forbids the `unsafe` that mapping takes in Rust). Every [`MappedWriter::write`] stores
/// through the same mapping, so only the first write to a page changes the file's times, and
/// none raises an inotify event. Ended when dropped.
pub struct MappedWriter {
    child: Child,
    replies: BufReader<std::process::ChildStdout>,
}

impl MappedWriter {
    const SCRIPT: &str = "import mmap, sys\n\
        f = open(sys.argv[1], 'r+b')\n\
        m = mmap.mmap(f.fileno(), 0, mmap.MAP_SHARED)\n\
        for line in sys.stdin:\n\
        \x20   data = bytes.fromhex(line.strip())\n\
        \x20   m[:len(data)] = data\n\
        \x20   print('ok', flush=True)\n";

    /// Maps the file at `path` (which must not be empty).
    pub fn open(path: &Path) -> Self {
        let mut child = Command::new("python3")
            .args(["-c", Self::SCRIPT])
            .arg(path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let replies = BufReader::new(child.stdout.take().unwrap());
        Self { child, replies }
    }

    /// Stores `contents` at the start of the file through the mapping (the file keeps its size).
    pub fn write(&mut self, contents: &[u8]) {
        let hex: String = contents.iter().map(|b| format!("{b:02x}")).collect();
        let stdin = self.child.stdin.as_mut().unwrap();
        stdin.write_all(format!("{hex}\n").as_bytes()).unwrap();
        stdin.flush().unwrap();
        let mut reply = String::new();
        self.replies.read_line(&mut reply).unwrap();
        assert_eq!(reply, "ok\n", "the mapping helper failed");
    }
}

impl Drop for MappedWriter {
    fn drop(&mut self) {
        // End of input ends the helper; a kill is for one that hangs.
        drop(self.child.stdin.take());
        if !wait_until(IO_TIMEOUT, || !matches!(self.child.try_wait(), Ok(None))) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Runs `cmd` (curl, wget, gzip), failing the test with its stderr unless it succeeds.
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?} (is it installed?): {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// How many TCP segments the client end of `stream` has received (the kernel's
/// `tcpi_segs_in`, as `ss` from iproute2 prints it).
pub fn segments_in(stream: &TcpStream) -> u64 {
    let (local, peer) = (stream.local_addr().unwrap(), stream.peer_addr().unwrap());
    let out = run_ok(Command::new("ss").args([
        "-tinH",
        "src",
        &local.to_string(),
        "dst",
        &peer.to_string(),
    ]));
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .find_map(|word| word.strip_prefix("segs_in:"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no segs_in for {local} in the output of ss: {text:?}"))
}

/// How many sockets listen on TCP port `port`, on any address (as `ss` from iproute2 lists
/// them; descriptors duplicated from one socket count once).
pub fn listening_sockets(port: u16) -> usize {
    let filter = format!("sport = :{port}");
    let out = run_ok(Command::new("ss").args(["-ltnH", &filter]));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|line| line.starts_with("LISTEN"))
        .count()
}

/// Raises this test process's soft open-file limit to its hard limit (tests that hold thousands
/// of sockets need more than a shell's usual 1,024).
/// Sets the modification time of the file at `path`.
pub fn set_mtime(path: &Path, time: SystemTime) {
    fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(time)
        .unwrap();
}

pub fn raise_fd_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    limit.current = limit.maximum;
    let _ = setrlimit(Resource::Nofile, limit);
}

/// A parsed response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first field called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads one response: head, then exactly Content-Length body bytes (none for HEAD, 204, 304).
/// `None` on EOF before a status line.
pub fn read_response(reader: &mut impl BufRead, head_only: bool) -> Option<Response> {
    let mut status_line = String::new();
    if reader.read_line(&mut status_line).ok()? == 0 {
        return None;
    }
    assert!(
        status_line.starts_with("HTTP/1.1 ") && status_line.ends_with("\r\n"),
        "status line {status_line:?}"
    );
    let status: u16 = status_line[9..12].parse().unwrap();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        assert!(line.ends_with("\r\n"), "header line {line:?}");
        let line = line.trim_end_matches("\r\n");
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(": ").expect("name: value");
        headers.push((name.to_owned(), value.to_owned()));
    }
    let mut response = Response {
        status,
        headers,
        body: Vec::new(),
    };
    if !head_only && status != 204 && status != 304 {
        let len: usize = response
            .header("content-length")
            .expect("Content-Length")
            .parse()
            .unwrap();
        response.body = vec![0; len];
        reader.read_exact(&mut response.body).unwrap();
    }
    Some(response)
}

/// A temporary document root and, beside it, a directory outside it.
pub struct Site {
    dir: tempfile::TempDir,
}

impl Site {
    /// A root with `index.html`, `test.html`, `style.css`, a directory with an index, a secret
    /// file outside the root and a symlink inside pointing to it.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let site = Self { dir };
        site.write("index.html", b"<h1>home</h1>\n");
        site.write("test.html", b"<h1>test</h1>\n");
        site.write("style.css", b"body { color: red }\n");
        site.write("docs/index.html", b"<h1>docs</h1>\n");
        fs::write(site.outside().join("secret.txt"), SECRET).unwrap();
        std::os::unix::fs::symlink(
            site.outside().join("secret.txt"),
            site.root().join("escape.txt"),
        )
        .unwrap();
        site
    }

    /// The document root.
    pub fn root(&self) -> PathBuf {
        let root = self.dir.path().join("root");
        fs::create_dir_all(&root).unwrap();
        root
    }

    /// A directory next to the root, not served.
    pub fn outside(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// Writes a file under the root, creating directories.
    pub fn write(&self, rel: &str, contents: &[u8]) -> PathBuf {
        let path = self.root().join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, contents).unwrap();
        path
    }

    /// Writes a deterministic pseudo-random file of `len` bytes (incompressible, so nothing
    /// in between can shortcut it).
    pub fn write_big(&self, rel: &str, len: usize) -> Vec<u8> {
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let data: Vec<u8> = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        self.write(rel, &data);
        data
    }
}

/// The contents of the file outside the root; no response may ever contain it.
pub const SECRET: &[u8] = b"TOP-SECRET-OUTSIDE-THE-ROOT";
