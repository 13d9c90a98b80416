//! The README and the pages in `docs/` against the checkout and the binary, so that what they
//! tell a reader stays true:
//! - every repository path they name (`scripts/…`, `crates/…`, `docs/…`, `www/…`, `fuzz/…`,
//!   `.ci/run`, `Makefile`, a crate's folder as `server-bin/src/…`, a source file by its last
//!   components as `files/cache.rs`; `{a,b}` is expanded as the shell does) exists;
//! - every relative link leads to a file and, with `#anchor`, to one of its headings;
//! - every URL on [`MAKE_ORIGIN`], where a plain `make` serves `www/`, names a file of `www/` (or
//!   an endpoint of the server): examples that fetch a file of another folder serve it on
//!   another port;
//! - every flag they give the binary is one `http-server --help` lists: in code (backticks or a
//!   code block), the flags of an `http-server` command, those in `make ARGS=…`, and a flag on
//!   its own (`--listing`). Another tool's flag is written with its command (`curl
//!   --compressed`, `scripts/bench.sh --quick`), and that command's flags are not checked;
//! - every `make TARGET` in code is a target of the Makefile;
//! - every page in `docs/` is linked from the README, and every flag `--help` lists has a row in
//!   the options reference ([`OPTIONS_REFERENCE`]).
//!
//! This reads Markdown as far as these pages use it (fenced and indented code blocks, code
//! spans, inline links, ATX headings, tables), not the whole of CommonMark.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::run_ok;

/// The page whose tables list every flag of the binary.
const OPTIONS_REFERENCE: &str = "docs/options.md";

/// A name starting with one of these is a path in the checkout.
const REPOSITORY_PREFIXES: &[&str] = &["crates/", "scripts/", "docs/", "www/", "fuzz/", ".ci/"];

/// Crate folders, which module lists name without `crates/` (`server-bin/src/cli.rs`).
const CRATE_FOLDERS: &[&str] = &["http-core/", "pool/", "server-bin/"];

/// Files at the top of the checkout that pages name alone.
const TOP_LEVEL_FILES: &[&str] = &["Makefile", "Cargo.toml", "README.md"];

/// Where `make` serves `www/` when given no variable.
const MAKE_ORIGIN: &str = "http://127.0.0.1:8080";

/// Paths the server answers itself at [`MAKE_ORIGIN`]: the metrics and health endpoints.
const ENDPOINTS: &[&str] = &["/-/metrics", "/-/healthz"];

/// Words before a command that are not the command (`sudo make install`).
const COMMAND_PREFIXES: &[&str] = &["sudo", "exec", "env", "nice", "time"];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A page of documentation: its path from the top of the checkout, and its text.
struct Page {
    name: String,
    text: String,
}

/// The README, then every page in `docs/`.
fn pages(root: &Path) -> Vec<Page> {
    let mut names: Vec<String> = fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".md"))
        .map(|name| format!("docs/{name}"))
        .collect();
    names.sort();
    names.insert(0, "README.md".to_owned());
    names
        .into_iter()
        .map(|name| Page {
            text: fs::read_to_string(root.join(&name)).unwrap(),
            name,
        })
        .collect()
}

/// What the checks compare the pages with, read from the checkout and the binary.
struct Checkout {
    root: PathBuf,
    /// Every `--flag` that `http-server --help` shows.
    flags: BTreeSet<String>,
    /// The Makefile's targets.
    targets: BTreeSet<String>,
    /// Every file under `crates/` and `fuzz/`, from the top of the checkout.
    sources: Vec<String>,
}

impl Checkout {
    fn read() -> Self {
        let out = run_ok(Command::new(env!("CARGO_BIN_EXE_http-server")).arg("--help"));
        let help = String::from_utf8(out.stdout).unwrap();
        let root = workspace();
        let makefile = fs::read_to_string(root.join("Makefile")).unwrap();
        let mut sources = Vec::new();
        for dir in ["crates", "fuzz"] {
            files_under(&root, Path::new(dir), &mut sources);
        }
        Self {
            flags: help.split_whitespace().filter_map(flag_name).collect(),
            targets: makefile_targets(&makefile),
            sources,
            root,
        }
    }
}

