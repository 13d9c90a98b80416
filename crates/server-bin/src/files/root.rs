//! The document root as the path the user gave. A deploy may make that path lead to another
//! tree at any moment (`ln -sfn releases/124 current.new && mv -T current.new current`, or
//! `mv www www.old && mv www.new www`); this module notices, opens the new tree and hands it to
//! the workers. It owns the `root-watch` thread that does so.
//!
//! - **One tree per request.** A worker takes the root once per request
//!   ([`RootView::current`]), and everything its response reads (the file or the index, the
//!   sidecars, a listing, the small-file cache, a compression job) is opened beneath that one
//!   descriptor, so no response mixes two releases. A response in flight keeps the files it
//!   opened and finishes from its release, even if that release is deleted meanwhile.
//! - **Noticing.** The watcher watches the parent directory of the path with inotify: a rename
//!   onto the path's last name, a symlink or directory created or removed under it raises an
//!   event at once, and the path is opened again. Every [`RECHECK_INTERVAL`] the path is opened
//!   again anyway, for what inotify cannot see: a symlink retargeted in an ancestor, a mount over
//!   the path, a parent replaced, no inotify at all. The path leads to another tree when the
//!   directory at its end has another device or inode. So a swap is served within
//!   [`RECHECK_INTERVAL`] at worst, and within milliseconds when the path's last name is what
//!   changed, as in both recipes above.
//! - **Cost per request.** One atomic load (the swap generation) and a comparison; the first
//!   request of a worker after a swap also takes a lock and an `Arc`. Each worker keeps its own
//!   `Arc` of the root, so requests share no reference count.
//! - **A path that leads nowhere** (a dangling symlink, the directory removed or renamed away
//!   with nothing in its place) keeps the last tree serving, which is said once on stderr if it
//!   lasts [`MISSING_GRACE`] (the moment between the two renames of a deploy is not worth a
//!   line), and once more when the path leads to a directory again.
//!
//! Containment stays with `resolve`: every file is opened beneath one root descriptor, and the
//! path given is the only name outside the root that is ever followed. This module must not
//! open anything beneath the root, nor decide responses.

use std::ffi::OsString;
use std::io;
use std::mem::MaybeUninit;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use rustix::event::{EventfdFlags, PollFd, PollFlags, Timespec};
use rustix::fd::OwnedFd;
use rustix::fs::inotify::{self, CreateFlags, ReadFlags, WatchFlags};
use rustix::io::Errno;

use crate::files::resolve::Root;
use crate::metrics::Metrics;

/// The path is opened again at least this often, whatever inotify says: the bound on how long
/// a swap inotify cannot see goes unnoticed.
pub const RECHECK_INTERVAL: Duration = Duration::from_secs(1);

/// A path that leads to no directory is said on stderr once it has for this long.
pub const MISSING_GRACE: Duration = Duration::from_secs(1);

/// How long shutdown waits for the watcher (which is never busy for longer than one open).
pub const JOIN_TIMEOUT: Duration = Duration::from_secs(1);

/// What, in the parent directory, can make the path lead elsewhere: its name renamed, created
/// or removed, or the parent itself moved, removed or unmounted.
const PARENT_EVENTS: WatchFlags = WatchFlags::CREATE
    .union(WatchFlags::MOVED_TO)
    .union(WatchFlags::MOVED_FROM)
    .union(WatchFlags::DELETE)
    .union(WatchFlags::DELETE_SELF)
    .union(WatchFlags::MOVE_SELF)
    .union(WatchFlags::ONLYDIR);

/// Events that say nothing of a name but may all the same have changed the path: the queue
/// overflowed, or the parent went away.
const PARENT_GONE: ReadFlags = ReadFlags::QUEUE_OVERFLOW
    .union(ReadFlags::DELETE_SELF)
    .union(ReadFlags::MOVE_SELF)
    .union(ReadFlags::UNMOUNT);

