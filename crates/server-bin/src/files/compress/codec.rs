//! The three encoders behind on-the-fly compression (brotli, zstd, gzip) and their levels: an
//! [`Encoder`] takes a file's bytes in pieces and writes one content coding's bytes to a sink.
//!
//! What an encoder holds while it works is bounded whatever the file's size, because it is
//! memory outside the compressed cache's bound, once per compression thread. Measured on 8 MiB of
//! text at the default levels (release build, peak resident growth): brotli 6 took 21-33 MiB
//! with its metablocks as large as its 4 MiB window allows, 13-16 MiB flushed every
//! [`BROTLI_METABLOCK_INPUT`]; zstd 10 took 25 MiB with its own tables for large inputs, 10 MiB
//! with them held to [`ZSTD_TABLE_LOG_MAX`]; gzip takes under 1 MiB. Each bound changed the
//! output of a 5.6 MiB search index and an 8 MiB source listing by half a percent at most. The
//! windows, which decide how far back a match may reach and so matter more, are left as the
//! levels set them (up to [`ZSTD_WINDOW_LOG_MAX`]): a 1 MiB brotli window made the index's copy
//! 23% larger. Below the sizes where the bounds apply, the output is byte for byte what the
//! one-call encoders make.
//!
//! It must not read files, cache, or run on a worker's event loop: only the compression threads
//! encode.

use std::fmt;
use std::io::{self, Write};

use http_core::encoding::Coding;

/// Brotli: input encoded between two flushes, at most. A flush ends a metablock; without them a
/// metablock grows to twice the window (8 MiB), and the encoder's commands and histograms with it.
pub const BROTLI_METABLOCK_INPUT: usize = 1 << 20;

/// zstd: the largest hash and chain tables, as log2 of their entries (4 bytes each), for levels
/// that would take more on a large source (levels 9 and up take 2^21 to 2^24 above 256 KiB).
pub const ZSTD_TABLE_LOG_MAX: u32 = 20;

/// zstd: the largest window, as log2 of its bytes (levels 17 to 19 would take 8 MiB).
pub const ZSTD_WINDOW_LOG_MAX: u32 = 22;

/// zstd picks smaller tables by itself for sources up to this size.
const ZSTD_SMALL_SOURCE: u64 = 256 * 1024;

/// The level of each coding. The defaults come from measuring a real 90 KiB script on this
/// project's 2-core machine (`tests::measure_levels`; `docs/compression.md`, "Levels", has
/// the table): each is the highest level that still compresses at 50 MB/s or more on one core,
/// so the largest file compressed (8 MiB by default) costs a compression thread under 0.2 s.
/// Past them, sizes shrink by 1-3% for 2 to 40 times the time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Levels {
    /// Brotli quality, 0..=11.
    pub br: u32,
    /// Zstandard level, 1..=19 (20 and above need windows larger than the 8 MiB that RFC 9659
    /// allows the `zstd` content coding).
    pub zstd: u32,
    /// Gzip (DEFLATE) level, 1..=9.
    pub gzip: u32,
}

impl Default for Levels {
    fn default() -> Self {
        Self {
            br: 6,
            zstd: 10,
            gzip: 6,
        }
    }
}

impl Levels {
    /// The level of `coding`.
    pub fn of(self, coding: Coding) -> u32 {
        match coding {
            Coding::Br => self.br,
            Coding::Zstd => self.zstd,
            Coding::Gzip => self.gzip,
        }
    }

    /// The levels range each coding accepts.
    pub fn range(coding: Coding) -> std::ops::RangeInclusive<u32> {
        match coding {
            Coding::Br => 0..=11,
            Coding::Zstd => 1..=19,
            Coding::Gzip => 1..=9,
        }
    }

