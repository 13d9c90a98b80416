//! The pool driven by a toy echo handler: no HTTP, real sockets on 127.0.0.1.

mod support;

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream as StdStream};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use pool::{
    Builder, CloseReason, Context, DispatchError, Handler, Next, Pool, Readiness, would_block,
};

use support::{IO_TIMEOUT, client, is_closed_by_server, wait_until};

/// For tests of where connections go: longer than any of them runs, so that a worker the
/// scheduler leaves waiting on a busy machine is never taken for stuck (the watchdog would
/// then, rightly, send its connections elsewhere).
const NEVER_STUCK: Duration = Duration::from_secs(60);

/// The default: what the take-over tests rely on.
const STUCK_AFTER: Duration = Duration::from_millis(10);

/// Echoes every byte back. Sending `panic` makes the handler panic; during a drain a connection
/// that has sent `busy` stays open (an in-flight response that never finishes); one that has
/// sent `bye` is closed by the server once its echo is out.
#[derive(Default)]
struct Echo {
    idle_timeout: Option<Duration>,
    /// Blocks `open` until the test says go, to keep the worker from draining its inbox.
    gate: Option<Arc<Mutex<mpsc::Receiver<()>>>>,
    opened: Option<mpsc::Sender<()>>,
    closed: Arc<Mutex<Vec<CloseReason>>>,
    /// Calls made to connections that keep yielding.
    spins: Arc<std::sync::atomic::AtomicU64>,
    /// With it, `close` shuts the write side (the FIN goes out) and then takes this long, as a
    /// worker preempted right after the FIN would.
    after_fin: Option<Duration>,
}

#[derive(Default)]
struct EchoConn {
    pending: Vec<u8>,
    busy: bool,
    eof: bool,
    /// Sent `bye`: the server closes it once the echo is out.
    bye: bool,
    /// Sent `spin`: always has more work, and yields its turn after each call.
    spinning: bool,
    /// Sent `tally`: writes a byte per call while spinning.
    tally: bool,
}

impl Handler for Echo {
    type Conn = EchoConn;

    fn open(&mut self, _stream: &TcpStream, _now: Instant) -> EchoConn {
        if let Some(opened) = &self.opened {
            let _ = opened.send(());
        }
        if let Some(gate) = &self.gate {
            let _ = gate.lock().unwrap().recv();
        }
        EchoConn::default()
    }

    fn ready(
        &mut self,
        conn: &mut EchoConn,
        stream: &mut TcpStream,
        _: Readiness,
        now: Instant,
        _: &Context<'_>,
    ) -> Next {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf) {
                Ok(0) => {
                    conn.eof = true;
                    break;
                }
                Ok(n) => {
                    let data = &buf[..n];
                    if data.windows(5).any(|w| w == b"panic") {
                        panic!("the client asked for a panic");
                    }
                    conn.busy |= data.windows(4).any(|w| w == b"busy");
                    conn.bye |= data.windows(3).any(|w| w == b"bye");
                    conn.spinning |= data.windows(4).any(|w| w == b"spin");
                    conn.tally |= data.windows(5).any(|w| w == b"tally");
                    conn.pending.extend_from_slice(data);
                }
                Err(e) if would_block(&e) => break,
                Err(_) => return Next::Close,
            }
        }
        while !conn.pending.is_empty() {
            match stream.write(&conn.pending) {
                Ok(n) => {
                    conn.pending.drain(..n);
                }
                Err(e) if would_block(&e) => break,
                Err(_) => return Next::Close,
            }
        }
        if (conn.eof || conn.bye) && conn.pending.is_empty() {
            return Next::Close;
        }
        if conn.spinning {
            self.spins
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if conn.tally {
                // One `.` per call, so the client can count the turns it got.
                let _ = stream.write(b".");
            }
            return Next::Yield;
        }
        Next::Wait(self.idle_timeout.map(|t| now + t))
    }

    fn timeout(
        &mut self,
        _: &mut EchoConn,
        _: &mut TcpStream,
        _: Instant,
        _: &Context<'_>,
    ) -> Next {
        Next::Close
    }

    fn drain(
        &mut self,
        conn: &mut EchoConn,
        _: &mut TcpStream,
        _: Instant,
        _: &Context<'_>,
    ) -> Next {
        if conn.busy {
            Next::Wait(None)
        } else {
            Next::Close
        }
    }

    fn close(&mut self, _conn: EchoConn, stream: &mut TcpStream, reason: CloseReason) {
        self.closed.lock().unwrap().push(reason);
        if let Some(pause) = self.after_fin {
            let _ = stream.shutdown(Shutdown::Write);
            thread::sleep(pause);
        }
    }
}

