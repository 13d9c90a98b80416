//! Path resolution: from a decoded request target to an open file inside the document root.
//!
//! The defences, in order:
//! 1. `http_core::target::decode` has already removed `.`/`..` segments, rejected `%00`, control
//!    bytes and encoded slashes, so the relative path is lexically inside the root.
//! 2. Hidden names (a segment starting with `.`) are 404 unless `--dotfiles`, except
//!    `/.well-known/` (RFC 8615).
//! 3. The file is opened relative to a descriptor of the root with `openat2` and
//!    `RESOLVE_BENEATH`: the kernel refuses any resolution, symlinks included, that would leave
//!    the root, in one system call. Where the kernel refuses (`EXDEV`: an absolute symlink, or
//!    one that leaves the root) or lacks `openat2`, the path is canonicalised instead and must
//!    still start with the canonical root: a symlink whose target is inside the root is served,
//!    one that leaves it is 403.
//! 4. Only regular files are served; everything is opened with `O_NONBLOCK`, so a FIFO planted
//!    in the root cannot block a worker.
//!
//! Precompressed sidecars (`file.br`, `file.gz`) pass the same checks, and one older than its
//! file is ignored, so a stale sidecar is never served for a file that has changed.
//!
//! This module must not build responses; it answers with a [`Resolved`] or a [`ServeError`].

use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use http_core::encoding::Coding;
use http_core::target::{Target, encode_path};
use rustix::fd::OwnedFd;
use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use crate::error::ServeError;

/// The index file served for a directory requested with a trailing slash.
pub const INDEX_FILE: &str = "index.html";

/// The document root: its canonical path and a descriptor that files are opened beneath.
#[derive(Debug)]
pub struct Root {
    path: PathBuf,
    dir: OwnedFd,
    /// Cleared once the kernel answers `ENOSYS` (before Linux 5.6): the slow path is used then.
    has_openat2: AtomicBool,
}

impl Root {
    /// Opens the root directory at `path`, which must be canonical.
    ///
    /// # Errors
    ///
    /// When the directory cannot be opened.
    pub fn open(path: &Path) -> io::Result<Self> {
        let dir = rustix::fs::open(
            path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Self {
            path: path.to_path_buf(),
            dir,
            has_openat2: AtomicBool::new(true),
        })
    }

    /// The canonical path of the root.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The root directory's descriptor (opened with `O_PATH`).
    pub fn dir(&self) -> &OwnedFd {
        &self.dir
    }

    /// Opens `rel` (relative, `/`-separated, already free of `.` and `..`) inside the root.
    fn open_beneath(&self, rel: &str) -> Result<(File, Metadata), ServeError> {
        let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY;
        if self.has_openat2.load(Ordering::Relaxed) {
            let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
            // EAGAIN: a concurrent rename raced the lookup; one retry, then the slow path.
            for _ in 0..2 {
                match rustix::fs::openat2(&self.dir, rel, flags, Mode::empty(), resolve) {
                    Ok(fd) => return with_metadata(File::from(fd)),
                    Err(Errno::AGAIN) => {}
                    Err(Errno::XDEV) => break,
                    Err(Errno::NOSYS) => {
                        self.has_openat2.store(false, Ordering::Relaxed);
                        break;
                    }
                    Err(e) => return Err(io::Error::from(e).into()),
                }
            }
        }
        self.open_canonical(rel)
    }

    /// The slow path: canonicalise, check the result is inside the root, open what it names.
    fn open_canonical(&self, rel: &str) -> Result<(File, Metadata), ServeError> {
        let canonical = self.path.join(rel).canonicalize()?;
        if !canonical.starts_with(&self.path) {
            return Err(ServeError::Forbidden);
        }
        // The canonical path has no symlinks left, so none may appear at its end now.
        let file = OpenOptions::new()
            .read(true)
            .custom_flags((OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY).bits() as i32)
            .open(&canonical)?;
        with_metadata(file)
    }
}

fn with_metadata(file: File) -> Result<(File, Metadata), ServeError> {
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
    /// A directory named without its trailing slash: redirect to this `Location`.
    Redirect(String),
    /// A directory named with its slash that has no index file (its path under the root).
    Directory(PathBuf),
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
    let (file, meta) = root.open_beneath(&rel)?;
    if meta.is_dir() {
        if !target.trailing_slash && target.path != "/" {
            return Ok(Resolved::Redirect(directory_location(target)));
        }
        rel = if rel == "." {
            INDEX_FILE.to_owned()
        } else {
            format!("{rel}/{INDEX_FILE}")
        };
        return match root.open_beneath(&rel) {
            Ok((file, meta)) => regular(file, meta, rel),
            Err(ServeError::NotFound) => Ok(Resolved::Directory(
                root.path.join(target.path.trim_start_matches('/')),
            )),
            Err(e) => Err(e),
        };
    }
    regular(file, meta, rel)
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
    let (file, meta) = root.open_beneath(&name).ok()?;
    let fresh = match (meta.modified(), original.modified()) {
        (Ok(sidecar_time), Ok(original_time)) => sidecar_time >= original_time,
        _ => false,
    };
    (meta.is_file() && fresh).then_some((file, meta))
}