/// The rules' names: `name:` at the start of a line, not `name :=`.
fn makefile_targets(makefile: &str) -> BTreeSet<String> {
    makefile
        .lines()
        .filter_map(|line| {
            let (name, rest) = line.split_once(':')?;
            let is_name = name.starts_with(|c: char| c.is_ascii_lowercase())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
            (is_name && !rest.starts_with('=')).then(|| name.to_owned())
        })
        .collect()
}

/// Every file below `dir` (relative to `root`), skipping build output.
fn files_under(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for entry in fs::read_dir(root.join(dir)).unwrap() {
        let entry = entry.unwrap();
        let path = dir.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            if entry.file_name() != "target" {
                files_under(root, &path, out);
            }
        } else {
            out.push(path.to_str().unwrap().to_owned());
        }
    }
}

/// `--flag` out of a word such as `--flag=VALUE`, `--flag,` or `--flag)`; `None` for anything
/// else (a lone `--` included).
fn flag_name(word: &str) -> Option<String> {
    let rest = word.strip_prefix("--")?;
    let name: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    let name = name.trim_end_matches('-');
    (!name.is_empty()).then(|| format!("--{name}"))
}

/// A page as the checks read it. Each piece carries the line it is on.
#[derive(Default)]
struct Scan {
    /// Text outside code, where links are.
    prose: Vec<(usize, String)>,
    /// Code spans and the lines of code blocks (a line ending in `\` joined with the next).
    code: Vec<(usize, String)>,
    /// The anchors of the page's headings, as GitHub makes them.
    anchors: BTreeSet<String>,
}

impl Scan {
    fn of(text: &str) -> Self {
        let mut scan = Self::default();
        let mut fenced = false;
        let mut indented = false;
        let mut previous_blank = true;
        let mut paragraph: Vec<(usize, &str)> = Vec::new();
        let mut continued: Option<(usize, String)> = None;
        for (index, line) in text.lines().enumerate() {
            let number = index + 1;
            let trimmed = line.trim_start();
            let fence = trimmed.starts_with("```") || trimmed.starts_with("~~~");
            let blank = trimmed.is_empty();
            if fence || fenced || (line.starts_with("    ") && (previous_blank || indented)) {
                scan.paragraph(&mut paragraph);
                indented = !fence && !fenced;
                if fence {
                    fenced = !fenced;
                    scan.code.extend(continued.take());
                } else {
                    scan.code_line(&mut continued, number, line);
                }
            } else if blank || trimmed.starts_with('|') || trimmed.starts_with('#') {
                // Tables and headings go alone: a row's spans end with the row.
                scan.paragraph(&mut paragraph);
                indented = false;
                if let Some(heading) = heading_text(trimmed) {
                    scan.anchors.insert(anchor(heading));
                }
                if !blank {
                    paragraph.push((number, line));
                    scan.paragraph(&mut paragraph);
                }
            } else {
                indented = false;
                paragraph.push((number, line));
            }
            previous_blank = blank && !fenced;
        }
        scan.paragraph(&mut paragraph);
        scan.code.extend(continued);
        scan
    }

    fn code_line(&mut self, continued: &mut Option<(usize, String)>, number: usize, line: &str) {
        let (start, mut text) = match continued.take() {
            Some((start, text)) => (start, format!("{text} {}", line.trim())),
            None => (number, line.trim().to_owned()),
        };
        if text.ends_with('\\') {
            text.pop();
            *continued = Some((start, text));
        } else {
            self.code.push((start, text));
        }
    }

