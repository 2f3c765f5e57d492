//! Requests refused before their body is read, as curl sees them: every one gets its whole
//! answer and curl succeeds, over HTTP/2 and HTTP/1.1, with a body of a few bytes, one past the
//! body limit, and one the size of the HTTP/2 stream window; over HTTP/2 also with bodies of
//! no announced length (which HTTP/2 allows), up to one past the window, refused too when
//! they pass the limit as they are read; and from a client that waits for a 100 (Continue)
//! before it sends.
//!
//! Over HTTP/2 an answer may end its stream before the request's body has; the server then
//! resets the stream's request side (with NO_ERROR). curl 7.88 with nghttp2, still sending,
//! took such a reset for a failure and dropped the answer it had already received
//! (`curl: (92) Stream error in the HTTP/2 framing layer`), for a few-byte body about half of
//! the time and for a large one nearly every time. The refusal is a race against the client's
//! sending, so each case runs many times.
//!
//! Not pinned here: a body announced past what the server reads of a refused body (1 MiB).
//! It is read beside the answer, and curl, on seeing the answer, stops sending short of the
//! length it announced; h2 resets the stream for that, and on a busy machine the reset can
//! overtake the part of the answer not yet written (about one run in a few hundred).
//!
//! It needs curl with HTTP/2; without it, it says loudly that it skipped, unless `CI` or
//! `AVAILABILITY_REQUIRE_ORACLES` is set: then it fails.

use std::path::Path;
use std::process::{Command, Stdio};

use http::Version;

use crate::support::{cannot_run, Binary, Client};

const TEST: &str = "early_refusals_reach_curl_whole";

/// Runs of each case with a few-byte body over HTTP/2, where about half of them were cut off;
/// a larger body was cut off nearly every time, and has half as many runs.
const ROUNDS: usize = 20;

/// curl processes at once.
const AT_ONCE: usize = 4;

/// One request curl sends, and the status it must print.
struct Case {
    what: &'static str,
    method: &'static str,
    path: &'static str,
    authorization: Option<String>,
    /// The file the body is read from.
    body: &'static str,
    sent: Sent,
    status: u16,
}

/// How curl sends a body.
#[derive(Clone, Copy, PartialEq)]
enum Sent {
    /// With its length announced (`Content-Length`), at once.
    Announced,
    /// As it is read, with no announced length (HTTP/2 only: over HTTP/1.1 it would be
    /// chunked).
    Streamed,
    /// With its length announced, once the server says to go on (`Expect: 100-continue`),
    /// or answers: never on a timer, which a server holding the answer for the body would
    /// otherwise wait out.
    AfterContinue,
}

/// The bodies, by file name: a few bytes; past the body limit (64 KiB); the server's HTTP/2
/// stream window (1 MiB, all that a client sends before the server reads), which is also the
/// most the server reads of a body it refused; past both, sent with no announced length.
const BODIES: [(&str, usize); 4] = [
    ("small", 0),
    ("over-the-limit", 100 * 1024),
    ("the-window", 1 << 20),
    ("over-the-window", 3 << 20),
];

/// Starts the binary over `data`, with the rate limits lifted: every run of every case must
/// get the refusal it is about, never a 429.
fn start(data: &Path) -> Binary {
    let lifted = "1000000";
    let mut flags = Vec::new();
    for limit in ["write", "auth", "auth-key", "admin-write", "key-write"] {
        flags.extend([
            format!("--{limit}-per-minute"),
            lifted.to_owned(),
            format!("--{limit}-burst"),
            lifted.to_owned(),
        ]);
    }
    Binary::start(data, "info", flags)
}

