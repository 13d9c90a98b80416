//! HTTP/2 (RFC 9113, RFC 7541), sans-IO like the rest of this crate: [`frame`] parses and
//! writes frames over the caller's buffers; [`hpack`] decodes and encodes header blocks. The
//! connection itself (streams, flow control, scheduling, request validation) lives in
//! `server-bin`, which owns the sockets, the clocks and the state.

pub mod frame;
pub mod hpack;
