//! Sans-IO HTTP/1.1 for a static-file server: request-head parsing, request-target decoding,
//! HTTP dates, the MIME table and response-head encoding.
//!
//! Everything here is a pure function over bytes. This crate must not touch sockets, files,
//! threads or clocks: the caller owns the buffers, the limits it reads are named constants in
//! [`limits`], and the current time is passed in.
//!
//! The parser follows `httparse`'s shape: [`parse_request`] borrows the caller's buffer and the
//! caller's header slots and answers [`Status::Partial`] until a whole head has arrived.
//!
//! ```
//! use http_core::{parse_request, Header, Status, EMPTY_HEADER, limits::MAX_HEADERS};
//!
//! let mut slots = [EMPTY_HEADER; MAX_HEADERS];
//! let buf = b"GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n";
//! match parse_request(buf, &mut slots) {
//!     Ok(Status::Complete((req, head_len))) => {
//!         assert_eq!(req.target, b"/index.html");
//!         assert_eq!(head_len, buf.len());
//!     }
//!     other => panic!("unexpected {other:?}"),
//! }
//! ```
// No input may panic this crate (DESIGN.md, Tests; issue 10): outside tests, no indexing or
// slicing that can go out of bounds or split a character, no unwrap/expect, and no arithmetic
// that can overflow. A single line may allow one of these only with a comment proving it safe.
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::string_slice,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::arithmetic_side_effects
    )
)]

mod bytes;
pub mod conditional;
pub mod date;
pub mod encoding;
mod error;
pub mod etag;
pub mod h2;
pub mod limits;
pub mod mime;
mod parse;
pub mod range;
mod request;
mod response;
pub mod target;

pub use error::ParseError;
pub use parse::{
    Status, empty_lines_len, first_line, is_head_request, is_host, is_token, known_field_name,
    parse_request,
};
pub use request::{Body, EMPTY_HEADER, Fields, Header, Method, Request, Version};
pub use response::{ResponseHead, SERVER, StatusCode};
