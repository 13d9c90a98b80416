//! HTTP/2 frame writers against the parser: any sequence of frames the writers produce, with
//! arbitrary ids, codes, payloads and peer max frame size, parses back frame by frame to
//! exactly what was written, and a header block split over CONTINUATION frames comes back whole.
//! The check is the property tests' own (`crates/http-core/tests/support/h2_writes.rs`).
#![no_main]

#[path = "../../crates/http-core/tests/support/h2_writes.rs"]
mod h2_writes;

use h2_writes::Write;
use http_core::h2::frame::MAX_WINDOW;
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;

fn stream(u: &mut Unstructured<'_>) -> Result<u32> {
    u.int_in_range(1..=0x7fff_ffff)
}

fn write(u: &mut Unstructured<'_>) -> Result<Write> {
    Ok(match u.int_in_range(0..=7)? {
        0 => {
            let n = u.int_in_range(0..=20)?;
            Write::Settings((0..n).map(|_| u.arbitrary()).collect::<Result<_>>()?)
        }
        1 => Write::SettingsAck,
        2 => Write::PingAck(u.arbitrary()?),
        3 => {
            let len = u.int_in_range(0..=64)?;
            Write::GoAway(u.arbitrary()?, u.arbitrary()?, u.bytes(len)?.to_vec())
        }
        4 => Write::RstStream(stream(u)?, u.arbitrary()?),
        5 => Write::WindowUpdate(
            u.int_in_range(0..=0x7fff_ffff)?,
            u.int_in_range(1..=MAX_WINDOW)?,
        ),
        6 => {
            let len = u.int_in_range(0..=256)?;
            Write::Data(stream(u)?, u.bytes(len)?.to_vec(), u.arbitrary()?)
        }
        _ => {
            // Blocks of up to four frames of the smallest size, made from a seed so that short
            // inputs can still ask for long blocks.
            let len = u.int_in_range(0..=60_000)?;
            let seed: u8 = u.arbitrary()?;
            let block = (0..len).map(|i| (i as u8).wrapping_mul(seed | 1)).collect();
            Write::Headers(stream(u)?, block, u.arbitrary()?)
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(max) = u.arbitrary::<u32>() else {
        return;
    };
    let mut writes = Vec::new();
    while let Ok(w) = write(&mut u) {
        writes.push(w);
        if writes.len() == 16 || u.is_empty() {
            break;
        }
    }
    h2_writes::round_trip(&writes, max);
});
