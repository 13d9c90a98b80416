//! Reloading the site file on SIGHUP: the rules in use are swapped whole, so a request sees
//! either the old rules or the new ones, never a mix.
//!
//! [`SiteHandle`] holds the current [`Site`] behind an `Arc` and a generation number; each
//! worker keeps a [`SiteReader`], which costs one atomic load per request while nothing has
//! changed and takes the lock only to pick up a new version. A request that needs the rules
//! past one call holds its own `Arc` (the one it started with), so requests in flight finish
//! under their rules. [`SiteHandle::reload`] reads and checks the file exactly as start-up did
//! (through the same loader); a file that fails is refused and the old rules keep serving.
//! Top-level settings (flags) cannot change in a running server: a change to one is reported
//! as needing a restart. This module must not know the file's format nor touch the workers.

use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;

use crossbeam_channel::Receiver;

use super::file::{Setting, SiteError};
use super::{Loaded, PLAIN_AUTH_WARNING, Site};

/// Reads, checks and compiles the site file at a path: the same function at start-up and on
/// reload, so that a file is refused with the same line either way.
pub type Loader = fn(&std::path::Path) -> Result<Loaded, SiteError>;

/// The rules in use, and how to reload them.
#[derive(Debug)]
pub struct SiteHandle {
    /// Bumped (after the swap) on every successful reload.
    generation: AtomicU64,
    current: Mutex<Version>,
    source: Option<Source>,
    /// Whether the server speaks plain HTTP (auth then warns).
    plain: bool,
}

#[derive(Debug)]
struct Version {
    generation: u64,
    site: Arc<Site>,
}

/// Where the rules came from.
#[derive(Debug)]
struct Source {
    path: PathBuf,
    load: Loader,
    /// The settings the server started with, to tell which changes need a restart.
    settings: Vec<Setting>,
}

/// What a successful reload did, as the one line it prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reloaded(pub String);

impl SiteHandle {
    /// The rules of `loaded` (or none without a site file), reloadable through `load`;
    /// `plain` when no TLS is in use.
    pub fn new(loaded: Option<Loaded>, load: Loader, plain: bool) -> Self {
        let (site, source) = match loaded {
            Some(loaded) => (
                loaded.site,
                Some(Source {
                    path: loaded.file.path.clone(),
                    load,
                    settings: loaded.file.settings,
                }),
            ),
            None => (Arc::new(Site::empty()), None),
        };
        Self {
            generation: AtomicU64::new(0),
            current: Mutex::new(Version {
                generation: 0,
                site,
            }),
            source,
            plain,
        }
    }

    /// Whether there is a file to reload.
    pub fn has_file(&self) -> bool {
        self.source.is_some()
    }

    /// The rules in use now.
    pub fn current(&self) -> Arc<Site> {
        Arc::clone(&self.lock().site)
    }

