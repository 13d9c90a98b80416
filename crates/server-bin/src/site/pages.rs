//! `fallback` and `[error_pages]`: the page served with `200` for a missing path that a browser
//! navigates to (a single-page app's `index.html`), and the pages served, with the original
//! status, for errors.
//!
//! "A browser navigates to" is read from `Accept`: it must name `text/html` itself with a
//! non-zero weight. `*/*` does not count: a script, a style sheet or an image that is missing
//! (`/assets/missing.js`, asked for with `Accept: */*`) must stay a `404`, not become the app's
//! HTML. Page paths are checked at load as any request target is decoded, so none can climb
//! above the root; resolving them is the exchange's business, beneath the root like any
//! request. This module must not resolve files.

use http_core::target;

use super::file::{Located, Text};

/// The compiled pages.
#[derive(Debug, Clone, Default)]
pub struct Pages {
    fallback: Option<Box<str>>,
    /// Status and page, in file order.
    errors: Vec<(u16, Box<str>)>,
}

impl Pages {
    /// Checks the fallback and the error pages.
    ///
    /// # Errors
    ///
    /// [`Located`] at the first status or path that cannot be used.
    pub fn compile(fallback: Option<&Text>, errors: &[(Text, Text)]) -> Result<Self, Located> {
        let fallback = match fallback {
            Some(page) => Some(page_path(page, "fallback")?),
            None => None,
        };
        let mut pages = Vec::with_capacity(errors.len());
        for (status, page) in errors {
            let code = status
                .value
                .parse::<u16>()
                .ok()
                .filter(|c| (400..=599).contains(c))
                .ok_or_else(|| {
                    Located::invalid(
                        status.span.clone(),
                        &status.value,
                        "error pages are for statuses 400 to 599",
                    )
                })?;
            pages.push((code, page_path(page, &status.value)?));
        }
        Ok(Self {
            fallback,
            errors: pages,
        })
    }

    /// The fallback page's path (decoded), if any.
    pub fn fallback(&self) -> Option<&str> {
        self.fallback.as_deref()
    }

    /// The page for `status`, if any.
    pub fn error_page(&self, status: u16) -> Option<&str> {
        self.errors
            .iter()
            .find(|(code, _)| *code == status)
            .map(|(_, page)| page.as_ref())
    }

    /// How many error pages there are.
    pub fn error_page_count(&self) -> usize {
        self.errors.len()
    }
}

/// A page's path, decoded as a request target would be.
fn page_path(page: &Text, key: &str) -> Result<Box<str>, Located> {
    match target::decode(page.value.as_bytes()) {
        Ok(t) if page.value.starts_with('/') && t.query.is_none() && !t.trailing_slash => {
            Ok(t.path.into())
        }
        _ => Err(Located::invalid(
            page.span.clone(),
            key,
            "a page is a file's path such as /404.html (as in a URL, not above the root, no query, no trailing '/')",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::file::SiteFile;
    use std::path::Path;

    fn compile(toml: &str) -> Result<Pages, String> {
        let file = SiteFile::parse(Path::new("s.toml"), toml.to_owned(), &[])
            .map_err(|e| e.to_string())?;
        Pages::compile(file.fallback.as_ref(), &file.error_pages)
            .map_err(|e| file.error(e).to_string())
    }

    #[test]
    fn pages_are_found_by_status() {
        let pages = compile(
            "fallback = '/index.html'\n[error_pages]\n404 = '/404.html'\n503 = '/errors/busy%20now.html'\n",
        )
        .unwrap();
        assert_eq!(pages.fallback(), Some("/index.html"));
        assert_eq!(pages.error_page(404), Some("/404.html"));
        assert_eq!(pages.error_page(503), Some("/errors/busy now.html"));
        assert_eq!(pages.error_page(500), None);
        assert_eq!(pages.error_page_count(), 2);
        assert_eq!(compile("").unwrap().fallback(), None);
    }

    #[test]
    fn a_page_outside_the_root_or_not_a_file_path_is_refused() {
        assert_eq!(
            compile("fallback = '/../index.html'\n").unwrap_err(),
            "s.toml:1:12: 'fallback': a page is a file's path such as /404.html (as in a URL, not above the root, no query, no trailing '/')"
        );
        for bad in [
            "'index.html'",
            "'/app/'",
            "'/a?x=1'",
            "'/a b'",
            "'/%00'",
            "'http://x/a'",
        ] {
            assert!(compile(&format!("fallback = {bad}\n")).is_err(), "{bad}");
        }
        assert_eq!(
            compile("[error_pages]\n302 = '/x.html'\n").unwrap_err(),
            "s.toml:2:1: '302': error pages are for statuses 400 to 599"
        );
        assert!(compile("[error_pages]\nnot-found = '/x.html'\n").is_err());
        assert!(
            compile("[error_pages]\n404 = '../x.html'\n")
                .unwrap_err()
                .starts_with("s.toml:2:7: '404'")
        );
    }
}
