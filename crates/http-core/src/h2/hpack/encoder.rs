//! Encoding response field blocks (RFC 7541 §6), and which fields the dynamic table keeps:
//! the policy is in [`Encoder`]'s documentation.

use super::table::{self, STATIC, Table, entry_size};
use super::{DEFAULT_TABLE_SIZE, huffman};

/// The most of the peer's dynamic table this encoder uses, whatever the peer allows: a
/// response's fields repeat few values, and a larger table costs memory on both sides.
pub(super) const MAX_ENCODER_TABLE_SIZE: usize = DEFAULT_TABLE_SIZE;

/// An entry is indexed only when it takes at most `1 / INDEX_SHARE` of the table.
pub(super) const INDEX_SHARE: usize = 4;

/// Fields sent as literals never indexed (§7.1.3: values open to guessing through
/// compression).
pub(super) const SENSITIVE: [&[u8]; 4] = [
    b"authorization",
    b"cookie",
    b"proxy-authorization",
    b"set-cookie",
];

/// Fields whose value is seldom sent twice on a connection: literals without indexing, the
/// name from the static table. `date`, `etag` and `last-modified` are not among them: the date
/// repeats in every response of a second, a file's validators in every response of that file
/// (see [`Encoder`]).
pub(super) const CHANGING: [&[u8]; 6] = [
    b"age",
    b"content-disposition",
    b"content-length",
    b"content-range",
    b"expires",
    b"location",
];

/// The first octet's pattern and integer prefix (§6) of each representation.
const INDEXED: (u8, u8) = (0x80, 0x7F); // §6.1
const INCREMENTAL: (u8, u8) = (0x40, 0x3F); // §6.2.1
const WITHOUT_INDEXING: (u8, u8) = (0x00, 0x0F); // §6.2.2
const NEVER_INDEXED: (u8, u8) = (0x10, 0x0F); // §6.2.3
const SIZE_UPDATE: (u8, u8) = (0x20, 0x1F); // §6.3
/// §5.2: the H bit and the length's prefix.
const HUFFMAN: (u8, u8) = (0x80, 0x7F);
const RAW: (u8, u8) = (0x00, 0x7F);

/// How a literal field is represented (§6.2), when no table has it whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Indexing {
    /// §6.2.1: sent as an index if a table has it, else added to the dynamic table.
    Incremental,
    /// §6.2.2: sent as an index if a table has it, else a literal left out of the table.
    Without,
    /// §6.2.3: always a literal, never indexed.
    Never,
}

/// When strings are Huffman-coded (§5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Huffman {
    /// When shorter: the encoder's choice.
    IfShorter,
    /// Always (Appendix C.4 and C.6 do).
    #[cfg(test)]
    Always,
    /// Never (Appendix C.3 and C.5 do).
    #[cfg(test)]
    Never,
}

/// A field block encoder: our copy of the dynamic table the peer decodes with (§2.2).
///
/// Which representation a field gets (RFC 7541 §6):
///
/// 1. A credential (`authorization`, `cookie`, `proxy-authorization`, `set-cookie`) is a
///    literal never indexed (§6.2.3, §7.1.3): it never enters a table, so no other data is
///    compressed against it.
/// 2. Otherwise a field already in a table, name and value, is sent as its index (§6.1): one
///    octet for the static table's statuses and for most dynamic entries.
/// 3. Otherwise a field whose value is seldom sent twice on a connection (`age`,
///    `content-disposition`, `content-length`, `content-range`, `expires`, `location`) is a
///    literal without indexing (§6.2.2): remembering it would only evict the entries that do
///    repeat.
/// 4. Otherwise the field is a literal with incremental indexing (§6.2.1), to be one octet in
///    the next response, if its entry (name + value + 32) takes at most a quarter of the
///    table, so that no one field flushes the others; else a literal without indexing.
///
/// `date`, `etag` and `last-modified` fall under 4, as h2o indexes them: the date repeats in
/// every response of a second and a file's validators in every response of that file, one
/// octet each instead of ~25 to 40 that the client must also Huffman-decode. (Sent as
/// literals, a repeated 1 KiB response's head was 99 octets against h2o's 14, and h2load,
/// the bottleneck of a pinned benchmark, spent 40% more per response decoding ours.) On a
/// page of distinct files they add ~160 octets of entries a response to the 4 KiB table, so
/// the fields that do repeat are evicted about every 25 responses and sent once more as
/// literals: ~3 octets a response.
///
/// A literal's name is the static table's index when it has the name (the lowest, as in
/// Appendix C), else the newest dynamic entry's, else a string. Every string is Huffman-coded
/// when that is shorter than its octets (§5.2).
///
/// A block is [`Encoder::begin_block`], then its fields. A size set by
/// [`Encoder::set_max_table_size`] takes effect at the next `begin_block`, which signals it.
#[derive(Debug)]
pub struct Encoder {
    table: Table,
    /// The smallest and the last maximum size set since the last block began, if any (§4.2).
    pending: Option<(usize, usize)>,
    /// The maximum size the peer's decoder has: the protocol's, or the last one signaled.
    signaled: usize,
}

