//! The README's five-minute walk, run as a reader runs it: the `sh` blocks of its section, as
//! written, in one `bash -euo pipefail`, against the real binary on a fresh data directory.
//!
//! The walk's first block starts a server with `cargo run` on port 8443. This test starts the
//! binary itself instead (on a free port, with the same data directory layout: its standard
//! output in `$DATA/first-start.txt`) and gives the blocks the variables the first one sets,
//! `DATA`, `U` and `SERVER`; every other block runs unchanged. Then it checks what the README
//! says the blocks show: the keys work, the reads see the week, the group's answer names all
//! three people, the booking is 201 with its `Location` and its retry the same answer, the
//! conflict is 409, the cancel 200, and the last block stops the server cleanly.
//!
//! It needs bash and curl (and GNU `date`, as the README says); without bash or curl it says
//! loudly that it skipped, unless `CI` or `AVAILABILITY_REQUIRE_ORACLES` is set: then it fails.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::Binary;

/// The README, as committed.
const README: &str = include_str!("../../README.md");

/// The heading of the walk's section.
const HEADING: &str = "## A five-minute walk";

/// The file the walk's first block sends the server's standard output to, in `$DATA`.
const FIRST_START: &str = "first-start.txt";

/// How long the blocks may take, bcrypt and all.
const WALK_TIMEOUT: Duration = Duration::from_secs(120);

fn required() -> bool {
    std::env::var_os("CI").is_some() || std::env::var_os("AVAILABILITY_REQUIRE_ORACLES").is_some()
}

