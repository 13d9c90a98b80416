//! The static table (RFC 7541 §2.3.1, Appendix A) and the dynamic table (§2.3.2, §4), shared
//! by the decoder and the encoder.
//!
//! The dynamic table keeps its names and values in one byte buffer, oldest first: an entry is
//! added at the end and evicted from the front, so that every entry is one contiguous run of
//! octets and is never allocated on its own. The live bytes move back to the start of the
//! buffer only when the entry being added might not fit in twice the table's maximum size
//! otherwise; the bytes moved are then fewer than those evicted since the last move plus those
//! being added, so moving costs O(1) per octet received. The buffer grows by doubling up to
//! that bound and never past it: at most twice the maximum size (8 KiB for 4096), whatever the
//! peer sends.

use std::collections::VecDeque;

use super::ENTRY_OVERHEAD;

/// The static table (Appendix A), index 1 first.
pub(super) const STATIC: [(&[u8], &[u8]); 61] = [
    (b":authority", b""),
    (b":method", b"GET"),
    (b":method", b"POST"),
    (b":path", b"/"),
    (b":path", b"/index.html"),
    (b":scheme", b"http"),
    (b":scheme", b"https"),
    (b":status", b"200"),
    (b":status", b"204"),
    (b":status", b"206"),
    (b":status", b"304"),
    (b":status", b"400"),
    (b":status", b"404"),
    (b":status", b"500"),
    (b"accept-charset", b""),
    (b"accept-encoding", b"gzip, deflate"),
    (b"accept-language", b""),
    (b"accept-ranges", b""),
    (b"accept", b""),
    (b"access-control-allow-origin", b""),
    (b"age", b""),
    (b"allow", b""),
    (b"authorization", b""),
    (b"cache-control", b""),
    (b"content-disposition", b""),
    (b"content-encoding", b""),
    (b"content-language", b""),
    (b"content-length", b""),
    (b"content-location", b""),
    (b"content-range", b""),
    (b"content-type", b""),
    (b"cookie", b""),
    (b"date", b""),
    (b"etag", b""),
    (b"expect", b""),
    (b"expires", b""),
    (b"from", b""),
    (b"host", b""),
    (b"if-match", b""),
    (b"if-modified-since", b""),
    (b"if-none-match", b""),
    (b"if-range", b""),
    (b"if-unmodified-since", b""),
    (b"last-modified", b""),
    (b"link", b""),
    (b"location", b""),
    (b"max-forwards", b""),
    (b"proxy-authenticate", b""),
    (b"proxy-authorization", b""),
    (b"range", b""),
    (b"referer", b""),
    (b"refresh", b""),
    (b"retry-after", b""),
    (b"server", b""),
    (b"set-cookie", b""),
    (b"strict-transport-security", b""),
    (b"transfer-encoding", b""),
    (b"user-agent", b""),
    (b"vary", b""),
    (b"via", b""),
    (b"www-authenticate", b""),
];

/// The entry at `index` of the static table (1-based, §2.3.3).
pub(super) fn static_entry(index: usize) -> Option<(&'static [u8], &'static [u8])> {
    STATIC.get(index.checked_sub(1)?).copied()
}

/// The lowest static index whose name is `name` (the one the RFC's examples use).
pub(super) fn static_name_index(name: &[u8]) -> Option<usize> {
    let i = match name {
        b":authority" => 1,
        b":method" => 2,
        b":path" => 4,
        b":scheme" => 6,
        b":status" => 8,
        b"accept-charset" => 15,
        b"accept-encoding" => 16,
        b"accept-language" => 17,
        b"accept-ranges" => 18,
        b"accept" => 19,
        b"access-control-allow-origin" => 20,
        b"age" => 21,
        b"allow" => 22,
        b"authorization" => 23,
        b"cache-control" => 24,
        b"content-disposition" => 25,
        b"content-encoding" => 26,
        b"content-language" => 27,
        b"content-length" => 28,
        b"content-location" => 29,
        b"content-range" => 30,
        b"content-type" => 31,
        b"cookie" => 32,
        b"date" => 33,
        b"etag" => 34,
        b"expect" => 35,
        b"expires" => 36,
        b"from" => 37,
        b"host" => 38,
        b"if-match" => 39,
        b"if-modified-since" => 40,
        b"if-none-match" => 41,
        b"if-range" => 42,
        b"if-unmodified-since" => 43,
        b"last-modified" => 44,
        b"link" => 45,
        b"location" => 46,
        b"max-forwards" => 47,
        b"proxy-authenticate" => 48,
        b"proxy-authorization" => 49,
        b"range" => 50,
        b"referer" => 51,
        b"refresh" => 52,
        b"retry-after" => 53,
        b"server" => 54,
        b"set-cookie" => 55,
        b"strict-transport-security" => 56,
        b"transfer-encoding" => 57,
        b"user-agent" => 58,
        b"vary" => 59,
        b"via" => 60,
        b"www-authenticate" => 61,
        _ => return None,
    };
    Some(i)
}