/// A listener and a pool; `connect` makes a client and dispatches the server side.
struct Rig {
    listener: TcpListener,
    pool: Pool,
}

impl Rig {
    fn new(builder: &Builder, make: impl FnMut(usize) -> Echo) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let pool = builder.spawn(make).unwrap();
        Self { listener, pool }
    }

    fn connect(&mut self) -> (StdStream, Result<(), DispatchError>) {
        let client = client(self.listener.local_addr().unwrap());
        let (server, _) = self.listener.accept().unwrap();
        server.set_nonblocking(true).unwrap();
        let result = self.pool.try_dispatch(TcpStream::from_std(server));
        (client, result)
    }
}

fn echo_round_trip(client: &mut StdStream, msg: &[u8]) -> io::Result<Vec<u8>> {
    client.write_all(msg)?;
    let mut got = vec![0u8; msg.len()];
    client.read_exact(&mut got)?;
    Ok(got)
}

#[test]
fn many_connections_share_few_workers() {
    let mut rig = Rig::new(Builder::new().threads(2), |_| Echo::default());
    let mut clients: Vec<StdStream> = (0..64)
        .map(|_| {
            let (client, result) = rig.connect();
            result.unwrap();
            client
        })
        .collect();
    // Interleave: every connection stays open while the others are served.
    for round in 0..3 {
        for (i, client) in clients.iter_mut().enumerate() {
            let msg = format!("client {i} round {round}\n");
            assert_eq!(
                echo_round_trip(client, msg.as_bytes()).unwrap(),
                msg.as_bytes()
            );
        }
    }
    assert_eq!(rig.pool.active_connections(), 64);
    drop(clients);
    assert!(wait_until(|| rig.pool.active_connections() == 0));
}

#[test]
fn large_echo_resumes_partial_writes() {
    let mut rig = Rig::new(&Builder::new(), |_| Echo::default());
    let (mut client, result) = rig.connect();
    result.unwrap();
    let payload: Vec<u8> = (0..4_000_000u32).map(|i| (i % 251) as u8).collect();
    let mut reader = client.try_clone().unwrap();
    // The echo reads all it can before it writes: on a busy machine it may take in most of
    // the 4 MB before the first byte comes back. A worker that lost a partial write would
    // leave the reader waiting for good.
    reader
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let expected = payload.len();
    let read = thread::spawn(move || {
        let mut got = vec![0u8; expected];
        reader.read_exact(&mut got).map(|_| got)
    });
    client.write_all(&payload).unwrap();
    assert!(read.join().unwrap().unwrap() == payload);
}

#[test]
fn full_inboxes_give_the_socket_back() {
    let (go_tx, go_rx) = mpsc::channel();
    let (opened_tx, opened_rx) = mpsc::channel();
    let gate = Arc::new(Mutex::new(go_rx));
    let mut rig = Rig::new(Builder::new().threads(1).inbox_capacity(1), |_| Echo {
        gate: Some(Arc::clone(&gate)),
        opened: Some(opened_tx.clone()),
        ..Echo::default()
    });
    let (_c1, first) = rig.connect();
    first.unwrap();
    // The worker has taken the first socket and is held inside `open`.
    opened_rx.recv_timeout(IO_TIMEOUT).unwrap();
    let (_c2, second) = rig.connect();
    second.unwrap(); // waits in the inbox
    let (_c3, third) = rig.connect();
    assert!(matches!(third, Err(DispatchError::Full(_))), "{third:?}");
    assert_eq!(rig.pool.active_connections(), 2);
    go_tx.send(()).unwrap();
    go_tx.send(()).unwrap();
}

#[test]
fn connection_limit_rejects_then_recovers() {
    let mut rig = Rig::new(Builder::new().threads(2).max_connections(2), |_| {
        Echo::default()
    });
    let (mut a, ra) = rig.connect();
    let (_b, rb) = rig.connect();
    ra.unwrap();
    rb.unwrap();
    let (_c, rc) = rig.connect();
    assert!(matches!(rc, Err(DispatchError::AtLimit(_))), "{rc:?}");
    a.shutdown(Shutdown::Write).unwrap();
    assert!(is_closed_by_server(&mut a));
    assert!(wait_until(|| rig.pool.active_connections() == 1));
    let (mut d, rd) = rig.connect();
    rd.unwrap();
    assert_eq!(echo_round_trip(&mut d, b"hello").unwrap(), b"hello");
}