/// The root every worker serves from, replaced when its path leads to another tree.
#[derive(Debug)]
pub struct SwappableRoot {
    /// The path given: absolute, symlinks kept.
    path: PathBuf,
    /// The tree served now, and the generation that made it so.
    current: Mutex<(u64, Arc<Root>)>,
    /// Swaps so far: a worker compares it on each request and locks only when it moved.
    generation: AtomicU64,
}

impl SwappableRoot {
    /// Opens the tree `path` leads to now.
    ///
    /// # Errors
    ///
    /// When `path` does not lead to a directory that can be opened.
    pub fn open(path: PathBuf) -> io::Result<Self> {
        let root = Arc::new(Root::open(&path)?);
        Ok(Self {
            path,
            current: Mutex::new((0, root)),
            generation: AtomicU64::new(0),
        })
    }

    /// The path given.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The tree served now.
    pub fn current(&self) -> Arc<Root> {
        self.load().1
    }

    /// A worker's own hold on the root.
    pub fn view(self: &Arc<Self>) -> RootView {
        let (generation, root) = self.load();
        RootView {
            shared: Arc::clone(self),
            generation,
            root,
        }
    }

    fn load(&self) -> (u64, Arc<Root>) {
        let current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        (current.0, Arc::clone(&current.1))
    }

    /// Serves `root` from now on.
    fn swap(&self, root: Arc<Root>) {
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        let generation = current.0 + 1;
        *current = (generation, root);
        self.generation.store(generation, Ordering::Release);
    }
}

/// One worker's hold on the root: its own `Arc` of the tree, refreshed when a swap happened.
#[derive(Debug)]
pub struct RootView {
    shared: Arc<SwappableRoot>,
    generation: u64,
    root: Arc<Root>,
}

impl RootView {
    /// The tree a request starts with now; the request must use it for everything it reads.
    pub fn current(&mut self) -> &Arc<Root> {
        if self.shared.generation.load(Ordering::Acquire) != self.generation {
            (self.generation, self.root) = self.shared.load();
        }
        &self.root
    }
}

/// The `root-watch` thread.
#[derive(Debug)]
pub struct Watcher {
    thread: JoinHandle<()>,
    /// Written to stop the thread, which polls it beside its inotify queue.
    stop: Arc<OwnedFd>,
}

impl Watcher {
    /// Stops the thread and joins it, waiting at most [`JOIN_TIMEOUT`] (an open of the path
    /// that hangs, on a dead network mount, is left to the process exit); false if it did not
    /// end in time.
    pub fn finish(self) -> bool {
        let _ = rustix::io::write(&*self.stop, &1u64.to_ne_bytes());
        let deadline = Instant::now() + JOIN_TIMEOUT;
        while !self.thread.is_finished() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
        if !self.thread.is_finished() {
            return false;
        }
        // A panic there was reported by the hook; the serving went on without swaps.
        let _ = self.thread.join();
        true
    }
}

/// Starts the thread that swaps `root` when its path leads to another tree: at once when
/// inotify sees the path's last name change, and at least every `interval`.
///
/// # Errors
///
/// When the thread or its stop descriptor cannot be made. Without inotify, it only rechecks
/// every `interval`.
pub fn watch(
    root: Arc<SwappableRoot>,
    metrics: Arc<Metrics>,
    interval: Duration,
) -> io::Result<Watcher> {
    let stop = Arc::new(rustix::event::eventfd(
        0,
        EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK,
    )?);
    let parent = Parent::watch(&root.path);
    let state = Watch {
        root,
        metrics,
        interval,
        parent,
        missing: None,
    };
    let stopped = Arc::clone(&stop);
    let thread = thread::Builder::new()
        .name("root-watch".into())
        .spawn(move || state.run(&stopped))?;
    Ok(Watcher { thread, stop })
}

/// Since when the path leads to no directory, and whether that has been said.
#[derive(Debug, Clone, Copy)]
struct Missing {
    since: Instant,
    said: bool,
}