    /// Splits a paragraph into prose and code spans: a span opens with a run of backticks and
    /// closes at the next run of as many (CommonMark), so a span may hold a backtick.
    fn paragraph(&mut self, lines: &mut Vec<(usize, &str)>) {
        let Some(&(first, _)) = lines.first() else {
            return;
        };
        let text: String = lines.iter().map(|(_, l)| *l).collect::<Vec<_>>().join("\n");
        lines.clear();
        let line_at = |offset: usize| first + text[..offset].matches('\n').count();
        let bytes = text.as_bytes();
        let run_at = |at: usize| bytes[at..].iter().take_while(|&&b| b == b'`').count();
        let (mut at, mut prose_from) = (0, 0);
        while at < bytes.len() {
            if bytes[at] != b'`' {
                at += 1;
                continue;
            }
            let run = run_at(at);
            let mut close = at + run;
            while close < bytes.len() && !(bytes[close] == b'`' && run_at(close) == run) {
                close += if bytes[close] == b'`' {
                    run_at(close)
                } else {
                    1
                };
            }
            if close >= bytes.len() {
                at += run;
                continue;
            }
            self.prose_lines(line_at(prose_from), &text[prose_from..at]);
            let span = text[at + run..close].replace('\n', " ");
            self.code.push((line_at(at), span.trim().to_owned()));
            at = close + run;
            prose_from = at;
        }
        self.prose_lines(line_at(prose_from), &text[prose_from..]);
    }

    /// Prose line by line, so that each problem found in it is told with its own line.
    fn prose_lines(&mut self, first: usize, text: &str) {
        for (offset, line) in text.split('\n').enumerate() {
            self.prose.push((first + offset, line.to_owned()));
        }
    }
}

/// The text of an ATX heading (`## Text`).
fn heading_text(line: &str) -> Option<&str> {
    let text = line.trim_start_matches('#');
    (text.len() < line.len() && text.starts_with(' ')).then(|| text.trim())
}

/// A heading's anchor as GitHub makes it: lower case, spaces to `-`, other punctuation dropped.
fn anchor(heading: &str) -> String {
    heading
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The simple commands of a line of shell, as words with their quotes removed: split at `|`,
/// `;`, `&`, `$(`, `)` and a `#` comment outside quotes. As much shell as the pages use.
fn commands(line: &str) -> Vec<Vec<String>> {
    let mut commands = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars().peekable();
    let end_word = |word: &mut Option<String>, words: &mut Vec<String>| words.extend(word.take());
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                w.extend(chars.by_ref().take_while(|&c| c != '\''));
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => w.extend(chars.next()),
                        c => w.push(c),
                    }
                }
            }
            '\\' => word.get_or_insert_with(String::new).extend(chars.next()),
            '#' if word.is_none() => break,
            '|' | ';' | '&' | ')' => {
                end_word(&mut word, &mut words);
                commands.push(std::mem::take(&mut words));
            }
            '$' if chars.peek() == Some(&'(') => {
                chars.next();
                end_word(&mut word, &mut words);
                commands.push(std::mem::take(&mut words));
            }
            c if c.is_whitespace() => end_word(&mut word, &mut words),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    end_word(&mut word, &mut words);
    commands.push(words);
    commands.retain(|words| !words.is_empty());
    commands
}

/// `NAME=value` as `(NAME, value)`.
fn assignment(word: &str) -> Option<(&str, &str)> {
    let (name, value) = word.split_once('=')?;
    let is_name = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    is_name.then_some((name, value))
}

/// The words of a path-like token list: split at spaces, quotes, brackets and `=`, and at
/// commas and semicolons outside `{…}`; trailing punctuation, `#anchor` and a leading `./` go.
fn path_tokens(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut token = String::new();
    let mut depth = 0usize;
    for c in text.chars().chain([' ']) {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        let splits = c.is_whitespace()
            || "`()[]\"'<>|=".contains(c)
            || (depth == 0 && (c == ',' || c == ';'));
        if splits {
            let cleaned = token.split('#').next().unwrap_or("");
            let cleaned = cleaned.trim_end_matches(['.', ':', ',', ';', '\\']);
            let cleaned = cleaned.strip_prefix("./").unwrap_or(cleaned);
            if !cleaned.is_empty() {
                tokens.push(cleaned.to_owned());
            }
            token.clear();
        } else {
            token.push(c);
        }
    }
    tokens
}

