//! Errors at the pool's boundary.

use std::{fmt, io};

use mio::net::TcpStream;

/// The pool could not start.
#[derive(Debug)]
pub struct BuildError(io::Error);

impl From<io::Error> for BuildError {
    fn from(err: io::Error) -> Self {
        Self(err)
    }
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cannot start the worker pool")
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// A socket the pool did not take, handed back so the caller can answer it (`503`) and close it.
#[derive(Debug)]
pub enum DispatchError {
    /// Every worker's inbox is full.
    Full(TcpStream),
    /// The connection limit is reached.
    AtLimit(TcpStream),
    /// The pool is shutting down and takes no more sockets.
    ShuttingDown(TcpStream),
}

impl DispatchError {
    /// The socket that was not dispatched.
    pub fn into_stream(self) -> TcpStream {
        match self {
            Self::Full(s) | Self::AtLimit(s) | Self::ShuttingDown(s) => s,
        }
    }
}

impl fmt::Display for DispatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Full(_) => "every worker inbox is full",
            Self::AtLimit(_) => "connection limit reached",
            Self::ShuttingDown(_) => "the pool is shutting down",
        })
    }
}

impl std::error::Error for DispatchError {}
