//! Group booking types and group bookings on a database, through
//! `availability_postgres::Database` directly: types set, removed and kept when the members
//! are replaced, shown by every instance; a meeting made on every member or on none (a
//! refusal by one member leaves nothing); racers through two instances for overlapping
//! meetings of two groups that share a member give one whole winner; a round robin through
//! two instances takes the fairest member. Moves, cancellations and the copies to and from a
//! store file are in `moves`.

use availability_core::dated::{Claim, GroupRef};
use availability_core::slots::{BookingType, Mode, Rule};
use availability_core::store::group_book::{self, GroupBooking, GroupRequest};
use availability_core::store::{Authority, Expected, Group, GroupType};
use availability_postgres::Database;

use super::eventually;
use super::types::{book, now_s, open, open_until};
use crate::support::postgres::{cluster_for, Cluster};

mod moves;

/// The members of `team`, each in a zone of its own.
const MEMBERS: [(&str, &str); 3] = [
    ("ana", "Europe/Paris"),
    ("ben", "America/New_York"),
    ("kai", "Asia/Kathmandu"),
];

const BY: Authority = Authority::Unchecked;

/// Thirty minutes, then a quarter of an hour kept free, on the half hours of UTC.
fn sync() -> GroupType {
    let mut rules = BookingType::new(30);
    rules.buffer_after = 15;
    GroupType {
        rules,
        zone: String::from("UTC"),
    }
}

fn ids(members: &[&str]) -> Vec<String> {
    members.iter().map(|m| String::from(*m)).collect()
}

/// [`MEMBERS`] made through `db`, each available all day in its zone.
async fn members(db: &Database) {
    for (id, zone) in MEMBERS {
        db.create(id, zone, Vec::new(), &BY).await.unwrap();
        db.commit(id, &Expected::default(), &open_until("24:00"))
            .await
            .unwrap();
    }
}

/// [`members`], and group `team` of them with type `sync`.
async fn team(db: &Database) {
    members(db).await;
    db.put_group("team", ids(&["ana", "ben", "kai"]), &BY)
        .await
        .unwrap();
    db.put_group_type("team", "sync", Some(sync()), &BY)
        .await
        .unwrap();
}

fn request(name: &'static str, start: i64, mode: Mode) -> GroupRequest<'static> {
    GroupRequest {
        name,
        start,
        mode,
        label: Some(String::from("Planning")),
        key_id: None,
        now: now_s(),
    }
}

/// Midnight UTC `days` days ahead.
fn midnight(days: i64) -> i64 {
    let now = now_s();
    now - now % 86_400 + days * 86_400
}

/// Group booking `id` of `group` as `db`'s mirror shows it.
fn found(db: &Database, group: &str, id: u64) -> Option<GroupBooking> {
    let store = db.store();
    let group = store.group(group)?;
    group_book::find(&group, &store.group_members(&group), id)
}

fn names(group: &Group) -> Vec<&str> {
    group.booking_types().map(|(name, _)| name).collect()
}

/// A group type's row: name, duration, buffer after, daily limit, label, zone.
type TypeRow = (String, i32, i32, Option<i32>, Option<String>, String);

/// The rows of parts of group bookings: calendar, booking id, start, type, group, group
/// booking.
type PartRow = (String, i64, i64, Option<String>, String, i64);

async fn part_rows(sql: &tokio_postgres::Client) -> Vec<PartRow> {
    let rows = sql
        .query(
            "SELECT calendar, id, extract(epoch from lower(span))::bigint, booking_type, \
             group_id, group_booking FROM bookings WHERE group_id IS NOT NULL \
             ORDER BY calendar, id",
            &[],
        )
        .await
        .unwrap();
    rows.iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)))
        .collect()
}

