//! The one audited module for system calls that no safe wrapper offers: today the socket option
//! `TCP_DEFER_ACCEPT` (`tcp(7)`), which neither `rustix` nor `mio` sets and whose setter in the
//! standard library (`TcpListenerExt::set_deferaccept`) is unstable. When std stabilises it,
//! this module shrinks to nothing.
//!
//! Every other crate and module denies `unsafe` code (the workspace's lints); this one allows
//! it, and only under these rules: each `unsafe` block wraps one system call, has a `// SAFETY:`
//! comment (`clippy::undocumented_unsafe_blocks`), passes arguments checked beforehand, and has
//! a test that reads the effect back. Nothing else moves in here without a measurement that
//! needs it. It must not decide which sockets get an option, nor its value: `socket` does.
#![allow(unsafe_code)]
#![deny(
    clippy::undocumented_unsafe_blocks,
    clippy::multiple_unsafe_ops_per_block
)]

use std::io;
use std::mem::size_of;
use std::os::fd::{AsFd, AsRawFd};
use std::time::Duration;

use libc::{c_int, c_void, socklen_t};

/// The size of the option's value, an `int`, as the calls take it.
const INT_LEN: socklen_t = size_of::<c_int>() as socklen_t;

/// Sets `TCP_DEFER_ACCEPT` on a listening TCP socket: the kernel completes a client's handshake
/// but queues the connection for `accept` only once its first bytes have arrived, or once
/// about `wait` has passed without any (then the connection is accepted as usual). A sub-second
/// `wait` counts as a whole second; zero turns the option off.
///
/// # Errors
///
/// `InvalidInput` when `wait` does not fit the option (over `i32::MAX` seconds); the call's
/// error otherwise (`ENOTSOCK`, `ENOPROTOOPT` on a socket that is not TCP).
pub fn set_defer_accept(listener: &impl AsFd, wait: Duration) -> io::Result<()> {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let value = c_int::try_from(secs)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "defer-accept wait too long"))?;
    let fd = listener.as_fd();
    // SAFETY: `fd` is borrowed from a live descriptor for the whole call; the value pointer
    // points at `value`, an initialised `c_int` on this stack frame that outlives the call, and
    // the length passed is exactly its size, so the kernel reads nothing beyond it.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_DEFER_ACCEPT,
            std::ptr::from_ref(&value).cast::<c_void>(),
            INT_LEN,
        )
    };
    match rc {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    }
}

/// How long a listening socket defers a silent connection (`TCP_DEFER_ACCEPT`), as the kernel
/// reports it: Linux keeps the option as a count of SYN-ACK retransmissions, so a value read
/// back is rounded up to the end of the retransmission it falls in (1 s stays 1 s, 5 s reads 7
/// s). Zero when the option is off.
///
/// # Errors
///
/// The call's error (`ENOTSOCK`, `ENOPROTOOPT`); `InvalidData` if the kernel answered with a
/// value of another size or a negative one.
pub fn defer_accept(listener: &impl AsFd) -> io::Result<Duration> {
    let mut value: c_int = 0;
    let mut len = INT_LEN;
    let fd = listener.as_fd();
    // SAFETY: `fd` is borrowed from a live descriptor for the whole call; `value` and `len`
    // are initialised locals that outlive it, and `len` tells the kernel it may write at most
    // `size_of::<c_int>()` bytes into `value`.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_DEFER_ACCEPT,
            std::ptr::from_mut(&mut value).cast::<c_void>(),
            &raw mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    match u64::try_from(value) {
        Ok(secs) if len == INT_LEN => Ok(Duration::from_secs(secs)),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "TCP_DEFER_ACCEPT read back as no int",
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream, UdpSocket};
    use std::time::Instant;

    use super::*;

    fn listener() -> TcpListener {
        TcpListener::bind("127.0.0.1:0").unwrap()
    }

    #[test]
    fn a_new_listener_does_not_defer_and_the_value_set_reads_back() {
        let l = listener();
        assert_eq!(defer_accept(&l).unwrap(), Duration::ZERO);
        set_defer_accept(&l, Duration::from_secs(1)).unwrap();
        assert_eq!(defer_accept(&l).unwrap(), Duration::from_secs(1));
        set_defer_accept(&l, Duration::ZERO).unwrap();
        assert_eq!(defer_accept(&l).unwrap(), Duration::ZERO);
    }

    #[test]
    fn a_part_of_a_second_counts_as_a_second_and_longer_waits_round_to_a_retransmission() {
        let l = listener();
        set_defer_accept(&l, Duration::from_millis(1)).unwrap();
        assert_eq!(defer_accept(&l).unwrap(), Duration::from_secs(1));
        // Retransmissions after 1, 2 and 4 s: 5 s ends within the third, at 7 s.
        set_defer_accept(&l, Duration::from_secs(5)).unwrap();
        assert_eq!(defer_accept(&l).unwrap(), Duration::from_secs(7));
    }

    #[test]
    fn a_wait_that_does_not_fit_an_int_is_refused_before_any_call() {
        let l = listener();
        let err = set_defer_accept(&l, Duration::from_secs(1 << 31)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(defer_accept(&l).unwrap(), Duration::ZERO);
    }

    #[test]
    fn a_socket_that_is_not_tcp_gets_the_kernel_s_error() {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        assert!(set_defer_accept(&udp, Duration::from_secs(1)).is_err());
        assert!(defer_accept(&udp).is_err());
    }

    /// The effect, not only the value: a connection that has sent nothing is not accepted yet,
    /// one that has sent its first bytes is.
    #[test]
    fn a_deferring_listener_accepts_a_connection_once_its_first_bytes_are_there() {
        let l = listener();
        set_defer_accept(&l, Duration::from_secs(1)).unwrap();
        l.set_nonblocking(true).unwrap();
        let mut client = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let err = l.accept().unwrap_err();
        assert_eq!(
            err.kind(),
            io::ErrorKind::WouldBlock,
            "accepted while silent"
        );
        client.write_all(b"GET").unwrap();
        let start = Instant::now();
        let (mut accepted, _) = loop {
            match l.accept() {
                Ok(pair) => break pair,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    assert!(start.elapsed() < Duration::from_secs(5), "never accepted");
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => panic!("accept: {e}"),
            }
        };
        accepted.set_nonblocking(false).unwrap();
        let mut first = [0u8; 3];
        accepted.read_exact(&mut first).unwrap();
        assert_eq!(&first, b"GET");
    }
}