/// `a/{b,c}.rs` as `a/b.rs` and `a/c.rs`.
fn expand_braces(token: &str) -> Vec<String> {
    let Some(open) = token.find('{') else {
        return vec![token.to_owned()];
    };
    let Some(close) = token[open..].find('}').map(|at| open + at) else {
        return vec![token.to_owned()];
    };
    token[open + 1..close]
        .split(',')
        .flat_map(|choice| {
            expand_braces(&format!(
                "{}{choice}{}",
                &token[..open],
                &token[close + 1..]
            ))
        })
        .collect()
}

/// What one page says that is not true of the checkout, as `page:line: problem` lines.
fn problems_of(checkout: &Checkout, page: &Page) -> Vec<String> {
    let scan = Scan::of(&page.text);
    let mut problems: Vec<(usize, String)> = Vec::new();
    let mut say = |line: usize, problem: String| problems.push((line, problem));
    for (line, text) in scan.prose.iter().chain(&scan.code) {
        for path in path_tokens(text)
            .iter()
            .flat_map(|t| missing_paths(checkout, t))
        {
            say(*line, format!("`{path}` names no file in the checkout"));
        }
        for url in urls_missing_from_www(checkout, text) {
            say(
                *line,
                format!("`{url}`: `make` serves www/, which has no such file"),
            );
        }
    }
    let here = Path::new(&page.name).parent().unwrap().to_owned();
    for (line, text) in &scan.prose {
        for target in links(text) {
            if let Some(problem) = link_problem(checkout, &here, &scan.anchors, target) {
                say(*line, problem);
            }
        }
    }
    for (line, text) in &scan.code {
        for problem in command_problems(checkout, text) {
            say(*line, problem);
        }
    }
    problems.sort_by_key(|(line, _)| *line);
    problems
        .into_iter()
        .map(|(line, problem)| format!("{}:{line}: {problem}", page.name))
        .collect()
}

/// The files a token names that the checkout lacks.
fn missing_paths(checkout: &Checkout, token: &str) -> Vec<String> {
    if token.contains(['…', '*', '$', '%', '~', '?']) || token.contains("://") {
        return Vec::new();
    }
    let in_crates = CRATE_FOLDERS.iter().any(|c| token.starts_with(c));
    let in_checkout = REPOSITORY_PREFIXES.iter().any(|p| token.starts_with(p))
        || TOP_LEVEL_FILES.contains(&token);
    let exists = |path: &String| {
        if in_crates {
            checkout.root.join("crates").join(path).exists()
        } else if in_checkout {
            checkout.root.join(path).exists()
        } else if path.ends_with(".rs") {
            // A source file named by its last components (`files/cache.rs`).
            let suffix = format!("/{path}");
            checkout.sources.iter().any(|s| s.ends_with(&suffix))
        } else {
            true
        }
    };
    expand_braces(token)
        .into_iter()
        .filter(|path| !exists(path))
        .collect()
}

/// The URLs on [`MAKE_ORIGIN`] in `text` whose path names no file of `www/`.
fn urls_missing_from_www<'t>(checkout: &Checkout, text: &'t str) -> Vec<&'t str> {
    let mut missing = Vec::new();
    for (at, _) in text.match_indices(MAKE_ORIGIN) {
        let rest = &text[at + MAKE_ORIGIN.len()..];
        let end = rest
            .find(|c: char| c.is_whitespace() || "`)\"'<>".contains(c))
            .unwrap_or(rest.len());
        let path = rest[..end].split(['?', '#']).next().unwrap_or("");
        if !path.starts_with('/') || ENDPOINTS.contains(&path) {
            continue;
        }
        if !checkout.root.join("www").join(&path[1..]).exists() {
            missing.push(&text[at..at + MAKE_ORIGIN.len() + end]);
        }
    }
    missing
}