/// `Location` for a directory requested without its slash: the same path with `/` appended,
/// query kept (RFC 9110 §15.4.2). The path is re-encoded, so nothing from the request reaches
/// the header unescaped.
fn directory_location(target: &Target<'_>) -> String {
    let mut location = encode_path(&target.path);
    location.push('/');
    if let Some(query) = target.query {
        location.push('?');
        // The query came from the request line, which admits only visible ASCII and obs-text;
        // escape obs-text so the header stays ASCII.
        for &b in query {
            if b.is_ascii_graphic() {
                location.push(char::from(b));
            } else {
                location.push_str(&format!("%{b:02X}"));
            }
        }
    }
    location
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
        symlink("a.txt", root.join("link.txt")).unwrap();
        symlink("../a.txt", root.join("docs/up-link.txt")).unwrap();
        let root = root.canonicalize().unwrap();
        // An absolute symlink that stays inside: the kernel refuses it beneath the root, the
        // slow path serves it.
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
            Resolved::Redirect(l) => Ok(format!("redirect {l}")),
            Resolved::Directory(d) => {
                Ok(format!("dir {}", d.file_name().unwrap().to_string_lossy()))
            }
        }
    }

    #[test]
    fn plain_files_and_directory_indexes_resolve() {
        let (_dir, root) = fixture();
        assert_eq!(
            outcome(resolve_raw(&root, "/a.txt", false)),
            Ok("a.txt: a".into())
        );
        assert_eq!(
            outcome(resolve_raw(&root, "/docs/", false)),
            Ok("docs/index.html: index".into())
        );
        assert_eq!(
            outcome(resolve_raw(&root, "/link.txt", false)),
            Ok("link.txt: a".into())
        );
        assert_eq!(
            outcome(resolve_raw(&root, "/docs/up-link.txt", false)),
            Ok("docs/up-link.txt: a".into())
        );
    }

    #[test]
    fn an_absolute_symlink_inside_the_root_is_served_by_the_slow_path() {
        let (_dir, root) = fixture();
        assert_eq!(
            outcome(resolve_raw(&root, "/absolute-inside.txt", false)),
            Ok("absolute-inside.txt: a".into())
        );
    }

    #[test]
    fn directories_without_slash_redirect_keeping_the_query() {
        let (_dir, root) = fixture();
        assert_eq!(
            outcome(resolve_raw(&root, "/docs?x=1&y", false)),
            Ok("redirect /docs/?x=1&y".into())
        );
    }

    #[test]
    fn a_directory_without_index_resolves_to_the_directory() {
        let (_dir, root) = fixture();
        assert_eq!(
            outcome(resolve_raw(&root, "/empty/", false)),
            Ok("dir empty".into())
        );
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
    fn symlinks_leaving_the_root_are_forbidden() {
        let (_dir, root) = fixture();
        for raw in ["/escape.txt", "/escape-dir/outside.txt", "/escape-dir/"] {
            assert_eq!(
                outcome(resolve_raw(&root, raw, false)),
                Err(ServeError::Forbidden),
                "{raw}"
            );
        }
    }

    #[test]
    fn the_slow_path_enforces_the_root_on_its_own() {
        let (_dir, root) = fixture();
        root.has_openat2.store(false, Ordering::Relaxed);
        assert_eq!(
            outcome(resolve_raw(&root, "/a.txt", false)),
            Ok("a.txt: a".into())
        );
        assert_eq!(
            outcome(resolve_raw(&root, "/escape.txt", false)),
            Err(ServeError::Forbidden)
        );
        assert_eq!(
            outcome(resolve_raw(&root, "/escape-dir/outside.txt", false)),
            Err(ServeError::Forbidden)
        );
        assert_eq!(
            outcome(resolve_raw(&root, "/docs/", false)),
            Ok("docs/index.html: index".into())
        );
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
            rustix::fs::FileType::Fifo,
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

    #[test]
    fn redirect_locations_are_encoded() {
        let target = decode(b"/a%20b/caf%C3%A9?q=%22x%22").unwrap();
        assert_eq!(directory_location(&target), "/a%20b/caf%C3%A9/?q=%22x%22");
    }
}
