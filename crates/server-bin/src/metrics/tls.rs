//! TLS counters: handshakes completed (by version and ALPN protocol) and failed (by reason),
//! certificate reloads, and whether bodies go by kernel TLS. Handshakes are rarer than requests
//! and each is one relaxed atomic add, so these are process-wide rather than sharded.
//!
//! This module counts; it must not decide why a handshake failed (the connection does).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::tls::session::Failure;

/// The TLS counters of the process.
#[derive(Debug, Default)]
pub struct TlsCounters {
    /// Whether the server speaks TLS at all (else nothing is rendered).
    enabled: AtomicBool,
    /// Whether response bodies go by kernel TLS.
    ktls: AtomicBool,
    tls13: AtomicU64,
    tls12: AtomicU64,
    alpn_http11: AtomicU64,
    alpn_none: AtomicU64,
    failed: [AtomicU64; Failure::ALL.len()],
}

/// The counters as read at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSnapshot {
    /// Whether the server speaks TLS.
    pub enabled: bool,
    /// Whether bodies go by kernel TLS.
    pub ktls: bool,
    /// Handshakes completed with TLS 1.3 and 1.2.
    pub tls13: u64,
    /// See `tls13`.
    pub tls12: u64,
    /// Handshakes that agreed on ALPN `http/1.1`, and those where the client offered no ALPN.
    pub alpn_http11: u64,
    /// See `alpn_http11`.
    pub alpn_none: u64,
    /// Failed handshakes by reason, in the order of [`Failure::ALL`].
    pub failed: Vec<(&'static str, u64)>,
}

impl TlsCounters {
    /// The server speaks TLS; `ktls` says whether bodies go by kernel TLS.
    pub fn enable(&self, ktls: bool) {
        self.enabled.store(true, Ordering::Relaxed);
        self.ktls.store(ktls, Ordering::Relaxed);
    }

    /// A handshake completed.
    pub fn established(&self, version: Option<&str>, alpn: Option<&[u8]>) {
        let version = match version {
            Some("TLSv1.2") => &self.tls12,
            _ => &self.tls13,
        };
        version.fetch_add(1, Ordering::Relaxed);
        let alpn = match alpn {
            Some(_) => &self.alpn_http11,
            None => &self.alpn_none,
        };
        alpn.fetch_add(1, Ordering::Relaxed);
    }

    /// A handshake failed.
    pub fn failed(&self, why: Failure) {
        if let Some(i) = Failure::ALL.iter().position(|f| *f == why)
            && let Some(counter) = self.failed.get(i)
        {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Reads every counter.
    pub fn snapshot(&self) -> TlsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        TlsSnapshot {
            enabled: self.enabled.load(Ordering::Relaxed),
            ktls: self.ktls.load(Ordering::Relaxed),
            tls13: get(&self.tls13),
            tls12: get(&self.tls12),
            alpn_http11: get(&self.alpn_http11),
            alpn_none: get(&self.alpn_none),
            failed: Failure::ALL
                .iter()
                .zip(&self.failed)
                .map(|(f, c)| (f.label(), get(c)))
                .collect(),
        }
    }
}

impl TlsSnapshot {
    /// The Prometheus families, appended to `out` (nothing when TLS is off).
    pub fn render(&self, out: &mut String) {
        if !self.enabled {
            return;
        }
        let _ = writeln!(
            out,
            "# HELP http_server_tls_handshakes_total TLS handshakes completed, by protocol version and ALPN protocol (none: the client offered no ALPN).\n# TYPE http_server_tls_handshakes_total counter"
        );
        for (version, n) in [("1.3", self.tls13), ("1.2", self.tls12)] {
            let _ = writeln!(
                out,
                "http_server_tls_handshakes_total{{version=\"{version}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP http_server_tls_alpn_total TLS handshakes by negotiated ALPN protocol.\n# TYPE http_server_tls_alpn_total counter"
        );
        for (protocol, n) in [("http/1.1", self.alpn_http11), ("none", self.alpn_none)] {
            let _ = writeln!(
                out,
                "http_server_tls_alpn_total{{protocol=\"{protocol}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP http_server_tls_handshake_failures_total TLS handshakes that did not complete, by reason.\n# TYPE http_server_tls_handshake_failures_total counter"
        );
        for (reason, n) in &self.failed {
            let _ = writeln!(
                out,
                "http_server_tls_handshake_failures_total{{reason=\"{reason}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP http_server_tls_ktls Whether response bodies go by kernel TLS (1) or are copied through rustls (0).\n# TYPE http_server_tls_ktls gauge\nhttp_server_tls_ktls {}",
            u8::from(self.ktls)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_rendered_without_tls() {
        let mut out = String::new();
        TlsCounters::default().snapshot().render(&mut out);
        assert_eq!(out, "");
    }

    #[test]
    fn handshakes_count_by_version_alpn_and_reason() {
        let c = TlsCounters::default();
        c.enable(false);
        c.established(Some("TLSv1.3"), Some(b"http/1.1"));
        c.established(Some("TLSv1.2"), None);
        c.failed(Failure::Incompatible);
        c.failed(Failure::Incompatible);
        let s = c.snapshot();
        assert_eq!((s.tls13, s.tls12), (1, 1));
        assert_eq!((s.alpn_http11, s.alpn_none), (1, 1));
        let mut out = String::new();
        s.render(&mut out);
        assert!(
            out.contains("http_server_tls_handshake_failures_total{reason=\"incompatible\"} 2\n")
        );
        assert!(out.contains("http_server_tls_handshakes_total{version=\"1.2\"} 1\n"));
        assert!(out.contains("http_server_tls_ktls 0\n"));
    }
}
