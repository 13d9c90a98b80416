//! The pool's notifiers, driven by a toy handler whose connections wait, without a deadline,
//! for another thread to finish their work and notify them. Real sockets on 127.0.0.1.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream as StdStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use pool::{Builder, Context, Handler, Next, Notifier, Pool, Readiness, would_block};

use support::{IO_TIMEOUT, client, wait_until};

/// Longer than any wake-up the loopback and the worker take when nothing else runs: how long a
/// test waits for the readiness events of a new connection to have been served, and how long a
/// client must hear nothing to count as not answered.
const SETTLE: Duration = Duration::from_millis(200);

/// Written to the client by the connection's next call, once the test has put it here.
type Answer = Arc<Mutex<Option<Vec<u8>>>>;

/// What a connection that sent `wait` gives the test: the other thread's side of its work.
struct Waiting {
    notifier: Notifier,
    answer: Answer,
    /// Calls made to the connection since it sent `wait`.
    calls: Arc<AtomicU64>,
}

/// Sent `wait`, a connection hands the test a [`Waiting`] and waits with no deadline; each call
/// after that writes the answer if there is one. Sent `block`, it holds its worker in the call
/// until the test says go (so that notifies pile up meanwhile).
#[derive(Clone)]
struct Waiter {
    waiting: mpsc::Sender<Waiting>,
    blocked: mpsc::Sender<()>,
    go: Arc<Mutex<mpsc::Receiver<()>>>,
}

#[derive(Default)]
struct WaiterConn {
    answer: Option<Answer>,
    calls: Arc<AtomicU64>,
}

impl Handler for Waiter {
    type Conn = WaiterConn;

    fn open(&mut self, _: &TcpStream, _: Instant) -> WaiterConn {
        WaiterConn::default()
    }

    fn ready(
        &mut self,
        conn: &mut WaiterConn,
        stream: &mut TcpStream,
        _: Readiness,
        _: Instant,
        cx: &Context<'_>,
    ) -> Next {
        if conn.answer.is_some() {
            conn.calls.fetch_add(1, Ordering::Relaxed);
        }
        let mut buf = [0u8; 64];
        loop {
            match stream.read(&mut buf) {
                Ok(0) => return Next::Close,
                Ok(n) if buf[..n].starts_with(b"wait") && conn.answer.is_none() => {
                    let answer = Answer::default();
                    let waiting = Waiting {
                        notifier: cx.notifier(),
                        answer: Arc::clone(&answer),
                        calls: Arc::clone(&conn.calls),
                    };
                    conn.answer = Some(answer);
                    let _ = self.waiting.send(waiting);
                }
                Ok(n) if buf[..n].starts_with(b"block") => {
                    let _ = self.blocked.send(());
                    let _ = self.go.lock().unwrap().recv();
                }
                Ok(_) => {}
                Err(e) if would_block(&e) => break,
                Err(_) => return Next::Close,
            }
        }
        let answer = conn.answer.as_ref().and_then(|a| a.lock().unwrap().take());
        // A few bytes: the socket's buffer takes them whole.
        if let Some(answer) = answer
            && stream.write_all(&answer).is_err()
        {
            return Next::Close;
        }
        Next::Wait(None)
    }

    fn timeout(
        &mut self,
        _: &mut WaiterConn,
        _: &mut TcpStream,
        _: Instant,
        _: &Context<'_>,
    ) -> Next {
        unreachable!("no connection asks for a deadline")
    }

    fn drain(
        &mut self,
        _: &mut WaiterConn,
        _: &mut TcpStream,
        _: Instant,
        _: &Context<'_>,
    ) -> Next {
        Next::Close
    }
}

/// A pool of one worker running [`Waiter`]s on a listener of its own.
struct Rig {
    pool: Pool,
    addr: SocketAddr,
    waiting: mpsc::Receiver<Waiting>,
    blocked: mpsc::Receiver<()>,
    /// Lets a blocked call go on; dropped, it lets every one go.
    go: mpsc::Sender<()>,
}

impl Rig {
    fn new(builder: &mut Builder) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (waiting_tx, waiting) = mpsc::channel();
        let (blocked_tx, blocked) = mpsc::channel();
        let (go, go_rx) = mpsc::channel();
        let waiter = Waiter {
            waiting: waiting_tx,
            blocked: blocked_tx,
            go: Arc::new(Mutex::new(go_rx)),
        };
        let pool = builder
            .threads(1)
            .listeners(vec![vec![listener]])
            .spawn(|_| waiter.clone())
            .unwrap();
        Self {
            pool,
            addr,
            waiting,
            blocked,
            go,
        }
    }

    /// `n` clients whose connections have sent `wait` and whose first calls are over.
    fn waiting_clients(&self, n: usize) -> (Vec<StdStream>, Vec<Waiting>) {
        let clients = (0..n)
            .map(|_| {
                let mut client = client(self.addr);
                client.write_all(b"wait").unwrap();
                (client, self.waiting.recv_timeout(IO_TIMEOUT).unwrap())
            })
            .unzip();
        thread::sleep(SETTLE);
        clients
    }

    fn waiting_client(&self) -> (StdStream, Waiting) {
        let (mut clients, mut waiting) = self.waiting_clients(1);
        (clients.remove(0), waiting.remove(0))
    }

    /// Holds the worker in a call until `go`; returns the client that holds it.
    fn hold_the_worker(&self) -> StdStream {
        let mut holder = client(self.addr);
        holder.write_all(b"block").unwrap();
        self.blocked.recv_timeout(IO_TIMEOUT).unwrap();
        holder
    }
}