impl Encoder {
    /// An encoder using at most `max_table_size` of the peer's table (start at 4096, RFC 9113
    /// default; the connection calls `set_max_table_size` when the peer's SETTINGS say so).
    /// Past 4096 (our ceiling) it uses 4096, and says so in the first block.
    pub fn new(max_table_size: usize) -> Self {
        let size = max_table_size.min(MAX_ENCODER_TABLE_SIZE);
        Encoder {
            table: Table::new(size),
            pending: (size != max_table_size).then_some((size, size)),
            signaled: max_table_size,
        }
    }

    /// Heap bytes held by the dynamic table, for memory accounting.
    pub fn heap_bytes(&self) -> usize {
        self.table.heap_bytes()
    }

    /// The peer's SETTINGS_HEADER_TABLE_SIZE changed: the next block starts with a table size
    /// update (§6.3), evicting as needed. Cap at our own ceiling (e.g. 4096): we need no more.
    ///
    /// Call it when the SETTINGS frame is processed; its acknowledgement then precedes the
    /// next block (§4.2). The table changes at the next [`Encoder::begin_block`], with the
    /// update it writes: several calls before it send the smallest size and then the last
    /// (§4.2); calls that leave the size as the peer knows it send nothing.
    pub fn set_max_table_size(&mut self, size: usize) {
        let size = size.min(MAX_ENCODER_TABLE_SIZE);
        let smallest = self.pending.map_or(size, |(s, _)| s.min(size));
        self.pending = Some((smallest, size));
    }

    /// Must be called before the first field of each block (emits a pending table size update).
    pub fn begin_block(&mut self, buf: &mut Vec<u8>) {
        let Some((smallest, last)) = self.pending.take() else {
            return;
        };
        // §4.3: the decoder evicts down to the smallest, then may grow to the last.
        self.table.set_max_size(smallest);
        self.table.set_max_size(last);
        if smallest < last {
            integer(buf, SIZE_UPDATE, smallest);
        }
        if smallest < last || last != self.signaled {
            integer(buf, SIZE_UPDATE, last);
        }
        self.signaled = last;
    }

    /// Appends `:status` (indexed for 200, 204, 206, 304, 400, 404, 500; else a literal with the
    /// indexed name, indexed by the policy like any field, so a repeated 301 is one octet).
    pub fn status(&mut self, buf: &mut Vec<u8>, status: u16) {
        let index = match status {
            200 => 8,
            204 => 9,
            206 => 10,
            304 => 11,
            400 => 12,
            404 => 13,
            500 => 14,
            _ => {
                let mut digits = [0u8; 5];
                let mut start = digits.len();
                let mut rest = status;
                for slot in digits.iter_mut().rev() {
                    *slot = b'0' | (rest % 10) as u8;
                    rest /= 10;
                    start = start.saturating_sub(1);
                    if rest == 0 {
                        break;
                    }
                }
                let value = digits.get(start..).unwrap_or_default();
                self.encode(
                    buf,
                    b":status",
                    value,
                    Indexing::Incremental,
                    Huffman::IfShorter,
                );
                return;
            }
        };
        integer(buf, INDEXED, index);
    }

