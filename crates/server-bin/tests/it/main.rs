//! Integration tests: the real binary on 127.0.0.1, port 0, a temporary root, raw sockets, curl
//! and wget.

mod clients;
mod errors;
mod lifecycle;
mod security;
mod serving;
mod support;
