//! Decoding field blocks (RFC 7541 §3, §6): the representations, the integer and string
//! primitives (§5), and the list-size bound of RFC 9113 §6.5.2.

use super::table::{self, STATIC, Table, entry_size};
use super::{DecodeError, ENTRY_OVERHEAD, Fields, MAX_INTEGER, MAX_INTEGER_OCTETS, huffman};

/// The first octet of each representation (§6): the pattern bits and the integer prefix that
/// follows them.
const INDEXED: u8 = 0x80; // §6.1, 7-bit index
const INCREMENTAL: u8 = 0x40; // §6.2.1, 6-bit index
const SIZE_UPDATE: u8 = 0x20; // §6.3, 5-bit size
// Anything else is a literal without indexing (§6.2.2, 0000) or never indexed (§6.2.3, 0001),
// with a 4-bit index; they decode alike.

/// Prefix masks of §5.1 for the representations above and for string lengths (§5.2).
const PREFIX_7: u8 = 0x7F;
const PREFIX_6: u8 = 0x3F;
const PREFIX_5: u8 = 0x1F;
const PREFIX_4: u8 = 0x0F;

/// A field block decoder: the dynamic table of what a peer sends (RFC 7541 §2.2) and the most
/// that peer may make it (our SETTINGS_HEADER_TABLE_SIZE).
#[derive(Debug)]
pub struct Decoder {
    table: Table,
    /// §6.3: a size update above this is an error.
    limit: usize,
}

/// A string literal as it stands in the block (§5.2).
#[derive(Clone, Copy)]
struct Literal<'b> {
    huffman: bool,
    bytes: &'b [u8],
}

impl Literal<'_> {
    /// The most octets the string can decode to.
    fn max_len(self) -> usize {
        if self.huffman {
            huffman::max_decoded_len(self.bytes.len())
        } else {
            self.bytes.len()
        }
    }
}

/// A literal representation's name: an index (§6.2, non-zero) or a string literal.
#[derive(Clone, Copy)]
enum Name<'b> {
    Index(usize),
    Literal(Literal<'b>),
}

impl Decoder {
    /// A decoder whose dynamic table may grow to `max_table_size` (what we advertised).
    pub fn new(max_table_size: usize) -> Self {
        Decoder {
            table: Table::new(max_table_size),
            limit: max_table_size,
        }
    }

    /// Heap bytes held by the dynamic table, for memory accounting.
    pub fn heap_bytes(&self) -> usize {
        self.table.heap_bytes()
    }

    /// Decodes one whole header block (HEADERS + CONTINUATION payloads concatenated by the
    /// caller) into `out` (cleared first). Never panics, never allocates without bound: the
    /// output is bounded by `max_list_size`/`max_fields` (past them decoding goes on, updating
    /// the table, without storing fields: a small block that decodes huge — an "HPACK bomb" — is
    /// `TooLarge`, cheaply).
    ///
    /// On an error `out` is left empty. After [`DecodeError::Compression`] the dynamic table is
    /// in no known state: the connection must end (RFC 9113 §4.3).
    pub fn decode(
        &mut self,
        block: &[u8],
        max_list_size: usize,
        max_fields: usize,
        out: &mut Fields,
    ) -> Result<(), DecodeError> {
        out.clear();
        let mut sink = Sink {
            out,
            room: max_list_size,
            fields_left: max_fields,
            too_large: false,
        };
        let result = self.decode_into(block, &mut sink);
        let too_large = sink.too_large;
        if result.is_err() || too_large {
            out.clear();
        }
        result?;
        if too_large {
            return Err(DecodeError::TooLarge);
        }
        Ok(())
    }

    fn decode_into(&mut self, block: &[u8], sink: &mut Sink<'_>) -> Result<(), DecodeError> {
        let mut rest = block;
        // §4.2: size updates come first in a block, before any field.
        let mut at_start = true;
        while let Some(&first) = rest.first() {
            if first & INDEXED != 0 {
                // §6.1: index 0 is an error, as is one past both tables (§2.3.3).
                let index = integer(&mut rest, PREFIX_7)?;
                let (name, value) = self.entry(index)?;
                sink.copy(name, value);
            } else if first & INCREMENTAL != 0 {
                let name = name(&mut rest, PREFIX_6)?;
                let value = string(&mut rest)?;
                self.insert(name, value, sink)?;
            } else if first & SIZE_UPDATE != 0 {
                let size = integer(&mut rest, PREFIX_5)?;
                // §4.2 (only at the start) and §6.3 (at most the limit we set).
                if !at_start || size > self.limit {
                    return Err(DecodeError::Compression);
                }
                self.table.set_max_size(size);
                continue;
            } else {
                let name = name(&mut rest, PREFIX_4)?;
                let value = string(&mut rest)?;
                let name = match name {
                    Name::Index(index) => Resolved::Bytes(self.entry(index)?.0),
                    Name::Literal(literal) => Resolved::Literal(literal),
                };
                sink.literal(name, value)?;
            }
            at_start = false;
        }
        Ok(())
    }

