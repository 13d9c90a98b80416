//! The static Huffman code of RFC 7541 Appendix B, for string literals (§5.2).
//!
//! Encoding looks each octet's code up in [`CODES`]. Decoding walks the code tree four bits at a
//! time through [`STEPS`], a table built at compile time from [`CODES`] alone (256 tree nodes
//! times 16 nibbles, 12 KiB): each step says which node comes next, whether a symbol was
//! completed on the way, and whether the string may end there. Nothing here allocates beyond
//! the output the caller passes in, and nothing is stored past the room the caller allows.

use super::DecodeError;

/// `(code, length in bits)` for every octet, the code aligned to the least significant bit
/// ("code as hex" and "len" of RFC 7541 Appendix B); entry 256 is EOS.
#[rustfmt::skip]
pub(super) const CODES: [(u32, u8); 257] = [
    /*   0 */ (0x1ff8, 13), (0x7fffd8, 23), (0xfffffe2, 28), (0xfffffe3, 28), (0xfffffe4, 28),
    /*   5 */ (0xfffffe5, 28), (0xfffffe6, 28), (0xfffffe7, 28), (0xfffffe8, 28), (0xffffea, 24),
    /*  10 */ (0x3ffffffc, 30), (0xfffffe9, 28), (0xfffffea, 28), (0x3ffffffd, 30), (0xfffffeb, 28),
    /*  15 */ (0xfffffec, 28), (0xfffffed, 28), (0xfffffee, 28), (0xfffffef, 28), (0xffffff0, 28),
    /*  20 */ (0xffffff1, 28), (0xffffff2, 28), (0x3ffffffe, 30), (0xffffff3, 28), (0xffffff4, 28),
    /*  25 */ (0xffffff5, 28), (0xffffff6, 28), (0xffffff7, 28), (0xffffff8, 28), (0xffffff9, 28),
    /*  30 */ (0xffffffa, 28), (0xffffffb, 28), (0x14, 6), (0x3f8, 10), (0x3f9, 10),
    /*  35 */ (0xffa, 12), (0x1ff9, 13), (0x15, 6), (0xf8, 8), (0x7fa, 11),
    /*  40 */ (0x3fa, 10), (0x3fb, 10), (0xf9, 8), (0x7fb, 11), (0xfa, 8),
    /*  45 */ (0x16, 6), (0x17, 6), (0x18, 6), (0x0, 5), (0x1, 5),
    /*  50 */ (0x2, 5), (0x19, 6), (0x1a, 6), (0x1b, 6), (0x1c, 6),
    /*  55 */ (0x1d, 6), (0x1e, 6), (0x1f, 6), (0x5c, 7), (0xfb, 8),
    /*  60 */ (0x7ffc, 15), (0x20, 6), (0xffb, 12), (0x3fc, 10), (0x1ffa, 13),
    /*  65 */ (0x21, 6), (0x5d, 7), (0x5e, 7), (0x5f, 7), (0x60, 7),
    /*  70 */ (0x61, 7), (0x62, 7), (0x63, 7), (0x64, 7), (0x65, 7),
    /*  75 */ (0x66, 7), (0x67, 7), (0x68, 7), (0x69, 7), (0x6a, 7),
    /*  80 */ (0x6b, 7), (0x6c, 7), (0x6d, 7), (0x6e, 7), (0x6f, 7),
    /*  85 */ (0x70, 7), (0x71, 7), (0x72, 7), (0xfc, 8), (0x73, 7),
    /*  90 */ (0xfd, 8), (0x1ffb, 13), (0x7fff0, 19), (0x1ffc, 13), (0x3ffc, 14),
    /*  95 */ (0x22, 6), (0x7ffd, 15), (0x3, 5), (0x23, 6), (0x4, 5),
    /* 100 */ (0x24, 6), (0x5, 5), (0x25, 6), (0x26, 6), (0x27, 6),
    /* 105 */ (0x6, 5), (0x74, 7), (0x75, 7), (0x28, 6), (0x29, 6),
    /* 110 */ (0x2a, 6), (0x7, 5), (0x2b, 6), (0x76, 7), (0x2c, 6),
    /* 115 */ (0x8, 5), (0x9, 5), (0x2d, 6), (0x77, 7), (0x78, 7),
    /* 120 */ (0x79, 7), (0x7a, 7), (0x7b, 7), (0x7ffe, 15), (0x7fc, 11),
    /* 125 */ (0x3ffd, 14), (0x1ffd, 13), (0xffffffc, 28), (0xfffe6, 20), (0x3fffd2, 22),
    /* 130 */ (0xfffe7, 20), (0xfffe8, 20), (0x3fffd3, 22), (0x3fffd4, 22), (0x3fffd5, 22),
    /* 135 */ (0x7fffd9, 23), (0x3fffd6, 22), (0x7fffda, 23), (0x7fffdb, 23), (0x7fffdc, 23),
    /* 140 */ (0x7fffdd, 23), (0x7fffde, 23), (0xffffeb, 24), (0x7fffdf, 23), (0xffffec, 24),
    /* 145 */ (0xffffed, 24), (0x3fffd7, 22), (0x7fffe0, 23), (0xffffee, 24), (0x7fffe1, 23),
    /* 150 */ (0x7fffe2, 23), (0x7fffe3, 23), (0x7fffe4, 23), (0x1fffdc, 21), (0x3fffd8, 22),
    /* 155 */ (0x7fffe5, 23), (0x3fffd9, 22), (0x7fffe6, 23), (0x7fffe7, 23), (0xffffef, 24),
    /* 160 */ (0x3fffda, 22), (0x1fffdd, 21), (0xfffe9, 20), (0x3fffdb, 22), (0x3fffdc, 22),
    /* 165 */ (0x7fffe8, 23), (0x7fffe9, 23), (0x1fffde, 21), (0x7fffea, 23), (0x3fffdd, 22),
    /* 170 */ (0x3fffde, 22), (0xfffff0, 24), (0x1fffdf, 21), (0x3fffdf, 22), (0x7fffeb, 23),
    /* 175 */ (0x7fffec, 23), (0x1fffe0, 21), (0x1fffe1, 21), (0x3fffe0, 22), (0x1fffe2, 21),
    /* 180 */ (0x7fffed, 23), (0x3fffe1, 22), (0x7fffee, 23), (0x7fffef, 23), (0xfffea, 20),
    /* 185 */ (0x3fffe2, 22), (0x3fffe3, 22), (0x3fffe4, 22), (0x7ffff0, 23), (0x3fffe5, 22),
    /* 190 */ (0x3fffe6, 22), (0x7ffff1, 23), (0x3ffffe0, 26), (0x3ffffe1, 26), (0xfffeb, 20),
    /* 195 */ (0x7fff1, 19), (0x3fffe7, 22), (0x7ffff2, 23), (0x3fffe8, 22), (0x1ffffec, 25),
    /* 200 */ (0x3ffffe2, 26), (0x3ffffe3, 26), (0x3ffffe4, 26), (0x7ffffde, 27), (0x7ffffdf, 27),
    /* 205 */ (0x3ffffe5, 26), (0xfffff1, 24), (0x1ffffed, 25), (0x7fff2, 19), (0x1fffe3, 21),
    /* 210 */ (0x3ffffe6, 26), (0x7ffffe0, 27), (0x7ffffe1, 27), (0x3ffffe7, 26), (0x7ffffe2, 27),
    /* 215 */ (0xfffff2, 24), (0x1fffe4, 21), (0x1fffe5, 21), (0x3ffffe8, 26), (0x3ffffe9, 26),
    /* 220 */ (0xffffffd, 28), (0x7ffffe3, 27), (0x7ffffe4, 27), (0x7ffffe5, 27), (0xfffec, 20),
    /* 225 */ (0xfffff3, 24), (0xfffed, 20), (0x1fffe6, 21), (0x3fffe9, 22), (0x1fffe7, 21),
    /* 230 */ (0x1fffe8, 21), (0x7ffff3, 23), (0x3fffea, 22), (0x3fffeb, 22), (0x1ffffee, 25),
    /* 235 */ (0x1ffffef, 25), (0xfffff4, 24), (0xfffff5, 24), (0x3ffffea, 26), (0x7ffff4, 23),
    /* 240 */ (0x3ffffeb, 26), (0x7ffffe6, 27), (0x3ffffec, 26), (0x3ffffed, 26), (0x7ffffe7, 27),
    /* 245 */ (0x7ffffe8, 27), (0x7ffffe9, 27), (0x7ffffea, 27), (0x7ffffeb, 27), (0xffffffe, 28),
    /* 250 */ (0x7ffffec, 27), (0x7ffffed, 27), (0x7ffffee, 27), (0x7ffffef, 27), (0x7fffff0, 27),
    /* 255 */ (0x3ffffee, 26), (0x3fffffff, 30),
];

