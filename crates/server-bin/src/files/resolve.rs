//! Path resolution: from a decoded request target to an open file (or directory) inside the
//! document root.
//!
//! The defences, in order:
//! 1. `http_core::target::decode` has already removed `.`/`..` segments, rejected `%00`, control
//!    bytes and encoded slashes, so the relative path is lexically inside the root.
//! 2. Hidden names (a segment starting with `.`) are 404 unless `--dotfiles`, except
//!    `/.well-known/` (RFC 8615).
//! 3. Every open is one `openat2` relative to a descriptor of the root with `RESOLVE_BENEATH |
//!    RESOLVE_NO_MAGICLINKS`: the kernel walks the path, symlinks included, and refuses in the
//!    same system call any step that would leave the root. Nothing is ever opened by a name that
//!    was checked earlier, so an attacker who can rename directories inside the root cannot swap
//!    a symlink in between a check and an open. The kernel's refusal (`EXDEV`, also for absolute
//!    symlinks, even ones that point back inside) is a 403, whether or not the target exists
//!    outside, so the status is no oracle for files outside the root.
//! 4. Before Linux 5.6 (`openat2` answers `ENOSYS`) the path is walked one component at a time
//!    with `openat(O_NOFOLLOW)` from the root's descriptor, and any symlink met is refused (403):
//!    following them by hand would be a second resolver to get right.
//! 5. Only regular files are served; everything is opened with `O_NONBLOCK`, so a FIFO planted
//!    in the root cannot block a worker. A file named with a trailing slash is 404, as a POSIX
//!    lookup (`ENOTDIR`) would say.
//!
//! Precompressed sidecars (`file.br`, `file.gz`) are opened the same way, and one older than its
//! file is ignored, so a stale sidecar is never served for a file that has changed.
//!
//! This module must not build responses (not even a `Location`); it answers with a
//! [`Resolved`] or a [`ServeError`].

use std::fs::{File, Metadata};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use http_core::encoding::Coding;
use http_core::target::Target;
use rustix::fd::{AsFd, AsRawFd, OwnedFd};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags, Stat};
use rustix::io::Errno;

use crate::error::ServeError;

/// The index file served for a directory requested with a trailing slash.
pub const INDEX_FILE: &str = "index.html";

/// How often a lookup that a concurrent rename disturbed (`EAGAIN`) is tried again before the
/// request gets a 503.
const RENAME_RETRIES: usize = 8;

/// Flags of every descriptor opened for serving.
const OPEN_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::NONBLOCK)
    .union(OFlags::CLOEXEC)
    .union(OFlags::NOCTTY);

/// Flags of a descriptor opened only to look at what a name leads to.
const PATH_FLAGS: OFlags = OFlags::PATH.union(OFlags::CLOEXEC);

/// Numbers told to each [`Root`] opened, so that no two are ever taken for one another.
static NEXT_ROOT_ID: AtomicU64 = AtomicU64::new(0);

/// One tree of the document root: a descriptor of the directory the root's path led to when
/// it was opened, which files are opened beneath. It stays that tree whatever later happens to
/// the path (`files::root` notices when the path leads elsewhere and opens another).
#[derive(Debug)]
pub struct Root {
    /// Kept for tests, which build paths to change the tree under a root they opened.
    #[cfg(test)]
    path: PathBuf,
    dir: OwnedFd,
    /// Unique in the process: what the small-file cache checks its entries against.
    id: u64,
    /// Device and inode of the directory: whether a path still leads to this tree.
    dev: u64,
    ino: u64,
    /// Cleared once the kernel answers `ENOSYS` (before Linux 5.6): components are walked then.
    has_openat2: AtomicBool,
}

