//! The media-type table: file extension to `Content-Type`.
//!
//! A hand table rather than a crate such as `mime_guess`: a static server needs the few dozen
//! types that sites actually ship, with `charset=utf-8` on text types (which the crates leave to
//! the caller), and a lookup that allocates nothing. It must not sniff file contents.

/// The type for files with no known extension: browsers download rather than render them.
pub const DEFAULT: &str = "application/octet-stream";

/// The `Content-Type` for a file name, from its extension (case-insensitive).
pub fn for_path(path: &str) -> &'static str {
    // Bytes searched from the end, not `rsplit`: this runs for every file served, and the
    // `char` searchers cost 300 instructions a response (callgrind).
    let name_start = path
        .as_bytes()
        .iter()
        .rposition(|&b| b == b'/')
        .map_or(0, |slash| slash.saturating_add(1));
    let name = path.get(name_start..).unwrap_or(path);
    match name.as_bytes().iter().rposition(|&b| b == b'.') {
        Some(dot) if dot > 0 => {
            for_extension(name.get(dot.saturating_add(1)..).unwrap_or_default())
        }
        _ => DEFAULT,
    }
}

/// The `Content-Type` for an extension without its dot (case-insensitive).
pub fn for_extension(ext: &str) -> &'static str {
    let mut lower = [0u8; 16];
    let Some(dst) = lower.get_mut(..ext.len()) else {
        return DEFAULT;
    };
    dst.copy_from_slice(ext.as_bytes());
    dst.make_ascii_lowercase();
    match &*dst {
        // text
        b"html" | b"htm" => "text/html; charset=utf-8",
        b"css" => "text/css; charset=utf-8",
        b"js" | b"mjs" | b"cjs" => "text/javascript; charset=utf-8",
        b"txt" | b"text" | b"log" => "text/plain; charset=utf-8",
        b"md" | b"markdown" => "text/markdown; charset=utf-8",
        b"csv" => "text/csv; charset=utf-8",
        b"xml" => "application/xml; charset=utf-8",
        b"json" | b"map" => "application/json; charset=utf-8",
        b"webmanifest" => "application/manifest+json; charset=utf-8",
        b"svg" => "image/svg+xml; charset=utf-8",
        b"ics" => "text/calendar; charset=utf-8",
        b"vtt" => "text/vtt; charset=utf-8",
        b"yaml" | b"yml" => "application/yaml; charset=utf-8",
        b"toml" => "application/toml; charset=utf-8",
        b"atom" => "application/atom+xml; charset=utf-8",
        b"rss" => "application/rss+xml; charset=utf-8",
        // images
        b"png" => "image/png",
        b"jpg" | b"jpeg" => "image/jpeg",
        b"gif" => "image/gif",
        b"webp" => "image/webp",
        b"avif" => "image/avif",
        b"ico" => "image/x-icon",
        b"bmp" => "image/bmp",
        b"tif" | b"tiff" => "image/tiff",
        // fonts
        b"woff" => "font/woff",
        b"woff2" => "font/woff2",
        b"ttf" => "font/ttf",
        b"otf" => "font/otf",
        // audio and video
        b"mp3" => "audio/mpeg",
        b"ogg" | b"oga" => "audio/ogg",
        b"wav" => "audio/wav",
        b"flac" => "audio/flac",
        b"m4a" => "audio/mp4",
        b"mp4" | b"m4v" => "video/mp4",
        b"webm" => "video/webm",
        b"ogv" => "video/ogg",
        // applications and archives
        b"wasm" => "application/wasm",
        b"pdf" => "application/pdf",
        b"zip" => "application/zip",
        b"gz" | b"tgz" => "application/gzip",
        b"tar" => "application/x-tar",
        b"bz2" => "application/x-bzip2",
        b"xz" => "application/x-xz",
        b"zst" => "application/zstd",
        b"7z" => "application/x-7z-compressed",
        b"br" => "application/x-br",
        _ => DEFAULT,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_a_static_site_ships_is_known() {
        let exts = [
            "html",
            "css",
            "js",
            "mjs",
            "json",
            "map",
            "svg",
            "png",
            "jpg",
            "jpeg",
            "gif",
            "webp",
            "avif",
            "ico",
            "wasm",
            "txt",
            "md",
            "csv",
            "xml",
            "pdf",
            "zip",
            "gz",
            "tar",
            "mp3",
            "mp4",
            "webm",
            "ogg",
            "woff",
            "woff2",
            "ttf",
            "otf",
            "webmanifest",
        ];
        for ext in exts {
            assert_ne!(for_extension(ext), DEFAULT, "{ext}");
        }
    }

    #[test]
    fn text_types_carry_utf8_charset() {
        for name in [
            "a.html", "a.css", "a.js", "a.mjs", "a.txt", "a.md", "a.json", "a.svg",
        ] {
            assert!(for_path(name).ends_with("; charset=utf-8"), "{name}");
        }
    }

    #[test]
    fn binary_types_carry_no_charset() {
        for (name, ty) in [
            ("a.png", "image/png"),
            ("a.jpg", "image/jpeg"),
            ("a.JPEG", "image/jpeg"),
            ("a.wasm", "application/wasm"),
            ("a.woff2", "font/woff2"),
            ("a.mp4", "video/mp4"),
            ("a.tar.gz", "application/gzip"),
        ] {
            assert_eq!(for_path(name), ty, "{name}");
        }
    }

    #[test]
    fn unknown_missing_or_dotfile_only_extensions_are_octet_stream() {
        for name in [
            "README",
            "a.unknownext",
            "/dir.d/file",
            ".bashrc",
            "a.",
            "a.averyveryverylongextension",
        ] {
            assert_eq!(for_path(name), DEFAULT, "{name}");
        }
    }

    #[test]
    fn directories_in_the_path_do_not_lend_their_extension() {
        assert_eq!(for_path("/site.html/readme"), DEFAULT);
        assert_eq!(for_path("/a/b/index.html"), "text/html; charset=utf-8");
    }
}