/// The end-of-string symbol (Appendix B): its code's leading bits pad the last octet, and the
/// symbol itself must never be decoded (§5.2).
const EOS: u16 = 256;

/// Internal nodes of the code tree. The code is complete (checked below), so 257 leaves hang
/// from exactly 256 internal nodes and a node's number fits in a `u8`.
const NODES: usize = 256;

/// A child in [`tree`]: another node's number, or `LEAF | symbol`.
const LEAF: u16 = 0x8000;
/// A child not yet placed while the tree is built.
const VACANT: u16 = u16::MAX;

/// [`Step::flags`]: a symbol was completed, it is [`Step::sym`].
const EMIT: u8 = 1;
/// [`Step::flags`]: the string may end after this step: the bits since the last symbol are at
/// most 7 and all ones, a prefix of EOS (§5.2).
const ACCEPT: u8 = 2;
/// [`Step::flags`]: EOS was decoded, which §5.2 makes a decoding error.
const FAIL: u8 = 4;

/// Most padding bits (§5.2: "strictly longer than 7 bits MUST be treated as a decoding error").
const MAX_PADDING_BITS: usize = 7;

/// The shortest code's length in bits (Appendix B: `'0'`, `'a'`, ...), which bounds how many
/// octets a Huffman string can decode to.
const SHORTEST_CODE_BITS: usize = 5;

