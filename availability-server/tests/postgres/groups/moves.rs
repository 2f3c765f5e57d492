//! A group booking moved and cancelled as one through either instance (a refused move leaves
//! every part where it was, a part does not move alone), and group types and group bookings
//! copied from a store file to a database and back, with ids that are never given twice; and
//! group writes refused as unavailable while the database is away.

use availability_core::dated::Claim;
use availability_core::slots::{Mode, Rule};
use availability_core::store::decide::DatedWrite;
use availability_core::store::{Expected, Store};
use availability_postgres::Settings;

use super::{
    book, cluster_for, eventually, found, ids, midnight, now_s, open, open_until, part_rows,
    request, sync, team, Cluster, BY, MEMBERS,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_group_booking_moves_and_is_cancelled_as_one_and_every_instance_follows() {
    let Some(cluster) = cluster_for("a_group_booking_moves_and_is_cancelled_as_one") else {
        return;
    };
    let url = cluster.database().await;
    let a = open(&url).await.unwrap();
    let b = open(&url).await.unwrap();
    team(&a).await;
    let t = midnight(3) + 9 * 3600;
    let made = a
        .group_book("team", &request("sync", t, Mode::All), &BY)
        .await
        .unwrap();
    // Ben is busy from half past ten.
    let own = book(&a, "ben", &Claim::new(t + 5400, t + 7200))
        .await
        .unwrap();
    let sql = Cluster::connect(&url).await;
    let before = part_rows(&sql).await;
    assert_eq!(before.len(), 3);

    // A part does not move alone: its row names its group booking.
    let (_, part) = &made.parts[0];
    let alone = DatedWrite::Move {
        booking: part.id(),
        start: t + 7200,
        end: None,
        now: now_s(),
    };
    let err = b
        .dated("ana", &Expected::default(), &alone, None)
        .await
        .expect_err("a part moves with its group");
    assert!(err.is_invalid_span(), "{err}");
    // Into Ben's buffer: refused for Ben, and no part moves.
    let err = b
        .group_reschedule("team", made.id, t + 3600, &BY)
        .await
        .expect_err("Ben's buffer");
    assert_eq!(err.rule(), Some(Rule::Buffer(own.id())), "{err}");
    assert_eq!(part_rows(&sql).await, before);
    assert_eq!(found(&a, "team", made.id), Some(made.clone()));

    // Through the other instance: every part, each keeping its id, its row moved.
    let three = t + 3 * 3600;
    let moved = b
        .group_reschedule("team", made.id, three, &BY)
        .await
        .unwrap();
    assert_eq!(
        (moved.id, moved.start, moved.end),
        (made.id, three, three + 1800)
    );
    let kept: Vec<_> = made.parts.iter().map(|(m, p)| (m, p.id())).collect();
    let now: Vec<_> = moved.parts.iter().map(|(m, p)| (m, p.id())).collect();
    assert_eq!(now, kept);
    let rows = part_rows(&sql).await;
    let expected: Vec<_> = before
        .iter()
        .map(|r| (r.0.clone(), r.1, three, r.3.clone(), r.4.clone(), r.5))
        .collect();
    assert_eq!(rows, expected);
    assert_eq!(found(&b, "team", made.id), Some(moved.clone()));
    eventually("the move on A", || async {
        found(&a, "team", made.id) == Some(moved.clone())
    })
    .await;
    let c = open(&url).await.unwrap();
    assert_eq!(found(&c, "team", made.id), Some(moved.clone()));

    // Cancelled through the first: every part goes, Ben's own booking stays.
    let cancelled = a.group_cancel("team", made.id, &BY).await.unwrap();
    assert_eq!(
        cancelled, moved,
        "a cancellation answers the booking as it was"
    );
    assert_eq!(part_rows(&sql).await, []);
    let left: Vec<(String, i64)> = sql
        .query("SELECT calendar, id FROM bookings", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(left, [(String::from("ben"), own.id().0 as i64)]);
    assert_eq!(found(&a, "team", made.id), None);
    eventually("the cancellation on B and C", || async {
        found(&b, "team", made.id).is_none() && found(&c, "team", made.id).is_none()
    })
    .await;
    let err = b
        .group_cancel("team", made.id, &BY)
        .await
        .expect_err("cancelled");
    assert!(err.is_not_found(), "{err}");
    let err = b
        .group_reschedule("nobody", made.id, t, &BY)
        .await
        .expect_err("no such group");
    assert!(err.is_not_found(), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn group_types_and_group_bookings_go_to_a_database_and_back() {
    let Some(cluster) = cluster_for("group_types_and_group_bookings_go_to_a_database") else {
        return;
    };
    let url = cluster.database().await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("up.store")).unwrap();
    for (id, zone) in MEMBERS {
        store.create(id, zone, Vec::new(), &BY).unwrap();
        store.commit(id, None, &open_until("24:00")).unwrap();
    }
    store
        .put_group("team", ids(&["ana", "ben", "kai"]), &BY)
        .unwrap();
    store
        .put_group_type("team", "sync", Some(sync()), &BY)
        .unwrap();
    let mut stand_up = sync();
    stand_up.zone = String::from("Asia/Kathmandu");
    stand_up.rules.label = Some(String::from("Stand-up"));
    store
        .put_group_type("team", "a-call", Some(stand_up), &BY)
        .unwrap();
    let t = midnight(3) + 9 * 3600;
    let meeting = store
        .group_book("team", &request("sync", t, Mode::All), &BY)
        .unwrap();
    let robin = store
        .group_book("team", &request("sync", t + 3600, Mode::Any), &BY)
        .unwrap();
    let gone = store
        .group_book("team", &request("sync", t + 7200, Mode::All), &BY)
        .unwrap();
    store.group_cancel("team", gone.id, &BY).unwrap();

    let settings = Settings::new(url.clone());
    availability_postgres::import(&settings, &store)
        .await
        .unwrap();
    let sql = Cluster::connect(&url).await;
    let counts: (i64, i64) = {
        let row = sql
            .query_one(
                "SELECT (SELECT count(*) FROM group_types), \
                 (SELECT count(*) FROM bookings WHERE group_id = 'team')",
                &[],
            )
            .await
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!(counts, (2, 4));

    // A server on the database shows the group and its bookings as the store did.
    let db = open(&url).await.unwrap();
    assert_eq!(db.store().group("team"), store.group("team"));
    for booking in [&meeting, &robin] {
        assert_eq!(found(&db, "team", booking.id).as_ref(), Some(booking));
    }
    assert_eq!(found(&db, "team", gone.id), None);
    // It books on top of them, with an id the store never gave.
    let err = db
        .group_book("team", &request("sync", t, Mode::All), &BY)
        .await
        .expect_err("the copied meeting holds the start");
    assert!(matches!(err.rule(), Some(Rule::Taken(_))), "{err}");
    let fresh = db
        .group_book("team", &request("sync", t + 4 * 3600, Mode::All), &BY)
        .await
        .unwrap();
    assert!(fresh.id > gone.id, "{} after {}", fresh.id, gone.id);
    assert!(fresh.id >= store.next_incarnation(), "{}", fresh.id);
    let dropped = db
        .group_book("team", &request("sync", t + 6 * 3600, Mode::Any), &BY)
        .await
        .unwrap();
    db.group_cancel("team", dropped.id, &BY).await.unwrap();

    // Back to a new store file, which holds all of it and gives ids past the database's.
    let exported = availability_postgres::export(&settings).await.unwrap();
    // The copy numbers from past every id the database gave, the cancelled one's too.
    assert!(
        exported.next_incarnation > dropped.id,
        "{} after {}",
        exported.next_incarnation,
        dropped.id
    );
    let back = dir.path().join("back.store");
    exported
        .store
        .write_copy(&back, exported.next_incarnation)
        .unwrap();
    let copy = Store::open(&back).unwrap();
    assert_eq!(copy.group("team"), store.group("team"));
    for booking in [&meeting, &robin, &fresh] {
        assert_eq!(
            copy.group_booking("team", booking.id).as_ref(),
            Some(booking)
        );
    }
    let last = copy
        .group_book("team", &request("sync", t + 5 * 3600, Mode::All), &BY)
        .unwrap();
    assert!(last.id > dropped.id, "{} after {}", last.id, dropped.id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn group_writes_are_unavailable_while_the_database_is_away_and_resume() {
    const TEST: &str = "group_writes_are_unavailable_while_the_database_is_away";
    if cluster_for(TEST).is_none() {
        return;
    }
    let cluster = Cluster::private().unwrap();
    let url = cluster.database().await;
    let a = open(&url).await.unwrap();
    team(&a).await;
    let t = midnight(3) + 9 * 3600;
    let made = a
        .group_book("team", &request("sync", t, Mode::All), &BY)
        .await
        .unwrap();

    cluster.stop_immediate();
    let answers = [
        a.put_group_type("team", "sync", None, &BY).await.map(drop),
        a.group_book("team", &request("sync", t + 3600, Mode::Any), &BY)
            .await
            .map(drop),
        a.group_reschedule("team", made.id, t + 7200, &BY)
            .await
            .map(drop),
        a.group_cancel("team", made.id, &BY).await.map(drop),
    ];
    for answer in answers {
        let err = answer.expect_err("the database is away");
        assert!(err.is_unavailable(), "{err}");
    }
    // Reads go on from the mirror, which shows the booking as it was.
    assert_eq!(found(&a, "team", made.id), Some(made.clone()));

    cluster.restart();
    eventually("group writes resuming", || async {
        a.group_cancel("team", made.id, &BY).await.is_ok()
    })
    .await;
    assert_eq!(found(&a, "team", made.id), None);
    let sql = Cluster::connect(&url).await;
    assert_eq!(part_rows(&sql).await, []);
}