    /// Parses `br=5,zstd=9,gzip=6` (any subset, any order) over the defaults.
    ///
    /// # Errors
    ///
    /// A message for an unknown coding or a level out of its range.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut levels = Self::default();
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (name, value) = item
                .split_once('=')
                .ok_or_else(|| format!("'{item}' is not CODING=LEVEL (e.g. br=9)"))?;
            let coding = parse_coding(name.trim())?;
            let range = Self::range(coding);
            let level = value
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|l| range.contains(l))
                .ok_or_else(|| {
                    format!(
                        "{name} level must be {}..={}, not '{value}'",
                        range.start(),
                        range.end()
                    )
                })?;
            match coding {
                Coding::Br => levels.br = level,
                Coding::Zstd => levels.zstd = level,
                Coding::Gzip => levels.gzip = level,
            }
        }
        Ok(levels)
    }
}

impl fmt::Display for Levels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "br={},zstd={},gzip={}", self.br, self.zstd, self.gzip)
    }
}

/// A coding by its `Content-Encoding` token (`br`, `zstd`, `gzip`).
///
/// # Errors
///
/// A message naming the unknown token.
pub fn parse_coding(name: &str) -> Result<Coding, String> {
    Coding::from_token(name.as_bytes())
        .ok_or_else(|| format!("unknown coding '{name}' (br, zstd or gzip)"))
}

/// One file being encoded in one coding, written to `W` as it goes.
pub enum Encoder<W: Write> {
    /// Brotli, and the input taken since its last flush.
    Br(Box<brotli::CompressorWriter<W>>, usize),
    /// Zstandard.
    Zstd(zstd::stream::write::Encoder<'static, W>),
    /// Gzip.
    Gzip(flate2::write::GzEncoder<W>),
}

impl<W: Write> fmt::Debug for Encoder<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Self::Br(..) => "br",
            Self::Zstd(_) => "zstd",
            Self::Gzip(_) => "gzip",
        };
        f.debug_tuple("Encoder").field(&name).finish()
    }
}

impl<W: Write> Encoder<W> {
    /// An encoder of `len` bytes (the whole input; the encoders size their tables by it) in
    /// `coding` at `level`, writing to `out`.
    ///
    /// # Errors
    ///
    /// What zstd reports for a parameter; none is expected.
    pub fn new(coding: Coding, level: u32, len: u64, out: W) -> io::Result<Self> {
        Ok(match coding {
            Coding::Br => {
                let params = brotli::enc::BrotliEncoderParams {
                    quality: i32::try_from(level).unwrap_or(11).min(11),
                    size_hint: usize::try_from(len).unwrap_or(usize::MAX),
                    ..Default::default()
                };
                // The same 4 KiB steps as the one-call encoder, so small files come out alike.
                let writer = brotli::CompressorWriter::with_params(out, 4096, &params);
                Self::Br(Box::new(writer), 0)
            }
            Coding::Zstd => {
                use zstd::stream::raw::CParameter;
                let level = i32::try_from(level).unwrap_or(19).min(19);
                let mut encoder = zstd::stream::write::Encoder::new(out, level)?;
                encoder.set_pledged_src_size(Some(len))?;
                if len > ZSTD_SMALL_SOURCE {
                    // From zstd's own table of levels for large sources: where a level's tables
                    // or window exceed the bounds (and only there, so no level gets larger ones).
                    if level >= 9 {
                        encoder.set_parameter(CParameter::HashLog(ZSTD_TABLE_LOG_MAX))?;
                    }
                    if level >= 10 {
                        encoder.set_parameter(CParameter::ChainLog(ZSTD_TABLE_LOG_MAX))?;
                    }
                    if level >= 17 {
                        encoder.set_parameter(CParameter::WindowLog(ZSTD_WINDOW_LOG_MAX))?;
                    }
                }
                Self::Zstd(encoder)
            }
            Coding::Gzip => Self::Gzip(flate2::write::GzEncoder::new(
                out,
                flate2::Compression::new(level),
            )),
        })
    }