/// The targets of the inline links `[text](target)` in prose.
fn links(text: &str) -> Vec<&str> {
    text.split("](")
        .skip(1)
        .filter_map(|rest| rest.split(')').next())
        .filter(|target| !target.contains("://") && !target.starts_with("mailto:"))
        .collect()
}

/// Why a relative link from a page in `here` is broken, if it is.
fn link_problem(
    checkout: &Checkout,
    here: &Path,
    own_anchors: &BTreeSet<String>,
    target: &str,
) -> Option<String> {
    let (path, fragment) = target.split_once('#').unwrap_or((target, ""));
    let file = checkout.root.join(here).join(path);
    if !path.is_empty() && !file.exists() {
        return Some(format!("the link to `{target}` leads to no file"));
    }
    if fragment.is_empty() {
        return None;
    }
    let anchors = if path.is_empty() {
        own_anchors.clone()
    } else {
        Scan::of(&fs::read_to_string(&file).ok()?).anchors
    };
    (!anchors.contains(fragment))
        .then(|| format!("the link to `{target}` names no heading of its page"))
}

/// Flags we lack and make targets the Makefile lacks, in one piece of code.
fn command_problems(checkout: &Checkout, code: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut our_flags = |words: &[String]| {
        for flag in words.iter().filter_map(|w| flag_name(w)) {
            if !checkout.flags.contains(&flag) {
                problems.push(format!(
                    "`{flag}` is not a flag of http-server (another tool's flag goes with its command)"
                ));
            }
        }
    };
    let mut targets = Vec::new();
    for words in commands(code) {
        let start = words
            .iter()
            .position(|w| assignment(w).is_none() && !COMMAND_PREFIXES.contains(&w.as_str()));
        let Some(start) = start else { continue };
        let (command, args) = (&words[start], &words[start + 1..]);
        if command == "http-server" || command.ends_with("/http-server") {
            our_flags(args);
        } else if command.starts_with("--") {
            our_flags(&words[start..]);
        } else if command == "make" {
            for arg in args.iter().filter(|a| !a.starts_with('-')) {
                match assignment(arg) {
                    Some(("ARGS", value)) => {
                        let words: Vec<String> = commands(value).concat();
                        our_flags(&words);
                    }
                    Some(_) => {}
                    // An upper-case word is a placeholder (`make TARGET`); targets are not.
                    None if arg.chars().all(|c| c.is_ascii_uppercase()) => {}
                    None => targets.push(arg.clone()),
                }
            }
        }
    }
    for target in targets {
        if !checkout.targets.contains(&target) {
            problems.push(format!(
                "`make {target}`: the Makefile has no target {target}"
            ));
        }
    }
    problems
}

