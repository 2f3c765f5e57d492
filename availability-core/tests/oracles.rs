//! What a test does when something it needs from outside the build is missing: an oracle
//! (Python's zoneinfo, the `icalendar` package, schemathesis), a browser, or the privilege to
//! mount a small file system.
//!
//! Under a plain `cargo test` it says loudly that it skipped, so that a machine without the
//! tool still runs everything else. Where `CI` or `AVAILABILITY_REQUIRE_ORACLES` is set, the
//! tool is required and its absence is a failure: a check that silently never runs is worse
//! than none. The server's tests share this file with the core's.

/// Whether a missing tool fails the test rather than skipping it.
fn required() -> bool {
    std::env::var_os("CI").is_some() || std::env::var_os("AVAILABILITY_REQUIRE_ORACLES").is_some()
}

/// `test` cannot run, because of `why` (what is missing, and how to get it): a failure where
/// the tool is required, a loud skip otherwise. The caller returns when this does.
pub(crate) fn cannot_run(test: &str, why: &str) {
    assert!(!required(), "{test} cannot run: {why}");
    eprintln!(
        "\n*** SKIPPED {test}: {why}; set CI or AVAILABILITY_REQUIRE_ORACLES to make this a \
         failure\n"
    );
}

/// A Python oracle running `script` (one of `tests/oracle/`), its input and output, and the
/// first line it printed (the tzdata release it read).
pub(crate) struct Python {
    pub(crate) child: std::process::Child,
    pub(crate) stdin: std::process::ChildStdin,
    pub(crate) lines: std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
    pub(crate) first: String,
}

/// Starts `script` for `test` (`what` names the oracle in a skip's reason); `None`, having
/// said why through [`cannot_run`], when python3 or the script's packages are missing.
pub(crate) fn python(test: &str, script: &str, what: &str) -> Option<Python> {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let started = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match started {
        Ok(child) => child,
        Err(e) => {
            cannot_run(test, &format!("no python3 for {what} ({e})"));
            return None;
        }
    };
    let stdin = child.stdin.take().expect("piped");
    let mut lines = std::io::BufReader::new(child.stdout.take().expect("piped")).lines();
    let Some(Ok(first)) = lines.next() else {
        let out = child.wait_with_output().expect("python3 ran");
        let stderr = String::from_utf8_lossy(&out.stderr);
        cannot_run(
            test,
            &format!(
                "{what} did not start (pip install -r \
                 availability-core/tests/oracle/requirements.txt): {stderr}"
            ),
        );
        return None;
    };
    Some(Python {
        child,
        stdin,
        lines,
        first,
    })
}