impl Root {
    /// Opens the directory `path` leads to. Symlinks in `path` are followed: the root's own
    /// path is the one name outside the root that ever is.
    ///
    /// # Errors
    ///
    /// When `path` does not lead to a directory that can be opened.
    pub fn open(path: &Path) -> io::Result<Self> {
        let dir = rustix::fs::open(
            path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let stat = rustix::fs::fstat(&dir)?;
        Ok(Self {
            #[cfg(test)]
            path: path.to_path_buf(),
            dir,
            id: NEXT_ROOT_ID.fetch_add(1, Ordering::Relaxed),
            dev: stat.st_dev,
            ino: stat.st_ino,
            has_openat2: AtomicBool::new(true),
        })
    }

    /// A number no other root opened by this process has.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The path the root was opened at.
    #[cfg(test)]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether `other` is a descriptor of the same directory (the same tree).
    pub fn is_same_directory(&self, other: &Root) -> bool {
        (self.dev, self.ino) == (other.dev, other.ino)
    }

    /// Where the directory is now, as the kernel names it (a directory renamed since it was
    /// opened has its new name; a removed one ends in ` (deleted)`); for messages only.
    pub fn location(&self) -> Option<PathBuf> {
        std::fs::read_link(format!("/proc/self/fd/{}", self.dir.as_raw_fd())).ok()
    }

    /// Opens `rel` (relative, `/`-separated, already free of `.` and `..`; `.` for the root
    /// itself) inside the root, race-free. Symlinks are followed only while they stay inside.
    fn open_beneath(&self, rel: &str, flags: OFlags) -> Result<OwnedFd, ServeError> {
        self.open_resolving(rel, flags, ResolveFlags::empty())
    }

    /// Opens `rel` (`O_PATH`, a directory if `directory`) beneath the root only if no
    /// component of it is a symlink: the small-file cache watches the directories of such a
    /// path, which are then exactly the ones a lookup walks.
    pub fn open_without_symlinks(&self, rel: &str, directory: bool) -> Result<OwnedFd, ServeError> {
        let flags = match directory {
            true => PATH_FLAGS | OFlags::DIRECTORY,
            false => PATH_FLAGS,
        };
        self.open_resolving(rel, flags, ResolveFlags::NO_SYMLINKS)
    }

    /// `open_beneath`, with `extra` resolution flags. The component walk used without
    /// `openat2` refuses every symlink anyway.
    fn open_resolving(
        &self,
        rel: &str,
        flags: OFlags,
        extra: ResolveFlags,
    ) -> Result<OwnedFd, ServeError> {
        if self.has_openat2.load(Ordering::Relaxed) {
            let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS | extra;
            for _ in 0..RENAME_RETRIES {
                match rustix::fs::openat2(&self.dir, rel, flags, Mode::empty(), resolve) {
                    Ok(fd) => return Ok(fd),
                    // A rename somewhere in the file system raced the lookup of `..`.
                    Err(Errno::AGAIN) => {}
                    // The walk would have left the root: no fallback, no oracle.
                    Err(Errno::XDEV) => return Err(ServeError::Forbidden),
                    Err(Errno::NOSYS) => {
                        self.has_openat2.store(false, Ordering::Relaxed);
                        return self.open_walking(rel, flags);
                    }
                    Err(e) => return Err(io::Error::from(e).into()),
                }
            }
            return Err(ServeError::Unavailable);
        }
        self.open_walking(rel, flags)
    }

    /// Without `openat2`: one `openat(O_NOFOLLOW)` per component from the root's descriptor, so
    /// each step is taken from a directory already known to be inside. Symlinks are refused.
    fn open_walking(&self, rel: &str, flags: OFlags) -> Result<OwnedFd, ServeError> {
        let mut components = rel.split('/').filter(|c| !c.is_empty()).peekable();
        let mut dir: Option<OwnedFd> = None;
        while let Some(name) = components.next() {
            if name == ".." {
                return Err(ServeError::Forbidden);
            }
            let at = dir.as_ref().map_or(self.dir.as_fd(), AsFd::as_fd);
            let last = components.peek().is_none();
            let step_flags = if last {
                flags | OFlags::NOFOLLOW
            } else {
                PATH_FLAGS | OFlags::DIRECTORY | OFlags::NOFOLLOW
            };
            match rustix::fs::openat(at, name, step_flags, Mode::empty()) {
                Ok(fd) => {
                    // O_PATH | O_NOFOLLOW opens a symlink itself rather than failing.
                    if step_flags.contains(OFlags::PATH) && is_symlink(&fd) {
                        return Err(ServeError::Forbidden);
                    }
                    dir = Some(fd);
                }
                Err(Errno::LOOP) => return Err(ServeError::Forbidden),
                Err(Errno::NOTDIR) if is_symlink_at(at, name) => {
                    return Err(ServeError::Forbidden);
                }
                Err(e) => return Err(io::Error::from(e).into()),
            }
        }
        match dir {
            Some(fd) => Ok(fd),
            None => Ok(rustix::fs::openat(&self.dir, ".", flags, Mode::empty())
                .map_err(io::Error::from)?),
        }
    }

    /// The status of what `rel` names now, looked up race-free like an open: the small-file
    /// cache revalidates through it, and a listing looks at the targets of symlinks with it.
    pub fn stat_beneath(&self, rel: &str) -> Result<Stat, ServeError> {
        let fd = self.open_beneath(rel, PATH_FLAGS)?;
        rustix::fs::fstat(&fd).map_err(|_| ServeError::Internal)
    }
}

fn is_symlink(fd: &OwnedFd) -> bool {
    rustix::fs::fstat(fd).is_ok_and(|s| FileType::from_raw_mode(s.st_mode) == FileType::Symlink)
}

fn is_symlink_at(dir: rustix::fd::BorrowedFd<'_>, name: &str) -> bool {
    rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
        .is_ok_and(|s| FileType::from_raw_mode(s.st_mode) == FileType::Symlink)
}

/// Opens `rel` beneath `root` as resolution does (race-free, no way out of the root), with
/// the metadata of exactly the file opened; whatever its type.
pub fn open_file(root: &Root, rel: &str) -> Result<(File, Metadata), ServeError> {
    let file = File::from(root.open_beneath(rel, OPEN_FLAGS)?);
    let meta = file.metadata().map_err(|_| ServeError::Internal)?;
    Ok((file, meta))
}

/// What a target resolves to.
#[derive(Debug)]
pub enum Resolved {
    /// A regular file, open for reading, with its metadata taken from the open descriptor.
    File {
        /// The open file.
        file: File,
        /// Its metadata (size and times of exactly the file that was opened).
        meta: Metadata,
        /// Its path relative to the root, as requested (`index.html` appended for a directory):
        /// its name decides the content type, and sidecars are found next to it.
        rel: String,
    },
    /// A directory named without its trailing slash: the client should add it.
    Redirect,
    /// A directory named with its slash that has no index file.
    Directory {
        /// The directory, open for reading its entries.
        dir: OwnedFd,
        /// Its path relative to the root (`.` for the root).
        rel: String,
    },
}

/// Resolves `target` against `root`.
///
/// # Errors
///
/// [`ServeError::NotFound`] for missing or hidden names, [`ServeError::Forbidden`] for names
/// outside the root, unreadable files, and special files.
pub fn resolve(root: &Root, target: &Target<'_>, dotfiles: bool) -> Result<Resolved, ServeError> {
    if !dotfiles && is_hidden(target) {
        return Err(ServeError::NotFound);
    }
    let mut rel = target.path.trim_start_matches('/').to_owned();
    if rel.is_empty() {
        rel.push('.');
    }
    let (file, meta) = open_file(root, &rel)?;
    if !meta.is_dir() {
        if target.trailing_slash {
            // `/file.txt/` names a directory that is not there.
            return Err(ServeError::NotFound);
        }
        return regular(file, meta, rel);
    }
    if !target.trailing_slash && target.path != "/" {
        return Ok(Resolved::Redirect);
    }
    let index = if rel == "." {
        INDEX_FILE.to_owned()
    } else {
        format!("{rel}/{INDEX_FILE}")
    };
    match open_file(root, &index) {
        Ok((file, meta)) => regular(file, meta, index),
        Err(ServeError::NotFound) => Ok(Resolved::Directory {
            dir: file.into(),
            rel,
        }),
        Err(e) => Err(e),
    }
}

fn regular(file: File, meta: Metadata, rel: String) -> Result<Resolved, ServeError> {
    if meta.is_file() {
        Ok(Resolved::File { file, meta, rel })
    } else {
        Err(ServeError::Forbidden)
    }
}

/// Whether any segment is a dotfile, `/.well-known/` at the top excepted.
fn is_hidden(target: &Target<'_>) -> bool {
    target
        .segments()
        .enumerate()
        .any(|(i, s)| s.starts_with('.') && !(i == 0 && s == ".well-known"))
}

/// The sidecar of `rel` for `coding`, opened, if it is a regular file inside the root that is
/// at least as new as `original`.
pub fn sidecar(
    root: &Root,
    rel: &str,
    original: &Metadata,
    coding: Coding,
) -> Option<(File, Metadata)> {
    let name = format!("{rel}.{}", coding.extension());
    let (file, meta) = open_file(root, &name).ok()?;
    let fresh = match (meta.modified(), original.modified()) {
        (Ok(sidecar_time), Ok(original_time)) => sidecar_time >= original_time,
        _ => false,
    };
    (meta.is_file() && fresh).then_some((file, meta))
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::symlink;

    use http_core::target::decode;

    use super::*;

    /// A root with a file, a directory with an index, one without, a dotfile and an outside file
    /// reached through symlinks.
    fn fixture() -> (tempfile::TempDir, Root) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        fs::create_dir_all(root.join("docs")).unwrap();
        fs::create_dir_all(root.join("empty")).unwrap();
        fs::create_dir_all(root.join(".git")).unwrap();
        fs::create_dir_all(root.join(".well-known")).unwrap();
        fs::write(root.join("a.txt"), "a").unwrap();
        fs::write(root.join("docs/index.html"), "index").unwrap();
        fs::write(root.join(".env"), "secret").unwrap();
        fs::write(root.join(".git/config"), "secret").unwrap();
        fs::write(root.join(".well-known/security.txt"), "contact").unwrap();
        fs::write(dir.path().join("outside.txt"), "outside").unwrap();
        symlink(dir.path().join("outside.txt"), root.join("escape.txt")).unwrap();
        symlink(dir.path(), root.join("escape-dir")).unwrap();
        symlink("../outside.txt", root.join("relative-escape.txt")).unwrap();
        symlink("a.txt", root.join("link.txt")).unwrap();
        symlink("docs", root.join("docs-link")).unwrap();
        symlink("../a.txt", root.join("docs/up-link.txt")).unwrap();
        let root = root.canonicalize().unwrap();
        symlink(root.join("a.txt"), root.join("absolute-inside.txt")).unwrap();
        let root = Root::open(&root).unwrap();
        (dir, root)
    }

