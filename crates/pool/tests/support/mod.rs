//! What the pool's integration tests share: clients on 127.0.0.1 with bounded reads, and waiting
//! for a condition without sleeping longer than needed.

// Each test binary uses a part of it.
#![allow(dead_code)]

use std::io::{self, Read};
use std::net::TcpStream as StdStream;
use std::thread;
use std::time::{Duration, Instant};

pub const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// A client connected to `addr` whose reads give up after [`IO_TIMEOUT`].
pub fn client(addr: impl std::net::ToSocketAddrs) -> StdStream {
    let client = StdStream::connect(addr).unwrap();
    client.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    client
}

/// Whether the server has closed the connection: EOF or a reset, not a read timeout.
pub fn is_closed_by_server(client: &mut StdStream) -> bool {
    let mut buf = [0u8; 64];
    match client.read(&mut buf) {
        Ok(n) => n == 0,
        Err(e) => !matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ),
    }
}

/// Whether `cond` became true within [`IO_TIMEOUT`].
pub fn wait_until(mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + IO_TIMEOUT;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        thread::sleep(Duration::from_millis(5));
    }
    false
}
