//! The three encoders behind on-the-fly compression (brotli, zstd, gzip) and their levels: one
//! call turns a file's bytes into one content coding's bytes, in memory.
//!
//! It must not read files, cache, or run on a worker's event loop: only the compression threads
//! call [`compress`].

use std::fmt;
use std::io::{self, Write as _};

use http_core::encoding::Coding;

/// The level of each coding. The defaults come from measuring a real 90 KiB script on this
/// project's 2-core machine (`tests::measure_levels`; the README's "Compression" section has
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

/// `input` encoded with `coding` at `level`.
///
/// # Errors
///
/// What the encoder reports; none is expected from in-memory buffers.
pub fn compress(coding: Coding, level: u32, input: &[u8]) -> io::Result<Vec<u8>> {
    // Text shrinks to a quarter or so; start there and let the vector grow if not.
    let mut out = Vec::with_capacity(input.len() / 4 + 64);
    match coding {
        Coding::Br => {
            let params = brotli::enc::BrotliEncoderParams {
                quality: i32::try_from(level).unwrap_or(11).min(11),
                size_hint: input.len(),
                ..Default::default()
            };
            brotli::BrotliCompress(&mut &input[..], &mut out, &params)?;
        }
        Coding::Zstd => {
            let level = i32::try_from(level).unwrap_or(19).min(19);
            out = zstd::bulk::compress(input, level)?;
        }
        Coding::Gzip => {
            let mut encoder = flate2::write::GzEncoder::new(out, flate2::Compression::new(level));
            encoder.write_all(input)?;
            out = encoder.finish()?;
        }
    }
    Ok(out)
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
