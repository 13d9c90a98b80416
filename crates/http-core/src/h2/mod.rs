//! HTTP/2 (temporary copy)
pub mod frame;
pub mod hpack;
