//! The binary's errors: [`StartupError`] ends the process before it listens; [`ServeError`] ends
//! one request, and [`ServeError::status`] is the one place it becomes an HTTP status.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

use http_core::{ParseError, StatusCode};

/// Why the server could not start. Printed as one line on stderr, then exit status 1.
#[derive(Debug)]
pub enum StartupError {
    /// The document root is missing, unreadable or not a directory.
    Root {
        /// The root as given.
        path: PathBuf,
        /// What the file system said.
        source: io::Error,
    },
    /// No root was given and the default one is not in the working directory.
    NoDefaultRoot {
        /// The default root.
        path: PathBuf,
        /// The working directory it was looked for in.
        cwd: PathBuf,
    },
    /// The listening socket could not be set up.
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The option that chose the port (`--port`, `--redirect-http`), for the hint when the
        /// port is taken.
        option: &'static str,
        /// What the OS said.
        source: io::Error,
    },
    /// An inherited listening socket cannot be used.
    Inherit {
        /// The descriptor number.
        fd: i32,
        /// Why.
        source: io::Error,
    },
    /// The site file (`--config`) cannot be used.
    Site(crate::site::file::SiteError),
    /// Signals, the poller or the worker threads could not be set up.
    Setup {
        /// What was being set up.
        what: &'static str,
        /// Why it failed.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl fmt::Display for StartupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Root { path, source } if source.kind() == io::ErrorKind::NotFound => {
                write!(f, "document root '{}' does not exist", path.display())
            }
            Self::Root { path, source } if source.kind() == io::ErrorKind::NotADirectory => {
                write!(f, "document root '{}' is not a directory", path.display())
            }
            Self::Root { path, .. } => {
                write!(f, "cannot use document root '{}'", path.display())
            }
            Self::NoDefaultRoot { path, cwd } => write!(
                f,
                "no folder '{}' in {} to serve; to serve another folder: http-server DIR",
                path.display(),
                cwd.display()
            ),
            // The one error a newcomer meets first (a second `make`): it says what to do. The
            // cause is said here, so `source` leaves it out.
            Self::Bind {
                addr,
                option,
                source,
            } if source.kind() == io::ErrorKind::AddrInUse => {
                write!(f, "cannot listen on {addr}: the port is in use; ")?;
                // The next port up, which is likely free and easy to remember.
                let next = addr.port().checked_add(1).unwrap_or(8081);
                match *option {
                    "--port" => write!(
                        f,
                        "choose another with --port {next}, or --port 0 for any free one (under make: make PORT={next})"
                    ),
                    option => write!(f, "choose another with {option} PORT"),
                }
            }
            Self::Bind { addr, .. } => write!(f, "cannot listen on {addr}"),
            Self::Inherit { fd, .. } => write!(f, "cannot use inherited socket (descriptor {fd})"),
            // The file, line and column come first, as compilers print them.
            Self::Site(e) => write!(f, "{e}"),
            Self::Setup { what, .. } => write!(f, "cannot set up {what}"),
        }
    }
}

impl std::error::Error for StartupError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Bind { source, .. } if source.kind() == io::ErrorKind::AddrInUse => None,
            Self::Root { source, .. } if source.kind() == io::ErrorKind::NotADirectory => None,
            Self::Root { source, .. }
            | Self::Bind { source, .. }
            | Self::Inherit { source, .. } => Some(source),
            Self::Setup { source, .. } => Some(source.as_ref()),
            Self::Site(e) => e.source(),
            Self::NoDefaultRoot { .. } => None,
        }
    }
}

/// Why a request gets an error response instead of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServeError {
    /// The request head or its target could not be parsed.
    Parse(ParseError),
    /// No such file, or a hidden one.
    NotFound,
    /// The file exists but may not be served (outside the root, unreadable, a directory
    /// without an index).
    Forbidden,
    /// A directory without an index file, while listings are off.
    NoListing,
    /// A method this server knows but does not allow on files.
    MethodNotAllowed,
    /// A protected path, without good credentials.
    Unauthorized,
    /// Too many failed passwords from this client: wait.
    TooManyRequests,
    /// `If-Match` or `If-Unmodified-Since` did not hold.
    PreconditionFailed,
    /// A request body longer than a GET or HEAD may carry (HTTP/2, which reads it).
    ContentTooLarge,
    /// No requested range overlaps the representation, which has this many bytes.
    RangeNotSatisfiable(u64),
    /// The request head did not arrive in time.
    Timeout,
    /// The process is out of file descriptors (or memory) for now: try again shortly.
    Unavailable,
    /// Something on our side failed while preparing the response.
    Internal,
}