    /// A reader for one worker.
    pub fn reader(self: &Arc<Self>) -> SiteReader {
        let version = self.lock();
        SiteReader {
            handle: Arc::clone(self),
            generation: version.generation,
            site: Arc::clone(&version.site),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Version> {
        self.current.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads the file again; if it is good, new requests get its rules.
    ///
    /// # Errors
    ///
    /// [`SiteError`] (the line start-up would print) when the file cannot be used: the rules
    /// in use stay.
    pub fn reload(&self) -> Result<Reloaded, SiteError> {
        let Some(source) = &self.source else {
            return Ok(Reloaded("no site file to reload".to_owned()));
        };
        let loaded = (source.load)(&source.path)?;
        let mut line = format!(
            "reloaded the site file {} ({})",
            source.path.display(),
            loaded.site.summary()
        );
        let changed = changed_settings(&source.settings, &loaded.file.settings);
        if !changed.is_empty() {
            line.push_str(&format!(
                "; changed settings need a restart: {}",
                changed.join(", ")
            ));
        }
        if self.plain && loaded.site.has_auth() {
            line.push_str(&format!("; {PLAIN_AUTH_WARNING}"));
        }
        let mut version = self.lock();
        version.generation += 1;
        version.site = loaded.site;
        self.generation.store(version.generation, Ordering::Release);
        Ok(Reloaded(line))
    }
}

/// The flags whose value differs between `old` and `new` (or that are in one only), sorted.
fn changed_settings(old: &[Setting], new: &[Setting]) -> Vec<String> {
    let value = |list: &[Setting], flag: &str| {
        list.iter()
            .find(|s| s.flag == flag)
            .map(|s| s.value.clone())
    };
    let mut changed: Vec<String> = old
        .iter()
        .chain(new)
        .map(|s| s.flag.clone())
        .filter(|flag| value(old, flag) != value(new, flag))
        .collect();
    changed.sort();
    changed.dedup();
    changed
}

/// One worker's view of the rules.
#[derive(Debug)]
pub struct SiteReader {
    handle: Arc<SiteHandle>,
    generation: u64,
    site: Arc<Site>,
}

impl SiteReader {
    /// The rules for the next request: one atomic load unless a reload happened since the
    /// last call. Clone the `Arc` to keep them beyond the call.
    pub fn get(&mut self) -> &Arc<Site> {
        if self.handle.generation.load(Ordering::Acquire) != self.generation {
            let version = self.handle.lock();
            self.site = Arc::clone(&version.site);
            self.generation = version.generation;
        }
        &self.site
    }
}

/// Starts the thread that reloads the site file on each message from `sighup`, printing one
/// line on stderr per outcome. It ends when `sighup`'s sender is dropped.
///
/// # Errors
///
/// When the thread cannot be spawned.
pub fn watch(handle: Arc<SiteHandle>, sighup: Receiver<()>) -> io::Result<()> {
    thread::Builder::new()
        .name("site-reload".into())
        .spawn(move || {
            while sighup.recv().is_ok() {
                eprintln!("http-server: SIGHUP: {}", outcome_line(&handle));
            }
        })?;
    Ok(())
}

/// The line a reload prints (after `http-server: SIGHUP: `).
fn outcome_line(handle: &SiteHandle) -> String {
    match handle.reload() {
        Ok(Reloaded(line)) => line,
        Err(e) => format!("kept the current site rules: {}", crate::tls::one_line(&e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::file::SiteFile;
    use std::path::Path;

    fn load(path: &Path) -> Result<Loaded, SiteError> {
        let file = SiteFile::read(path, &["port"])?;
        let site = Arc::new(Site::compile(&file)?);
        Ok(Loaded { file, site })
    }

    fn handle(text: &str) -> (tempfile::TempDir, PathBuf, Arc<SiteHandle>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("site.toml");
        std::fs::write(&path, text).unwrap();
        let loaded = load(&path).unwrap();
        (
            dir,
            path,
            Arc::new(SiteHandle::new(Some(loaded), load, true)),
        )
    }

    const ONE: &str = "[[redirects]]\nfrom = '^/a$'\nto = '/one'\n";
    const TWO: &str = "[[redirects]]\nfrom = '^/a$'\nto = '/two'\n";

    fn location(site: &Site) -> String {
        site.redirects
            .redirect("/a", None)
            .unwrap()
            .unwrap()
            .location
    }

    #[test]
    fn a_good_file_replaces_the_rules_for_new_requests_and_old_ones_keep_theirs() {
        let (_dir, path, handle) = handle(ONE);
        let mut reader = handle.reader();
        let in_flight = Arc::clone(reader.get());
        assert_eq!(location(&in_flight), "/one");
        std::fs::write(&path, TWO).unwrap();
        let Reloaded(line) = handle.reload().unwrap();
        assert_eq!(
            line,
            format!(
                "reloaded the site file {} (0 header rules, 1 redirect, 0 rewrites)",
                path.display()
            )
        );
        assert_eq!(location(reader.get()), "/two");
        assert_eq!(location(&handle.current()), "/two");
        assert_eq!(location(&in_flight), "/one");
    }

    #[test]
    fn a_bad_file_is_refused_with_its_line_and_the_old_rules_keep_serving() {
        let (_dir, path, handle) = handle(ONE);
        let mut reader = handle.reader();
        std::fs::write(
            &path,
            "[[redirects]]\nfrom = '^/a$'\nto = '/two'\nstatus = 200\n",
        )
        .unwrap();
        let line = outcome_line(&handle);
        assert_eq!(
            line,
            format!(
                "kept the current site rules: {}:4:10: 'status': a redirect's status is 301, 302, 303, 307 or 308",
                path.display()
            )
        );
        assert_eq!(location(reader.get()), "/one");
        std::fs::remove_file(&path).unwrap();
        assert!(outcome_line(&handle).contains("cannot read the site file: No such file"));
        assert_eq!(location(reader.get()), "/one");
    }

    #[test]
    fn a_changed_setting_is_reported_as_needing_a_restart() {
        let (_dir, path, handle) = handle(&format!("port = 1\n{ONE}"));
        std::fs::write(&path, format!("port = 2\n{ONE}")).unwrap();
        let Reloaded(line) = handle.reload().unwrap();
        assert!(
            line.ends_with("; changed settings need a restart: port"),
            "{line}"
        );
        std::fs::write(&path, ONE).unwrap();
        let Reloaded(line) = handle.reload().unwrap();
        assert!(line.ends_with("need a restart: port"), "{line}");
    }

    #[test]
    fn auth_over_plain_http_warns_on_reload_too() {
        let (_dir, path, handle) = handle(ONE);
        let hash = crate::site::auth::tests::cheap_hash("x");
        std::fs::write(&path, format!("[auth]\nusers = {{ a = '{hash}' }}\n")).unwrap();
        let Reloaded(line) = handle.reload().unwrap();
        assert!(line.ends_with(PLAIN_AUTH_WARNING), "{line}");
    }

    #[test]
    fn without_a_file_there_are_no_rules_and_nothing_to_reload() {
        let handle = Arc::new(SiteHandle::new(None, load, false));
        assert!(!handle.has_file());
        let mut reader = handle.reader();
        assert_eq!(reader.get().redirects.len(), 0);
        assert!(handle.reload().is_ok());
    }
}
