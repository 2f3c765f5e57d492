//! A full disk: the store on a small file system (a tmpfs), created full. Creating a calendar
//! needs the store file to grow: that is 507 Insufficient Storage, said as such and counted,
//! while reads and writes of the calendars already stored go on working.
//!
//! Mounting needs the privilege to mount (root, with the capability). Where mounting fails,
//! for want of that privilege or for any other reason, the test says loudly that it skipped;
//! where `CI` or `AVAILABILITY_REQUIRE_ORACLES` is set (CI runs as root), it fails instead: a
//! full disk is then tested or the run is red.

use std::path::{Path, PathBuf};
use std::process::Command;

use http::{Method, StatusCode, Version};

use crate::support::{cannot_run, test_certificate, test_config, TestServer};

const BATCH: &str =
    r#"{"updates":[{"day":"friday","from":"09:00","to":"12:00","status":"maybe"}]}"#;

/// A tmpfs of `size` mounted on a directory; unmounted when dropped.
struct Small(PathBuf);

impl Small {
    /// The mounted file system, or why not.
    fn mount(dir: &Path, size: &str) -> Result<Small, String> {
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .map_err(|e| format!("running mount: {e}"))?;
        if out.status.success() {
            return Ok(Small(dir.to_path_buf()));
        }
        let said = String::from_utf8_lossy(&out.stderr);
        Err(format!("mount exited with {}: {}", out.status, said.trim()))
    }
}

impl Drop for Small {
    fn drop(&mut self) {
        // The server's last connection task may still hold the store for a moment.
        for _ in 0..100 {
            let done = Command::new("umount").arg(&self.0).status();
            if done.is_ok_and(|s| s.success()) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[tokio::test]
async fn a_full_disk_is_507_and_stored_calendars_keep_working() {
    if crate::support::on_postgres() {
        // The store file's disk; a database's is the database's.
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("small");
    std::fs::create_dir(&dir).unwrap();
    // Room for a new store file and a few of its growths, then a filler takes the rest.
    let small = match Small::mount(&dir, "100k") {
        Ok(small) => small,
        Err(why) => {
            cannot_run(
                "a_full_disk_is_507_and_stored_calendars_keep_working",
                &format!("cannot mount a small tmpfs ({why}); run the tests as root"),
            );
            return;
        }
    };
    // The certificate lives elsewhere: the small file system holds only the store.
    let certs = tempfile::tempdir().unwrap();
    let (cert, key, root) = test_certificate(certs.path());
    let mut config = test_config(&dir);
    config.tls = Some((cert, key));
    let mut server = TestServer::start_with(config, root, certs).await;
    let c = server.client(Version::HTTP_2);

    // Beside the store, a file that takes what room is left, and is removed later to make
    // room again.
    let filler = dir.join("filler");
    let free = Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(&dir)
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .nth(1)?
                .trim()
                .parse::<usize>()
                .ok()
        })
        .unwrap_or(0);
    std::fs::write(&filler, vec![1u8; free.saturating_sub(48 * 1024)]).unwrap();
    // Create calendars until the store must grow and cannot.
    let mut keys = Vec::new();
    let full = loop {
        let id = format!("c{}", keys.len());
        let r = c
            .json(
                Method::POST,
                "/calendars",
                &server.admin,
                &format!(r#"{{"id":"{id}","timezone":"Europe/Paris"}}"#),
            )
            .await;
        if r.status != StatusCode::CREATED {
            break r;
        }
        keys.push((id, r.json()["key"].as_str().unwrap().to_owned()));
        assert!(keys.len() < 2_000, "the small file system never filled");
    };
    assert!(!keys.is_empty(), "the store had room for some calendars");
    let detail = full.problem(StatusCode::INSUFFICIENT_STORAGE);
    assert!(detail.contains("disk is full"), "{detail}");
    let metrics = c
        .authed(Method::GET, "/metrics", &server.admin)
        .await
        .text();
    assert!(
        metrics.contains("availability_storage_full_total 1"),
        "{metrics}"
    );

    // The calendars already stored are read and written as before.
    let (id, key) = &keys[0];
    let path = format!("/calendars/{id}/availability");
    let w = c.json(Method::PATCH, &path, key, BATCH).await;
    assert_eq!(w.status, StatusCode::OK, "{}", w.text());
    let week = c
        .get(&format!("{path}?week=2026-W48&tz=Europe/Paris"))
        .await;
    assert_eq!(week.status, StatusCode::OK);
    let slots = week.json()["slots"].as_array().unwrap().clone();
    let friday_ten = slots
        .iter()
        .find(|s| s["day_name"] == "Friday" && s["time"] == "10:00")
        .unwrap();
    assert_eq!(friday_ten["status"], "maybe", "{friday_ten}");
    let new_key = c
        .authed(Method::POST, &format!("/calendars/{id}/keys"), key)
        .await;
    assert_eq!(new_key.status, StatusCode::CREATED, "{}", new_key.text());
    // Calendars are deleted as before; new ones wait for room on the disk.
    let (gone, _) = keys.last().unwrap();
    let d = c
        .authed(Method::DELETE, &format!("/calendars/{gone}"), &server.admin)
        .await;
    assert!(d.status.is_success(), "{}", d.text());
    let create_again = || {
        c.json(
            Method::POST,
            "/calendars",
            &server.admin,
            r#"{"id":"again","timezone":"UTC"}"#,
        )
    };
    let refused = create_again().await;
    refused.problem(StatusCode::INSUFFICIENT_STORAGE);
    // Room made on the disk: the store grows again (it tries at most once a second).
    std::fs::remove_file(&filler).unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let again = create_again().await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.text());

    server.stop().await;
    drop(server);
    drop(small);
}
