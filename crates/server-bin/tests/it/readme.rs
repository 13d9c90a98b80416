//! The README and the options reference against the binary: every flag `--help` lists is in
//! the table of `docs/options.md`, and every file the README links to exists.

use std::fs;
use std::path::Path;
use std::process::Command;

use crate::support::run_ok;

fn page(name: &str) -> String {
    fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(name),
    )
    .unwrap()
}

#[test]
fn every_flag_in_help_is_in_the_options_reference() {
    let out = run_ok(Command::new(env!("CARGO_BIN_EXE_http-server")).arg("--help"));
    let help = String::from_utf8(out.stdout).unwrap();
    let reference = page("docs/options.md");
    let table: Vec<&str> = reference.lines().filter(|l| l.starts_with("| `")).collect();
    let flags = help
        .split_whitespace()
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .map(|w| w.trim_end_matches(|c: char| !c.is_ascii_alphanumeric()))
        .filter(|f| !["--help", "--version"].contains(f));
    for flag in flags {
        let cell = format!("`{flag}");
        assert!(
            table.iter().any(|row| row.contains(&cell)),
            "{flag} is not in the table of docs/options.md"
        );
    }
}

#[test]
fn every_file_the_readme_links_to_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let readme = page("README.md");
    let links: Vec<&str> = readme
        .split("](")
        .skip(1)
        .map(|rest| &rest[..rest.find(')').unwrap()])
        .filter(|link| !link.contains("://"))
        .collect();
    assert!(!links.is_empty());
    for link in links {
        let path = link.split('#').next().unwrap();
        assert!(root.join(path).exists(), "README links to missing {link}");
    }
}