/// The watcher thread's state.
struct Watch {
    root: Arc<SwappableRoot>,
    metrics: Arc<Metrics>,
    interval: Duration,
    /// `None` without inotify, or for a path with no last name to watch (`/`, one ending in
    /// `..`): the clock alone notices then.
    parent: Option<Parent>,
    missing: Option<Missing>,
}

impl Watch {
    fn run(mut self, stop: &OwnedFd) {
        // The parent is watched already: a swap since the root was opened is seen now, and any
        // later one raises an event.
        self.recheck();
        let mut next = Instant::now() + self.interval;
        loop {
            let (stopped, queued) = self.wait(stop, next.saturating_duration_since(Instant::now()));
            if stopped {
                return;
            }
            let named = queued && self.parent.as_mut().is_some_and(Parent::drain_names_path);
            let due = Instant::now() >= next;
            if due {
                if let Some(parent) = &mut self.parent {
                    parent.rewatch();
                }
                next = Instant::now() + self.interval;
            }
            if due || named {
                self.recheck();
            }
        }
    }

    /// Sleeps until `stop` is written, an inotify event is queued or `timeout` passes; says
    /// which of the first two happened.
    fn wait(&self, stop: &OwnedFd, timeout: Duration) -> (bool, bool) {
        let mut fds = vec![PollFd::new(stop, PollFlags::IN)];
        if let Some(parent) = &self.parent {
            fds.push(PollFd::new(&parent.fd, PollFlags::IN));
        }
        match rustix::event::poll(&mut fds, Timespec::try_from(timeout).ok().as_ref()) {
            Ok(_) => {}
            // A signal: the loop comes back here.
            Err(Errno::INTR) => return (false, false),
            // Never seen: sleep instead, so that the clock's rechecks go on without a spin.
            Err(_) => {
                thread::sleep(timeout);
                return (false, false);
            }
        }
        let ready = |fd: &PollFd<'_>| !fd.revents().is_empty();
        (ready(&fds[0]), fds.get(1).is_some_and(ready))
    }

    /// Opens the path again and swaps the root if it leads to another tree.
    fn recheck(&mut self) {
        let path = self.root.path.display();
        let current = self.root.current();
        match Root::open(&self.root.path) {
            Ok(found) if found.is_same_directory(&current) => {
                if self.missing.take().is_some_and(|m| m.said) {
                    eprintln!(
                        "http-server: the root {path} leads to {} again",
                        location(&current, &self.root.path)
                    );
                }
            }
            Ok(found) => {
                let found = Arc::new(found);
                eprintln!(
                    "http-server: the root {path} now serves {} (was {})",
                    location(&found, &self.root.path),
                    location(&current, &self.root.path)
                );
                self.root.swap(found);
                self.metrics.root_swapped();
                self.missing = None;
            }
            Err(e) => {
                let now = Instant::now();
                let missing = self.missing.get_or_insert(Missing {
                    since: now,
                    said: false,
                });
                if !missing.said && now.duration_since(missing.since) >= MISSING_GRACE {
                    missing.said = true;
                    eprintln!(
                        "http-server: warning: the root {path} leads to no directory ({e}); still serving {}",
                        location(&current, &self.root.path)
                    );
                }
            }
        }
    }
}

/// Where `root`'s tree is now, for messages; `path` if `/proc` cannot say.
fn location(root: &Root, path: &Path) -> String {
    root.location()
        .unwrap_or_else(|| path.to_path_buf())
        .display()
        .to_string()
}

/// The inotify watch on the parent directory of the path.
struct Parent {
    fd: OwnedFd,
    /// The parent's path, watched again by name on each recheck of the clock, in case the
    /// parent itself was replaced.
    dir: PathBuf,
    /// The path's last name.
    name: OsString,
    /// The current watch, if the parent could be watched.
    wd: Option<i32>,
}