impl ServeError {
    /// The response status. The only mapping from request failures to statuses.
    pub fn status(self) -> StatusCode {
        match self {
            Self::Parse(e) => e.status(),
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Forbidden | Self::NoListing => StatusCode::FORBIDDEN,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::ContentTooLarge => StatusCode::CONTENT_TOO_LARGE,
            Self::RangeNotSatisfiable(_) => StatusCode::RANGE_NOT_SATISFIABLE,
            Self::Timeout => StatusCode::REQUEST_TIMEOUT,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<ParseError> for ServeError {
    fn from(e: ParseError) -> Self {
        Self::Parse(e)
    }
}

/// Whether `e` says the process or the system is out of descriptors, buffers or memory for
/// now: a reason to back off and answer `503`, not a fault of the request. (The pool backs off
/// accepting on the same errors.)
pub use pool::is_resource_exhaustion;

/// Maps a file-system error met while resolving a path.
impl From<io::Error> for ServeError {
    fn from(e: io::Error) -> Self {
        use rustix::io::Errno;
        let is_loop = e.raw_os_error() == Some(Errno::LOOP.raw_os_error());
        if is_resource_exhaustion(&e) {
            return Self::Unavailable;
        }
        match e.kind() {
            io::ErrorKind::PermissionDenied => Self::Forbidden,
            // ENOENT, ENOTDIR, ENAMETOOLONG, ELOOP: there is no file to serve at this name.
            io::ErrorKind::NotFound
            | io::ErrorKind::NotADirectory
            | io::ErrorKind::InvalidFilename => Self::NotFound,
            _ if is_loop => Self::NotFound,
            // EIO and the like are our trouble, not the client's.
            _ => Self::Internal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_errno(code: rustix::io::Errno) -> ServeError {
        io::Error::from_raw_os_error(code.raw_os_error()).into()
    }

    #[test]
    fn a_root_that_is_a_file_is_said_once() {
        // main prints the chain of sources after the message: "not a directory" twice was
        // what a newcomer saw.
        let e = StartupError::Root {
            path: "one.txt".into(),
            source: io::Error::from(io::ErrorKind::NotADirectory),
        };
        assert_eq!(e.to_string(), "document root 'one.txt' is not a directory");
        assert!(std::error::Error::source(&e).is_none());
    }

    #[test]
    fn file_system_errors_map_to_what_the_client_can_do_about_them() {
        use rustix::io::Errno;
        assert_eq!(from_errno(Errno::NOENT), ServeError::NotFound);
        assert_eq!(from_errno(Errno::NOTDIR), ServeError::NotFound);
        assert_eq!(from_errno(Errno::LOOP), ServeError::NotFound);
        assert_eq!(from_errno(Errno::NAMETOOLONG), ServeError::NotFound);
        assert_eq!(from_errno(Errno::ACCESS), ServeError::Forbidden);
        assert_eq!(from_errno(Errno::MFILE), ServeError::Unavailable);
        assert_eq!(from_errno(Errno::NFILE), ServeError::Unavailable);
        assert_eq!(from_errno(Errno::NOBUFS), ServeError::Unavailable);
        assert_eq!(from_errno(Errno::NOMEM), ServeError::Unavailable);
        assert_eq!(from_errno(Errno::IO), ServeError::Internal);
    }

    #[test]
    fn a_port_in_use_is_one_line_that_says_what_to_do() {
        let taken = |option| StartupError::Bind {
            addr: "127.0.0.1:8080".parse().unwrap(),
            option,
            source: io::Error::from(io::ErrorKind::AddrInUse),
        };
        let e = taken("--port");
        assert_eq!(
            e.to_string(),
            "cannot listen on 127.0.0.1:8080: the port is in use; choose another with --port 8081, \
             or --port 0 for any free one (under make: make PORT=8081)"
        );
        // Not 8081 when 8081 is the port taken: the next one up.
        let e = StartupError::Bind {
            addr: "127.0.0.1:23456".parse().unwrap(),
            option: "--port",
            source: io::Error::from(io::ErrorKind::AddrInUse),
        };
        assert!(
            e.to_string().ends_with(
                "--port 23457, or --port 0 for any free one (under make: make PORT=23457)"
            ),
            "{e}"
        );
        assert!(std::error::Error::source(&e).is_none());
        assert!(
            taken("--redirect-http")
                .to_string()
                .ends_with("in use; choose another with --redirect-http PORT")
        );
        let other = StartupError::Bind {
            addr: "127.0.0.1:80".parse().unwrap(),
            option: "--port",
            source: io::Error::from(io::ErrorKind::PermissionDenied),
        };
        assert_eq!(other.to_string(), "cannot listen on 127.0.0.1:80");
        assert!(std::error::Error::source(&other).is_some());
    }

    #[test]
    fn every_error_is_a_4xx_or_5xx() {
        let all = [
            ServeError::Parse(ParseError::RequestLine),
            ServeError::NotFound,
            ServeError::Forbidden,
            ServeError::NoListing,
            ServeError::MethodNotAllowed,
            ServeError::Unauthorized,
            ServeError::TooManyRequests,
            ServeError::PreconditionFailed,
            ServeError::ContentTooLarge,
            ServeError::RangeNotSatisfiable(0),
            ServeError::Timeout,
            ServeError::Unavailable,
            ServeError::Internal,
        ];
        for e in all {
            assert!(e.status().is_error(), "{e:?}");
        }
    }
}