/// Whether the client receives nothing for [`SETTLE`].
fn hears_nothing(client: &mut StdStream) -> bool {
    client.set_read_timeout(Some(SETTLE)).unwrap();
    let mut buf = [0u8; 16];
    let silent = client.read(&mut buf).is_err();
    client.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    silent
}

fn read_answer(client: &mut StdStream, len: usize) -> Vec<u8> {
    let mut got = vec![0u8; len];
    client.read_exact(&mut got).unwrap();
    got
}

/// The process's resident memory, in KiB.
fn resident_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn a_connection_waiting_without_a_deadline_is_called_again_once_another_thread_notifies_it() {
    let rig = Rig::new(&mut Builder::new());
    let (mut client, waiting) = rig.waiting_client();
    // The work is done, but nothing tells the worker: no event, no deadline.
    *waiting.answer.lock().unwrap() = Some(b"done".to_vec());
    assert!(hears_nothing(&mut client), "answered before the notify");
    let notifier = waiting.notifier;
    thread::spawn(move || notifier.notify()).join().unwrap();
    assert_eq!(read_answer(&mut client, 4), b"done");
    assert_eq!(rig.pool.shutdown().unjoined, 0);
}

#[test]
fn a_notify_for_a_closed_connection_does_nothing_even_to_the_one_in_its_slot() {
    let rig = Rig::new(&mut Builder::new());
    let (first, closed) = rig.waiting_client();
    drop(first);
    assert!(wait_until(|| rig.pool.active_connections() == 0));
    // The next connection takes the slot the first one left.
    let (mut client, waiting) = rig.waiting_client();
    *waiting.answer.lock().unwrap() = Some(b"mine".to_vec());
    let late = closed.notifier;
    thread::spawn(move || (0..1000).for_each(|_| late.notify()))
        .join()
        .unwrap();
    assert!(
        hears_nothing(&mut client),
        "called for the closed one's notify"
    );
    waiting.notifier.notify();
    assert_eq!(read_answer(&mut client, 4), b"mine");
    assert_eq!(rig.pool.shutdown().unjoined, 0);
}

#[test]
fn a_flood_of_notifies_takes_no_memory_calls_each_connection_once_and_loses_none() {
    const CONNECTIONS: usize = 16;
    const NOTIFIES: usize = 50_000; // per connection and notifying thread
    const THREADS: usize = 4;
    // Far fewer places on the queue than connections: most notifies find it full.
    let rig = Rig::new(Builder::new().notify_capacity(4));
    let (mut clients, waiting) = rig.waiting_clients(CONNECTIONS);
    let holder = rig.hold_the_worker();
    for w in &waiting {
        *w.answer.lock().unwrap() = Some(b"ok".to_vec());
    }
    let calls_before: Vec<u64> = waiting
        .iter()
        .map(|w| w.calls.load(Ordering::Relaxed))
        .collect();
    let before = resident_kib();
    let notifiers: Vec<Notifier> = waiting.iter().map(|w| w.notifier.clone()).collect();
    let flood: Vec<_> = (0..THREADS)
        .map(|_| {
            let notifiers = notifiers.clone();
            thread::spawn(move || {
                for _ in 0..NOTIFIES {
                    notifiers.iter().for_each(Notifier::notify);
                }
            })
        })
        .collect();
    flood.into_iter().for_each(|t| t.join().unwrap());
    // 3.2 million notifies wait for a worker that cannot take them: kept one by one, they
    // would take tens of MiB.
    let grown = resident_kib().saturating_sub(before);
    assert!(grown < 4 * 1024, "{grown} KiB more after the flood");
    rig.go.send(()).unwrap();
    for client in &mut clients {
        assert_eq!(read_answer(client, 2), b"ok", "a notify was lost");
    }
    thread::sleep(SETTLE);
    let calls: Vec<u64> = waiting
        .iter()
        .zip(&calls_before)
        .map(|(w, before)| w.calls.load(Ordering::Relaxed) - before)
        .collect();
    assert_eq!(
        calls, [1; CONNECTIONS],
        "calls per connection after the flood"
    );
    drop((holder, clients));
    assert_eq!(rig.pool.shutdown().unjoined, 0);
}
