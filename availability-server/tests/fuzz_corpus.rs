//! Every committed fuzz corpus, replayed through its target's checks on stable Rust: CI checks
//! the corpora even without a nightly toolchain, and an input that once found a bug keeps
//! guarding against it. The targets' checks live in `fuzz/targets/`; the fuzzer runs the same
//! files.

use std::path::Path;

#[path = "../../fuzz/targets/batch_json.rs"]
mod batch_json;
#[path = "../../fuzz/targets/client_ip.rs"]
mod client_ip;
#[path = "../../fuzz/targets/ics.rs"]
mod ics;
#[path = "../../fuzz/targets/journal.rs"]
mod journal;
#[path = "../../fuzz/targets/key.rs"]
mod key;
#[path = "../../fuzz/targets/query.rs"]
mod query;
#[path = "../../fuzz/targets/store_open.rs"]
mod store_open;
#[path = "../../fuzz/targets/store_power.rs"]
mod store_power;
#[path = "../../fuzz/targets/tzif.rs"]
mod tzif;
#[path = "../../fuzz/targets/week_ops.rs"]
mod week_ops;

/// Runs every file of `fuzz/corpus/<target>` through `run`; returns how many there were.
fn replay(target: &str, run: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the corpus of {target} ({}): {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    for file in &files {
        let data = std::fs::read(file).unwrap();
        // A panic names the input, so it can be replayed with `cargo fuzz run`.
        let result = std::panic::catch_unwind(|| run(&data));
        assert!(result.is_ok(), "{target}: {} fails", file.display());
    }
    files.len()
}

/// A target's checks, on one input.
type Check = fn(&[u8]);

#[test]
fn every_committed_corpus_passes_its_target() {
    let targets: [(&str, Check); 10] = [
        ("batch_json", batch_json::run),
        ("client_ip", client_ip::run),
        ("ics", ics::run),
        ("journal", journal::run),
        ("key", key::run),
        ("query", query::run),
        ("store_open", store_open::run),
        ("store_power", store_power::run),
        ("tzif", tzif::run),
        ("week_ops", week_ops::run),
    ];
    for (target, run) in targets {
        let n = replay(target, run);
        eprintln!("fuzz corpus {target}: {n} inputs replayed");
        assert!(n > 0, "the corpus of {target} is empty");
    }
}
