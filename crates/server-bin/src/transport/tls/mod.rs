//! HTTPS: the rustls configuration every TLS connection shares, where its certificate comes from
//! (PEM files, or one generated at start-up), and reloading that certificate without dropping
//! connections. Response bodies are read from files in chunks and encrypted by rustls (no
//! kernel TLS yet; the start-up line says whether this kernel offers it).
//!
//! Policy, fixed here and nowhere else: TLS 1.3 and 1.2 only; rustls's `ring` cipher suites,
//! which are all AEAD with forward secrecy (TLS 1.3: AES-256-GCM, AES-128-GCM,
//! ChaCha20-Poly1305; TLS 1.2: ECDHE with ECDSA or RSA and the same ciphers); the server's order
//! of preference wins; ALPN offers `h2` then `http/1.1` (only `http/1.1` with `--no-http2`; a
//! client that offers ALPN without any of them is
//! refused with `no_application_protocol`, RFC 7301 §3.2).
//!
//! The per-connection record layer lives in [`session`]. This module must not touch sockets nor
//! block a worker: certificates are read on the main thread at start-up and on the reload thread.

pub mod self_signed;
pub mod session;

use std::fmt;
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock};
use std::thread;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError};
use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// The files are looked at this often for a new certificate (besides on SIGHUP).
pub const CHECK_INTERVAL: Duration = Duration::from_secs(60);

/// Where the certificate comes from, as the command line said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A PEM certificate chain and its PEM private key (PKCS#8, PKCS#1 or SEC1).
    Files {
        /// The chain, leaf first.
        cert: PathBuf,
        /// The key.
        key: PathBuf,
    },
    /// A certificate generated in memory for localhost, the host name and the bound addresses.
    SelfSigned,
}

/// The TLS part of the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Where the certificate comes from.
    pub source: Source,
    /// `Strict-Transport-Security: max-age=` this many seconds on every TLS response.
    pub hsts: Option<u64>,
    /// Also listen on this port for plain HTTP and answer everything with `308` to `https://`.
    pub redirect_http: Option<u16>,
}

/// Why a certificate and key could not be used.
#[derive(Debug)]
pub enum CertError {
    /// A file could not be read.
    Read {
        /// Which file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A file holds no certificate, or no private key, in PEM.
    NoPem {
        /// Which file.
        path: PathBuf,
        /// What was looked for.
        what: &'static str,
    },
    /// rustls refused the pair (an unsupported key type, a key that does not match the
    /// certificate).
    Rejected(rustls::Error),
    /// The self-signed certificate could not be generated.
    Generate(rcgen::Error),
}

impl fmt::Display for CertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read { path, .. } => write!(f, "cannot read '{}'", path.display()),
            Self::NoPem { path, what } => {
                write!(f, "'{}' holds no PEM {what}", path.display())
            }
            Self::Rejected(_) => write!(f, "the certificate and key cannot be used together"),
            Self::Generate(_) => write!(f, "cannot generate a self-signed certificate"),
        }
    }
}

impl std::error::Error for CertError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Read { source, .. } => Some(source),
            Self::NoPem { .. } => None,
            Self::Rejected(e) => Some(e),
            Self::Generate(e) => Some(e),
        }
    }
}

/// The certificate handshakes get now. Swapped whole by a reload; a handshake holds its own
/// `Arc`, so a connection never sees half of an old pair and half of a new one.
#[derive(Debug)]
struct Keys {
    current: RwLock<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for Keys {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(
            &self.current.read().unwrap_or_else(PoisonError::into_inner),
        ))
    }
}

/// What every TLS connection of the process shares.
#[derive(Debug)]
pub struct Tls {
    /// The configuration each new connection is made from.
    pub config: Arc<ServerConfig>,
    /// The same, offering `http/1.1` alone: for connections refused at the limit, whose `503`
    /// is HTTP/1.1 (a client that chose `h2` could not read it).
    pub refusal_config: Arc<ServerConfig>,
    keys: Arc<Keys>,
    provider: Arc<CryptoProvider>,
    /// What the command line asked for.
    pub settings: Settings,
    /// The `Strict-Transport-Security` value every response over TLS carries, if asked for.
    pub hsts: Option<Arc<str>>,
    /// SHA-256 of the leaf certificate served now, for people comparing fingerprints.
    pub fingerprint: String,
    /// With `--tls-self-signed`, the key's pin for curl's and wget's `--pinnedpubkey`.
    pub pin: Option<String>,
    /// The TLS listener's port, for the URLs the redirect and the plain-HTTP `400` name.
    pub https_port: u16,
    /// The port plain-HTTP clients are redirected from, once bound (0 when there is none).
    pub redirect_port: u16,
    /// Whether this kernel could take the record layer (`tls` among `tcp_available_ulp`),
    /// for the start-up line.
    pub kernel_tls: bool,
}