#[test]
fn a_panicking_handler_closes_only_its_connection() {
    let closed = Arc::new(Mutex::new(Vec::new()));
    let mut rig = Rig::new(Builder::new().threads(1), |_| Echo {
        closed: Arc::clone(&closed),
        ..Echo::default()
    });
    let (mut good, r1) = rig.connect();
    let (mut bad, r2) = rig.connect();
    r1.unwrap();
    r2.unwrap();
    assert_eq!(echo_round_trip(&mut good, b"one").unwrap(), b"one");
    bad.write_all(b"panic").unwrap();
    assert!(is_closed_by_server(&mut bad));
    assert!(wait_until(|| closed.lock().unwrap().len() == 1));
    assert_eq!(echo_round_trip(&mut good, b"two").unwrap(), b"two");
    assert_eq!(*closed.lock().unwrap(), [CloseReason::Panicked]);
    assert_eq!(rig.pool.active_connections(), 1);
    assert_eq!(rig.pool.active_gauge().get(), 1);
}

#[test]
fn deadlines_close_idle_connections_and_spare_active_ones() {
    let mut rig = Rig::new(&Builder::new(), |_| Echo {
        idle_timeout: Some(Duration::from_millis(300)),
        ..Echo::default()
    });
    let (mut idle, r1) = rig.connect();
    let (mut chatty, r2) = rig.connect();
    r1.unwrap();
    r2.unwrap();
    // Keep one connection busy for longer than the timeout; each echo pushes its deadline out.
    for _ in 0..8 {
        assert_eq!(echo_round_trip(&mut chatty, b"x").unwrap(), b"x");
        thread::sleep(Duration::from_millis(100));
    }
    assert!(is_closed_by_server(&mut idle));
    assert_eq!(
        echo_round_trip(&mut chatty, b"still here").unwrap(),
        b"still here"
    );
}

#[test]
fn shutdown_closes_idle_connections_and_joins() {
    let closed = Arc::new(Mutex::new(Vec::new()));
    let mut rig = Rig::new(Builder::new().threads(2), |_| Echo {
        closed: Arc::clone(&closed),
        ..Echo::default()
    });
    let mut clients = Vec::new();
    for _ in 0..4 {
        let (client, result) = rig.connect();
        result.unwrap();
        clients.push(client);
    }
    let report = rig.pool.shutdown();
    assert_eq!(report.forced_closed, 0);
    assert_eq!(report.unjoined, 0);
    assert_eq!(closed.lock().unwrap().len(), 4);
    for client in &mut clients {
        assert!(is_closed_by_server(client));
    }
}

#[test]
fn shutdown_waits_for_busy_connections_until_the_drain_deadline() {
    let closed = Arc::new(Mutex::new(Vec::new()));
    let mut rig = Rig::new(
        Builder::new()
            .threads(1)
            .drain_timeout(Duration::from_millis(300)),
        |_| Echo {
            closed: Arc::clone(&closed),
            ..Echo::default()
        },
    );
    let (mut busy, r1) = rig.connect();
    let (_idle, r2) = rig.connect();
    r1.unwrap();
    r2.unwrap();
    assert_eq!(echo_round_trip(&mut busy, b"busy").unwrap(), b"busy");
    let report = rig.pool.shutdown();
    assert_eq!(report.forced_closed, 1);
    assert_eq!(report.unjoined, 0);
    let reasons = closed.lock().unwrap().clone();
    assert_eq!(reasons, [CloseReason::Done, CloseReason::DrainDeadline]);
}

