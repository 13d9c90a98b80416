//! Which CPU each worker runs on, and steering each worker's listening socket to that CPU.
//!
//! With as many workers as CPUs the process may run on, worker `i` is pinned to the `i`th of
//! those CPUs, and its own socket of each `SO_REUSEPORT` group gets `SO_INCOMING_CPU` set to
//! that CPU. The kernel then queues a new connection on the socket of the worker whose CPU
//! processed its handshake, instead of by a hash of its addresses (kernels with commit
//! b261eda84ec1 of late 2022, "soreuseport: Fix socket selection for SO_INCOMING_CPU"; from
//! 4.6 until then the option is accepted and the group hashes as usual). Over a network that is the CPU the
//! NIC's receive queue interrupts, and the connection's packets are then handled where it is
//! served; over loopback it is the client's own CPU, so a client thread's connections all go to
//! one worker, which the scheduler then keeps beside it. Measured with wrk -t2 on two shared
//! cores (docs/benchmarks.md): hashed, every wrk thread talked to both workers, and each
//! response woke a thread on the other CPU.
//!
//! When every handshake is processed on one CPU (a single-queue NIC, one client thread over
//! loopback), that CPU's worker is handed the surplus' new connections by the balancer in
//! `worker/accept.rs`, as before. This module must not decide where a connection goes; it only
//! reads the CPUs allowed and sets the two options.

use std::io;
use std::os::fd::AsFd;

use rustix::thread::CpuSet;

/// The CPUs this process may run on, in order.
pub(crate) fn allowed_cpus() -> Vec<usize> {
    match rustix::thread::sched_getaffinity(None) {
        Ok(set) => (0..CpuSet::MAX_CPU)
            .filter(|&cpu| set.is_set(cpu))
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// The CPU for each of `workers` workers: the allowed ones in order when there are exactly as
/// many; else none (pinning fewer workers than CPUs would leave CPUs unused; more would put two
/// on one CPU while the scheduler could have spread them).
pub(crate) fn plan(workers: usize, allowed: &[usize]) -> Vec<Option<usize>> {
    if allowed.len() == workers {
        allowed.iter().copied().map(Some).collect()
    } else {
        vec![None; workers]
    }
}

/// Pins the calling thread to `cpu`.
pub(crate) fn pin_current_thread(cpu: usize) -> io::Result<()> {
    let mut set = CpuSet::new();
    set.set(cpu);
    rustix::thread::sched_setaffinity(None, &set)?;
    Ok(())
}

/// Asks the kernel to queue on `listener` the connections whose handshake `cpu` processes.
pub(crate) fn steer(listener: impl AsFd, cpu: usize) -> io::Result<()> {
    let cpu = u32::try_from(cpu).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    rustix::net::sockopt::set_socket_incoming_cpu(listener, cpu)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_are_planned_on_the_allowed_cpus_only_when_there_are_as_many() {
        assert_eq!(plan(2, &[3, 5]), vec![Some(3), Some(5)]);
        assert_eq!(plan(1, &[3, 5]), vec![None]);
        assert_eq!(plan(3, &[3, 5]), vec![None, None, None]);
    }

    #[test]
    fn a_pinned_thread_reads_back_its_one_cpu() {
        let allowed = allowed_cpus();
        assert!(!allowed.is_empty(), "no CPU allowed");
        let cpu = *allowed.last().unwrap();
        let seen = std::thread::spawn(move || {
            pin_current_thread(cpu).unwrap();
            (allowed_cpus(), rustix::thread::sched_getcpu())
        })
        .join()
        .unwrap();
        assert_eq!(seen, (vec![cpu], cpu));
        assert_eq!(allowed_cpus(), allowed, "only the pinned thread changed");
    }

    #[test]
    fn a_steered_listener_reads_back_its_cpu() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let cpu = allowed_cpus()[0];
        steer(&listener, cpu).unwrap();
        assert_eq!(
            rustix::net::sockopt::socket_incoming_cpu(&listener).unwrap(),
            u32::try_from(cpu).unwrap()
        );
    }
}
