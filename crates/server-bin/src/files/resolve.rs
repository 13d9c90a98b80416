//! Path resolution: from a decoded request target to an open file inside the document root.
//!
//! The defences, in order:
//! 1. `http_core::target::decode` has already removed `.`/`..` segments, rejected `%00` and
//!    encoded slashes, so the joined path is lexically inside the root.
//! 2. Hidden names (a segment starting with `.`) are 404 unless `--dotfiles`, except
//!    `/.well-known/` (RFC 8615).
//! 3. The joined path is canonicalised (symlinks resolved) and must still start with the
//!    canonical root; a symlink whose target leaves the root is 403.
//! 4. Only regular files are opened, with `O_NOFOLLOW` and `O_NONBLOCK` (a FIFO planted in the
//!    root cannot block a worker).
//!
//! Precompressed sidecars (`file.br`, `file.gz`) pass the same checks, and one older than its
//! file is ignored, so a stale sidecar is never served for a file that has changed.
//!
//! This module must not build responses; it answers with a [`Resolved`] or a [`ServeError`].

use std::fs::{self, File, Metadata, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use http_core::encoding::Coding;
use http_core::target::{Target, encode_path};
use rustix::fs::OFlags;

use crate::error::ServeError;

/// The index file served for a directory requested with a trailing slash.
pub const INDEX_FILE: &str = "index.html";

/// What a target resolves to.
#[derive(Debug)]
pub enum Resolved {
    /// A regular file, open for reading, with its metadata taken from the open descriptor.
    File {
        /// The open file.
        file: File,
        /// Its metadata (size and times of exactly the file that was opened).
        meta: Metadata,
        /// Its canonical path, whose name decides the content type.
        path: PathBuf,
    },
    /// A directory named without its trailing slash: redirect to this `Location`.
    Redirect(String),
    /// A directory named with its slash that has no index file (canonical path).
    Directory(PathBuf),
}

/// Resolves `target` against `root`, which must be canonical.
///
/// # Errors
///
/// [`ServeError::NotFound`] for missing or hidden names, [`ServeError::Forbidden`] for names
/// outside the root, unreadable files, directories without an index and special files.
pub fn resolve(root: &Path, target: &Target<'_>, dotfiles: bool) -> Result<Resolved, ServeError> {
    if !dotfiles && is_hidden(target) {
        return Err(ServeError::NotFound);
    }
    let mut joined = root.to_path_buf();
    joined.extend(target.segments());
    let canonical = inside_root(root, &joined)?;
    let meta = fs::metadata(&canonical)?;
    if meta.is_dir() {
        if !target.trailing_slash && target.path != "/" {
            return Ok(Resolved::Redirect(directory_location(target)));
        }
        return match inside_root(root, &canonical.join(INDEX_FILE)) {
            Ok(index) => open_regular(index),
            Err(ServeError::NotFound) => Ok(Resolved::Directory(canonical)),
            Err(e) => Err(e),
        };
    }
    open_regular(canonical)
}

/// Whether any segment is a dotfile, `/.well-known/` at the top excepted.
fn is_hidden(target: &Target<'_>) -> bool {
    target
        .segments()
        .enumerate()
        .any(|(i, s)| s.starts_with('.') && !(i == 0 && s == ".well-known"))
}

/// Canonicalises `path` and checks that it is still inside `root`.
fn inside_root(root: &Path, path: &Path) -> Result<PathBuf, ServeError> {
    let canonical = path.canonicalize()?;
    if canonical.starts_with(root) {
        Ok(canonical)
    } else {
        Err(ServeError::Forbidden)
    }
}

fn open_regular(path: PathBuf) -> Result<Resolved, ServeError> {
    let (file, meta) = open_file(&path)?;
    Ok(Resolved::File { file, meta, path })
}

fn open_file(path: &Path) -> Result<(File, Metadata), ServeError> {
    if !fs::metadata(path)?.is_file() {
        return Err(ServeError::Forbidden);
    }
    let file = OpenOptions::new()
        .read(true)
        .custom_flags((OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC).bits() as i32)
        .open(path)?;
    let meta = file.metadata().map_err(|_| ServeError::Internal)?;
    // The name may have been replaced between the check and the open.
    if !meta.is_file() {
        return Err(ServeError::Forbidden);
    }
    Ok((file, meta))
}

/// The sidecar of `path` (canonical, inside `root`) for `coding`, if there is a regular file
/// inside the root at `path.br`/`path.gz` that is at least as new as `original`.
pub fn sidecar(root: &Path, path: &Path, original: &Metadata, coding: Coding) -> Option<PathBuf> {
    let mut name = path.as_os_str().to_owned();
    name.push(".");
    name.push(coding.extension());
    let sidecar = inside_root(root, Path::new(&name)).ok()?;
    let meta = fs::metadata(&sidecar).ok()?;
    let fresh = match (meta.modified(), original.modified()) {
        (Ok(sidecar_time), Ok(original_time)) => sidecar_time >= original_time,
        _ => false,
    };
    (meta.is_file() && fresh).then_some(sidecar)
}

/// Opens a sidecar found by [`sidecar`].
///
/// # Errors
///
/// As for any file: it may have gone or changed since it was found.
pub fn open_sidecar(path: &Path) -> Result<(File, Metadata), ServeError> {
    open_file(path)
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
    use std::os::unix::fs::symlink;

    use http_core::target::decode;

    use super::*;

    /// A root with a file, a directory with an index, one without, a dotfile and an outside file
    /// reached through symlinks.
    fn fixture() -> (tempfile::TempDir, PathBuf) {
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
        let root = root.canonicalize().unwrap();
        (dir, root)
    }

    fn resolve_raw(root: &Path, raw: &str, dotfiles: bool) -> Result<Resolved, ServeError> {
        resolve(root, &decode(raw.as_bytes())?, dotfiles)
    }

    fn file_name(r: Result<Resolved, ServeError>) -> Result<String, ServeError> {
        match r? {
            Resolved::File { path, .. } => Ok(path.file_name().unwrap().to_string_lossy().into()),
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
            file_name(resolve_raw(&root, "/a.txt", false)),
            Ok("a.txt".into())
        );
        assert_eq!(
            file_name(resolve_raw(&root, "/docs/", false)),
            Ok("index.html".into())
        );
        assert_eq!(
            file_name(resolve_raw(&root, "/link.txt", false)),
            Ok("a.txt".into())
        );
    }

    #[test]
    fn directories_without_slash_redirect_keeping_the_query() {
        let (_dir, root) = fixture();
        assert_eq!(
            file_name(resolve_raw(&root, "/docs?x=1&y", false)),
            Ok("redirect /docs/?x=1&y".into())
        );
    }

    #[test]
    fn a_directory_without_index_resolves_to_the_directory() {
        let (_dir, root) = fixture();
        assert_eq!(
            file_name(resolve_raw(&root, "/empty/", false)),
            Ok("dir empty".into())
        );
    }

    #[test]
    fn sidecars_must_be_fresh_regular_files_inside_the_root() {
        let (dir, root) = fixture();
        let a = root.join("a.txt");
        let meta = fs::metadata(&a).unwrap();
        assert_eq!(sidecar(&root, &a, &meta, Coding::Br), None);
        fs::write(root.join("a.txt.br"), "br").unwrap();
        assert_eq!(
            sidecar(&root, &a, &meta, Coding::Br),
            Some(root.join("a.txt.br"))
        );
        // Older than the file: stale, ignored.
        fs::write(root.join("a.txt.gz"), "gz").unwrap();
        let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1);
        let gz = File::options()
            .write(true)
            .open(root.join("a.txt.gz"))
            .unwrap();
        gz.set_modified(old).unwrap();
        assert_eq!(sidecar(&root, &a, &meta, Coding::Gzip), None);
        // A symlink out of the root is no sidecar.
        fs::remove_file(root.join("a.txt.br")).unwrap();
        symlink(dir.path().join("outside.txt"), root.join("a.txt.br")).unwrap();
        assert_eq!(sidecar(&root, &a, &meta, Coding::Br), None);
    }

    #[test]
    fn missing_names_are_not_found() {
        let (_dir, root) = fixture();
        for raw in ["/nope", "/a.txt/more", "/docs/nope.html"] {
            assert_eq!(
                file_name(resolve_raw(&root, raw, false)),
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
                file_name(resolve_raw(&root, raw, false)),
                Err(ServeError::Forbidden),
                "{raw}"
            );
        }
    }

    #[test]
    fn dotfiles_are_hidden_unless_enabled_but_well_known_is_served() {
        let (_dir, root) = fixture();
        assert_eq!(
            file_name(resolve_raw(&root, "/.env", false)),
            Err(ServeError::NotFound)
        );
        assert_eq!(
            file_name(resolve_raw(&root, "/.git/config", false)),
            Err(ServeError::NotFound)
        );
        assert_eq!(
            file_name(resolve_raw(&root, "/.env", true)),
            Ok(".env".into())
        );
        assert_eq!(
            file_name(resolve_raw(&root, "/.well-known/security.txt", false)),
            Ok("security.txt".into())
        );
        assert_eq!(
            file_name(resolve_raw(&root, "/docs/.well-known", false)),
            Err(ServeError::NotFound)
        );
    }

    #[test]
    fn redirect_locations_are_encoded() {
        let target = decode(b"/a%20b/caf%C3%A9?q=%22x%22").unwrap();
        assert_eq!(directory_location(&target), "/a%20b/caf%C3%A9/?q=%22x%22");
    }
}