    fn resolve_raw(root: &Root, raw: &str, dotfiles: bool) -> Result<Resolved, ServeError> {
        resolve(root, &decode(raw.as_bytes())?, dotfiles)
    }

    /// What a resolution names, or the contents of the file it opened.
    fn outcome(r: Result<Resolved, ServeError>) -> Result<String, ServeError> {
        match r? {
            Resolved::File { file, rel, .. } => {
                let contents = std::io::read_to_string(file).map_err(|_| ServeError::Internal)?;
                Ok(format!("{rel}: {contents}"))
            }
            Resolved::Redirect => Ok("redirect".into()),
            Resolved::Directory { rel, .. } => Ok(format!("dir {rel}")),
        }
    }

    #[test]
    fn plain_files_and_directory_indexes_resolve() {
        let (_dir, root) = fixture();
        for (raw, expected) in [
            ("/a.txt", "a.txt: a"),
            ("/docs/", "docs/index.html: index"),
            ("/link.txt", "link.txt: a"),
            ("/docs-link/", "docs-link/index.html: index"),
            ("/docs/up-link.txt", "docs/up-link.txt: a"),
        ] {
            assert_eq!(outcome(resolve_raw(&root, raw, false)), Ok(expected.into()));
        }
    }

    #[test]
    fn an_absolute_symlink_is_forbidden_even_when_it_points_inside() {
        let (_dir, root) = fixture();
        assert_eq!(
            outcome(resolve_raw(&root, "/absolute-inside.txt", false)),
            Err(ServeError::Forbidden)
        );
    }