#[test]
fn workers_are_named() {
    let names = Arc::new(Mutex::new(Vec::new()));
    /// Records its thread's name on its first tick.
    struct Named(Arc<Mutex<Vec<String>>>, bool);
    impl Handler for Named {
        type Conn = ();
        fn open(&mut self, _: &TcpStream, _: Instant) {}
        fn ready(
            &mut self,
            _: &mut (),
            _: &mut TcpStream,
            _: Readiness,
            _: Instant,
            _: &Context<'_>,
        ) -> Next {
            Next::Close
        }
        fn timeout(&mut self, _: &mut (), _: &mut TcpStream, _: Instant, _: &Context<'_>) -> Next {
            Next::Close
        }
        fn drain(&mut self, _: &mut (), _: &mut TcpStream, _: Instant, _: &Context<'_>) -> Next {
            Next::Close
        }
        fn tick(&mut self, _: Instant) -> Option<Instant> {
            if !std::mem::replace(&mut self.1, true) {
                let name = thread::current().name().unwrap_or_default().to_owned();
                self.0.lock().unwrap().push(name);
            }
            None
        }
    }
    let pool = Builder::new()
        .threads(3)
        .spawn(|_| Named(Arc::clone(&names), false))
        .unwrap();
    assert_eq!(pool.threads(), 3);
    drop(pool); // each worker ticks at least once on its way out
    let mut names = names.lock().unwrap().clone();
    names.sort();
    assert_eq!(names, ["pool-worker-0", "pool-worker-1", "pool-worker-2"]);
}

#[test]
fn a_connection_that_keeps_yielding_shares_its_worker_and_shutdown_still_joins() {
    let spins = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut rig = Rig::new(Builder::new().threads(1), |_| Echo {
        spins: Arc::clone(&spins),
        ..Echo::default()
    });
    let (mut spinner, result) = rig.connect();
    result.unwrap();
    spinner.write_all(b"spin").unwrap();
    let mut echoed = vec![0u8; 4];
    spinner.read_exact(&mut echoed).unwrap();
    let (mut other, result) = rig.connect();
    result.unwrap();
    for _ in 0..5 {
        assert_eq!(echo_round_trip(&mut other, b"hello").unwrap(), b"hello");
    }
    let before = spins.load(std::sync::atomic::Ordering::Relaxed);
    assert!(wait_until(|| spins
        .load(std::sync::atomic::Ordering::Relaxed)
        > before + 100));
    // A spinning connection is not busy: the drain closes it, and the worker is joined.
    let report = rig.pool.shutdown();
    assert_eq!(report.unjoined, 0);
    assert!(is_closed_by_server(&mut spinner));
}

#[test]
fn a_yielding_connection_that_keeps_getting_events_gets_no_more_turns_than_one_that_does_not() {
    let mut rig = Rig::new(Builder::new().threads(1), |_| Echo::default());
    let (mut busy, r1) = rig.connect();
    let (mut quiet, r2) = rig.connect();
    r1.unwrap();
    r2.unwrap();
    busy.write_all(b"spin tally ").unwrap();
    quiet.write_all(b"spin tally ").unwrap();
    // The busy client keeps sending, so its connection has a readiness event every round.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (mut busy, stop) = (busy.try_clone().unwrap(), Arc::clone(&stop));
        thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = busy.write_all(b"x");
                thread::sleep(Duration::from_micros(200));
            }
        })
    };
    let count_turns = |client: &mut StdStream| {
        client
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let mut turns = 0usize;
        let mut buf = [0u8; 65536];
        let end = Instant::now() + Duration::from_millis(1500);
        while Instant::now() < end {
            if let Ok(n) = client.read(&mut buf) {
                turns += buf[..n].iter().filter(|&&b| b == b'.').count();
            }
        }
        turns
    };
    let reader = {
        let mut quiet = quiet.try_clone().unwrap();
        thread::spawn(move || count_turns(&mut quiet))
    };
    let busy_turns = count_turns(&mut busy);
    let quiet_turns = reader.join().unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().unwrap();
    assert!(quiet_turns > 100, "{quiet_turns} turns");
    assert!(
        busy_turns < quiet_turns * 2,
        "busy {busy_turns} turns, quiet {quiet_turns}"
    );
}

/// Where the workers send the connections they refuse, with the poller their waker wakes.
struct Refused {
    sockets: crossbeam_channel::Receiver<TcpStream>,
    _poll: mio::Poll,
}

/// Sets `builder` to accept from `listener` and to send refused connections to the channel
/// returned (of four places).
fn accepting_and_refusing(builder: &mut Builder, listener: TcpListener) -> Refused {
    let poll = mio::Poll::new().unwrap();
    let waker = Arc::new(mio::Waker::new(poll.registry(), mio::Token(0)).unwrap());
    let (refused_tx, sockets) = crossbeam_channel::bounded(4);
    builder
        .listeners(vec![vec![listener]])
        .refusals(refused_tx, waker);
    Refused {
        sockets,
        _poll: poll,
    }
}

