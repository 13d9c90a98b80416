//! The Makefile's recipes, run with a stub in place of the binary and `true` in place of cargo:
//! values with spaces stay one argument, `make help` covers every target and variable, and
//! `make install`/`uninstall` put the binary, stripped, where PREFIX says.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::run_ok;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `make -s` in the workspace with `args`, cargo replaced by `true`.
fn make(args: &[&str]) -> Command {
    let mut cmd = Command::new("make");
    cmd.arg("-s")
        .arg("-C")
        .arg(workspace())
        .arg("CARGO=true")
        .args(args)
        .env_remove("MAKEFLAGS");
    cmd
}

/// A stand-in for the binary that prints each argument on a line of its own, in a directory
/// whose name has a space.
fn stub(dir: &Path) -> String {
    let path = dir.join("bin dir/args");
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(
        &path,
        "#!/bin/sh\nfor a; do printf '<%s>\\n' \"$a\"; done\n",
    )
    .unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    path.to_str().unwrap().to_owned()
}

fn lines(out: &std::process::Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn make_run_passes_values_with_spaces_as_one_argument_each() {
    let dir = tempfile::tempdir().unwrap();
    let bin = format!("BIN={}", stub(dir.path()));
    let out = run_ok(&mut make(&[
        "run",
        &bin,
        "ROOT=my site",
        "PORT=9000",
        "BIND=::",
        "ARGS=--threads 4 --cache-control \"max-age=3600\"",
    ]));
    assert_eq!(
        lines(&out),
        [
            "<--bind>",
            "<::>",
            "<--port>",
            "<9000>",
            "<--threads>",
            "<4>",
            "<--cache-control>",
            "<max-age=3600>",
            "<my site>"
        ]
    );
    // What `make -n` shows is the same command, quoted.
    let out = run_ok(&mut make(&["-n", "run", "ROOT=my site"]));
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("--port \"8080\"  \"my site\""), "{shown}");
}

#[test]
fn a_root_starting_with_a_tilde_is_under_home_whatever_the_shell() {
    let dir = tempfile::tempdir().unwrap();
    let bin = format!("BIN={}", stub(dir.path()));
    let out = run_ok(make(&["run", &bin, "ROOT=~/my downloads"]).env("HOME", "/home/someone"));
    assert_eq!(lines(&out).last().unwrap(), "</home/someone/my downloads>");
}

#[test]
fn make_help_lists_every_target_and_variable() {
    let out = run_ok(&mut make(&["help"]));
    let help = String::from_utf8_lossy(&out.stdout).into_owned();
    let makefile = fs::read_to_string(workspace().join("Makefile")).unwrap();
    let phony: String = makefile
        .split(".PHONY:")
        .nth(1)
        .unwrap()
        .split("\n\n")
        .next()
        .unwrap()
        .replace("\\\n", " ");
    for target in phony.split_whitespace() {
        assert!(
            help.contains(&format!("  make {target} ")),
            "{target}: {help}"
        );
    }
    let variables = makefile
        .lines()
        .filter_map(|l| l.split_once(" ?= ").map(|(name, _)| name.trim()));
    for name in variables.chain(["NO_INSTALL"]) {
        assert!(help.contains(&format!("\n  {name} ")), "{name}: {help}");
    }
}

/// The names of the ELF sections of `file`, as `readelf` (binutils, beside `strip`) lists them.
fn sections(file: &Path) -> String {
    let out = run_ok(Command::new("readelf").arg("-S").arg("-W").arg(file));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn make_install_copies_the_binary_stripped_under_prefix_and_uninstall_removes_it() {
    let dir = tempfile::tempdir().unwrap();
    // The test build of the real binary: it has debug information, as the release build has
    // line tables.
    let built = Path::new(env!("CARGO_BIN_EXE_http-server"));
    assert!(sections(built).contains(".debug_line"));
    let bin = format!("BIN={}", built.display());
    let prefix = dir.path().join("my prefix");
    let prefix_arg = format!("PREFIX={}", prefix.display());
    run_ok(&mut make(&["install", &bin, &prefix_arg]));
    let installed = prefix.join("bin/http-server");
    let mode = fs::metadata(&installed).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o755);
    let listed = sections(&installed);
    // (`.debug_gdb_scripts` is loaded with the program and stays.)
    for gone in [".debug_info", ".debug_line", ".symtab"] {
        assert!(!listed.contains(gone), "{gone}: {listed}");
    }
    assert!(fs::metadata(&installed).unwrap().len() < fs::metadata(built).unwrap().len());
    let out = run_ok(Command::new(&installed).arg("--version"));
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("http-server "),
        "{out:?}"
    );
    run_ok(&mut make(&["uninstall", &prefix_arg]));
    assert!(!installed.exists());
}

#[test]
fn every_script_a_recipe_runs_directly_is_executable() {
    // `make bench-h2` once stopped at "Permission denied": pageload.sh was checked in 0644.
    let makefile = fs::read_to_string(workspace().join("Makefile")).unwrap();
    let scripts: Vec<&str> = makefile
        .lines()
        .filter_map(|line| line.strip_prefix('\t'))
        .filter_map(|recipe| {
            recipe
                .trim_start_matches(['@', '-'])
                .split_whitespace()
                .next()
        })
        .filter(|word| word.starts_with("scripts/"))
        .collect();
    assert!(scripts.len() >= 5, "{scripts:?}");
    for script in scripts {
        let mode = fs::metadata(workspace().join(script))
            .unwrap()
            .permissions()
            .mode();
        assert!(
            mode & 0o111 == 0o111,
            "{script} is not executable ({mode:o})"
        );
    }
}