    /// The entry at `index` of the combined index space (§2.3.3).
    fn entry(&self, index: usize) -> Result<(&[u8], &[u8]), DecodeError> {
        let found = match index.checked_sub(STATIC.len().saturating_add(1)) {
            None => table::static_entry(index),
            Some(i) => self.table.get(i),
        };
        found.ok_or(DecodeError::Compression)
    }

    /// §6.2.1: the field goes to the list and into the dynamic table as its newest entry.
    fn insert(
        &mut self,
        name: Name<'_>,
        value: Literal<'_>,
        sink: &mut Sink<'_>,
    ) -> Result<(), DecodeError> {
        // The name and value are decoded straight into the table, since §4.4 lets the name be
        // that of an entry this insertion evicts: it is copied before anything is evicted.
        let need = match name {
            Name::Index(index) => self.entry(index).map_or(0, |(name, _)| name.len()),
            Name::Literal(literal) => literal.max_len(),
        };
        let start = self.table.stage(need.saturating_add(value.max_len()));
        let staged = self.stage(name, value);
        match staged {
            Ok(Some((name_len, value_len))) => {
                // The staged entry fits (`stage` kept it within the maximum size), so it is
                // now the newest.
                self.table.commit(start, name_len, value_len);
                if let Some((name, value)) = self.table.get(0) {
                    sink.copy(name, value);
                }
                Ok(())
            }
            Ok(None) => {
                // Larger than the whole table: §4.4 empties it; the field still goes to the
                // list, decoded again, straight into it (taking its name first).
                self.table.abort(start);
                let name = match name {
                    Name::Index(index) => Resolved::Bytes(self.entry(index)?.0),
                    Name::Literal(literal) => Resolved::Literal(literal),
                };
                let emitted = sink.literal(name, value);
                self.table.clear();
                emitted
            }
            Err(e) => {
                self.table.abort(start);
                Err(e)
            }
        }
    }

    /// Appends the name and value to the table's staged bytes: their lengths, or `None` when
    /// together they are too large for the table (§4.4); the caller then checks and decodes
    /// them into the list.
    fn stage(
        &mut self,
        name: Name<'_>,
        value: Literal<'_>,
    ) -> Result<Option<(usize, usize)>, DecodeError> {
        let Some(room) = self.table.max_size().checked_sub(ENTRY_OVERHEAD) else {
            // Even an empty name and value are too large for the table.
            return Ok(None);
        };
        let name_len = match name {
            Name::Index(index) => match index.checked_sub(STATIC.len().saturating_add(1)) {
                None => {
                    let (name, _) = table::static_entry(index).ok_or(DecodeError::Compression)?;
                    (name.len() <= room).then(|| {
                        self.table.staging().extend_from_slice(name);
                        name.len()
                    })
                }
                Some(i) if i < self.table.len() => self.table.stage_name_of(i, room),
                Some(_) => return Err(DecodeError::Compression),
            },
            Name::Literal(literal) => {
                fits(decode_string(literal, self.table.staging(), room)?, room)
            }
        };
        let Some(name_len) = name_len else {
            // The caller decodes the field again into the list, checking the value then.
            return Ok(None);
        };
        let room = room.saturating_sub(name_len);
        let value_len = fits(decode_string(value, self.table.staging(), room)?, room);
        Ok(value_len.map(|value_len| (name_len, value_len)))
    }

    /// The dynamic table, for tests.
    #[cfg(test)]
    pub(super) fn table(&self) -> &Table {
        &self.table
    }
}

/// A literal field's name, once an index is looked up.
#[derive(Clone, Copy)]
enum Resolved<'a> {
    Bytes(&'a [u8]),
    Literal(Literal<'a>),
}

/// Where decoded fields go, and how much more may go there.
struct Sink<'o> {
    out: &'o mut Fields,
    /// What is left of `max_list_size`.
    room: usize,
    fields_left: usize,
    /// A field did not fit: nothing more is stored.
    too_large: bool,
}