impl Tls {
    /// Loads (or generates) the certificate and builds the shared configuration. `names` are
    /// what a self-signed certificate is made for.
    ///
    /// # Errors
    ///
    /// [`CertError`] when the files cannot be read or the pair cannot be used.
    pub fn new(settings: Settings, names: &[String], http2: bool) -> Result<Self, CertError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = match &settings.source {
            Source::Files { cert, key } => load_pair(&provider, cert, key)?,
            Source::SelfSigned => self_signed::generate(&provider, names)?,
        };
        let fingerprint = fingerprint(&key);
        let pin = match settings.source {
            Source::SelfSigned => self_signed::pin(&key),
            Source::Files { .. } => None,
        };
        let keys = Arc::new(Keys {
            current: RwLock::new(Arc::new(key)),
        });
        let mut config = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(CertError::Rejected)?
            .with_no_client_auth()
            .with_cert_resolver(Arc::clone(&keys) as Arc<dyn ResolvesServerCert>);
        config.alpn_protocols = match http2 {
            true => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
            false => vec![b"http/1.1".to_vec()],
        };
        // The suites are listed strongest first; let that order decide, not the client's.
        config.ignore_client_order = true;
        let mut refusal_config = config.clone();
        refusal_config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let hsts = settings
            .hsts
            .map(|secs| Arc::from(format!("max-age={secs}")));
        Ok(Self {
            config: Arc::new(config),
            refusal_config: Arc::new(refusal_config),
            keys,
            provider,
            settings,
            hsts,
            fingerprint,
            pin,
            https_port: 443,
            redirect_port: 0,
            kernel_tls: kernel_has_tls(),
        })
    }

    /// Reads the certificate files again and, if the new pair is usable, serves it to new
    /// handshakes; connections already open keep theirs. Returns the new fingerprint.
    ///
    /// # Errors
    ///
    /// [`CertError`] when the new pair cannot be used: the old one stays.
    pub fn reload(&self) -> Result<String, CertError> {
        let Source::Files { cert, key } = &self.settings.source else {
            return Ok(self.fingerprint.clone());
        };
        let pair = load_pair(&self.provider, cert, key)?;
        let fingerprint = fingerprint(&pair);
        *self
            .keys
            .current
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(pair);
        Ok(fingerprint)
    }

    /// The ALPN protocols offered, in order, as the start-up line names them.
    fn alpn(&self) -> String {
        let names: Vec<_> = self
            .config
            .alpn_protocols
            .iter()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect();
        names.join(" then ")
    }

    /// A one-line description of the TLS setup for the start-up message.
    pub fn describe(&self) -> String {
        let source = match &self.settings.source {
            Source::Files { cert, .. } => format!("certificate {}", cert.display()),
            Source::SelfSigned => "self-signed certificate (in memory)".to_owned(),
        };
        let bodies = match self.kernel_tls {
            true => "kernel TLS is available but not used",
            false => "this kernel has no TLS module: no kTLS",
        };
        format!(
            "TLS 1.3/1.2, ALPN {}, {source}, SHA-256 {}; bodies: copied through rustls in 16 KiB chunks ({bodies})",
            self.alpn(),
            self.fingerprint
        )
    }
}

/// Whether the kernel's TLS module is built in or loaded: `/proc/sys/net/ipv4/tcp_available_ulp`
/// lists `tls` then.
fn kernel_has_tls() -> bool {
    fs::read_to_string("/proc/sys/net/ipv4/tcp_available_ulp")
        .unwrap_or_default()
        .split_whitespace()
        .any(|u| u == "tls")
}

/// Reads a PEM chain and key and checks that they belong together.
fn load_pair(
    provider: &CryptoProvider,
    cert: &PathBuf,
    key: &PathBuf,
) -> Result<CertifiedKey, CertError> {
    let read = |path: &PathBuf| {
        fs::read(path).map_err(|source| CertError::Read {
            path: path.clone(),
            source,
        })
    };
    let cert_pem = read(cert)?;
    let key_pem = read(key)?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .filter_map(Result::ok)
        .collect();
    if chain.is_empty() {
        return Err(CertError::NoPem {
            path: cert.clone(),
            what: "certificate",
        });
    }
    let key_der = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|_| CertError::NoPem {
        path: key.clone(),
        what: "private key",
    })?;
    CertifiedKey::from_der(chain, key_der, provider).map_err(CertError::Rejected)
}