/// One nibble's walk from a node.
#[derive(Clone, Copy)]
#[repr(C, align(4))] // 4 octets: one load and a shift to index
struct Step {
    next: u8,
    sym: u8,
    flags: u8,
}

/// The code tree: `tree[node][bit]`, node 0 the root. The build fails (at compile time) unless
/// the code is prefix-free and complete, with exactly [`NODES`] internal nodes.
// Evaluated only in a `const` item: an index out of bounds or an overflow is a build error,
// never a panic at run time.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
const fn tree() -> [[u16; 2]; NODES] {
    let mut tree = [[VACANT; 2]; NODES];
    let mut nodes = 1;
    let mut sym = 0;
    while sym < CODES.len() {
        let (code, len) = CODES[sym];
        let mut node = 0;
        let mut bit = len - 1;
        while bit > 0 {
            let side = ((code >> bit) & 1) as usize;
            let child = tree[node][side];
            if child == VACANT {
                tree[node][side] = nodes as u16;
                node = nodes;
                nodes += 1;
            } else {
                assert!(child & LEAF == 0, "a code is a prefix of another");
                node = child as usize;
            }
            bit -= 1;
        }
        let side = (code & 1) as usize;
        assert!(tree[node][side] == VACANT, "two symbols share a code");
        tree[node][side] = LEAF | sym as u16;
        sym += 1;
    }
    assert!(nodes == NODES, "the code is not complete");
    let mut node = 0;
    while node < NODES {
        assert!(tree[node][0] != VACANT && tree[node][1] != VACANT);
        node += 1;
    }
    tree
}

/// The nibble-at-a-time decoding table: `STEPS[node << 4 | nibble]`.
static STEPS: [Step; NODES * 16] = steps();

// Evaluated only in a `static` initialiser, like `tree`.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
const fn steps() -> [Step; NODES * 16] {
    let tree = tree();
    // The nodes where a string may end: the root, and the nodes reached from it by at most
    // MAX_PADDING_BITS one-bits (the leading bits of EOS, which is all ones).
    let mut accepting = [false; NODES];
    accepting[0] = true;
    let mut node = 0;
    let mut depth = 0;
    while depth < MAX_PADDING_BITS {
        let child = tree[node][1];
        assert!(
            child & LEAF == 0,
            "EOS is 30 one-bits; its prefixes are nodes"
        );
        node = child as usize;
        accepting[node] = true;
        depth += 1;
    }
    let mut table = [Step {
        next: 0,
        sym: 0,
        flags: 0,
    }; NODES * 16];
    let mut state = 0;
    while state < NODES {
        let mut nibble = 0;
        while nibble < 16 {
            let mut node = state;
            let mut sym = 0;
            let mut flags = 0;
            let mut bit = 4;
            while bit > 0 {
                bit -= 1;
                let child = tree[node][(nibble >> bit) & 1];
                if child & LEAF == 0 {
                    node = child as usize;
                } else {
                    let s = child & !LEAF;
                    if s == EOS {
                        flags |= FAIL;
                    } else {
                        // Codes are 5 bits or more: a nibble completes one symbol at most.
                        assert!(flags & EMIT == 0);
                        flags |= EMIT;
                        sym = s as u8;
                    }
                    node = 0;
                }
            }
            if accepting[node] {
                flags |= ACCEPT;
            }
            table[state << 4 | nibble] = Step {
                next: node as u8,
                sym,
                flags,
            };
            nibble += 1;
        }
        state += 1;
    }
    table
}