impl Sink<'_> {
    /// Room for one more field's name and value, or `None` (and nothing more stored).
    fn admit(&mut self) -> Option<usize> {
        if self.too_large {
            return None;
        }
        match (self.fields_left, self.room.checked_sub(ENTRY_OVERHEAD)) {
            (1.., Some(room)) => Some(room),
            _ => {
                self.too_large = true;
                None
            }
        }
    }

    /// Counts a stored field.
    fn stored(&mut self, name_len: usize, value_len: usize) {
        self.fields_left = self.fields_left.saturating_sub(1);
        self.room = self.room.saturating_sub(entry_size(name_len, value_len));
    }

    /// A field from a table (§6.1, or one just inserted, §6.2.1).
    fn copy(&mut self, name: &[u8], value: &[u8]) {
        let Some(room) = self.admit() else {
            return;
        };
        if name.len().saturating_add(value.len()) > room {
            self.too_large = true;
            return;
        }
        self.out.push(name, value);
        self.stored(name.len(), value.len());
    }

    /// A literal field (§6.2.2, §6.2.3), its strings decoded straight into the list; past the
    /// bounds they are still checked (a bad Huffman string is an error wherever it is).
    fn literal(&mut self, name: Resolved<'_>, value: Literal<'_>) -> Result<(), DecodeError> {
        let Some(room) = self.admit() else {
            if let Resolved::Literal(name) = name {
                check(name)?;
            }
            return check(value);
        };
        let bytes = &mut self.out.bytes;
        let start = bytes.len();
        let name_len = match name {
            Resolved::Bytes(name) => (name.len() <= room).then(|| {
                bytes.extend_from_slice(name);
                name.len()
            }),
            Resolved::Literal(name) => fits(decode_string(name, bytes, room)?, room),
        };
        let Some(name_len) = name_len else {
            self.too_large = true;
            return check(value);
        };
        let room = room.saturating_sub(name_len);
        let Some(value_len) = fits(decode_string(value, bytes, room)?, room) else {
            bytes.truncate(start);
            self.too_large = true;
            return Ok(());
        };
        self.out.push_appended(start, name_len);
        self.stored(name_len, value_len);
        Ok(())
    }
}

/// `len` when it is at most `room`.
fn fits(len: usize, room: usize) -> Option<usize> {
    (len <= room).then_some(len)
}

/// Appends the string's octets to `dst` when they are at most `room`, and returns their number
/// either way (nothing is appended when it is more).
fn decode_string(
    literal: Literal<'_>,
    dst: &mut Vec<u8>,
    room: usize,
) -> Result<usize, DecodeError> {
    if literal.huffman {
        return huffman::decode(literal.bytes, dst, room);
    }
    if literal.bytes.len() <= room {
        dst.extend_from_slice(literal.bytes);
    }
    Ok(literal.bytes.len())
}

/// Checks a string that is not kept (its Huffman code must still be valid, §5.2).
fn check(literal: Literal<'_>) -> Result<(), DecodeError> {
    if literal.huffman {
        huffman::decode(literal.bytes, &mut Vec::new(), 0)?;
    }
    Ok(())
}

/// §5.1: an integer whose prefix is the low bits of the first octet of `rest` (`mask` is
/// 2^N-1), consumed from `rest`. Above [`MAX_INTEGER`], longer than [`MAX_INTEGER_OCTETS`]
/// after the prefix, or cut short by the end of the block, it is an error.
#[inline]
pub(super) fn integer(rest: &mut &[u8], mask: u8) -> Result<usize, DecodeError> {
    let (&first, tail) = rest.split_first().ok_or(DecodeError::Compression)?;
    *rest = tail;
    let prefix = first & mask;
    if prefix < mask {
        return Ok(usize::from(prefix));
    }
    continuation(rest, mask)
}

/// The octets after a full prefix (§5.1).
fn continuation(rest: &mut &[u8], mask: u8) -> Result<usize, DecodeError> {
    let mut value = u64::from(mask);
    for i in 0..MAX_INTEGER_OCTETS {
        let (&octet, tail) = rest.split_first().ok_or(DecodeError::Compression)?;
        *rest = tail;
        // i < 5, so the shift is at most 28 and the sum below 2^36: no overflow.
        let shift = u32::try_from(i).unwrap_or(u32::MAX).saturating_mul(7);
        let bits = u64::from(octet & 0x7F)
            .checked_shl(shift)
            .unwrap_or(u64::MAX);
        value = value.saturating_add(bits);
        if value > MAX_INTEGER as u64 {
            return Err(DecodeError::Compression);
        }
        if octet & 0x80 == 0 {
            return usize::try_from(value).map_err(|_| DecodeError::Compression);
        }
    }
    Err(DecodeError::Compression)
}

/// §5.2: a string literal, consumed from `rest`; a length past the block's end is an error.
fn string<'b>(rest: &mut &'b [u8]) -> Result<Literal<'b>, DecodeError> {
    let huffman = rest.first().is_some_and(|&b| b & 0x80 != 0);
    let len = integer(rest, PREFIX_7)?;
    let (bytes, tail) = rest.split_at_checked(len).ok_or(DecodeError::Compression)?;
    *rest = tail;
    Ok(Literal { huffman, bytes })
}

/// §6.2: a literal representation's name, an index in the first octet's prefix or, when that
/// is 0, a string literal after it.
fn name<'b>(rest: &mut &'b [u8], mask: u8) -> Result<Name<'b>, DecodeError> {
    match integer(rest, mask)? {
        0 => Ok(Name::Literal(string(rest)?)),
        index => Ok(Name::Index(index)),
    }
}