impl Parent {
    fn watch(path: &Path) -> Option<Self> {
        let name = path.file_name()?.to_owned();
        let dir = path.parent()?.to_path_buf();
        let fd = inotify::init(CreateFlags::CLOEXEC | CreateFlags::NONBLOCK).ok()?;
        let mut parent = Self {
            fd,
            dir,
            name,
            wd: None,
        };
        parent.rewatch();
        Some(parent)
    }

    /// Watches the directory the parent's path leads to now (the kernel gives the same watch
    /// for the same directory), and lets go of the previous one if that was another.
    fn rewatch(&mut self) {
        // A parent that is gone now is looked for again on the next recheck of the clock.
        let Ok(wd) = inotify::add_watch(&self.fd, &self.dir, PARENT_EVENTS) else {
            return;
        };
        if let Some(old) = self.wd.replace(wd)
            && old != wd
        {
            let _ = inotify::remove_watch(&self.fd, old);
        }
    }

    /// Reads every queued event; whether one may have changed where the path leads (it names
    /// the path's last name, or the parent went away). The parent is watched again then.
    fn drain_names_path(&mut self) -> bool {
        let mut buf = [MaybeUninit::<u8>::uninit(); 4096];
        let mut reader = inotify::Reader::new(&self.fd, &mut buf);
        let (mut named, mut gone) = (false, false);
        // Ends at `EAGAIN`: the queue is empty.
        while let Ok(event) = reader.next() {
            gone |= event.events().intersects(PARENT_GONE);
            named |= event
                .file_name()
                .is_some_and(|n| n.to_bytes() == self.name.as_bytes());
        }
        if gone {
            self.rewatch();
        }
        named || gone
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::symlink;

    use super::*;

    /// Long enough that only inotify can have noticed within a test.
    const NEVER: Duration = Duration::from_secs(3600);

    /// How long a test waits for what a loaded machine may take a while to show.
    const PATIENCE: Duration = Duration::from_secs(10);

    /// A deploy layout: `releases/1` and `releases/2`, each with a `version` file, and
    /// `current` leading to `releases/1`.
    fn releases() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        for n in ["1", "2"] {
            let release = dir.path().join("releases").join(n);
            fs::create_dir_all(&release).unwrap();
            fs::write(release.join("version"), n).unwrap();
        }
        let current = dir.path().join("current");
        symlink("releases/1", &current).unwrap();
        (dir, current)
    }

    /// The `version` file of the tree `view` serves now.
    fn served(view: &mut RootView) -> String {
        let (file, _) = crate::files::resolve::open_file(view.current(), "version").unwrap();
        io::read_to_string(file).unwrap()
    }

    /// Replaces the symlink `link` with one to `target` in one rename, as a deploy does.
    fn retarget(link: &Path, target: &str) {
        let staged = link.with_extension("new");
        symlink(target, &staged).unwrap();
        fs::rename(&staged, link).unwrap();
    }

    fn wait_for(view: &mut RootView, version: &str) -> bool {
        let end = Instant::now() + PATIENCE;
        while Instant::now() < end {
            if served(view) == version {
                return true;
            }
            thread::sleep(Duration::from_millis(10));
        }
        false
    }

    fn start(path: PathBuf, interval: Duration) -> (Arc<SwappableRoot>, Arc<Metrics>, Watcher) {
        let root = Arc::new(SwappableRoot::open(path).unwrap());
        let metrics = Arc::new(Metrics::new(1));
        let watcher = watch(Arc::clone(&root), Arc::clone(&metrics), interval).unwrap();
        (root, metrics, watcher)
    }

    #[test]
    fn a_view_keeps_its_tree_until_a_swap_and_then_takes_the_new_one() {
        let (dir, current) = releases();
        let root = Arc::new(SwappableRoot::open(current).unwrap());
        let mut view = root.view();
        assert_eq!(served(&mut view), "1");
        let held = Arc::clone(view.current());
        root.swap(Arc::new(
            Root::open(&dir.path().join("releases/2")).unwrap(),
        ));
        assert_eq!(served(&mut view), "2");
        // What a request took before the swap still reads its own tree.
        let (file, _) = crate::files::resolve::open_file(&held, "version").unwrap();
        assert_eq!(io::read_to_string(file).unwrap(), "1");
    }

