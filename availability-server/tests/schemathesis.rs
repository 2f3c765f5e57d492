//! Property-based tests of the whole API from its OpenAPI document: `schemathesis` (pinned in
//! `tests/schemathesis/requirements.txt`) generates requests for every operation, valid and
//! not, from the document the real binary serves, and checks that no answer is a server error,
//! that every status is documented for its operation, and that every body matches its schema.
//!
//! The binary runs on a fresh data directory with an admin key (sent with every request, so
//! writes get past authentication and reach their handlers), a self-signed certificate, and
//! rate limits lifted so the generated traffic is never throttled. The run is bounded by
//! examples per operation and by time (`SCHEMATHESIS_MAX_EXAMPLES`, `SCHEMATHESIS_MAX_SECONDS`).
//! The event streams get a second, shorter run (`SCHEMATHESIS_STREAM_EXAMPLES`,
//! `SCHEMATHESIS_STREAM_SECONDS`) in which every request names the calendar and the group the
//! store holds, so that schemathesis reads their events and checks each against the document.
//!
//! Needs `schemathesis` on the `PATH` (`.ci/run` installs it). Without it the test says loudly
//! that it skipped, unless `CI` or `AVAILABILITY_REQUIRE_ORACLES` is set: then it fails.

use std::process::{Command, Stdio};

use crate::support::{cannot_run, Binary};

/// Starts the binary on port 0 over `data`, its limits lifted.
fn start(data: &std::path::Path) -> Binary {
    let lifted = "1000000";
    // Two workers may check the key at once before it is remembered: neither may wait.
    let mut flags = vec!["--bcrypt-per-client".to_owned(), "8".to_owned()];
    for limit in [
        "read",
        "write",
        "auth",
        "auth-key",
        "admin-write",
        "key-write",
    ] {
        flags.extend([
            format!("--{limit}-per-minute"),
            lifted.to_owned(),
            format!("--{limit}-burst"),
            lifted.to_owned(),
        ]);
    }
    // schemathesis keeps its connections in a pool and may pause for seconds while it makes
    // examples; the server closes a connection idle past its timeouts (10 s for the next
    // request's head), and a request sent as the close crosses it gets no answer. That race
    // is the client's, not what the run checks: the timeouts are lifted here.
    for timeout in ["--header-read-timeout", "--idle-timeout"] {
        flags.extend([timeout.to_owned(), "3600".to_owned()]);
    }
    Binary::start(data, "info", flags)
}

/// A number from the environment, or `default`.
fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

const TEST: &str = "schemathesis_finds_no_server_error_and_no_schema_violation";

#[test]
fn schemathesis_finds_no_server_error_and_no_schema_violation() {
    let version = Command::new("schemathesis").arg("--version").output();
    match version {
        Ok(out) if out.status.success() => {
            eprintln!("{}", String::from_utf8_lossy(&out.stdout).trim());
        }
        Ok(out) => {
            let why = format!(
                "schemathesis does not run (pip install -r \
                 availability-server/tests/schemathesis/requirements.txt): {}",
                String::from_utf8_lossy(&out.stderr)
            );
            cannot_run(TEST, &why);
            return;
        }
        Err(e) => {
            let why = format!(
                "no schemathesis (pip install -r \
                 availability-server/tests/schemathesis/requirements.txt): {e}"
            );
            cannot_run(TEST, &why);
            return;
        }
    }
    let data = tempfile::tempdir().unwrap();
    // A group for the streams' run below (the store makes the calendar `default` itself).
    availability_server::store::open(data.path())
        .expect("a new store")
        .put_group(
            "default",
            vec!["default".to_owned()],
            &availability_server::store::Authority::Unchecked,
        )
        .expect("the group");
    let mut server = start(data.path());
    let admin = server
        .printed_key()
        .expect("the first start prints an admin key");
    let base = format!("https://127.0.0.1:{}", server.addr.port());
    // First the event streams (before the run below, which may delete what it finds): every
    // generated request names the calendar and the group that exist (`default`), so that it
    // reaches a stream, whose events schemathesis checks one by one against the document (a
    // stream never ends: each request stops at its timeout).
    let streams = tempfile::tempdir().unwrap();
    std::fs::write(
        streams.path().join("schemathesis.toml"),
        "[parameters]\n\"path.id\" = \"default\"\n",
    )
    .unwrap();
    let started = std::time::Instant::now();
    let out = schemathesis_run(&base, &admin, streams.path())
        .args(["--include-path-regex", "/events$"])
        .arg(format!(
            "--max-examples={}",
            setting("SCHEMATHESIS_STREAM_EXAMPLES", 5)
        ))
        .arg(format!(
            "--max-time={}",
            setting("SCHEMATHESIS_STREAM_SECONDS", 40)
        ))
        .args(["--request-timeout", "2"])
        .output()
        .unwrap();
    report(&out, started);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(server.running(), "the server is still running");
    assert!(
        out.status.success(),
        "schemathesis found failures in the event streams (above): exit {:?}",
        out.status.code()
    );
    // Both streams were reached, not only refused: the run says so when one never is.
    assert!(
        !stdout.contains("Missing test data"),
        "the streams' run did not reach a stream (above)"
    );
    let reports = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let out = schemathesis_run(&base, &admin, reports.path())
        .arg(format!(
            "--max-examples={}",
            setting("SCHEMATHESIS_MAX_EXAMPLES", 30)
        ))
        .arg(format!(
            "--max-time={}",
            setting("SCHEMATHESIS_MAX_SECONDS", 150)
        ))
        // The event streams (`/calendars/{id}/events`, `/groups/{id}/events`) had a run of
        // their own, above.
        .args(["--exclude-path-regex", "/events$"])
        .arg("--report-dir")
        .arg(reports.path())
        .output()
        .unwrap();
    report(&out, started);
    assert!(server.running(), "the server is still running");
    assert!(
        out.status.success(),
        "schemathesis found failures (above): exit {:?}",
        out.status.code()
    );
}

/// `schemathesis run` of the document `base` serves, against `base`, with the checks, phases
/// and settings both runs share, the admin key `admin` on every request, from `dir`.
fn schemathesis_run(base: &str, admin: &str, dir: &std::path::Path) -> Command {
    let mut run = Command::new("schemathesis");
    run.arg("run")
        .arg(format!("{base}/openapi.json"))
        .args(["--url", base])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,response_schema_conformance",
        ])
        .args(["--phases", "examples,coverage,fuzzing"])
        // One worker: with two threads, generating examples can crash inside CPython's `ast`
        // module ("AST constructor recursion depth mismatch", not thread-safe in 3.11), which
        // fails the run on the tool's account, not the server's.
        .args(["--workers", "1"])
        // The certificate is the server's own first-run one, made for `localhost`.
        .arg("--tls-verify=false")
        .args(["-H", &format!("Authorization: Bearer {admin}")])
        // Its example database, configuration and reports are in a temporary directory, not
        // the source tree.
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("SCHEMATHESIS_HOOKS", "")
        .stdin(Stdio::null());
    run
}

/// Prints what schemathesis said and how long it ran.
fn report(out: &std::process::Output, started: std::time::Instant) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stdout}\n{stderr}");
    eprintln!("schemathesis ran for {:?}", started.elapsed());
}
