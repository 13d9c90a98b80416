//! The room a worker's HTTP/2 connections need only while streams are open (the stream list
//! and the decoded-field list), kept for the worker while they are idle: an idle connection
//! holds none of it, and the next burst on any of the worker's connections takes it back
//! instead of growing its own from nothing. (Made anew for each burst of a `h2load -m 10`
//! client, their growth was 3% of a response's instructions.) And the list a request's
//! checked fields are collected in, lent for one call at a time.
//!
//! It must hold nothing a connection could tell from a fresh one: lists are kept empty.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;

use http_core::h2::hpack;
use http_core::{EMPTY_HEADER, Header};

use super::stream::Stream;

/// Lists kept per worker thread, of each kind, at most: as many connections as are in a burst
/// at once on one worker, for the common case.
const KEPT: usize = 32;

/// A list's capacity, at most, for it to be kept: a hundred streams' (the stream limit), and
/// the names and values of a large request head. All kept, a worker holds ~1.2 MiB here:
/// 32 x (128 streams of 256 bytes + 4 KiB of fields and their 100 spans).
const STREAMS_MAX: usize = 128;
const FIELD_BYTES_MAX: usize = 4 * 1024;

#[derive(Default)]
struct Spare {
    streams: Vec<VecDeque<Stream>>,
    decoded: Vec<hpack::Fields>,
}

thread_local! {
    static SPARE: RefCell<Spare> = RefCell::new(Spare::default());
    /// The room for a request's checked fields.
    static FIELDS: Cell<Vec<Header<'static>>> = const { Cell::new(Vec::new()) };
}

/// An empty list for a request's checked fields, with the worker's room if it has it (a list
/// allocated and freed per request was ~200 instructions of `malloc` and `free` at 100
/// streams, more than malloc's per-thread cache holds).
pub fn fields<'f>() -> Vec<Header<'f>> {
    FIELDS.take()
}

/// Gives a request's field list back to the worker, emptied.
pub fn keep_fields(mut fields: Vec<Header<'_>>) {
    fields.clear();
    // Of no lifetime once empty: an empty list is collected into the same allocation.
    let room: Vec<Header<'static>> = fields.into_iter().map(|_| EMPTY_HEADER).collect();
    FIELDS.set(room);
}

/// An empty stream list, with room if the worker kept one.
pub fn streams() -> VecDeque<Stream> {
    SPARE
        .with_borrow_mut(|s| s.streams.pop())
        .unwrap_or_default()
}

/// An empty decoded-field list, with room if the worker kept one.
pub fn decoded() -> hpack::Fields {
    SPARE
        .with_borrow_mut(|s| s.decoded.pop())
        .unwrap_or_default()
}

/// Keeps an idle connection's lists for the worker's next burst (emptied; dropped if they grew
/// past what a burst needs, or if enough are kept).
pub fn keep(mut streams: VecDeque<Stream>, mut decoded: hpack::Fields) {
    streams.clear();
    decoded.clear();
    SPARE.with_borrow_mut(|s| {
        if streams.capacity() > 0 && streams.capacity() <= STREAMS_MAX && s.streams.len() < KEPT {
            s.streams.push(streams);
        }
        if !decoded.is_unallocated()
            && decoded.bytes_capacity() <= FIELD_BYTES_MAX
            && s.decoded.len() < KEPT
        {
            s.decoded.push(decoded);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http2::stream::Phase;

    #[test]
    fn the_fields_room_comes_back_empty_with_its_allocation() {
        let mut lent = fields();
        let owned = String::from("v");
        lent.push(Header {
            name: "accept",
            value: owned.as_bytes(),
        });
        lent.reserve(15);
        let (capacity, at) = (lent.capacity(), lent.as_ptr() as usize);
        keep_fields(lent);
        drop(owned);
        let again = fields();
        assert!(again.is_empty());
        assert_eq!((again.capacity(), again.as_ptr() as usize), (capacity, at));
        // Lent once at a time: while it is out, another caller gets a list of its own.
        assert_eq!(fields().capacity(), 0);
        keep_fields(again);
    }

    #[test]
    fn kept_lists_come_back_empty_with_their_room_and_overgrown_ones_are_dropped() {
        let mut streams = VecDeque::with_capacity(16);
        streams.push_back(Stream {
            id: 1,
            phase: Phase::Receiving {
                head: hpack::Fields::default(),
                started: std::time::Instant::now(),
            },
            send_window: 0,
            remote_closed: false,
            received: 0,
            content_length: None,
        });
        let mut decoded = hpack::Fields::default();
        let mut decoder = hpack::Decoder::new(4096);
        decoder
            .decode(&[0x82, 0x84], 1 << 14, 100, &mut decoded)
            .unwrap();
        assert_eq!(decoded.len(), 2);
        keep(streams, decoded);
        let (streams, decoded) = (self::streams(), self::decoded());
        assert!(streams.is_empty() && streams.capacity() >= 16);
        assert!(decoded.is_empty() && !decoded.is_unallocated());
        // Nothing more kept: fresh ones.
        assert_eq!(self::streams().capacity(), 0);
        assert!(self::decoded().is_unallocated());
        // Past the bound: dropped.
        keep(
            VecDeque::with_capacity(STREAMS_MAX + 1),
            hpack::Fields::default(),
        );
        assert_eq!(self::streams().capacity(), 0);
        drop((streams, decoded));
    }
}