    #[test]
    fn inotify_alone_notices_a_symlink_swapped_by_rename() {
        let (_dir, current) = releases();
        let (root, metrics, watcher) = start(current.clone(), NEVER);
        let mut view = root.view();
        retarget(&current, "releases/2");
        assert!(wait_for(&mut view, "2"), "the swap was not noticed");
        assert_eq!(metrics.snapshot().root_swaps, 1);
        assert!(watcher.finish(), "the watcher did not stop at once");
    }

    #[test]
    fn inotify_alone_notices_a_directory_renamed_in_place_of_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let www = dir.path().join("www");
        for (name, version) in [("www", "1"), ("www.new", "2")] {
            fs::create_dir(dir.path().join(name)).unwrap();
            fs::write(dir.path().join(name).join("version"), version).unwrap();
        }
        let (root, _metrics, watcher) = start(www.clone(), NEVER);
        let mut view = root.view();
        fs::rename(&www, dir.path().join("www.old")).unwrap();
        fs::rename(dir.path().join("www.new"), &www).unwrap();
        assert!(wait_for(&mut view, "2"), "the rename was not noticed");
        watcher.finish();
    }

    #[test]
    fn the_clock_notices_a_symlink_retargeted_in_an_ancestor() {
        let (dir, _current) = releases();
        // `link/version` is the root: inotify watches `link`'s target, which does not change.
        fs::create_dir(dir.path().join("releases/1/site")).unwrap();
        fs::create_dir(dir.path().join("releases/2/site")).unwrap();
        fs::write(dir.path().join("releases/1/site/version"), "1").unwrap();
        fs::write(dir.path().join("releases/2/site/version"), "2").unwrap();
        let link = dir.path().join("link");
        symlink("releases/1", &link).unwrap();
        let (root, _metrics, watcher) = start(link.join("site"), Duration::from_millis(50));
        let mut view = root.view();
        assert_eq!(served(&mut view), "1");
        retarget(&link, "releases/2");
        assert!(wait_for(&mut view, "2"), "the clock did not notice");
        watcher.finish();
    }

    /// The watcher's state without its thread: rechecks happen when the test says.
    fn by_hand(path: PathBuf) -> (Arc<SwappableRoot>, Watch) {
        let root = Arc::new(SwappableRoot::open(path).unwrap());
        let watch = Watch {
            root: Arc::clone(&root),
            metrics: Arc::new(Metrics::new(1)),
            interval: NEVER,
            parent: None,
            missing: None,
        };
        (root, watch)
    }

    #[test]
    fn a_root_that_leads_nowhere_keeps_the_last_tree_until_it_leads_somewhere_again() {
        let (_dir, current) = releases();
        let (root, mut watch) = by_hand(current.clone());
        let mut view = root.view();
        for dangling in ["releases/none", "releases/1/version"] {
            retarget(&current, dangling);
            watch.recheck();
            assert_eq!(served(&mut view), "1", "{dangling}");
            assert!(watch.missing.is_some());
        }
        retarget(&current, "releases/2");
        watch.recheck();
        assert_eq!(served(&mut view), "2");
        assert!(watch.missing.is_none());
        assert_eq!(watch.metrics.snapshot().root_swaps, 1);
    }

    #[test]
    fn the_same_directory_reached_another_way_is_no_swap() {
        let (_dir, current) = releases();
        let (root, mut watch) = by_hand(current.clone());
        let mut view = root.view();
        let before = Arc::clone(view.current());
        retarget(&current, "./releases/../releases/1");
        watch.recheck();
        assert!(Arc::ptr_eq(&before, view.current()));
        assert_eq!(watch.metrics.snapshot().root_swaps, 0);
        retarget(&current, "releases/2");
        watch.recheck();
        assert!(!Arc::ptr_eq(&before, view.current()));
    }
}