#[test]
fn workers_accept_from_the_listeners_refuse_over_the_limit_and_stop_accepting_when_draining() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut builder = Builder::new();
    builder.threads(2).max_connections(2);
    let refused = accepting_and_refusing(&mut builder, listener.try_clone().unwrap());
    let pool = builder.spawn(|_| Echo::default()).unwrap();

    // Served without anyone calling `try_dispatch`.
    let connect = || client(addr);
    let (mut a, mut b) = (connect(), connect());
    assert_eq!(echo_round_trip(&mut a, b"one").unwrap(), b"one");
    assert_eq!(echo_round_trip(&mut b, b"two").unwrap(), b"two");
    assert_eq!(pool.active_connections(), 2);

    // Over the limit: handed to the refusal channel, not served, not counted.
    let mut c = connect();
    let refused = refused
        .sockets
        .recv_timeout(IO_TIMEOUT)
        .expect("the third connection is refused");
    assert_eq!(
        refused.peer_addr().unwrap(),
        c.local_addr().unwrap(),
        "the refused socket is the third client's"
    );
    assert_eq!(pool.active_connections(), 2);
    drop(refused);
    assert!(is_closed_by_server(&mut c));

    // Room again once one closes.
    a.shutdown(Shutdown::Write).unwrap();
    assert!(is_closed_by_server(&mut a));
    assert!(wait_until(|| pool.active_connections() == 1));
    let mut d = connect();
    assert_eq!(echo_round_trip(&mut d, b"four").unwrap(), b"four");

    // Draining workers leave the listener alone: what connects now waits for its owner.
    drop((b, d));
    let report = pool.shutdown();
    assert_eq!(report.unjoined, 0);
    let late = connect();
    listener.set_nonblocking(true).unwrap();
    let mut accepted = None;
    assert!(wait_until(|| {
        accepted = listener.accept().ok();
        accepted.is_some()
    }));
    let (late_server, _) = accepted.unwrap();
    assert_eq!(late_server.peer_addr().unwrap(), late.local_addr().unwrap());
}

/// `workers` workers, each with a socket of its own: sockets on different ports stand for an
/// `SO_REUSEPORT` group. Workers below `gated` wait for `gate` in their first `open`; a worker
/// in one round for `stuck_after` counts as stuck. Returns the pool, the sockets' addresses
/// and, per worker, where it reports each connection it opens.
fn workers_with_a_socket_each(
    workers: usize,
    gated: usize,
    gate: mpsc::Receiver<()>,
    stuck_after: Duration,
) -> (Pool, Vec<std::net::SocketAddr>, Vec<mpsc::Receiver<()>>) {
    let listeners: Vec<TcpListener> = (0..workers)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let addrs = listeners.iter().map(|l| l.local_addr().unwrap()).collect();
    let gate = Arc::new(Mutex::new(gate));
    let (opened_tx, opened_rx): (Vec<_>, Vec<_>) = (0..workers).map(|_| mpsc::channel()).unzip();
    let pool = Builder::new()
        .threads(workers)
        .stuck_after(stuck_after)
        .listeners(vec![listeners])
        .spawn(|i| Echo {
            opened: Some(opened_tx[i].clone()),
            gate: (i < gated).then(|| Arc::clone(&gate)),
            ..Echo::default()
        })
        .unwrap();
    (pool, addrs, opened_rx)
}

#[test]
fn a_group_of_one_listener_per_worker_gives_each_worker_its_own() {
    // Which worker accepted shows which socket it polls.
    let (_, no_gate) = mpsc::channel();
    let (pool, addrs, opened_rx) = workers_with_a_socket_each(2, 0, no_gate, NEVER_STUCK);
    for (worker, addr) in addrs.iter().enumerate() {
        let mut client = client(addr);
        assert_eq!(echo_round_trip(&mut client, b"x").unwrap(), b"x");
        let per_worker: Vec<usize> = opened_rx.iter().map(|rx| rx.try_iter().count()).collect();
        let mut expected = vec![0, 0];
        expected[worker] = 1;
        assert_eq!(per_worker, expected, "a client of socket {worker}");
    }
    assert_eq!(pool.shutdown().unjoined, 0);
}

