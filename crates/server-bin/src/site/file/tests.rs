//! Unit tests of `file`.

use super::*;

const FLAGS: &[&str] = &[
    "port",
    "max-connections",
    "dotfiles",
    "compress",
    "compress-level",
];

fn parse(text: &str) -> Result<SiteFile, SiteError> {
    SiteFile::parse(Path::new("site.toml"), text.to_owned(), FLAGS)
}

fn error(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

#[test]
fn the_issue_s_example_parses() {
    let text = format!(
        "port = 8080\n{}\n[auth]\npaths = ['/private/**']\nrealm = 'private'\nusers = {{ alice = '$argon2id$v=19$...' }}\n\n[cors]\nallow_origins = ['https://example.com']\n",
        crate::site::tests::SPA
    );
    let file = parse(&text).unwrap();
    assert_eq!(file.settings.len(), 1);
    assert_eq!(file.settings[0].flag, "port");
    assert_eq!(file.settings[0].value, SettingValue::Text("8080".into()));
    assert_eq!(file.fallback.unwrap().value, "/index.html");
    assert_eq!(file.headers.len(), 2);
    assert_eq!(file.headers[1].globs.len(), 1);
    assert_eq!(file.headers[0].globs[0].value, "/assets/**");
    assert_eq!(file.headers[1].set[0].0.value, "X-Content-Type-Options");
    assert_eq!(file.headers[1].set[1].0.value, "Referrer-Policy");
    assert_eq!(file.redirects[0].from.value, r"^/blog/(\d+)/(.+)$");
    assert_eq!(file.redirects[0].status.as_ref().unwrap().value, 301);
    assert_eq!(file.rewrites[0].to.value, "/manual/$1");
    assert_eq!(file.rewrites.len(), 3);
    assert_eq!(file.error_pages[0].0.value, "404");
    let auth = file.auth.unwrap();
    assert_eq!(auth.users[0].0.value, "alice");
    assert_eq!(auth.realm.unwrap().value, "private");
    assert_eq!(
        file.cors.unwrap().allow_origins[0].value,
        "https://example.com"
    );
}

#[test]
fn errors_name_the_file_line_and_column() {
    assert_eq!(
        error("port = 1\n\n[cors]\n  allow_origin = ['*']\n"),
        "site.toml:4:3: unknown key 'allow_origin' in [cors] (did you mean 'allow_origins'?)"
    );
    assert_eq!(
        error("prot = 1\n"),
        "site.toml:1:1: unknown key 'prot' in the top level (did you mean 'port'?)"
    );
    assert_eq!(
        error("[[headers]]\nmatch = 3\n"),
        "site.toml:2:9: 'match' must be a string or a list of strings"
    );
    assert!(error("port = \n").starts_with("site.toml:1:8: not valid TOML"));
    assert_eq!(
        error("[[redirects]]\nfrom = '^/a$'\n"),
        "site.toml:1:1: [[redirects]] needs 'to'"
    );
    assert_eq!(
        error("[headers]\nmatch = '/'\n"),
        "site.toml:1:1: 'headers' must be a list of tables, each starting with [[...]]"
    );
}

#[test]
fn columns_count_characters_not_bytes() {
    assert_eq!(
        error("fallback = '/é'  # é\n[cors]\nbad = 1\n"),
        "site.toml:3:1: unknown key 'bad' in [cors]"
    );
    assert_eq!(line_and_column("é = x", 3), (1, 3));
    assert_eq!(line_and_column("a\nbc", 3), (2, 2));
}

#[test]
fn dashes_and_underscores_are_one_spelling_but_not_twice() {
    let file = parse("max_connections = 5\n[error-pages]\n404 = '/x.html'\n").unwrap();
    assert_eq!(file.settings[0].flag, "max-connections");
    assert_eq!(file.error_pages.len(), 1);
    assert_eq!(
        error("max_connections = 5\nmax-connections = 6\n"),
        "site.toml:2:1: 'max-connections' is the same key as 'max_connections': give it once"
    );
}

#[test]
fn flag_values_become_command_line_text() {
    let file = parse(
        "dotfiles = true\nport = 0x50\ncompress = ['gzip', 'br']\ncompress-level = { br = 5, gzip = 9 }\n",
    )
    .unwrap();
    let values: Vec<_> = file.settings.iter().map(|s| s.value.clone()).collect();
    assert_eq!(
        values,
        vec![
            SettingValue::Switch(true),
            SettingValue::Text("80".into()),
            SettingValue::Text("gzip,br".into()),
            SettingValue::Text("br=5,gzip=9".into()),
        ]
    );
    assert_eq!(
        error("port = 2024-01-01\n"),
        "site.toml:1:8: 'port' must be true, false, a number, a string, a list of strings or a table"
    );
}

#[test]
fn an_unreadable_file_says_so_without_a_position() {
    let err = SiteFile::read(Path::new("/no/such/site.toml"), FLAGS).unwrap_err();
    assert_eq!(
        err.to_string(),
        "/no/such/site.toml: cannot read the site file"
    );
    assert!(std::error::Error::source(&err).is_some());
}

#[test]
fn edit_distance_counts_single_character_edits() {
    assert_eq!(edit_distance("kitten", "sitting"), 3);
    assert_eq!(edit_distance("", "abc"), 3);
    assert_eq!(edit_distance("same", "same"), 0);
    assert_eq!(
        closest("alow-origins", &["allow_origins", "paths"]),
        Some("allow_origins")
    );
    assert_eq!(closest("zzz", &["allow_origins", "paths"]), None);
}