/// How many octets `src` takes Huffman-coded (§5.2: the codes, then at most 7 bits of padding).
pub(super) fn encoded_len(src: &[u8]) -> usize {
    let bits = src.iter().fold(0usize, |bits, &b| {
        bits.saturating_add(usize::from(code(b).1))
    });
    bits.div_ceil(8)
}

/// The code of one octet.
fn code(b: u8) -> (u32, u8) {
    // Every octet has a code: CODES has 257 entries.
    CODES.get(usize::from(b)).copied().unwrap_or((0, 0))
}

/// Appends `src` Huffman-coded, padded with the leading one-bits of EOS (§5.2).
pub(super) fn encode(src: &[u8], dst: &mut Vec<u8>) {
    // Bits not yet written sit in the low `pending` bits of `acc`: fewer than 32 between
    // octets, and a code is 30 bits at most, so 61 at most.
    let mut acc: u64 = 0;
    let mut pending: u32 = 0;
    for &b in src {
        let (code, len) = code(b);
        acc = acc << len | u64::from(code);
        pending = pending.saturating_add(u32::from(len));
        if pending >= 32 {
            pending = pending.saturating_sub(32);
            dst.extend_from_slice(&((acc >> pending) as u32).to_be_bytes());
        }
    }
    // Pad to a whole octet with one-bits, the start of EOS.
    let pad = pending.wrapping_neg() & 7;
    acc = acc << pad | !(u64::MAX << pad);
    pending = pending.saturating_add(pad);
    while pending >= 8 {
        pending = pending.saturating_sub(8);
        dst.push((acc >> pending) as u8);
    }
}

/// The step from `node` on `nibble` (below 16).
#[inline]
fn step(node: u8, nibble: u8) -> Step {
    // In bounds: a node is below 256 and a nibble below 16.
    let index = usize::from(node) << 4 | usize::from(nibble & 0x0F);
    STEPS.get(index).copied().unwrap_or(Step {
        next: 0,
        sym: 0,
        flags: FAIL,
    })
}

/// The most octets `len` Huffman-coded octets can decode to.
pub(super) fn max_decoded_len(len: usize) -> usize {
    len.saturating_mul(8) / SHORTEST_CODE_BITS
}

/// Decodes the Huffman-coded `src` (§5.2), appending it to `dst` when it decodes to at most
/// `room` octets; otherwise appends nothing but still checks the whole string. Returns the
/// decoded length either way (more than `room` when nothing was appended).
///
/// EOS in the string, padding longer than 7 bits, or padding that is not all ones is
/// [`DecodeError::Compression`] (§5.2), and then nothing is appended either.
pub(super) fn decode(src: &[u8], dst: &mut Vec<u8>, room: usize) -> Result<usize, DecodeError> {
    let start = dst.len();
    // Octets are written into a zeroed window of what may be kept, which is cheaper than a
    // capacity check each; what is not used is cut off at the end. A step that completes no
    // symbol writes too, where the next symbol will go.
    let window_len = room.min(max_decoded_len(src.len()));
    dst.resize(start.saturating_add(window_len), 0);
    let window = dst.get_mut(start..).unwrap_or_default();
    let mut node = 0u8;
    // Every step's flags, OR-ed (FAIL if EOS was decoded), and the last step's.
    let mut seen = 0u8;
    let mut last = ACCEPT;
    let mut len = 0usize;
    let mut walk = |nibble: u8| {
        let step = step(node, nibble);
        if let Some(slot) = window.get_mut(len) {
            *slot = step.sym;
        }
        // No wrap: at most one symbol per nibble, and a slice is shorter than usize::MAX / 2.
        len = len.wrapping_add(usize::from(step.flags & EMIT));
        seen |= step.flags;
        last = step.flags;
        node = step.next;
    };
    for &byte in src {
        walk(byte >> 4);
        walk(byte & 0x0F);
    }
    if seen & FAIL != 0 || last & ACCEPT == 0 {
        dst.truncate(start);
        return Err(DecodeError::Compression);
    }
    // The decoded length is at most the window's when it is at most `room` (a code is 5 bits
    // or more); past `room`, nothing is kept.
    dst.truncate(if len <= room {
        start.saturating_add(len)
    } else {
        start
    });
    Ok(len)
}