#[test]
fn connections_queued_for_a_stuck_worker_are_taken_over_and_none_is_passed_to_it() {
    // Worker 0 blocks in a call (the gate in `open`) with a client queued behind it on its own
    // socket: without the watchdog only worker 0 would ever accept that client.
    let (go_tx, gate_rx) = mpsc::channel();
    let (pool, addrs, opened_rx) = workers_with_a_socket_each(2, 1, gate_rx, STUCK_AFTER);
    let (first, second) = (addrs[0], addrs[1]);
    // Dropped before the pool (on failure too), which lets worker 0 go.
    let go = go_tx;
    let mut stuck_client = client(first);
    opened_rx[0]
        .recv_timeout(IO_TIMEOUT)
        .expect("worker 0 took the first client");

    let mut queued = client(first);
    assert_eq!(echo_round_trip(&mut queued, b"late").unwrap(), b"late");
    assert!(opened_rx[1].try_recv().is_ok(), "worker 1 served it");

    // Worker 1 now holds more than its share beyond the stuck worker: it would pass new
    // connections on to the least loaded worker, but not to one that is stuck.
    let held: Vec<StdStream> = (0..6)
        .map(|_| {
            let mut client = client(second);
            assert_eq!(echo_round_trip(&mut client, b"held").unwrap(), b"held");
            client
        })
        .collect();
    assert_eq!(opened_rx[1].try_iter().count(), 6);

    go.send(()).unwrap();
    assert_eq!(echo_round_trip(&mut stuck_client, b"x").unwrap(), b"x");
    drop(held);
    assert_eq!(pool.shutdown().unjoined, 0);
}

#[test]
fn a_group_of_listeners_neither_shared_nor_one_per_worker_is_refused() {
    // A third socket for two workers would be nobody's own: its clients would wait forever.
    let listeners: Vec<TcpListener> = (0..3)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let built = Builder::new()
        .threads(2)
        .listeners(vec![listeners])
        .spawn(|_| Echo::default());
    let err = built.expect_err("refused");
    let source = std::error::Error::source(&err).map(ToString::to_string);
    assert_eq!(
        source.as_deref(),
        Some("a group of 3 listening sockets for 2 workers (one, or one per worker)")
    );
}

#[test]
fn a_worker_in_a_call_shorter_than_the_stuck_threshold_keeps_its_queue() {
    // As the take-over test, with a threshold longer than the call: the queued client waits
    // for worker 0 instead of going to worker 1.
    let (go_tx, gate_rx) = mpsc::channel();
    let (pool, addrs, opened_rx) = workers_with_a_socket_each(2, 1, gate_rx, NEVER_STUCK);
    let go = go_tx;
    let mut busy_client = client(addrs[0]);
    opened_rx[0].recv_timeout(IO_TIMEOUT).unwrap();
    let mut queued = client(addrs[0]);
    queued.write_all(b"late").unwrap();
    // With the default threshold worker 1 takes it within 20 ms.
    thread::sleep(Duration::from_millis(300));
    assert_eq!(opened_rx[1].try_iter().count(), 0, "worker 1 took it over");
    go.send(()).unwrap();
    go.send(()).unwrap();
    let mut got = [0u8; 4];
    queued.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"late");
    assert_eq!(opened_rx[0].try_iter().count(), 1, "worker 0 served it");
    assert_eq!(echo_round_trip(&mut busy_client, b"x").unwrap(), b"x");
    drop((go, busy_client, queued));
    assert_eq!(pool.shutdown().unjoined, 0);
}

#[test]
fn the_queues_of_two_stuck_workers_are_both_taken_over() {
    // Workers 0 and 1 block in a call; worker 2 is busy with a connection that keeps yielding,
    // so it starts round after round (found by review: asked to help one stuck worker after
    // the other, it only ever helped the second).
    let (go_tx, gate_rx) = mpsc::channel();
    let (pool, addrs, opened_rx) = workers_with_a_socket_each(3, 2, gate_rx, STUCK_AFTER);
    let go = go_tx;
    let mut spinner = StdStream::connect(addrs[2]).unwrap();
    spinner.write_all(b"spin").unwrap();
    opened_rx[2].recv_timeout(IO_TIMEOUT).unwrap();
    let stuck: Vec<StdStream> = (0..2)
        .map(|w| {
            let client = StdStream::connect(addrs[w]).unwrap();
            opened_rx[w].recv_timeout(IO_TIMEOUT).unwrap();
            client
        })
        .collect();
    for addr in &addrs[..2] {
        for _ in 0..3 {
            let mut queued = client(addr);
            assert_eq!(
                echo_round_trip(&mut queued, b"late").unwrap(),
                b"late",
                "a client queued on {addr}"
            );
        }
    }
    assert_eq!(
        opened_rx[2].try_iter().count(),
        6,
        "worker 2 served them all"
    );
    drop((go, stuck, spinner));
    assert_eq!(pool.shutdown().unjoined, 0);
}

