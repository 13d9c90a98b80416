//! Which CPU each worker runs on, and steering each worker's listening socket to that CPU.
//!
//! Asked for ([`crate::Builder::pin_to_cpus`]) and possible ([`plan`]: as many workers as CPUs
//! the process may run on, a socket per worker, Linux 6.2 or later), worker `i` is pinned to the
//! `i`th of those CPUs, and its own socket of each `SO_REUSEPORT` group gets `SO_INCOMING_CPU`
//! set to that CPU. The kernel then queues a new connection on the socket of the worker whose
//! CPU processed its handshake, instead of by a hash of its addresses. From 4.6 until the fix
//! of late 2022 (commit b261eda84ec1, "soreuseport: Fix socket selection for SO_INCOMING_CPU",
//! in 6.2 and in some distributions' older kernels) the option is accepted and the group
//! hashes as usual; pinning alone would then only keep the scheduler from placing each worker
//! beside its clients, so older kernels get neither.
//!
//! Over a network the handshake's CPU is the one the card's receive queue interrupts, so each
//! connection is served where its packets arrive (the use the option was made for: a listener
//! per receive queue). Over loopback it is the client thread's CPU, so the connections of one
//! client thread go to one worker, which the scheduler keeps beside it (measured in
//! docs/benchmarks.md). It is not the default: with fewer receive queues than CPUs (a card
//! with one queue is common on small virtual machines), every connection arrives at the
//! workers of the interrupted CPUs, and the balancer (`worker/accept.rs`) moves connections
//! only by the number each worker holds, which short ones never raise.
//!
//! This module must not decide where a connection goes; it only reads the CPUs allowed and the
//! kernel's version, and sets the two options.

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

/// Why workers are not pinned although it was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unpinned {
    /// One worker: there is nothing to place.
    OneWorker,
    /// Pinning needs exactly one worker per CPU allowed (more would share CPUs the scheduler
    /// could have spread them over; fewer would leave CPUs unused).
    WorkersAreNotCpus {
        /// Workers asked for.
        workers: usize,
        /// CPUs the process may run on.
        cpus: usize,
    },
    /// No listening socket is the worker's own (one shared socket, `--no-reuseport`, or an
    /// inherited one): nothing to steer.
    NoSocketPerWorker,
    /// The kernel predates the fix that makes a reuseport group honour `SO_INCOMING_CPU`.
    OldKernel(String),
}

impl std::fmt::Display for Unpinned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unpinned::OneWorker => f.write_str("one worker, nothing to place"),
            Unpinned::WorkersAreNotCpus { workers, cpus } => write!(
                f,
                "{workers} workers for {cpus} CPUs allowed (it needs one per CPU; \
                 `--threads` follows a CPU quota too)"
            ),
            Unpinned::NoSocketPerWorker => f.write_str("the workers share one listening socket"),
            Unpinned::OldKernel(release) => write!(f, "Linux {release} (it needs 6.2 or later)"),
        }
    }
}

/// The CPU of each of `workers` workers: the allowed ones in order, if pinning is possible.
pub(crate) fn plan(
    workers: usize,
    allowed: &[usize],
    socket_per_worker: bool,
    kernel: &str,
) -> Result<Vec<usize>, Unpinned> {
    if workers < 2 {
        return Err(Unpinned::OneWorker);
    }
    if allowed.len() != workers {
        return Err(Unpinned::WorkersAreNotCpus {
            workers,
            cpus: allowed.len(),
        });
    }
    if !socket_per_worker {
        return Err(Unpinned::NoSocketPerWorker);
    }
    if !steers_by_cpu(kernel) {
        return Err(Unpinned::OldKernel(kernel.to_owned()));
    }
    Ok(allowed.to_vec())
}

/// The running kernel's release (`uname -r`).
pub(crate) fn kernel_release() -> String {
    rustix::system::uname()
        .release()
        .to_string_lossy()
        .into_owned()
}

/// Whether a kernel of `release` queues a connection on the group's socket of the CPU that
/// processed its handshake (6.2 and later).
fn steers_by_cpu(release: &str) -> bool {
    let mut numbers = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|n| n.parse::<u32>().ok());
    match (numbers.next().flatten(), numbers.next().flatten()) {
        (Some(major), Some(minor)) => (major, minor) >= (6, 2),
        _ => false,
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
    fn workers_are_pinned_only_one_per_cpu_with_a_socket_each_on_a_kernel_that_steers() {
        let recent = "6.18.44-fc-v1252";
        assert_eq!(plan(2, &[3, 5], true, recent), Ok(vec![3, 5]));
        let per_cpu = |workers| Unpinned::WorkersAreNotCpus { workers, cpus: 2 };
        assert_eq!(plan(1, &[3], false, recent), Err(Unpinned::OneWorker));
        assert_eq!(plan(3, &[3, 5], true, recent), Err(per_cpu(3)));
        assert_eq!(
            plan(2, &[3, 5], false, recent),
            Err(Unpinned::NoSocketPerWorker)
        );
        let old = "5.15.0-91-generic";
        assert_eq!(
            plan(2, &[3, 5], true, old),
            Err(Unpinned::OldKernel(old.to_owned()))
        );
    }

    #[test]
    fn kernels_steer_by_cpu_from_6_2() {
        for (release, steers) in [
            ("6.2.0", true),
            ("6.18.44-fc-v1252", true),
            ("7.0-rc1", true),
            ("6.1.90", false),
            ("5.15.0-91-generic", false),
            ("4.19", false),
            ("", false),
            ("six", false),
        ] {
            assert_eq!(steers_by_cpu(release), steers, "{release}");
        }
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