    /// Appends one field. `name` must be lowercase (the caller's duty; debug-assert it).
    /// The representation follows the policy in [`Encoder`]'s documentation; strings are
    /// Huffman-coded when that is shorter.
    pub fn field(&mut self, buf: &mut Vec<u8>, name: &[u8], value: &[u8]) {
        debug_assert!(
            !name.iter().any(u8::is_ascii_uppercase),
            "field names are lowercase in HTTP/2 (RFC 9113 §8.2.1): {:?}",
            String::from_utf8_lossy(name)
        );
        let indexing = policy(name, value, self.table.max_size());
        self.encode(buf, name, value, indexing, Huffman::IfShorter);
    }

    /// Appends one field as `indexing` says, its strings coded as `huffman` says.
    pub(super) fn encode(
        &mut self,
        buf: &mut Vec<u8>,
        name: &[u8],
        value: &[u8],
        indexing: Indexing,
        huffman: Huffman,
    ) {
        let static_name = table::static_name_index(name);
        if indexing != Indexing::Never {
            let index = static_name
                .and_then(|first| table::static_field_index(first, name, value))
                .or_else(|| {
                    let i = self.table.find_field(name, value)?;
                    Some(STATIC.len().saturating_add(1).saturating_add(i))
                });
            if let Some(index) = index {
                integer(buf, INDEXED, index);
                return;
            }
        }
        let representation = match indexing {
            Indexing::Incremental => INCREMENTAL,
            Indexing::Without => WITHOUT_INDEXING,
            Indexing::Never => NEVER_INDEXED,
        };
        let name_index = static_name.or_else(|| {
            let i = self.table.find_name(name)?;
            Some(STATIC.len().saturating_add(1).saturating_add(i))
        });
        match name_index {
            Some(index) => integer(buf, representation, index),
            None => {
                integer(buf, representation, 0);
                string(buf, name, huffman);
            }
        }
        string(buf, value, huffman);
        if indexing == Indexing::Incremental {
            self.table.insert(name, value);
        }
    }

    /// The dynamic table, for tests.
    #[cfg(test)]
    pub(super) fn table(&self) -> &Table {
        &self.table
    }
}

/// How [`Encoder::field`] represents `name: value` with a table of `table_size`: see
/// [`Encoder`]'s documentation.
pub(super) fn policy(name: &[u8], value: &[u8], table_size: usize) -> Indexing {
    if SENSITIVE.contains(&name) {
        Indexing::Never
    } else if CHANGING.contains(&name)
        || entry_size(name.len(), value.len()) > table_size / INDEX_SHARE
    {
        Indexing::Without
    } else {
        Indexing::Incremental
    }
}

/// §5.1: `value` as an integer whose prefix is the low bits of an octet starting with
/// `pattern` (`representation` is the pattern and the prefix's mask, 2^N-1).
pub(super) fn integer(buf: &mut Vec<u8>, representation: (u8, u8), value: usize) {
    let (pattern, mask) = representation;
    let Some(mut rest) = value.checked_sub(usize::from(mask)) else {
        // value < 2^N-1: it fits in the prefix.
        buf.push(pattern | value as u8);
        return;
    };
    buf.push(pattern | mask);
    while rest >= 0x80 {
        buf.push(0x80 | (rest & 0x7F) as u8);
        rest >>= 7;
    }
    buf.push(rest as u8);
}

/// §5.2: a string literal, Huffman-coded as `huffman` says.
fn string(buf: &mut Vec<u8>, s: &[u8], huffman: Huffman) {
    let coded = match huffman {
        Huffman::IfShorter => Some(huffman::encoded_len(s)).filter(|&n| n < s.len()),
        #[cfg(test)]
        Huffman::Always => Some(huffman::encoded_len(s)),
        #[cfg(test)]
        Huffman::Never => None,
    };
    match coded {
        Some(len) => {
            integer(buf, HUFFMAN, len);
            huffman::encode(s, buf);
        }
        None => {
            integer(buf, RAW, s.len());
            buf.extend_from_slice(s);
        }
    }
}