#[test]
fn every_path_link_flag_and_make_target_in_the_readme_and_docs_is_real() {
    let checkout = Checkout::read();
    let pages = pages(&checkout.root);
    let mut problems: Vec<String> = pages
        .iter()
        .flat_map(|page| problems_of(&checkout, page))
        .collect();
    let readme = Scan::of(&pages[0].text);
    let linked: BTreeSet<&str> = readme
        .prose
        .iter()
        .flat_map(|(_, text)| links(text))
        .map(|target| target.split('#').next().unwrap())
        .collect();
    for page in &pages[1..] {
        if !linked.contains(page.name.as_str()) {
            problems.push(format!("README.md: no link to {}", page.name));
        }
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn the_docs_check_finds_missing_paths_broken_links_flags_we_lack_and_unknown_targets() {
    let checkout = Checkout::read();
    let page = |text: &str| Page {
        name: "docs/sample.md".to_owned(),
        text: text.to_owned(),
    };
    let wrong = page(concat!(
        "# Sample\n\n",
        "The code is in `server-bin/src/{cli,listener}.rs` and `files/nowhere.rs`; run\n",
        "`scripts/nothing.sh`, see [the site file](site-file.md#no-such-heading) and\n",
        "[this](#sample), [missing](missing.md).\n\n",
        "| flag | meaning |\n|---|---|\n| `--no-such-flag` | nothing |\n\n",
        "```sh\nmake ROOT=x ARGS='--listing --frobnicate'\nmake no-such-target\n",
        "http-server --port 0 \\\n    --turbo www\n```\n\n",
        "    make also-not-a-target\n\n",
        "Then `curl --compressed http://127.0.0.1:8080/app.js`.\n",
    ));
    let found = problems_of(&checkout, &wrong);
    let expected = [
        "docs/sample.md:3: `server-bin/src/listener.rs` names no file",
        "docs/sample.md:3: `files/nowhere.rs` names no file",
        "docs/sample.md:4: `scripts/nothing.sh` names no file",
        "docs/sample.md:4: the link to `site-file.md#no-such-heading` names no heading",
        "docs/sample.md:5: the link to `missing.md` leads to no file",
        "docs/sample.md:9: `--no-such-flag` is not a flag of http-server",
        "docs/sample.md:12: `--frobnicate` is not a flag of http-server",
        "docs/sample.md:13: `make no-such-target`: the Makefile has no target",
        "docs/sample.md:14: `--turbo` is not a flag of http-server",
        "docs/sample.md:18: `make also-not-a-target`: the Makefile has no target",
        "docs/sample.md:20: `http://127.0.0.1:8080/app.js`: `make` serves www/, which has no",
    ];
    for problem in expected {
        assert!(
            found.iter().any(|f| f.starts_with(problem)),
            "not found: {problem}\nfound:\n{}",
            found.join("\n")
        );
    }
    assert_eq!(found.len(), expected.len(), "{}", found.join("\n"));

    let right = page(concat!(
        "# Sample\n\n",
        "`crates/server-bin/src/{cli,server}.rs`, `files/cache.rs`, `.ci/run`, `Makefile`,\n",
        "[the site file](site-file.md#the-site-file), [this](#sample); `curl --compressed`,\n",
        "`scripts/bench.sh --quick`, `make test NO_INSTALL=1`, `--listing`, `make TARGET`,\n",
        "[rustup](https://rustup.rs); `curl http://127.0.0.1:8080/test.html?q#f`,\n",
        "`curl http://127.0.0.1:8080/-/metrics`, `curl http://127.0.0.1:9000/big.iso`.\n\n",
        "```sh\nmake ROOT=~/x ARGS='--listing --qr' # --comment\n",
        "printf %s \"$PW\" | http-server hash-password\n```\n",
    ));
    let found = problems_of(&checkout, &right);
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn every_flag_in_help_has_a_row_in_the_options_reference() {
    let checkout = Checkout::read();
    let reference = fs::read_to_string(checkout.root.join(OPTIONS_REFERENCE))
        .unwrap_or_else(|e| panic!("{OPTIONS_REFERENCE}: {e}"));
    // The flags in the first cell of every row (`-p`, `--port N`).
    let listed: BTreeSet<String> = reference
        .lines()
        .filter(|line| line.starts_with("| `"))
        .filter_map(|row| row.split(" | ").next())
        .flat_map(|cell| cell.split(|c: char| c.is_whitespace() || c == '`'))
        .filter_map(flag_name)
        .collect();
    let missing: Vec<&String> = checkout
        .flags
        .iter()
        .filter(|flag| !["--help", "--version"].contains(&flag.as_str()))
        .filter(|flag| !listed.contains(*flag))
        .collect();
    assert!(
        missing.is_empty(),
        "not in a table of {OPTIONS_REFERENCE}: {missing:?}"
    );
}