#[test]
fn connections_accepted_in_a_burst_are_shared_out_evenly() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // The whole burst waits in the backlog before any worker runs: whichever starts first
    // finds all of it.
    let mut clients: Vec<StdStream> = (0..40).map(|_| StdStream::connect(addr).unwrap()).collect();
    let (opened_tx, opened_rx): (Vec<_>, Vec<_>) = (0..2).map(|_| mpsc::channel()).unzip();
    let pool = Builder::new()
        .threads(2)
        .stuck_after(NEVER_STUCK)
        .listeners(vec![vec![listener.try_clone().unwrap()]])
        .spawn(|i| Echo {
            opened: Some(opened_tx[i].clone()),
            ..Echo::default()
        })
        .unwrap();
    for client in &mut clients {
        client.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        assert_eq!(echo_round_trip(client, b"x").unwrap(), b"x");
    }
    assert!(wait_until(|| pool.active_connections() == 40));
    let per_worker: Vec<usize> = opened_rx.iter().map(|rx| rx.try_iter().count()).collect();
    assert_eq!(per_worker.iter().sum::<usize>(), 40, "{per_worker:?}");
    assert!(
        per_worker.iter().all(|&n| n >= 17),
        "each worker holds about half: {per_worker:?}"
    );
}

#[test]
fn no_connection_is_lost_or_left_counted_when_workers_drain_under_a_stream_of_new_ones() {
    // Workers drain one after another while clients keep connecting: a worker still accepting
    // must not hand a connection to one that has left (found by review: 3 runs in 200 ended
    // with a connection counted forever).
    for round in 0..30 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let pool = Builder::new()
            .threads(4)
            .listeners(vec![vec![listener]])
            .spawn(|_| Echo::default())
            .unwrap();
        let gauge = pool.active_gauge();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let clients: Vec<_> = (0..3)
            .map(|_| {
                let stop = Arc::clone(&stop);
                thread::spawn(move || {
                    let mut held = std::collections::VecDeque::new();
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        // Bounded: a connect whose SYN was dropped would wait a second.
                        let timeout = Duration::from_millis(50);
                        if let Ok(mut c) = StdStream::connect_timeout(&addr, timeout) {
                            let _ = c.write_all(b"x");
                            held.push_back(c);
                            if held.len() > 40 {
                                held.pop_front();
                            }
                        }
                    }
                })
            })
            .collect();
        thread::sleep(Duration::from_millis(20 + round % 7));
        let report = pool.shutdown();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for c in clients {
            c.join().unwrap();
        }
        assert_eq!(
            (gauge.get(), report.unjoined),
            (0, 0),
            "round {round}: connections still counted after shutdown"
        );
    }
}

#[test]
fn a_client_that_reconnects_the_moment_it_reads_eof_at_the_connection_limit_is_never_refused() {
    // Issue 25: the slot of a connection the server closes must be free before its FIN goes
    // out. Here `close` sends the FIN and then takes 50 ms, as a worker preempted right after
    // it would; the other worker accepts the reconnection meanwhile.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut builder = Builder::new();
    builder.threads(2).max_connections(1);
    let Refused { sockets, _poll } = accepting_and_refusing(&mut builder, listener);
    let pool = builder
        .spawn(|_| Echo {
            after_fin: Some(Duration::from_millis(50)),
            ..Echo::default()
        })
        .unwrap();
    drop(builder); // it holds a sender of the refusal channel too
    // Refused sockets are closed at once, so that their client reads an empty answer (or a
    // reset); the channel ends with the pool.
    let refusals = thread::spawn(move || sockets.iter().count());
    for attempt in 0..5 {
        let mut client = client(addr);
        client.write_all(b"bye").unwrap();
        let mut answer = Vec::new();
        // A refused one is reset or closed unanswered.
        let read = client.read_to_end(&mut answer).map(|_| answer);
        assert!(
            read.as_ref().is_ok_and(|a| a == b"bye"),
            "attempt {attempt} refused: {read:?}"
        );
    }
    assert_eq!(pool.shutdown().unjoined, 0);
    assert_eq!(refusals.join().unwrap(), 0, "refused");
}