/// Every booking row (calendar, id, start) and every calendar's version.
async fn everything(sql: &tokio_postgres::Client) -> (Vec<(String, i64, i64)>, Vec<i64>) {
    let bookings = sql
        .query(
            "SELECT calendar, id, extract(epoch from lower(span))::bigint FROM bookings \
             ORDER BY calendar, id",
            &[],
        )
        .await
        .unwrap();
    let versions = sql
        .query("SELECT version FROM calendars ORDER BY id", &[])
        .await
        .unwrap();
    (
        bookings
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect(),
        versions.iter().map(|r| r.get(0)).collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn group_types_are_kept_with_the_group_and_every_instance_shows_them() {
    let Some(cluster) = cluster_for("group_types_are_kept_with_the_group") else {
        return;
    };
    let url = cluster.database().await;
    let a = open(&url).await.unwrap();
    let b = open(&url).await.unwrap();
    team(&a).await;
    let mut bad = sync();
    bad.zone = String::from("Mars/Olympus");
    let err = a
        .put_group_type("team", "x", Some(bad), &BY)
        .await
        .expect_err("zone");
    assert_eq!(err.field(), Some("timezone"), "{err}");
    let err = a
        .put_group_type("team", "gone", None, &BY)
        .await
        .expect_err("no such type");
    assert!(err.is_not_found(), "{err}");
    let err = a
        .put_group_type("nobody", "sync", Some(sync()), &BY)
        .await
        .expect_err("no such group");
    assert!(err.is_not_found(), "{err}");

    let mut stand_up = sync();
    stand_up.zone = String::from("Asia/Kathmandu");
    stand_up.rules.per_day = Some(2);
    stand_up.rules.label = Some(String::from("Stand-up"));
    let group = a
        .put_group_type("team", "a-call", Some(stand_up.clone()), &BY)
        .await
        .unwrap();
    assert_eq!(names(&group), ["a-call", "sync"]);
    // Replacing the members keeps the types, through either instance.
    let (group, new) = b
        .put_group("team", ids(&["ana", "ben"]), &BY)
        .await
        .unwrap();
    assert!(!new);
    assert_eq!(group.members(), ["ana", "ben"]);
    assert_eq!(names(&group), ["a-call", "sync"]);
    assert_eq!(group.booking_type("a-call"), Some(&stand_up));
    // A type replaced in place.
    let mut longer = sync();
    longer.rules = BookingType::new(45);
    let group = a
        .put_group_type("team", "sync", Some(longer.clone()), &BY)
        .await
        .unwrap();
    assert_eq!(group.booking_type("sync"), Some(&longer));

    let sql = Cluster::connect(&url).await;
    let rows = sql
        .query(
            "SELECT name, duration, buffer_after, per_day, label, zone FROM group_types \
             WHERE group_id = 'team' ORDER BY name",
            &[],
        )
        .await
        .unwrap();
    let rows: Vec<TypeRow> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)))
        .collect();
    assert_eq!(
        rows,
        [
            (
                "a-call".into(),
                30,
                15,
                Some(2),
                Some("Stand-up".into()),
                "Asia/Kathmandu".into()
            ),
            ("sync".into(), 45, 0, None, None, "UTC".into()),
        ]
    );
    // Each instance's mirror shows the group as the write answered it; one that starts now
    // loads it so.
    assert_eq!(a.store().group("team").as_deref(), Some(&*group));
    eventually("the types on B", || async {
        b.store().group("team").as_deref() == Some(&*group)
    })
    .await;
    let c = open(&url).await.unwrap();
    assert_eq!(c.store().group("team").as_deref(), Some(&*group));

    let group = b.put_group_type("team", "a-call", None, &BY).await.unwrap();
    assert_eq!(names(&group), ["sync"]);
    eventually("the removal on A", || async {
        a.store().group("team").as_deref() == Some(&*group)
    })
    .await;
    // Gone with the group: made again, it has none.
    a.delete_group("team", &BY).await.unwrap();
    let left: i64 = sql
        .query_one("SELECT count(*) FROM group_types", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
    let (again, new) = a.put_group("team", ids(&["kai"]), &BY).await.unwrap();
    assert!(new);
    assert_eq!(again.booking_types().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_meeting_is_made_on_every_member_or_on_none() {
    let Some(cluster) = cluster_for("a_meeting_is_made_on_every_member_or_on_none") else {
        return;
    };
    let url = cluster.database().await;
    let a = open(&url).await.unwrap();
    let b = open(&url).await.unwrap();
    team(&a).await;
    let nine = midnight(3) + 9 * 3600;
    let made = a
        .group_book("team", &request("sync", nine, Mode::All), &BY)
        .await
        .unwrap();
    assert_eq!((made.start, made.end), (nine, nine + 1800));
    let holders: Vec<&str> = made.parts.iter().map(|(m, _)| m.as_str()).collect();
    assert_eq!(holders, ["ana", "ben", "kai"]);
    let reference = GroupRef {
        group: String::from("team"),
        id: made.id,
    };
    for (member, part) in &made.parts {
        assert_eq!(part.group(), Some(&reference), "{member}");
        assert_eq!(part.booking_type(), Some("sync"), "{member}");
        assert_eq!(part.label(), Some("Planning"), "{member}");
    }
    let sql = Cluster::connect(&url).await;
    let id = made.id as i64;
    let row = |member: &str, booking: i64| -> PartRow {
        let (sync, team) = (Some(String::from("sync")), String::from("team"));
        (member.into(), booking, nine, sync, team, id)
    };
    let part_id = |i: usize| made.parts[i].1.id().0 as i64;
    assert_eq!(
        part_rows(&sql).await,
        [
            row("ana", part_id(0)),
            row("ben", part_id(1)),
            row("kai", part_id(2))
        ]
    );
    assert_eq!(found(&a, "team", made.id), Some(made.clone()));
    eventually("the meeting on B", || async {
        found(&b, "team", made.id) == Some(made.clone())
    })
    .await;

    // Ben is busy just after a meeting at ten would end, within its buffer: through the
    // other instance, refused for Ben alone, and nothing of it is kept on Ana or Kai.
    let ten = nine + 3600;
    let own = book(&b, "ben", &Claim::new(ten + 1800, ten + 3600))
        .await
        .unwrap();
    let before = everything(&sql).await;
    let err = a
        .group_book("team", &request("sync", ten, Mode::All), &BY)
        .await
        .expect_err("Ben's buffer");
    assert!(err.is_conflict(), "{err}");
    assert_eq!(err.rule(), Some(Rule::Buffer(own.id())), "{err}");
    assert!(err.to_string().contains("\"ben\""), "{err}");
    assert_eq!(
        everything(&sql).await,
        before,
        "nothing of a refused meeting"
    );
    let err = b
        .group_book("team", &request("sync", nine, Mode::All), &BY)
        .await
        .expect_err("taken");
    assert!(matches!(err.rule(), Some(Rule::Taken(_))), "{err}");
    let err = b
        .group_book("team", &request("nope", ten, Mode::All), &BY)
        .await
        .expect_err("no such type");
    assert!(err.is_not_found(), "{err}");
    let err = b
        .group_book("nobody", &request("sync", ten, Mode::All), &BY)
        .await
        .expect_err("no such group");
    assert!(err.is_not_found(), "{err}");
    // A member that names no calendar cannot take a meeting: nobody gets one.
    a.put_group("ghosts", ids(&["ana", "ghost"]), &BY)
        .await
        .unwrap();
    a.put_group_type("ghosts", "sync", Some(sync()), &BY)
        .await
        .unwrap();
    let err = a
        .group_book("ghosts", &request("sync", ten + 7200, Mode::All), &BY)
        .await
        .expect_err("a ghost");
    assert_eq!(err.rule(), Some(Rule::Unavailable), "{err}");
    assert_eq!(
        everything(&sql).await,
        before,
        "nothing of a refused meeting"
    );
    assert_eq!(
        a.store().get("ana").unwrap().dated().booking_count(),
        1,
        "Ana's mirror holds the first meeting only"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racers_for_overlapping_meetings_of_groups_sharing_a_member_give_one_whole_winner() {
    let Some(cluster) = cluster_for("racers_for_overlapping_meetings_of_groups") else {
        return;
    };
    let url = cluster.database().await;
    let a = open(&url).await.unwrap();
    let b = open(&url).await.unwrap();
    members(&a).await;
    // An hour long, a start every half hour: `front` at nine and `back` at half past both
    // claim Ben from half past nine to ten.
    let mut hour = BookingType::new(60);
    hour.interval = 30;
    let hour = GroupType {
        rules: hour,
        zone: String::from("UTC"),
    };
    for (group, members) in [("front", ["ana", "ben"]), ("back", ["ben", "kai"])] {
        a.put_group(group, ids(&members), &BY).await.unwrap();
        a.put_group_type(group, "hour", Some(hour.clone()), &BY)
            .await
            .unwrap();
    }
    let sql = Cluster::connect(&url).await;
    // Three rounds, three hours apart: each one a race of its own.
    for round in 0..3 {
        let nine = midnight(4) + (9 + 3 * round) * 3600;
        let (group, made) = race(&a, &b, nine).await;
        let rows = part_rows(&sql).await;
        let holders: Vec<(&str, i64, &str, i64)> = rows
            .iter()
            .filter(|r| (nine..nine + 3600).contains(&r.2))
            .map(|r| (r.0.as_str(), r.2, r.4.as_str(), r.5))
            .collect();
        let id = made.id as i64;
        let whole = match group {
            "front" => [("ana", nine, "front", id), ("ben", nine, "front", id)],
            _ => [
                ("ben", nine + 1800, "back", id),
                ("kai", nine + 1800, "back", id),
            ],
        };
        assert_eq!(holders, whole, "the winner's every part, and nothing else");
        let all: i64 = sql
            .query_one("SELECT count(*) FROM bookings", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(all, 2 * (round + 1));
        eventually("the winner on both instances", || async {
            found(&a, group, made.id).as_ref() == Some(&made)
                && found(&b, group, made.id).as_ref() == Some(&made)
        })
        .await;
    }
}

/// Racers through `a` and `b` at once for `front` at `nine` and `back` half an hour later;
/// the one winner.
async fn race(a: &Database, b: &Database, nine: i64) -> (&'static str, GroupBooking) {
    let answers = futures_util::future::join_all((0..24).map(|k| {
        let db = if k % 2 == 0 { a } else { b };
        let (group, start) = if k % 4 < 2 {
            ("front", nine)
        } else {
            ("back", nine + 1800)
        };
        async move {
            let made = db
                .group_book(group, &request("hour", start, Mode::All), &BY)
                .await;
            (group, made)
        }
    }))
    .await;
    let mut winners = Vec::new();
    for (group, answer) in answers {
        match answer {
            Ok(made) => winners.push((group, made)),
            // The member's own rule, decided from the rows read under the locks: never the
            // database's constraint, never a retry given up.
            Err(err) => assert!(err.is_conflict() && err.rule().is_some(), "{err}"),
        }
    }
    assert_eq!(winners.len(), 1, "one meeting wins");
    winners.remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_round_robin_through_two_instances_takes_the_fairest_member() {
    let Some(cluster) = cluster_for("a_round_robin_through_two_instances") else {
        return;
    };
    let url = cluster.database().await;
    let a = open(&url).await.unwrap();
    let b = open(&url).await.unwrap();
    team(&a).await;
    // 02:00 UTC on a Wednesday at least two days ahead: the starts below fall in one owner
    // week of each member.
    let mut day = midnight(2) / 86_400;
    while (day + 3).rem_euclid(7) != 2 {
        day += 1;
    }
    let t = day * 86_400 + 7_200;
    let mut chosen = Vec::new();
    for k in 0..6 {
        // Alternately through each instance: each decides from the rows, whatever its
        // mirror has heard.
        let db = if k % 2 == 0 { &a } else { &b };
        let made = db
            .group_book("team", &request("sync", t + k * 3600, Mode::Any), &BY)
            .await
            .unwrap();
        assert_eq!(made.parts.len(), 1);
        chosen.push(made.parts[0].0.clone());
    }
    // Ties go by id, and each takes its turn.
    assert_eq!(chosen, ["ana", "ben", "kai", "ana", "ben", "kai"]);
    // Ben's own bookings are not the group's: they do not count against his turn.
    book(&b, "ben", &Claim::new(t - 86_400, t - 84_600))
        .await
        .unwrap();
    let seventh = b
        .group_book("team", &request("sync", t + 6 * 3600, Mode::Any), &BY)
        .await
        .unwrap();
    assert_eq!(seventh.parts[0].0, "ana");
    // A daily limit set through one instance counts the group's bookings through the other.
    let mut limited = sync();
    limited.rules.per_day = Some(7);
    b.put_group_type("team", "sync", Some(limited), &BY)
        .await
        .unwrap();
    let err = a
        .group_book("team", &request("sync", t + 7 * 3600, Mode::Any), &BY)
        .await
        .expect_err("per_day");
    assert_eq!(err.rule(), Some(Rule::PerDay), "{err}");
    let next = a
        .group_book("team", &request("sync", t + 86_400, Mode::Any), &BY)
        .await
        .unwrap();
    assert_eq!(next.parts.len(), 1);
    let sql = Cluster::connect(&url).await;
    assert_eq!(part_rows(&sql).await.len(), 8);
}