/// The static index of exactly `name: value`, if the static table has it, given
/// `static_name_index(name)`.
pub(super) fn static_field_index(first: usize, name: &[u8], value: &[u8]) -> Option<usize> {
    STATIC
        .iter()
        .enumerate()
        .skip(first.saturating_sub(1))
        .take_while(|(_, (n, _))| *n == name)
        .find(|(_, (_, v))| *v == value)
        .map(|(i, _)| i.saturating_add(1))
}

/// The dynamic table's buffer starts at this many octets (when its bound allows), enough for
/// a browser's first request, whose every field is new.
const MIN_CAPACITY: usize = 512;

/// Where an entry's name and value are in [`Table::bytes`]: the name from `start`, the value
/// right after it.
#[derive(Debug, Clone, Copy)]
struct Entry {
    start: usize,
    name_len: usize,
    value_len: usize,
}

impl Entry {
    fn end(self) -> usize {
        self.start
            .saturating_add(self.name_len)
            .saturating_add(self.value_len)
    }

    /// §4.1: name + value + 32.
    fn size(self) -> usize {
        entry_size(self.name_len, self.value_len)
    }
}

/// §4.1: an entry's size is its name's length, its value's length and 32.
pub(super) fn entry_size(name_len: usize, value_len: usize) -> usize {
    name_len
        .saturating_add(value_len)
        .saturating_add(ENTRY_OVERHEAD)
}

/// The dynamic table (§2.3.2): entries newest first to the index space, evicted oldest first.
#[derive(Debug, Default)]
pub(super) struct Table {
    /// Names and values, oldest entry first, from `head` on; bytes after the newest entry
    /// belong to one being added (see [`Table::stage`]).
    bytes: Vec<u8>,
    /// Bytes before `head` belong to evicted entries.
    head: usize,
    /// Oldest at the front, newest at the back.
    entries: VecDeque<Entry>,
    /// §4.1: the sum of the entries' sizes.
    size: usize,
    /// §4.2: the most `size` may be.
    max_size: usize,
}

impl Table {
    pub(super) fn new(max_size: usize) -> Self {
        Table {
            max_size,
            ..Table::default()
        }
    }

    /// How many entries the table holds.
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// §4.1: the sum of the entries' sizes.
    #[cfg(test)]
    pub(super) fn size(&self) -> usize {
        self.size
    }

    pub(super) fn max_size(&self) -> usize {
        self.max_size
    }

    /// Heap bytes held.
    pub(super) fn heap_bytes(&self) -> usize {
        self.entries
            .capacity()
            .saturating_mul(size_of::<Entry>())
            .saturating_add(self.bytes.capacity())
    }

    fn entry(&self, i: usize) -> Option<Entry> {
        let back = self.entries.len().checked_sub(1)?.checked_sub(i)?;
        self.entries.get(back).copied()
    }

    /// The entry `i` places from the newest (0 is the newest, dynamic index `62 + i`, §2.3.3).
    pub(super) fn get(&self, i: usize) -> Option<(&[u8], &[u8])> {
        self.field(self.entry(i)?)
    }

    fn field(&self, e: Entry) -> Option<(&[u8], &[u8])> {
        let name_end = e.start.checked_add(e.name_len)?;
        let name = self.bytes.get(e.start..name_end)?;
        let value = self.bytes.get(name_end..e.end())?;
        Some((name, value))
    }

    /// The newest entry that is exactly `name: value`, as `get`'s `i`.
    pub(super) fn find_field(&self, name: &[u8], value: &[u8]) -> Option<usize> {
        self.entries.iter().rev().position(|&e| {
            e.name_len == name.len()
                && e.value_len == value.len()
                && self.field(e) == Some((name, value))
        })
    }

    /// The newest entry named `name`, as `get`'s `i`.
    pub(super) fn find_name(&self, name: &[u8]) -> Option<usize> {
        self.entries.iter().rev().position(|&e| {
            e.name_len == name.len() && self.field(e).is_some_and(|(n, _)| n == name)
        })
    }

