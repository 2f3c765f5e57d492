//! Following the change log: a change from a transaction that commits after a later one is
//! still applied by every instance; a batch of calendars reaches every instance; dated
//! changes are applied from the rows they name, to the state a whole read makes.

use http::{Method, StatusCode, Version};

use super::{always, book, eventually, instances, span, ALWAYS};
use crate::support::postgres::{cluster_for, Cluster};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_change_that_commits_after_a_later_one_is_not_skipped() {
    let Some(cluster) = cluster_for("a_change_that_commits_after_a_later_one_is_not_skipped")
    else {
        return;
    };
    let url = cluster.database().await;
    let servers = instances(2, &url).await;
    let (a, b) = (&servers[0], &servers[1]);
    let early = always(a, "early").await;
    always(a, "late").await;
    eventually("both calendars on B", || async {
        b.store.get("early").is_some() && b.store.get("late").is_some_and(|c| c.version() >= 2)
    })
    .await;

    // A slow write, as a server makes one: the calendar's row and the change log's, in a
    // transaction that stays open.
    let mut slow = Cluster::connect(&url).await;
    let tx = slow.transaction().await.unwrap();
    tx.batch_execute(
        "UPDATE calendars SET version = version + 1, zone = 'Asia/Tokyo' WHERE id = 'late';
         INSERT INTO changes (kind, id, incarnation)
             SELECT 'calendar', id, incarnation FROM calendars WHERE id = 'late';
         SELECT pg_notify('availability_changes', '');",
    )
    .await
    .unwrap();

    // A later write commits first, and B applies it.
    let r = a
        .client(Version::HTTP_11)
        .json(Method::PUT, "/calendars/early/availability", &early, ALWAYS)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    eventually("the later write on B", || async {
        b.store.get("early").is_some_and(|c| c.version() >= 3)
    })
    .await;
    assert_eq!(b.store.get("late").unwrap().zone(), "Europe/Berlin");

    // Then the slow one commits: B must not have moved past it.
    tx.commit().await.unwrap();
    eventually("the slow write on B", || async {
        b.store
            .get("late")
            .is_some_and(|c| c.zone() == "Asia/Tokyo")
    })
    .await;
    eventually("the slow write on A", || async {
        a.store
            .get("late")
            .is_some_and(|c| c.zone() == "Asia/Tokyo")
    })
    .await;
}

