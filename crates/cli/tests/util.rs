//! Running the built `guestcpu` binary in tests.
//!
//! Every assertion that fails prints the command line, the exit status, stdout,
//! stderr and the inputs involved, so a failure can be understood from the test
//! log alone.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// A fixture file under `tests/fixtures/`.
pub fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    path.to_string_lossy().into_owned()
}

/// Writes `bytes` to a scratch file named `name` and returns its path.
pub fn scratch_file(name: &str, bytes: &[u8]) -> String {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, bytes).expect("scratch file is writable");
    path.to_string_lossy().into_owned()
}

/// One run of `guestcpu` being prepared.
pub struct Run {
    args: Vec<String>,
    stdin: Vec<u8>,
}

/// What a run gave.
pub struct Done {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
    description: String,
}

/// `guestcpu ARGS...`.
pub fn guestcpu(args: &[&str]) -> Run {
    Run {
        args: args.iter().map(|a| a.to_string()).collect(),
        stdin: Vec::new(),
    }
}

impl Run {
    /// Feeds `text` on standard input.
    pub fn stdin(mut self, text: impl Into<Vec<u8>>) -> Self {
        self.stdin = text.into();
        self
    }

    pub fn run(self) -> Done {
        let mut child = Command::new(env!("CARGO_BIN_EXE_guestcpu"))
            .args(&self.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("guestcpu starts");
        if let Some(mut stdin) = child.stdin.take() {
            // The binary may exit before reading; a broken pipe is fine then.
            let _ = stdin.write_all(&self.stdin);
        }
        let output = child.wait_with_output().expect("guestcpu finishes");
        let mut description = format!("command: guestcpu {}\n", self.args.join(" "));
        for arg in &self.args {
            if let Ok(text) = std::fs::read_to_string(arg) {
                if text.len() < 4096 {
                    description.push_str(&format!("--- input {arg}:\n{text}\n"));
                }
            }
        }
        if !self.stdin.is_empty() && self.stdin.len() < 4096 {
            description.push_str(&format!(
                "--- stdin:\n{}\n",
                String::from_utf8_lossy(&self.stdin)
            ));
        }
        Done {
            status: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            description,
        }
    }

    /// Runs and asserts exit status 0 and no stderr; returns stdout.
    pub fn succeeds(self) -> String {
        self.exits_with(0)
    }

    /// Runs and asserts `status` and an empty stderr; returns stdout.
    pub fn exits_with(self, status: i32) -> String {
        let done = self.run();
        if done.status != status || !done.stderr.is_empty() {
            done.fail(&format!("expected exit status {status} and no stderr"));
        }
        done.stdout
    }

    /// Runs and asserts exit status 2, no stdout and exactly this stderr line.
    pub fn fails_with(self, error_line: &str) {
        let done = self.run();
        if done.status != 2 || !done.stdout.is_empty() || done.stderr != format!("{error_line}\n") {
            done.fail(&format!("expected exit status 2 and stderr {error_line:?}"));
        }
    }
}

impl Done {
    pub fn fail(&self, expectation: &str) -> ! {
        panic!(
            "{expectation}\n{}--- exit status: {}\n--- stdout:\n{}--- stderr:\n{}",
            self.description, self.status, self.stdout, self.stderr
        );
    }
}

/// The expected output `name` under `tests/expected/`, compared with
/// `assert_eq`; `UPDATE_EXPECT=1` writes the actual output there instead.
pub fn expected(name: &str) -> expect_test::ExpectFile {
    expect_test::expect_file![PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/expected")
        .join(name)]
}

/// Asserts two texts are equal, showing both in full when they are not.
#[track_caller]
pub fn assert_text(actual: &str, expected: &str) {
    assert!(
        actual == expected,
        "output differs\n--- expected:\n{expected}--- actual:\n{actual}"
    );
}

/// `../shared/libvirt/<folder>` relative to the repository root (where the
/// golden corpus runs), or `None` after saying on standard error that
/// `test` is skipped. Panics when `CI` is set and the folder is missing: a
/// green CI run must mean the suites that need it ran.
pub fn shared_dir(folder: &str, test: &str) -> Option<String> {
    let relative = format!("../shared/libvirt/{folder}");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    if root.join(&relative).is_dir() {
        return Some(relative);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{relative} is missing, and CI must run {test} against it"
    );
    // Written to the stream itself: the harness captures print!/eprint!.
    let _ = writeln!(std::io::stderr(), "skipped: {test} (no {relative})");
    None
}
