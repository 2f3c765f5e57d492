//! Moving up and back with the real binary: `migrate` copies a data directory's store into an
//! empty database, where a server then answers every read with the same body and `ETag`, and
//! the keys issued before the move (calendar, booking and admin keys) and an idempotent
//! retry work as they did; the way back gives a new store file that answers the same again.
//! Booking types and the bookings made by them (with a remembered answer), and a group's type
//! with a meeting booked by it, go up and come back as they were. A store in use, a database that is not empty and a store file that
//! exists are refused.
//! And `admin-keys` manages the admin keys of a database beside its running servers.

use std::path::Path;

use http::{Method, StatusCode, Version};

use crate::support::postgres::{cluster_for, Cluster};
use crate::support::{binary, Binary, Client, JSON};

mod types;

use self::types::{add_types, assert_types, GROUP_PARTS, TYPED_KEY};

const LOG: &str = "info";

/// `hours` after 00:00 UTC of the date `days` days ahead, as RFC 3339 in UTC. From the date's
/// midnight, not from now: a span an hour or two after now crosses into the next date in
/// Paris late in the UTC evening, where the override of `date_ahead(4)` would refuse it.
fn ahead(days: i64, hours: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let at = (now / 86_400 + days) * 86_400 + hours * 3600;
    chrono::DateTime::from_timestamp(at, 0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The date part of [`ahead`].
fn date_ahead(days: i64) -> String {
    ahead(days, 0)[..10].to_owned()
}

/// Runs the binary with `args` in `dir`; whether it succeeded, its output and its log.
fn run(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let out = binary()
        .args(["--bcrypt-cost", "4"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn migrate(dir: &Path, from: &str, to: &str) -> (bool, String, String) {
    run(dir, &["migrate", "--from", from, "--to", to])
}

/// A week available all day every day.
fn always() -> String {
    let days: Vec<String> = (0..7)
        .map(|d| format!(r#"{{"day":{d},"from":"00:00","to":"24:00","status":"available"}}"#))
        .collect();
    format!(r#"{{"updates":[{}]}}"#, days.join(","))
}

/// The keys a populated store was made with.
struct Keys {
    admin: String,
    room: String,
    desk: String,
}

/// A booking request made with an idempotency key, and its first answer.
struct Retry {
    body: String,
    status: StatusCode,
    etag: String,
    answer: String,
}

const RETRY_KEY: &str = "move-retry-1";

async fn book(c: &Client, key: &str, body: &str, idem: Option<&str>) -> crate::support::Resp {
    let mut headers = vec![JSON];
    headers.extend(idem.map(|idem| ("idempotency-key", idem)));
    c.call(
        Method::POST,
        "/calendars/room/bookings",
        Some(key),
        &headers,
        body.to_owned(),
    )
    .await
}

/// Calendars in three zones (one deleted and made again), a pattern, overrides, bookings
/// (one cancelled, one made with an idempotency key), a booking key, a group and a second
/// admin key, made through `server`.
async fn populate(c: &Client, admin: &str) -> (Keys, Retry) {
    let room = c.create_calendar(admin, "room", "Europe/Paris").await;
    c.create_calendar(admin, "ana", "America/New_York").await;
    c.create_calendar(admin, "temp", "UTC").await;
    let r = c.authed(Method::DELETE, "/calendars/temp", admin).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    c.create_calendar(admin, "temp", "Asia/Kathmandu").await;
    for id in ["room", "ana"] {
        let r = c
            .json(
                Method::PUT,
                &format!("/calendars/{id}/availability"),
                admin,
                &always(),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    }
    let r = c
        .json(
            Method::PUT,
            &format!("/calendars/room/overrides/{}", date_ahead(4)),
            &room,
            r#"{"updates":[{"from":"09:00","to":"12:00","status":"maybe"}]}"#,
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text());
    let r = c
        .json(
            Method::POST,
            "/calendars/room/keys",
            &room,
            r#"{"scope":"book","label":"front desk"}"#,
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text());
    let desk = r.json()["key"].as_str().unwrap().to_owned();
    let body = format!(
        r#"{{"start":"{}","end":"{}","label":"Team sync"}}"#,
        ahead(3, 0),
        ahead(3, 1)
    );
    let first = book(c, &room, &body, Some(RETRY_KEY)).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text());
    let retry = Retry {
        body,
        status: first.status,
        etag: first.header("etag").unwrap().to_owned(),
        answer: first.text(),
    };
    let other = format!(r#"{{"start":"{}","end":"{}"}}"#, ahead(3, 2), ahead(3, 3));
    let r = book(c, &desk, &other, None).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let cancelled = r.json()["id"].as_str().unwrap().to_owned();
    let r = c
        .authed(
            Method::DELETE,
            &format!("/calendars/room/bookings/{cancelled}"),
            &room,
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text());
    let later = format!(r#"{{"start":"{}","end":"{}"}}"#, ahead(5, 0), ahead(5, 2));
    let r = book(c, &desk, &later, None).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let r = c
        .json(
            Method::PUT,
            "/groups/team",
            admin,
            r#"{"members":["room","ana"]}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let r = c
        .json(Method::POST, "/admin/keys", admin, r#"{"label":"second"}"#)
        .await;
    assert!(r.status.is_success(), "{}", r.text());
    let keys = Keys {
        admin: admin.to_owned(),
        room,
        desk,
    };
    (keys, retry)
}

/// What a server answers to the reads a move must keep: status, `ETag` and body of each.
async fn reads(c: &Client, keys: &Keys) -> Vec<(String, StatusCode, Option<String>, String)> {
    let week = date_ahead(3);
    let public = [
        "/calendars/room".to_owned(),
        "/calendars/ana".to_owned(),
        "/calendars/temp".to_owned(),
        "/calendars/default".to_owned(),
        format!("/calendars/room/availability?tz=UTC&week={week}"),
        format!("/calendars/room/availability?tz=Asia/Tokyo&week={week}&format=intervals"),
        format!(
            "/calendars/room/availability?tz=Europe/Paris&week={}",
            date_ahead(5)
        ),
        format!(
            "/calendars/room/overrides?from={}&to={}",
            date_ahead(0),
            date_ahead(30)
        ),
        format!("/groups/team/availability?tz=UTC&week={week}"),
        "/calendars/room/availability.ics".to_owned(),
    ];
    let private = [
        (
            format!(
                "/calendars/room/bookings?from={}&to={}",
                date_ahead(0),
                date_ahead(30)
            ),
            &keys.room,
        ),
        ("/calendars/room/keys".to_owned(), &keys.room),
        ("/calendars".to_owned(), &keys.admin),
        ("/groups".to_owned(), &keys.admin),
        ("/admin/keys".to_owned(), &keys.admin),
    ];
    let mut out = Vec::new();
    for path in public {
        let r = c.get(&path).await;
        out.push((
            path,
            r.status,
            r.header("etag").map(str::to_owned),
            r.text(),
        ));
    }
    for (path, key) in private {
        let r = c.authed(Method::GET, &path, key).await;
        out.push((
            path,
            r.status,
            r.header("etag").map(str::to_owned),
            r.text(),
        ));
    }
    for (path, status, _, body) in &out {
        assert_eq!(*status, StatusCode::OK, "{path}: {body}");
    }
    out
}

/// `after` answers every read as `before` did.
fn assert_same_reads(
    before: &[(String, StatusCode, Option<String>, String)],
    after: &[(String, StatusCode, Option<String>, String)],
    moved: &str,
) {
    assert_eq!(before.len(), after.len());
    for (b, a) in before.iter().zip(after) {
        assert_eq!(b, a, "{} answers otherwise after {moved}", b.0);
    }
}

/// The keys issued before a move write after it, and a retry gets the first answer.
async fn keys_still_work(c: &Client, keys: &Keys, retry: &Retry, hour: i64) {
    let again = book(c, &keys.room, &retry.body, Some(RETRY_KEY)).await;
    assert_eq!(again.status, retry.status, "{}", again.text());
    assert_eq!(again.header("etag"), Some(retry.etag.as_str()));
    assert_eq!(
        again.text(),
        retry.answer,
        "the retry's answer is the first one"
    );
    let body = format!(
        r#"{{"start":"{}","end":"{}"}}"#,
        ahead(6, hour),
        ahead(6, hour + 1)
    );
    let r = book(c, &keys.desk, &body, None).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let r = c
        .json(
            Method::PATCH,
            "/calendars/room/availability",
            &keys.room,
            &format!(
                r#"{{"updates":[{{"day":{},"from":"07:00","to":"08:00","status":"maybe"}}]}}"#,
                hour % 7
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = c.authed(Method::GET, "/admin/keys", &keys.admin).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}

async fn count(db: &tokio_postgres::Client, table: &str) -> i64 {
    db.query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .unwrap()
        .get(0)
}

// Multi-threaded: the test waits on child processes while the client's connection tasks run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_moves_to_a_database_and_back_answering_the_same() {
    let Some(cluster) = cluster_for("a_store_moves_to_a_database_and_back") else {
        return;
    };
    let url = cluster.database().await;
    let work = tempfile::tempdir().unwrap();
    let (up, on_db, back) = (
        work.path().join("up"),
        work.path().join("on-db"),
        work.path().join("back"),
    );
    for dir in [&up, &on_db] {
        std::fs::create_dir(dir).unwrap();
    }
    let up_dir = up.to_str().unwrap();
    let back_dir = back.to_str().unwrap();

    // The embedded server, populated, its reads kept.
    let mut file = Binary::start(&up, LOG, [""; 0]);
    let c = Client::new(file.addr, file.root(), Version::HTTP_2);
    let admin = file.printed_key().expect("the first start prints a key");
    let (keys, retry) = populate(&c, &admin).await;
    // Types are set on the store itself (no route sets them here), the server stopped.
    assert_eq!(file.terminate(), 0);
    add_types(&up);
    let mut file = Binary::start(&up, LOG, [""; 0]);
    let c = Client::new(file.addr, file.root(), Version::HTTP_2);
    let before = reads(&c, &keys).await;

    // Not while the server holds the store: nothing reaches the database.
    let (ok, _, err) = migrate(work.path(), up_dir, &url);
    assert!(!ok && err.contains("in use"), "{err}");
    let db = Cluster::connect(&url).await;
    let made: Option<String> = db
        .query_one("SELECT to_regclass('calendars')::text", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(made, None, "a refused migration made nothing");
    assert_eq!(file.terminate(), 0);

    let (ok, out, err) = migrate(work.path(), up_dir, &url);
    assert!(ok, "{err}");
    assert!(
        out.contains("4 calendars") && out.contains("checked"),
        "{out}"
    );
    // What is not carried is said, not left to be found missing.
    assert!(
        out.contains("not copied: the pattern histories") && out.contains("webhook endpoints"),
        "{out}"
    );
    assert_eq!(count(&db, "calendars").await, 4);
    assert_eq!(count(&db, "bookings").await, 3 + GROUP_PARTS);
    assert_eq!(count(&db, "group_types").await, 1);
    assert_eq!(count(&db, "admin_keys").await, 2);
    assert_eq!(count(&db, "booking_types").await, 3);
    let typed: (Option<String>, Option<String>) = {
        let row = db
            .query_one(
                "SELECT (SELECT booking_type FROM bookings WHERE booking_type IS NOT NULL \
                 AND group_id IS NULL), \
                 (SELECT booking_type FROM remembered WHERE key = $1)",
                &[&TYPED_KEY],
            )
            .await
            .unwrap();
        (row.get(0), row.get(1))
    };
    let call = Some(String::from("call"));
    assert_eq!(typed, (call.clone(), call));
    // A second copy into the same database is refused, naming what is there.
    let (ok, _, err) = migrate(work.path(), up_dir, &url);
    assert!(
        !ok && err.contains("not empty") && err.contains("4 calendars"),
        "{err}"
    );

    // A server on the database: no first start (no new key, no new calendar), same answers.
    let mut pg = Binary::start(&on_db, LOG, ["--database-url", url.as_str()]);
    let c = Client::new(pg.addr, pg.root(), Version::HTTP_2);
    assert_same_reads(&before, &reads(&c, &keys).await, "the move up");
    keys_still_work(&c, &keys, &retry, 1).await;
    assert_eq!(count(&db, "calendars").await, 4);
    // A calendar made now gets an incarnation past every copied one.
    c.create_calendar(&keys.admin, "fresh", "UTC").await;
    let newest: bool = db
        .query_one(
            "SELECT (SELECT incarnation FROM calendars WHERE id = 'fresh') > \
             (SELECT max(incarnation) FROM calendars WHERE id <> 'fresh')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(newest);
    let moved = reads(&c, &keys).await;
    assert_eq!(pg.terminate(), 0);
    // As if a hundred calendars had been made and deleted since: the sequence runs ahead.
    db.batch_execute("SELECT nextval('availability_incarnations') FROM generate_series(1, 100)")
        .await
        .unwrap();
    assert_eq!(
        pg.printed_key(),
        None,
        "the database had admin keys: none made"
    );

    // Back to a new store file, answering as the database did.
    let (ok, out, err) = migrate(work.path(), &url, back_dir);
    assert!(ok, "{err}");
    assert!(
        out.contains("5 calendars") && out.contains("checked") && out.contains("not copied"),
        "{out}"
    );
    let (ok, _, err) = migrate(work.path(), &url, back_dir);
    assert!(!ok && err.contains("exists"), "{err}");
    let mut file = Binary::start(&back, LOG, [""; 0]);
    let c = Client::new(file.addr, file.root(), Version::HTTP_2);
    assert_same_reads(&moved, &reads(&c, &keys).await, "the move back");
    keys_still_work(&c, &keys, &retry, 2).await;
    // A calendar made now gets an incarnation the database never gave.
    c.create_calendar(&keys.admin, "later", "UTC").await;
    let tag = c
        .get("/calendars/later")
        .await
        .header("etag")
        .unwrap()
        .to_owned();
    let incarnation = tag.trim_matches('"').split(['.', '-']).nth(1).unwrap();
    let incarnation = i64::from_str_radix(incarnation, 16).unwrap();
    let given: i64 = db
        .query_one("SELECT last_value FROM availability_incarnations", &[])
        .await
        .unwrap()
        .get(0);
    assert!(incarnation > given, "{incarnation} <= {given}");
    assert_eq!(file.terminate(), 0);
    assert_eq!(
        file.printed_key(),
        None,
        "the store had admin keys: none made"
    );
    assert_types(&back);
}

/// `admin-keys` with a database: refused before any server made the schema (and makes
/// nothing), then lists, creates and revokes beside a running server, which takes the new key
/// and refuses the revoked one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_keys_are_managed_in_the_database_beside_running_servers() {
    let Some(cluster) = cluster_for("admin_keys_are_managed_in_the_database") else {
        return;
    };
    let url = cluster.database().await;
    let work = tempfile::tempdir().unwrap();
    let keys = |args: &[&str]| {
        let mut all = vec!["--database-url", url.as_str(), "admin-keys"];
        all.extend_from_slice(args);
        run(work.path(), &all)
    };
    let (ok, _, err) = keys(&["list"]);
    assert!(!ok && err.contains("no availability schema"), "{err}");
    let db = Cluster::connect(&url).await;
    let made: Option<String> = db
        .query_one("SELECT to_regclass('calendars')::text", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(made, None, "a listing made nothing");

    let mut server = Binary::start(work.path(), LOG, ["--database-url", url.as_str()]);
    let first = server.printed_key().expect("the first start prints a key");
    let first_id = availability_server::auth::key_id(&first)
        .unwrap()
        .to_owned();
    let c = Client::new(server.addr, server.root(), Version::HTTP_11);

    let (ok, out, err) = keys(&["list"]);
    assert!(ok, "{err}");
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(
        out.starts_with(&format!("{first_id}\t")) && out.contains("\tdatabase\t"),
        "{out}"
    );

    // The variable names the database as the flag does.
    let (ok, out, err) = run(
        work.path(),
        &["admin-keys", "create", "--label", "ops on call"],
    );
    assert!(!ok, "without a database it looks for a store: {out}");
    assert!(err.contains("no store"), "{err}");
    let out = binary()
        .args([
            "--bcrypt-cost",
            "4",
            "admin-keys",
            "create",
            "--label",
            "ops on call",
        ])
        .env("AVAILABILITY_DATABASE_URL", &url)
        .current_dir(work.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = String::from_utf8_lossy(&out.stdout).into_owned();
    let second = out
        .split_whitespace()
        .find(|w| w.starts_with("avk_"))
        .expect("the new key is printed")
        .to_owned();
    let second_id = availability_server::auth::key_id(&second)
        .unwrap()
        .to_owned();
    let (_, out, _) = keys(&["list"]);
    assert!(
        out.contains(&second_id) && out.contains("ops on call"),
        "{out}"
    );
    assert!(
        !out.contains(&second) && !out.contains("$2"),
        "no secret, no hash: {out}"
    );
    assert_eq!(count(&db, "admin_keys").await, 2);

    // The running server takes the new key once the change reaches it.
    crate::postgres::eventually("the new key reaching the server", || async {
        c.authed(Method::GET, "/admin/keys", &second).await.status == StatusCode::OK
    })
    .await;

    let (ok, out, err) = keys(&["revoke", &first_id]);
    assert!(ok, "{err}");
    assert!(out.contains(&first_id), "{out}");
    crate::postgres::eventually("the revocation reaching the server", || async {
        c.authed(Method::GET, "/calendars", &first).await.status == StatusCode::UNAUTHORIZED
    })
    .await;
    let (ok, _, err) = keys(&["revoke", &second_id]);
    assert!(!ok && err.contains("last admin key"), "{err}");
    let (ok, _, err) = keys(&["revoke", "000000000000"]);
    assert!(!ok && err.contains("no key"), "{err}");
    assert_eq!(count(&db, "admin_keys").await, 1);
    let r = c.authed(Method::GET, "/admin/keys", &second).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["keys"][0]["label"], "ops on call");
    assert_eq!(server.terminate(), 0);
}