/// A claim decides from the rows as they are once it holds the calendar's row, never from
/// what an instance remembers: while another transaction holds the row and adds a booking
/// in the same owner half hour (not overlapping in time, so the exclusion constraint would
/// let both through), the claim waits, then sees it and is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_claim_waits_for_the_calendars_row_and_decides_from_what_committed() {
    let Some(cluster) = cluster_for("a_claim_waits_for_the_calendars_row") else {
        return;
    };
    let url = cluster.database().await;
    let servers = instances(1, &url).await;
    let a = &servers[0];
    let key = always(a, "held").await;
    let base = super::span(0, 1);
    let start: serde_json::Value = serde_json::from_str(&base).unwrap();
    let start = chrono::DateTime::parse_from_rfc3339(start["start"].as_str().unwrap())
        .unwrap()
        .timestamp();

    let mut other = Cluster::connect(&url).await;
    let tx = other.transaction().await.unwrap();
    tx.execute("SELECT 1 FROM calendars WHERE id = 'held' FOR UPDATE", &[])
        .await
        .unwrap();
    // The first ten minutes of the half hour, as another instance would book them.
    tx.execute(
        "INSERT INTO bookings (calendar, id, span, created_ms)
         SELECT 'held', next_booking, tstzrange(to_timestamp($1), to_timestamp($1 + 600)), 0
         FROM calendars WHERE id = 'held'",
        &[&(start as f64)],
    )
    .await
    .unwrap();
    tx.batch_execute(
        "UPDATE calendars SET version = version + 1, next_booking = next_booking + 1
             WHERE id = 'held';
         INSERT INTO changes (kind, id, incarnation)
             SELECT 'calendar', id, incarnation FROM calendars WHERE id = 'held';",
    )
    .await
    .unwrap();
    let at = |s: i64| {
        chrono::DateTime::from_timestamp(s, 0)
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    // The last ten minutes of the same half hour, through the instance, meanwhile.
    let c = a.client(Version::HTTP_2);
    let body = format!(
        r#"{{"start":"{}","end":"{}"}}"#,
        at(start + 1200),
        at(start + 1800)
    );
    let claim = tokio::spawn(async move { super::book(&c, "held", &key, &body, None).await });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !claim.is_finished(),
        "the claim waits for the calendar's row"
    );
    tx.commit().await.unwrap();
    let r = claim.await.unwrap();
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    assert_eq!(r.json()["conflict"]["reason"], "booked", "{}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_batch_made_through_one_instance_reaches_the_others() {
    let Some(cluster) = cluster_for("a_batch_made_through_one_instance_reaches_the_others") else {
        return;
    };
    let url = cluster.database().await;
    let servers = instances(2, &url).await;
    let (a, b) = (&servers[0], &servers[1]);
    let body = serde_json::json!({
        "calendars": (0..500)
            .map(|i| serde_json::json!({ "id": format!("desk-{i}"), "timezone": "Asia/Tokyo" }))
            .collect::<Vec<_>>()
    });
    let r = a
        .client(Version::HTTP_2)
        .json(
            Method::POST,
            "/calendars:batch",
            &a.admin,
            &body.to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    eventually("the batch on B", || async {
        b.app.store.len() == a.app.store.len()
    })
    .await;
    let r = b.client(Version::HTTP_11).get("/calendars/desk-499").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["timezone"], "Asia/Tokyo");
    // A second batch naming one of them creates none, through either instance.
    let again = serde_json::json!({ "calendars": [{ "id": "desk-new" }, { "id": "desk-7" }] });
    let r = b
        .client(Version::HTTP_2)
        .json(
            Method::POST,
            "/calendars:batch",
            &b.admin,
            &again.to_string(),
        )
        .await;
    assert!(
        r.problem(StatusCode::CONFLICT).contains("desk-7"),
        "{}",
        r.text()
    );
    assert_eq!(
        a.client(Version::HTTP_11)
            .get("/calendars/desk-new")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_change_log_is_read_through_its_index() {
    let Some(cluster) = cluster_for("the_change_log_is_read_through_its_index") else {
        return;
    };
    let (servers, key, db) = two_and_a_desk(cluster).await;
    // Building the log's index reads it: only the scans after the start count.
    let before = log_scans(&db).await;
    // Writes one at a time, each waiting for B: every one is a round of B's follower.
    followed_one_at_a_time(&servers, &key, 1).await;
    let after = log_scans(&db).await;
    assert!(
        after.1 - before.1 >= 40,
        "{} index scans of the change log for 40 rounds",
        after.1 - before.1
    );
    assert_eq!(
        after.0 - before.0,
        0,
        "reads of the change log scan it whole ({} through the index)",
        after.1 - before.1
    );
}

/// Two instances on a new database of `cluster`, calendar `desk` made through the first (its
/// key), and a connection to the database.
async fn two_and_a_desk(
    cluster: &Cluster,
) -> (
    Vec<crate::support::TestServer>,
    String,
    tokio_postgres::Client,
) {
    let url = cluster.database().await;
    let servers = instances(2, &url).await;
    let key = always(&servers[0], "desk").await;
    (servers, key, Cluster::connect(&url).await)
}

/// 40 one-hour bookings of `desk` through the first instance, `apart` hours apart, each
/// waited for on the second: every one is a round of its follower.
async fn followed_one_at_a_time(servers: &[crate::support::TestServer], key: &str, apart: i64) {
    let (a, b) = (&servers[0], &servers[1]);
    let c = a.client(Version::HTTP_11);
    for n in 0..40 {
        let r = book(&c, "desk", key, &span(n * apart, n * apart + 1), None).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let version = a.store.get("desk").unwrap().version();
        eventually("the booking on B", || async {
            b.store.get("desk").is_some_and(|c| c.version() == version)
        })
        .await;
    }
}

/// The change log's whole-table and index scans so far. A backend reports its scans once it
/// has been idle for a second, so this waits for that first.
async fn log_scans(db: &tokio_postgres::Client) -> (i64, i64) {
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let row = db
        .query_one(
            "SELECT seq_scan, coalesce(idx_scan, 0) FROM pg_stat_user_tables \
             WHERE relname = 'changes'",
            &[],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

/// Dated writes of every kind, through both instances at once (neither waiting for the
/// other to follow, so that some changes reach a follower several versions at a time, and
/// some writes find their own instance's copy behind): every instance, and one started
/// afterwards that reads everything whole, ends with the same calendars.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dated_changes_reach_every_instance_as_a_whole_read_makes_them() {
    let Some(cluster) = cluster_for("dated_changes_reach_every_instance") else {
        return;
    };
    let url = cluster.database().await;
    let servers = instances(2, &url).await;
    let keys = [
        always(&servers[0], "desk").await,
        always(&servers[1], "room").await,
    ];
    let ids = ["desk", "room"];
    let mut booked: [Vec<String>; 2] = [Vec::new(), Vec::new()];
    // A fixed sequence from a small generator: the same writes at every run.
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let clients = [
        servers[0].client(Version::HTTP_11),
        servers[1].client(Version::HTTP_11),
    ];
    let day = |n: u64| (chrono::Utc::now().date_naive() + chrono::Days::new(3 + n)).to_string();
    for _ in 0..160 {
        let c = &clients[next(2) as usize];
        let which = next(2) as usize;
        let (id, key) = (ids[which], &keys[which]);
        let r = match next(7) {
            0..=2 => {
                let from = next(600) as i64;
                let r = book(c, id, key, &span(from, from + 1 + next(3) as i64), None).await;
                if r.status == StatusCode::CREATED {
                    booked[which].push(r.json()["id"].as_str().unwrap().to_owned());
                }
                r
            }
            3 if !booked[which].is_empty() => {
                let booking = booked[which].swap_remove(next(booked[which].len() as u64) as usize);
                c.authed(
                    Method::DELETE,
                    &format!("/calendars/{id}/bookings/{booking}"),
                    key,
                )
                .await
            }
            4 if !booked[which].is_empty() => {
                let booking = &booked[which][next(booked[which].len() as u64) as usize];
                let from = next(600) as i64;
                c.json(
                    Method::PATCH,
                    &format!("/calendars/{id}/bookings/{booking}"),
                    key,
                    &span(from, from + 1),
                )
                .await
            }
            5 => {
                let body = r#"{"updates":[{"from":"10:00","to":"11:00","status":"maybe"}]}"#;
                c.json(
                    Method::PUT,
                    &format!("/calendars/{id}/overrides/{}", day(next(8))),
                    key,
                    body,
                )
                .await
            }
            _ => {
                c.authed(
                    Method::DELETE,
                    &format!("/calendars/{id}/overrides/{}", day(next(8))),
                    key,
                )
                .await
            }
        };
        assert!(
            [200, 201, 204, 404, 409].contains(&r.status.as_u16()),
            "{}: {}",
            r.status,
            r.text()
        );
    }
    let mut all = servers;
    all.extend(instances(1, &url).await);
    for id in ids {
        let version = all[0].store.get(id).unwrap().version();
        eventually("every instance at the last version", || async {
            all.iter()
                .all(|s| s.store.get(id).is_some_and(|c| c.version() == version))
        })
        .await;
        let whole = all[2].store.get(id).unwrap();
        assert!(
            whole.dated().booking_count() > 10,
            "{id}: too few bookings to tell"
        );
        for (n, server) in all.iter().enumerate().take(2) {
            let shown = server.store.get(id).unwrap();
            assert_eq!(shown.state(), whole.state(), "{id} on instance {n}");
            assert!(
                shown.dated() == whole.dated(),
                "{id} on instance {n}: other dated data than a whole read gives"
            );
        }
        let key = &keys[ids.iter().position(|i| *i == id).unwrap()];
        let read = |s: &crate::support::TestServer| {
            let path = format!("/calendars/{id}/bookings?from={}&to={}", day(0), day(40));
            let c = s.client(Version::HTTP_11);
            async move { c.authed(Method::GET, &path, key).await }
        };
        let whole = read(&all[2]).await;
        assert_eq!(whole.status, StatusCode::OK, "{}", whole.text());
        for server in &all[..2] {
            let shown = read(server).await;
            assert_eq!(shown.text(), whole.text());
            assert_eq!(shown.header("etag"), whole.header("etag"));
        }
    }
}

/// A follower applies a booking another instance made from the booking's row and the
/// calendar's, not from every row of the calendar: 40 bookings, each followed on its own,
/// read a few index entries each (a whole read of the calendar at each would read 820).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_follower_reads_the_rows_a_dated_change_names() {
    let Some(cluster) = cluster_for("a_follower_reads_the_rows_a_dated_change_names") else {
        return;
    };
    let (servers, key, db) = two_and_a_desk(cluster).await;
    let before = super::near::bookings_read(&db).await;
    // Five days apart: a booking's own reads find none of the others.
    followed_one_at_a_time(&servers, &key, 120).await;
    let read = super::near::bookings_read(&db).await - before;
    assert!(
        read <= 300,
        "40 bookings followed read {read} index entries of bookings"
    );
    assert_eq!(
        servers[1]
            .store
            .get("desk")
            .unwrap()
            .dated()
            .booking_count(),
        40
    );
}
