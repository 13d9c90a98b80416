//! HPACK, the field compression of HTTP/2 (RFC 7541): a [`Decoder`] for the request field
//! blocks a peer sends and an [`Encoder`] for the response field blocks this server sends.
//!
//! This module owns the HPACK state of one connection: the static table (Appendix A), the two
//! dynamic tables (one per direction, §2.2), the integer and string primitives (§5) and the
//! Huffman code (Appendix B). It works on whole field blocks that the caller assembled from
//! HEADERS and CONTINUATION frames, and on buffers the caller owns and reuses.
//!
//! It must not do anything else: no frames, no streams, no I/O, and no judging of the fields
//! themselves. Names are passed on as decoded (lowercase, pseudo-fields first, `cookie`
//! crumbs, connection-specific fields: the connection checks all of that, RFC 9113 §8.2), and
//! the never-indexed flag (§6.2.3) is not kept, since this server forwards nothing.
//!
//! Bounds: a decoded list is limited by the caller's `max_list_size` (RFC 9113 §6.5.2's
//! reckoning, name + value + 32 per field) and `max_fields`; past either the block is still
//! decoded to its end, to keep the dynamic table in step, but nothing more is stored, so a
//! small block that decodes huge (an "HPACK bomb") costs time in proportion to its own length
//! and no memory. A dynamic table's buffer stays within twice its maximum size (8 KiB at
//! 4096), plus 24 octets an entry. Integers above [`MAX_INTEGER`] or longer than
//! [`MAX_INTEGER_OCTETS`] are errors (§5.1).
//!
//! ```
//! use http_core::h2::hpack::{Decoder, Encoder, Fields, DEFAULT_TABLE_SIZE};
//!
//! let mut encoder = Encoder::new(DEFAULT_TABLE_SIZE);
//! let mut block = Vec::new();
//! encoder.begin_block(&mut block);
//! encoder.status(&mut block, 200);
//! encoder.field(&mut block, b"content-type", b"text/html");
//!
//! let mut decoder = Decoder::new(DEFAULT_TABLE_SIZE);
//! let mut fields = Fields::default();
//! decoder.decode(&block, 16 * 1024, 100, &mut fields).unwrap();
//! let decoded: Vec<_> = fields.iter().collect();
//! assert_eq!(decoded, [(&b":status"[..], &b"200"[..]), (b"content-type", b"text/html")]);
//! ```

mod decoder;
mod encoder;
mod huffman;
mod table;
#[cfg(test)]
mod tests;

use std::fmt;

pub use decoder::Decoder;
pub use encoder::Encoder;

/// RFC 7541 §4.1: an entry's size is name + value + 32.
pub const ENTRY_OVERHEAD: usize = 32;
/// The dynamic table size this server advertises and decodes with (SETTINGS_HEADER_TABLE_SIZE).
pub const DEFAULT_TABLE_SIZE: usize = 4096;

/// The largest integer a block may hold (§5.1: "Integer encodings that exceed implementation
/// limits -- in value or octet length -- MUST be treated as decoding errors"). Every integer
/// that can be valid (an index, a string length within a block, a table size within the
/// limit) is far below it; it is the largest `i32`, what most implementations accept.
pub const MAX_INTEGER: usize = (1 << 31) - 1;
/// The most octets an integer may take after its prefix (§5.1): five carry 35 bits, enough for
/// [`MAX_INTEGER`] and a few redundant zero bits, no more.
pub const MAX_INTEGER_OCTETS: usize = 5;

/// Why a field block could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// Malformed block (bad index, bad integer, bad Huffman, a size update not at the start,
    /// a size update above the limit, a truncated string, ...): a connection error of type
    /// COMPRESSION_ERROR (RFC 9113 §4.3).
    Compression,
    /// The decoded list is larger than `max_list_size` (name + value + 32 per field, RFC 9113
    /// §6.5.2) or has more than `max_fields` fields. The block was still decoded to its end, so
    /// the dynamic table is in step: the caller answers the stream (431) and the connection
    /// lives on.
    TooLarge,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DecodeError::Compression => "malformed HPACK field block",
            DecodeError::TooLarge => "field list larger than allowed",
        })
    }
}

impl std::error::Error for DecodeError {}

/// Where one field is in [`Fields`]'s buffer: the name from `start` to `name_end`, the value
/// from there to `end`.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
    name_end: usize,
    end: usize,
}

/// Decoded fields of one header block, in a buffer the caller owns and reuses (no allocation
/// per field once it has grown).
#[derive(Debug, Default)]
pub struct Fields {
    /// Names and values, one after the other, in order.
    bytes: Vec<u8>,
    spans: Vec<Span>,
}

impl Fields {
    /// Forgets the fields, keeping the buffers.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.spans.clear();
    }

    /// How many fields there are.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether it holds no memory (a default one, or one taken away with `mem::take`).
    pub fn is_unallocated(&self) -> bool {
        self.bytes.capacity() == 0 && self.spans.capacity() == 0
    }

    /// The room for names and values.
    pub fn bytes_capacity(&self) -> usize {
        self.bytes.capacity()
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The fields in order: (name, value) as decoded (names are NOT validated here: the
    /// connection checks lowercase, pseudo-headers, etc.).
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.spans.iter().map(|s| {
            (
                self.bytes.get(s.start..s.name_end).unwrap_or_default(),
                self.bytes.get(s.name_end..s.end).unwrap_or_default(),
            )
        })
    }

    /// Heap bytes held by the buffers (their capacity), for memory accounting.
    pub fn heap_bytes(&self) -> usize {
        self.spans
            .capacity()
            .saturating_mul(size_of::<Span>())
            .saturating_add(self.bytes.capacity())
    }

    /// Appends a field whose name and value the caller already appended to `bytes` from
    /// `start`, the name `name_len` octets long.
    fn push_appended(&mut self, start: usize, name_len: usize) {
        self.spans.push(Span {
            start,
            name_end: start.saturating_add(name_len),
            end: self.bytes.len(),
        });
    }

    /// Appends a field.
    #[inline]
    fn push(&mut self, name: &[u8], value: &[u8]) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(name);
        self.bytes.extend_from_slice(value);
        self.push_appended(start, name.len());
    }
}