    /// Encodes the next piece of the input.
    ///
    /// # Errors
    ///
    /// What the sink reports (the encoders themselves do not fail on bytes in memory).
    pub fn write(&mut self, input: &[u8]) -> io::Result<()> {
        match self {
            Self::Br(writer, since_flush) => {
                let mut rest = input;
                while !rest.is_empty() {
                    // Flushed only when more input follows a full metablock, so that a file of
                    // up to one metablock comes out as from the one-call encoder.
                    if *since_flush == BROTLI_METABLOCK_INPUT {
                        writer.flush()?;
                        *since_flush = 0;
                    }
                    let room = BROTLI_METABLOCK_INPUT - *since_flush;
                    let (now, later) = rest.split_at(room.min(rest.len()));
                    writer.write_all(now)?;
                    *since_flush += now.len();
                    rest = later;
                }
                Ok(())
            }
            Self::Zstd(encoder) => encoder.write_all(input),
            Self::Gzip(encoder) => encoder.write_all(input),
        }
    }

    /// Ends the stream and gives the sink back.
    ///
    /// # Errors
    ///
    /// What the sink reports. (Brotli's ending cannot report one: a sink that failed must say
    /// so itself afterwards.)
    pub fn finish(self) -> io::Result<W> {
        match self {
            Self::Br(writer, _) => Ok(writer.into_inner()),
            Self::Zstd(encoder) => encoder.finish(),
            Self::Gzip(encoder) => encoder.finish(),
        }
    }
}

/// `input` encoded with `coding` at `level`, in one call (listings, tests and the level
/// measurement).
///
/// # Errors
///
/// When the encoder fails (it writes to memory, so only on a bad level).
pub fn compress(coding: Coding, level: u32, input: &[u8]) -> io::Result<Vec<u8>> {
    let mut encoder = Encoder::new(coding, level, input.len() as u64, Vec::new())?;
    encoder.write(input)?;
    encoder.finish()
}