    /// §4.3: a new maximum size, evicting the oldest entries until the table fits it.
    pub(super) fn set_max_size(&mut self, max_size: usize) {
        self.max_size = max_size;
        self.evict_to(max_size);
    }

    /// Evicts the oldest entries until the size is at most `target`.
    fn evict_to(&mut self, target: usize) {
        while self.size > target {
            let Some(oldest) = self.entries.pop_front() else {
                break;
            };
            self.size = self.size.saturating_sub(oldest.size());
            self.head = oldest.end();
        }
    }

    /// Empties the table (§4.4, an entry larger than the table).
    pub(super) fn clear(&mut self) {
        self.entries.clear();
        self.bytes.clear();
        self.head = 0;
        self.size = 0;
    }

    /// Adds `name: value` as the newest entry (§4.4), evicting as needed; an entry larger than
    /// the maximum size empties the table instead.
    pub(super) fn insert(&mut self, name: &[u8], value: &[u8]) {
        if entry_size(name.len(), value.len()) > self.max_size {
            self.clear();
            return;
        }
        let start = self.stage(name.len().saturating_add(value.len()));
        self.bytes.extend_from_slice(name);
        self.bytes.extend_from_slice(value);
        self.commit(start, name.len(), value.len());
    }

    /// Starts adding an entry whose name and value, `need` octets at most, the caller appends
    /// to [`Table::staging`]: returns where they start, for [`Table::commit`] or
    /// [`Table::abort`]. The buffer is made ready for `need` octets (or as many as an entry can
    /// have), so appending them does not reallocate. The entries stay readable meanwhile (a new
    /// entry may take its name from one it is about to evict, §4.4).
    pub(super) fn stage(&mut self, need: usize) -> usize {
        let need = need.min(self.max_size.saturating_sub(ENTRY_OVERHEAD));
        let bound = self.max_size.saturating_mul(2);
        if self.head > 0 && self.bytes.len().saturating_add(need) > bound {
            // Live bytes are at most max_size, so they and `need` now fit within `bound`.
            let live = self.bytes.len().saturating_sub(self.head);
            self.bytes.copy_within(self.head.., 0);
            self.bytes.truncate(live);
            for e in &mut self.entries {
                e.start = e.start.saturating_sub(self.head);
            }
            self.head = 0;
        }
        let wanted = self.bytes.len().saturating_add(need);
        if wanted > self.bytes.capacity() {
            let target = self
                .bytes
                .capacity()
                .saturating_mul(2)
                .max(MIN_CAPACITY)
                .min(bound)
                .max(wanted);
            self.bytes
                .reserve_exact(target.saturating_sub(self.bytes.len()));
        }
        self.bytes.len()
    }

    /// The buffer to append a staged entry's name and value to.
    pub(super) fn staging(&mut self) -> &mut Vec<u8> {
        &mut self.bytes
    }

    /// Appends the name of the entry `i` places from the newest to the staged bytes, when it is
    /// at most `room` octets: its length, or `None` (nothing appended) when it is longer or
    /// there is no such entry (tell them apart with [`Table::len`]).
    pub(super) fn stage_name_of(&mut self, i: usize, room: usize) -> Option<usize> {
        let e = self.entry(i)?;
        if e.name_len > room {
            return None;
        }
        let end = e.start.checked_add(e.name_len)?;
        if end > self.bytes.len() {
            return None;
        }
        self.bytes.extend_from_within(e.start..end);
        Some(e.name_len)
    }

    /// Adds the staged bytes from `start` as the newest entry, `name_len` octets of name and
    /// `value_len` of value (§4.4): the oldest entries are evicted first until it fits, or the
    /// table is emptied when it is larger than the maximum size.
    pub(super) fn commit(&mut self, start: usize, name_len: usize, value_len: usize) {
        let entry = Entry {
            start,
            name_len,
            value_len,
        };
        if entry.size() > self.max_size || entry.end() != self.bytes.len() {
            self.clear();
            return;
        }
        self.evict_to(self.max_size.saturating_sub(entry.size()));
        if self.entries.is_empty() {
            self.head = start;
        }
        self.size = self.size.saturating_add(entry.size());
        self.entries.push_back(entry);
    }

    /// Drops the staged bytes from `start`.
    pub(super) fn abort(&mut self, start: usize) {
        self.bytes.truncate(start);
    }
}