    #[test]
    fn directories_without_slash_redirect() {
        let (_dir, root) = fixture();
        assert_eq!(
            outcome(resolve_raw(&root, "/docs?x=1&y", false)),
            Ok("redirect".into())
        );
    }

    #[test]
    fn a_directory_without_index_resolves_to_the_open_directory() {
        let (_dir, root) = fixture();
        assert_eq!(
            outcome(resolve_raw(&root, "/empty/", false)),
            Ok("dir empty".into())
        );
        let Ok(Resolved::Directory { dir, .. }) = resolve_raw(&root, "/empty/", false) else {
            panic!("not a directory");
        };
        let stat = rustix::fs::fstat(&dir).unwrap();
        assert_eq!(FileType::from_raw_mode(stat.st_mode), FileType::Directory);
    }

    #[test]
    fn missing_names_are_not_found() {
        let (_dir, root) = fixture();
        for raw in ["/nope", "/a.txt/more", "/docs/nope.html"] {
            assert_eq!(
                outcome(resolve_raw(&root, raw, false)),
                Err(ServeError::NotFound),
                "{raw}"
            );
        }
    }

    #[test]
    fn a_file_named_with_a_trailing_slash_is_not_found() {
        let (_dir, root) = fixture();
        assert_eq!(
            outcome(resolve_raw(&root, "/a.txt/", false)),
            Err(ServeError::NotFound)
        );
    }

    #[test]
    fn symlinks_leaving_the_root_are_forbidden() {
        let (_dir, root) = fixture();
        for raw in [
            "/escape.txt",
            "/relative-escape.txt",
            "/escape-dir/outside.txt",
            "/escape-dir/",
        ] {
            assert_eq!(
                outcome(resolve_raw(&root, raw, false)),
                Err(ServeError::Forbidden),
                "{raw}"
            );
        }
    }