/// Starts curl on one run of `case` over `version` (`--http2`, `--http1.1`), against `base`
/// trusting `cert`, with its body from the directory `bodies`.
fn run_curl(
    case: &Case,
    version: &str,
    base: &str,
    cert: &Path,
    bodies: &Path,
) -> std::process::Child {
    let mut curl = Command::new("curl");
    curl.args(["-sS", version, "--max-time", "20", "--cacert"])
        .arg(cert)
        .args(["-o", "/dev/null", "-w", "%{http_code}", "-X", case.method])
        .arg(format!("{base}{}", case.path))
        .args(["-H", "Content-Type: application/json"]);
    let body = bodies.join(case.body);
    if case.sent == Sent::Streamed {
        curl.args(["-T", "-"])
            .stdin(std::fs::File::open(body).unwrap());
    } else {
        curl.arg("--data-binary")
            .arg(format!("@{}", body.display()))
            .stdin(Stdio::null());
    }
    if case.sent == Sent::AfterContinue {
        // curl waits for the 100 longer than it may run (the later `--max-time` wins): an
        // answer held back for the body is a timeout.
        curl.args(["-H", "Expect: 100-continue", "--expect100-timeout", "60"])
            .args(["--max-time", "5"]);
    }
    if let Some(authorization) = &case.authorization {
        curl.args(["-H", &format!("Authorization: {authorization}")]);
    }
    curl.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn early_refusals_reach_curl_whole() {
    match Command::new("curl").arg("--version").output() {
        Ok(out) if String::from_utf8_lossy(&out.stdout).contains("HTTP2") => {}
        Ok(_) => {
            cannot_run(TEST, "this curl speaks no HTTP/2");
            return;
        }
        Err(e) => {
            cannot_run(
                TEST,
                &format!("no curl on this machine ({e}; apt-get install -y curl)"),
            );
            return;
        }
    }

    let data = tempfile::tempdir().unwrap();
    let mut server = start(data.path());
    let admin = server.printed_key().expect("a first start prints a key");
    let c = Client::new(server.addr, server.root(), Version::HTTP_2);
    // A key of another calendar than `default`, the calendar every case writes to.
    let other = c.create_calendar(&admin, "other", "UTC").await;

    let bodies = tempfile::tempdir().unwrap();
    for (name, size) in BODIES {
        let body = if size == 0 {
            br#"{"updates":[]}"#.to_vec()
        } else {
            vec![b'x'; size]
        };
        std::fs::write(bodies.path().join(name), body).unwrap();
    }

    let week = "/calendars/default/availability";
    let mut cases = Vec::new();
    for body in ["small", "over-the-limit", "the-window"] {
        let refusal = |what, method, path, authorization: Option<String>, status| Case {
            what,
            method,
            path,
            authorization,
            body,
            sent: Sent::Announced,
            status,
        };
        cases.extend([
            refusal("no key", "PATCH", week, None, 401),
            refusal(
                "a key without Bearer",
                "PATCH",
                week,
                Some(other.clone()),
                401,
            ),
            refusal(
                "another calendar's key",
                "PATCH",
                week,
                Some(format!("Bearer {other}")),
                403,
            ),
            refusal("no key", "POST", "/calendars", None, 401),
        ]);
        if body != "small" {
            cases.push(refusal(
                "a body past the limit",
                "PATCH",
                week,
                Some(format!("Bearer {admin}")),
                413,
            ));
        }
    }
    // With no announced length: nothing says the body is there but the open stream. Past the
    // limit, the write reads it until it passes the limit.
    for body in ["small", "over-the-window"] {
        let streamed = |what, method, path, authorization: Option<String>, status| Case {
            what,
            method,
            path,
            authorization,
            body,
            sent: Sent::Streamed,
            status,
        };
        cases.extend([
            streamed("no key", "PATCH", week, None, 401),
            streamed("no key", "POST", "/calendars", None, 401),
        ]);
    }
    cases.push(Case {
        what: "a body past the limit",
        method: "PATCH",
        path: week,
        authorization: Some(format!("Bearer {admin}")),
        body: "over-the-window",
        sent: Sent::Streamed,
        status: 413,
    });
    // A client that waits for a 100 (Continue) before it sends: hyper sends none over HTTP/2,
    // so the answer must not wait for the body.
    for body in ["small", "the-window"] {
        cases.push(Case {
            what: "no key",
            method: "PATCH",
            path: week,
            authorization: None,
            body,
            sent: Sent::AfterContinue,
            status: 401,
        });
    }
    cases.push(Case {
        what: "a body past the limit",
        method: "PATCH",
        path: week,
        authorization: Some(format!("Bearer {admin}")),
        body: "the-window",
        sent: Sent::AfterContinue,
        status: 413,
    });

    let base = format!("https://{}", server.addr);
    let cert = data.path().join("cert.pem");
    let mut runs = Vec::new();
    // HTTP/1.1 answers once the body is read, or with `Connection: close`, and has no race to
    // lose: a few runs there keep it whole too.
    for (version, share) in [("--http2", 1), ("--http1.1", 4)] {
        for case in cases
            .iter()
            .filter(|c| version == "--http2" || c.sent != Sent::Streamed)
        {
            let rounds = if case.body == "small" {
                ROUNDS
            } else {
                ROUNDS / 2
            };
            for _ in 0..rounds / share {
                runs.push((version, case));
            }
        }
    }
    let mut failures = Vec::new();
    for batch in runs.chunks(AT_ONCE) {
        let children: Vec<_> = batch
            .iter()
            .map(|(version, case)| run_curl(case, version, &base, &cert, bodies.path()))
            .collect();
        for ((version, case), child) in batch.iter().zip(children) {
            let out = child.wait_with_output().unwrap();
            let printed = String::from_utf8_lossy(&out.stdout);
            if !out.status.success() || printed != case.status.to_string() {
                failures.push(format!(
                    "{version} {} {} with {}, {} body{}: {}, printed {printed:?} (expected {}): {}",
                    case.method,
                    case.path,
                    case.what,
                    case.body,
                    match case.sent {
                        Sent::Announced => "",
                        Sent::Streamed => " of no length",
                        Sent::AfterContinue => " after Expect: 100-continue",
                    },
                    out.status,
                    case.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} curl runs did not get their whole answer:\n{}",
        failures.len(),
        runs.len(),
        failures.join("\n")
    );
    assert!(server.running(), "the server still runs");
}
