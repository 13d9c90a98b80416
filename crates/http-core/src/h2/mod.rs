//! HTTP/2 (RFC 9113), sans-IO: the pieces of a connection that are pure functions over bytes,
//! each in its own module; the connection itself (streams, flow control, scheduling) is the
//! server's.

pub mod hpack;