    #[test]
    fn outside_the_root_a_missing_file_and_an_existing_one_get_the_same_answer() {
        let (_dir, root) = fixture();
        assert_eq!(
            outcome(resolve_raw(&root, "/escape-dir/outside.txt", false)),
            outcome(resolve_raw(&root, "/escape-dir/no-such-file", false)),
        );
    }

    #[test]
    fn without_openat2_the_walk_stays_inside_and_refuses_symlinks() {
        let (_dir, root) = fixture();
        root.has_openat2.store(false, Ordering::Relaxed);
        for (raw, expected) in [
            ("/a.txt", Ok("a.txt: a".to_owned())),
            ("/docs/", Ok("docs/index.html: index".to_owned())),
            ("/empty/", Ok("dir empty".to_owned())),
            ("/", Ok("dir .".to_owned())),
            ("/nope", Err(ServeError::NotFound)),
            ("/a.txt/more", Err(ServeError::NotFound)),
            ("/link.txt", Err(ServeError::Forbidden)),
            ("/docs-link/", Err(ServeError::Forbidden)),
            ("/docs/up-link.txt", Err(ServeError::Forbidden)),
            ("/escape.txt", Err(ServeError::Forbidden)),
            ("/escape-dir/outside.txt", Err(ServeError::Forbidden)),
            ("/escape-dir/no-such-file", Err(ServeError::Forbidden)),
        ] {
            assert_eq!(outcome(resolve_raw(&root, raw, false)), expected, "{raw}");
        }
    }

    #[test]
    fn dotfiles_are_hidden_unless_enabled_but_well_known_is_served() {
        let (_dir, root) = fixture();
        assert_eq!(
            outcome(resolve_raw(&root, "/.env", false)),
            Err(ServeError::NotFound)
        );
        assert_eq!(
            outcome(resolve_raw(&root, "/.git/config", false)),
            Err(ServeError::NotFound)
        );
        assert_eq!(
            outcome(resolve_raw(&root, "/.env", true)),
            Ok(".env: secret".into())
        );
        assert_eq!(
            outcome(resolve_raw(&root, "/.well-known/security.txt", false)),
            Ok(".well-known/security.txt: contact".into())
        );
        assert_eq!(
            outcome(resolve_raw(&root, "/docs/.well-known", false)),
            Err(ServeError::NotFound)
        );
    }

    #[test]
    fn special_files_are_forbidden_and_do_not_block() {
        let (_dir, root) = fixture();
        let fifo = root.path().join("pipe");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            FileType::Fifo,
            Mode::from_raw_mode(0o644),
            0,
        )
        .unwrap();
        assert_eq!(
            outcome(resolve_raw(&root, "/pipe", false)),
            Err(ServeError::Forbidden)
        );
    }

    #[test]
    fn stat_beneath_refuses_what_leaves_the_root() {
        let (_dir, root) = fixture();
        assert!(root.stat_beneath("a.txt").is_ok());
        assert_eq!(
            root.stat_beneath("escape.txt").err(),
            Some(ServeError::Forbidden)
        );
        assert_eq!(
            root.stat_beneath("escape-dir/outside.txt").err(),
            Some(ServeError::Forbidden)
        );
    }

    #[test]
    fn sidecars_must_be_fresh_regular_files_inside_the_root() {
        let (dir, root) = fixture();
        let a = root.path().join("a.txt");
        let meta = fs::metadata(&a).unwrap();
        let found =
            |c| sidecar(&root, "a.txt", &meta, c).map(|(f, _)| std::io::read_to_string(f).unwrap());
        assert_eq!(found(Coding::Br), None);
        fs::write(root.path().join("a.txt.br"), "br").unwrap();
        assert_eq!(found(Coding::Br).as_deref(), Some("br"));
        // Older than the file: stale, ignored.
        fs::write(root.path().join("a.txt.gz"), "gz").unwrap();
        let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1);
        let gz = File::options()
            .write(true)
            .open(root.path().join("a.txt.gz"))
            .unwrap();
        gz.set_modified(old).unwrap();
        assert_eq!(found(Coding::Gzip), None);
        // A symlink out of the root is no sidecar.
        fs::remove_file(root.path().join("a.txt.br")).unwrap();
        symlink(dir.path().join("outside.txt"), root.path().join("a.txt.br")).unwrap();
        assert_eq!(found(Coding::Br), None);
    }
}
