//! What can be wrong with a site file, and where: a [`Problem`], [`Located`] at a byte range
//! of the file, then a [`SiteError`] that names the file, line and column on one line. This
//! module must not check anything itself.

use std::fmt;
use std::io;
use std::ops::Range;
use std::path::PathBuf;

/// What is wrong with a site file.
#[derive(Debug)]
pub enum Problem {
    /// The file cannot be read.
    Read(io::Error),
    /// It is not TOML.
    Syntax(String),
    /// A key the schema does not have.
    UnknownKey {
        /// As written.
        key: String,
        /// `the top level`, `[cors]`, ...
        within: String,
        /// The known key it is closest to.
        hint: Option<String>,
    },
    /// One key, spelt two ways.
    Twice {
        /// The second spelling met.
        key: String,
        /// The first.
        other: String,
    },
    /// A value of the wrong TOML type.
    Type {
        /// The key.
        key: String,
        /// What it must be.
        expected: &'static str,
    },
    /// A required key is absent.
    Missing {
        /// The key.
        key: &'static str,
        /// The table that needs it.
        within: String,
    },
    /// A value of the right type that cannot be used.
    Invalid {
        /// The key.
        key: String,
        /// Why.
        why: String,
    },
    /// Settings that do not go together (with each other or with the command line's flags),
    /// in the words of the command-line parser.
    Together(String),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read(_) => write!(f, "cannot read the site file"),
            Self::Syntax(message) => write!(f, "not valid TOML: {message}"),
            Self::UnknownKey { key, within, hint } => {
                write!(f, "unknown key '{key}' in {within}")?;
                match hint {
                    Some(hint) => write!(f, " (did you mean '{hint}'?)"),
                    None => Ok(()),
                }
            }
            Self::Twice { key, other } => {
                write!(f, "'{key}' is the same key as '{other}': give it once")
            }
            Self::Type { key, expected } => write!(f, "'{key}' must be {expected}"),
            Self::Missing { key, within } => write!(f, "{within} needs '{key}'"),
            Self::Invalid { key, why } => write!(f, "'{key}': {why}"),
            Self::Together(message) => {
                write!(f, "settings and flags that do not go together: {message}")
            }
        }
    }
}

/// A problem and where it is in the file.
#[derive(Debug)]
pub struct Located {
    /// Byte range at fault: a key, or a value with its quotes.
    pub span: Range<usize>,
    /// Byte offset inside a string value of the character at fault, if known.
    pub inside: Option<usize>,
    /// What is wrong.
    pub problem: Problem,
}

impl Located {
    /// `problem` at `span`.
    pub fn new(span: Range<usize>, problem: Problem) -> Self {
        Self {
            span,
            inside: None,
            problem,
        }
    }

    /// Points at byte `offset` of the string value rather than at its opening quote.
    #[must_use]
    pub fn inside(mut self, offset: usize) -> Self {
        self.inside = Some(offset);
        self
    }

    /// [`Problem::Invalid`] for the value of `key` at `span`.
    pub fn invalid(span: Range<usize>, key: &str, why: impl Into<String>) -> Self {
        Self::new(
            span,
            Problem::Invalid {
                key: key.to_owned(),
                why: why.into(),
            },
        )
    }
}

/// A site file that cannot be used: `FILE:LINE:COLUMN: what`, on one line.
#[derive(Debug)]
pub struct SiteError {
    /// The file as named.
    pub file: PathBuf,
    /// Line and column (both from 1, the column in characters), when the problem has a place.
    pub at: Option<(usize, usize)>,
    /// What is wrong.
    pub problem: Problem,
}

impl fmt::Display for SiteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.at {
            Some((line, column)) => write!(
                f,
                "{}:{line}:{column}: {}",
                self.file.display(),
                self.problem
            ),
            None => write!(f, "{}: {}", self.file.display(), self.problem),
        }
    }
}

impl std::error::Error for SiteError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.problem {
            Problem::Read(e) => Some(e),
            _ => None,
        }
    }
}

/// Line and column (from 1; the column counts characters, as editors do) of byte `offset`.
pub(super) fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.matches('\n').count() + 1;
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}