/// `AB:CD:…`, the SHA-256 of the leaf certificate, as browsers and `openssl x509 -fingerprint
/// -sha256` show it.
fn fingerprint(key: &CertifiedKey) -> String {
    let leaf = key.cert.first().map(|c| c.as_ref()).unwrap_or_default();
    let digest = ring::digest::digest(&ring::digest::SHA256, leaf);
    let hex: Vec<String> = digest.as_ref().iter().map(|b| format!("{b:02X}")).collect();
    hex.join(":")
}

/// An error and its causes on one line, each at its own level.
pub fn one_line(e: &dyn std::error::Error) -> String {
    let mut line = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        line.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    line
}

/// What identifies a file's contents without reading it: a rewrite or a rename over it changes
/// one of these.
fn file_stamp(path: &PathBuf) -> Option<(u64, u64, i64, i64)> {
    let m = fs::metadata(path).ok()?;
    Some((m.dev(), m.ino(), m.mtime(), m.mtime_nsec()))
}

/// Starts the thread that reloads the certificate on each message from `sighup` and when the
/// files change (looked at every [`CHECK_INTERVAL`]). Each outcome is one line on stderr. It
/// ends when `sighup`'s sender is dropped.
///
/// # Errors
///
/// When the thread cannot be spawned.
pub fn watch(tls: Arc<Tls>, sighup: Receiver<()>) -> io::Result<()> {
    let Source::Files { cert, key } = tls.settings.source.clone() else {
        return Ok(());
    };
    let stamps = move || (file_stamp(&cert), file_stamp(&key));
    let mut seen = stamps();
    thread::Builder::new()
        .name("tls-reload".into())
        .spawn(move || {
            loop {
                let why = match sighup.recv_timeout(CHECK_INTERVAL) {
                    Ok(()) => "SIGHUP",
                    Err(RecvTimeoutError::Timeout) => {
                        let now = stamps();
                        if now == seen {
                            continue;
                        }
                        "the files changed"
                    }
                    Err(RecvTimeoutError::Disconnected) => return,
                };
                seen = stamps();
                match tls.reload() {
                    Ok(fp) => {
                        eprintln!("http-server: {why}: reloaded the TLS certificate (SHA-256 {fp})")
                    }
                    Err(e) => eprintln!(
                        "http-server: {why}: kept the current TLS certificate: {}",
                        one_line(&e)
                    ),
                }
            }
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_pair(dir: &std::path::Path, name: &str) -> (PathBuf, PathBuf) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let (c, k) = (
            dir.join(format!("{name}.crt")),
            dir.join(format!("{name}.key")),
        );
        fs::write(&c, cert.pem()).unwrap();
        fs::write(&k, key.serialize_pem()).unwrap();
        (c, k)
    }

    fn settings(cert: PathBuf, key: PathBuf) -> Settings {
        Settings {
            source: Source::Files { cert, key },
            hsts: None,
            redirect_http: None,
        }
    }

    #[test]
    fn a_key_that_does_not_match_the_certificate_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, _) = write_pair(dir.path(), "a");
        let (_, other_key) = write_pair(dir.path(), "b");
        let err = Tls::new(settings(cert, other_key), &[], true).unwrap_err();
        assert!(matches!(err, CertError::Rejected(_)), "{err:?}");
    }

    #[test]
    fn files_without_pem_name_themselves() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = write_pair(dir.path(), "a");
        fs::write(&key, "not a key").unwrap();
        let err = Tls::new(settings(cert, key.clone()), &[], true).unwrap_err();
        assert!(err.to_string().contains(key.to_str().unwrap()), "{err}");
    }

    #[test]
    fn a_bad_new_pair_keeps_the_old_one_and_a_good_one_replaces_it() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = write_pair(dir.path(), "a");
        let tls = Tls::new(settings(cert.clone(), key.clone()), &[], true).unwrap();
        let first = tls.fingerprint.clone();
        fs::write(&cert, "garbage").unwrap();
        assert!(tls.reload().is_err());
        let (c2, k2) = write_pair(dir.path(), "b");
        fs::copy(c2, &cert).unwrap();
        fs::copy(k2, &key).unwrap();
        let second = tls.reload().unwrap();
        assert_ne!(first, second);
        assert_eq!(fingerprint(&tls.keys.current.read().unwrap()), second);
    }

    #[test]
    fn fingerprints_look_like_openssl_s() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = write_pair(dir.path(), "a");
        let tls = Tls::new(settings(cert, key), &[], true).unwrap();
        assert_eq!(tls.fingerprint.len(), 32 * 3 - 1);
        assert!(
            tls.fingerprint
                .bytes()
                .all(|b| b == b':' || b.is_ascii_hexdigit())
        );
    }
}
