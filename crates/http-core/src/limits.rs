//! Limits on what a client may send, in one place so that callers and tests agree on them.
//!
//! They are deliberately close to what nginx and hyper accept: large enough for any browser
//! (cookies included), small enough that one connection can never hold much memory.

/// Longest request line (method, target, version) in bytes; longer is `414 URI Too Long`.
pub const MAX_REQUEST_LINE: usize = 8 * 1024;

/// Longest request head (request line, fields and the empty line) in bytes; longer is
/// `431 Request Header Fields Too Large`.
pub const MAX_HEAD: usize = 16 * 1024;

/// Most header fields in one request; more is `431 Request Header Fields Too Large`.
pub const MAX_HEADERS: usize = 100;
