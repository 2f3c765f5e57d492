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