/// Whether `program` is on the `PATH`.
fn found(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// The `sh` blocks of the section under `heading`, in order.
fn sh_blocks(markdown: &str, heading: &str) -> Vec<String> {
    let start = markdown
        .lines()
        .position(|line| line == heading)
        .unwrap_or_else(|| panic!("the README has no line {heading:?}"));
    let mut blocks = Vec::new();
    let mut block: Option<String> = None;
    for line in markdown.lines().skip(start + 1) {
        match &mut block {
            None if line.starts_with("## ") => break,
            None if line == "```sh" => block = Some(String::new()),
            None => {}
            Some(text) if line == "```" => {
                blocks.push(std::mem::take(text));
                block = None;
            }
            Some(text) => {
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    assert!(block.is_none(), "an sh block of the walk is not closed");
    blocks
}

/// The line that starts each block's output, so the output can be split by block.
fn marker(block: usize) -> String {
    format!("@@@ walk block {block}")
}

/// What the blocks printed, by block (the first, which this test replaces, has none).
fn outputs(stdout: &str, blocks: usize) -> Vec<String> {
    let mut by_block = vec![String::new(); blocks];
    let mut current = 0;
    for line in stdout.lines() {
        if let Some(n) = (1..blocks).find(|&n| line == marker(n)) {
            current = n;
            continue;
        }
        by_block[current].push_str(line);
        by_block[current].push('\n');
    }
    by_block
}

/// The one line of `output` that starts with `prefix` and holds `member`, parsed as JSON.
fn json_line(output: &str, prefix: &str, member: &str) -> serde_json::Value {
    let lines: Vec<&str> = output
        .lines()
        .filter(|l| l.starts_with(prefix) && l.contains(member))
        .collect();
    assert_eq!(
        lines.len(),
        1,
        "one line starting {prefix:?} with {member:?} in:\n{output}"
    );
    serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("{e}: {}", lines[0]))
}

/// Runs `script` in `bash -euo pipefail` with `env`, within [`WALK_TIMEOUT`]; returns whether
/// it succeeded, its standard output and its standard error.
fn run_bash(script: &str, env: &[(&str, String)], home: &Path) -> (bool, String, String) {
    let mut command = Command::new("bash");
    command
        .args(["--noprofile", "--norc", "-euo", "pipefail", "-c", script])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // No ~/.curlrc, and no proxy between curl and the loopback server.
        .env("CURL_HOME", home)
        .current_dir(home);
    for name in [
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "HTTPS_PROXY",
        "ALL_PROXY",
    ] {
        command.env_remove(name);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        stdout.read_to_string(&mut text).unwrap();
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        stderr.read_to_string(&mut text).unwrap();
        text
    });
    let deadline = Instant::now() + WALK_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the walk took more than {WALK_TIMEOUT:?}; it printed:\n{}\n{}",
                out.join().unwrap(),
                err.join().unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (status.success(), out.join().unwrap(), err.join().unwrap())
}

#[test]
fn the_readme_walk_runs_as_written() {
    let missing: Vec<&str> = ["bash", "curl"].into_iter().filter(|p| !found(p)).collect();
    if !missing.is_empty() {
        assert!(
            !required(),
            "the README walk needs {} (apt-get install -y bash curl)",
            missing.join(" and ")
        );
        eprintln!(
            "\n*** SKIPPED the_readme_walk_runs_as_written: no {} on this machine (apt-get \
             install -y bash curl); set CI or AVAILABILITY_REQUIRE_ORACLES to make this a \
             failure\n",
            missing.join(" or ")
        );
        return;
    }

    let blocks = sh_blocks(README, HEADING);
    assert_eq!(blocks.len(), 8, "the walk's blocks: {blocks:#?}");
    // The first block is the one this test stands in for: it must set what the test sets.
    let start = &blocks[0];
    for needle in [
        "DATA=",
        "U=https://127.0.0.1:8443",
        "cargo run --release -p availability-server -- --data-dir \"$DATA\"",
        &format!("> \"$DATA/{FIRST_START}\""),
        "SERVER=$!",
    ] {
        assert!(
            start.contains(needle),
            "the first block sets {needle:?}:\n{start}"
        );
    }

    // The server, as the first block starts it, with its standard output in the same file.
    let data = tempfile::tempdir().unwrap();
    let mut server = Binary::start(
        data.path(),
        "info,availability_server=debug",
        std::iter::empty::<&str>(),
    );
    let addr = server.addr;
    // The first block's wait: until the key is printed.
    assert!(server.printed_key().is_some(), "no admin key printed");
    std::fs::write(data.path().join(FIRST_START), server.output()).unwrap();

    // The other blocks as written, one script, each block's output after its marker.
    let mut script = String::new();
    for (n, block) in blocks.iter().enumerate().skip(1) {
        script.push_str(&format!("echo '{}'\n", marker(n)));
        script.push_str(block);
    }
    let env = [
        ("DATA", data.path().display().to_string()),
        ("U", format!("https://127.0.0.1:{}", addr.port())),
        ("SERVER", server.id().to_string()),
    ];
    let (ok, stdout, stderr) = run_bash(&script, &env, data.path());
    let shown = format!(
        "standard output:\n{stdout}\nstandard error:\n{stderr}\nthe server's log:\n{}",
        server.log()
    );
    assert!(ok, "the walk failed\n{shown}");
    let out = outputs(&stdout, blocks.len());

    // Chen's calendar and week, and their reads.
    assert!(
        out[1].contains(r#"{"calendar":"chen","version":2}"#),
        "Chen's week was written with Chen's key\n{shown}"
    );
    let intervals = json_line(&out[2], r#"{"calendar":"chen""#, r#""intervals""#);
    assert_eq!(
        intervals["intervals"].as_array().map(Vec::len),
        Some(2),
        "Monday and Tuesday\n{shown}"
    );
    assert!(
        intervals["intervals"][0]["start"]
            .as_str()
            .is_some_and(|s| s.ends_with("T01:15:00+00:00")),
        "Chen's 07:00 is 01:15 UTC\n{shown}"
    );
    assert!(
        out[2].contains(r#""time":"01:00","status":"unavailable""#),
        "01:00-01:30 UTC is only partly Chen's\n{shown}"
    );

    // The group: every member's week written, so that the answer names all three.
    for who in ["ana", "ben"] {
        assert!(
            out[3].contains(&format!(r#"{{"calendar":"{who}","version":2}}"#)),
            "{who}'s week was written with {who}'s key\n{shown}"
        );
    }
    let group = json_line(
        &out[3],
        r#"{"calendars":["ana","ben","chen"]"#,
        r#""intervals""#,
    );
    let spans = group["intervals"].as_array().cloned().unwrap_or_default();
    assert!(!spans.is_empty(), "the group's answer is empty\n{shown}");
    let mut who = BTreeSet::new();
    for span in &spans {
        assert!(span["available"].as_u64() >= Some(2), "{span}");
        for name in span["calendars"].as_array().unwrap() {
            who.insert(name.as_str().unwrap().to_owned());
        }
    }
    assert_eq!(
        who.into_iter().collect::<Vec<_>>(),
        ["ana", "ben", "chen"],
        "each of the three is free with another at some time\n{shown}"
    );

    // The booking: 201 with its Location, and the retry the very same answer.
    let booking = &out[4];
    assert!(
        booking
            .lines()
            .any(|l| l.starts_with("HTTP/") && l.split_whitespace().nth(1) == Some("201")),
        "the booking is 201\n{shown}"
    );
    assert!(
        booking.lines().any(|l| l
            .trim_end()
            .eq_ignore_ascii_case("location: /calendars/room-4/bookings/1")),
        "the booking's Location\n{shown}"
    );
    let answers: Vec<&str> = booking
        .lines()
        .filter(|l| l.starts_with(r#"{"calendar":"room-4","end""#))
        .collect();
    assert_eq!(answers.len(), 2, "the booking and its retry\n{shown}");
    assert_eq!(
        answers[0], answers[1],
        "the retry gets the same answer\n{shown}"
    );
    assert_eq!(
        booking.lines().last(),
        Some("201"),
        "the retry's status\n{shown}"
    );

    // The conflict from New York, the hole in the room's Monday, the cancel.
    let conflict = json_line(&out[5], r#"{"conflict""#, r#""status":409"#);
    assert_eq!(conflict["status"], 409, "{shown}");
    assert_eq!(conflict["conflict"]["reason"], "booked", "{shown}");
    assert!(out[5].lines().any(|l| l == "409"), "{shown}");
    let room = json_line(
        &out[5],
        r#"{"calendar":"room-4","timezone":"America/New_York""#,
        r#""intervals""#,
    );
    assert_eq!(
        room["intervals"].as_array().map(Vec::len),
        Some(2),
        "the booking cuts the room's Monday in two\n{shown}"
    );
    assert!(
        out[5].contains(r#"{"calendar":"room-4","id":"1","version":5}"#),
        "the cancel\n{shown}"
    );
    assert_eq!(out[5].lines().last(), Some("200"), "the cancel\n{shown}");

    // Chen's call from New York, a week before and after the US change, then booked.
    let call = &out[6];
    let lists: Vec<serde_json::Value> = call
        .lines()
        .filter(|l| l.starts_with(r#"{"calendar":"chen","duration""#))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(lists.len(), 2, "two slots answers\n{shown}");
    let first = |list: &serde_json::Value| list["slots"][0]["start"].as_str().map(str::to_owned);
    assert!(
        first(&lists[0]).is_some_and(|s| s.ends_with("T20:15:00-05:00")),
        "a week before the change, Chen's 07:00 is 20:15 EST\n{shown}"
    );
    assert!(
        first(&lists[1]).is_some_and(|s| s.ends_with("T21:15:00-04:00")),
        "after it, 21:15 EDT\n{shown}"
    );
    let booked = json_line(call, r#"{"calendar":"chen","end""#, r#""type":"call""#);
    assert!(
        booked["start"]
            .as_str()
            .is_some_and(|s| s.ends_with("T21:45:00-04:00")),
        "{shown}"
    );
    let refused = json_line(call, r#"{"detail""#, r#""rule""#);
    assert_eq!(refused["rule"], "buffer", "{shown}");
    let codes: Vec<&str> = call.lines().filter(|l| l.len() == 3).collect();
    assert_eq!(codes, ["201", "409"], "{shown}");

    // The last block stops the server, which exits cleanly.
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = server.exited() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not stop\n{shown}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "the server's exit: {status}\n{shown}");
}