/// Decodes what [`compress`] made (tests only).
#[cfg(test)]
pub fn decompress(coding: Coding, input: &[u8]) -> io::Result<Vec<u8>> {
    use std::io::Read as _;
    let mut out = Vec::new();
    match coding {
        Coding::Br => {
            brotli::Decompressor::new(input, 4096).read_to_end(&mut out)?;
        }
        Coding::Zstd => out = zstd::decode_all(input)?,
        Coding::Gzip => {
            flate2::read::GzDecoder::new(input).read_to_end(&mut out)?;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn levels_parse_any_subset_over_the_defaults() {
        let d = Levels::default();
        assert_eq!(Levels::parse(""), Ok(d));
        assert_eq!(
            Levels::parse("gzip=1, BR=11"),
            Ok(Levels {
                br: 11,
                gzip: 1,
                ..d
            })
        );
        assert_eq!(Levels::parse(&d.to_string()), Ok(d));
        for bad in [
            "br=12",
            "zstd=0",
            "zstd=20",
            "gzip=0",
            "deflate=1",
            "br",
            "br=x",
        ] {
            assert!(Levels::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_coding_round_trips_text_and_shrinks_it() {
        let text = "function f(a) { return a + 1; }\n".repeat(200);
        for coding in Coding::ALL {
            let packed = compress(coding, Levels::default().of(coding), text.as_bytes()).unwrap();
            assert!(
                packed.len() < text.len() / 10,
                "{coding:?}: {}",
                packed.len()
            );
            assert_eq!(decompress(coding, &packed).unwrap(), text.as_bytes());
        }
    }

    /// Text that repeats at a distance, so a match may reach back across metablocks.
    fn long_text(len: usize) -> Vec<u8> {
        let mut text = Vec::with_capacity(len);
        let mut i = 0u64;
        while text.len() < len {
            let line = format!(
                "let v{} = f({}, \"{}\");\n",
                i % 5003,
                i % 97,
                i * 7919 % 65_521
            );
            text.extend_from_slice(line.as_bytes());
            i += 1;
        }
        text.truncate(len);
        text
    }

    #[test]
    fn below_the_bounds_the_output_is_that_of_the_one_call_encoders() {
        // Such a copy keeps the bytes its tag named before encoders were streamed.
        let text = long_text(200 * 1024);
        let d = Levels::default();
        let mut br = Vec::new();
        let params = brotli::enc::BrotliEncoderParams {
            quality: d.br as i32,
            size_hint: text.len(),
            ..Default::default()
        };
        brotli::BrotliCompress(&mut &text[..], &mut br, &params).unwrap();
        let zstd = zstd::bulk::compress(&text, d.zstd as i32).unwrap();
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(d.gzip));
        gzip.write_all(&text).unwrap();
        let gzip = gzip.finish().unwrap();
        for (coding, one_call) in [(Coding::Br, br), (Coding::Zstd, zstd), (Coding::Gzip, gzip)] {
            let mut encoder =
                Encoder::new(coding, d.of(coding), text.len() as u64, Vec::new()).unwrap();
            for piece in text.chunks(4096 + 17) {
                encoder.write(piece).unwrap();
            }
            let streamed = encoder.finish().unwrap();
            assert!(streamed == one_call, "{coding:?}");
        }
    }

    #[test]
    fn a_large_input_round_trips_across_flushes_and_bounded_tables() {
        let text = long_text(BROTLI_METABLOCK_INPUT * 2 + 12_345);
        for coding in Coding::ALL {
            let packed = compress(coding, Levels::default().of(coding), &text).unwrap();
            assert!(packed.len() < text.len() / 2, "{coding:?}");
            assert!(decompress(coding, &packed).unwrap() == text, "{coding:?}");
        }
        // Every zstd level sets only parameters it accepts (the highest set the window too).
        let text = &text[..usize::try_from(ZSTD_SMALL_SOURCE).unwrap() + 1];
        for level in [1, 8, 9, 10, 16, 17, 19] {
            let packed = compress(Coding::Zstd, level, text).unwrap();
            assert!(
                decompress(Coding::Zstd, &packed).unwrap() == text,
                "zstd {level}"
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn decompressing_gives_back_any_input(
            input in proptest::collection::vec(any::<u8>(), 0..4096),
            coding in proptest::sample::select(Coding::ALL.to_vec()),
            level in 1u32..=9,
        ) {
            let packed = compress(coding, level, &input).unwrap();
            prop_assert_eq!(decompress(coding, &packed).unwrap(), input);
        }
    }

    /// The measurement behind the default levels: sizes and speeds of each level on the file
    /// named by `COMPRESS_LEVELS_FILE` (a real script, about 100 KiB). Run it in release mode:
    /// `COMPRESS_LEVELS_FILE=app.js cargo test --release -p server-bin measure_levels -- --ignored --nocapture`
    #[test]
    #[ignore = "a measurement; needs COMPRESS_LEVELS_FILE and a release build"]
    fn measure_levels() {
        let path = std::env::var("COMPRESS_LEVELS_FILE").expect("COMPRESS_LEVELS_FILE");
        let input = std::fs::read(&path).unwrap();
        println!("{path}: {} bytes", input.len());
        println!("coding level    bytes  ratio   MB/s  ms/file");
        for coding in Coding::ALL {
            for level in Levels::range(coding) {
                // The fastest of several runs: on a shared machine, slower runs measure the
                // neighbours.
                let started = Instant::now();
                let mut rounds = 0u32;
                let mut packed = Vec::new();
                let mut secs = f64::MAX;
                while rounds < 5 || started.elapsed().as_millis() < 500 {
                    let one = Instant::now();
                    packed = compress(coding, level, &input).unwrap();
                    secs = secs.min(one.elapsed().as_secs_f64());
                    rounds += 1;
                }
                assert_eq!(decompress(coding, &packed).unwrap(), input);
                assert!(packed.len() < input.len());
                println!(
                    "{:<6} {level:>5} {:>8} {:>6.3} {:>6.1} {:>8.2}",
                    coding.token(),
                    packed.len(),
                    packed.len() as f64 / input.len() as f64,
                    input.len() as f64 / secs / 1e6,
                    secs * 1e3
                );
            }
        }
    }
}
