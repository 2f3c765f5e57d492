//! `/overlap`: when is everyone free, checked against the members' own views.

use http::{Method, StatusCode, Version};

use crate::support::{Client, TestServer, VERSIONS};

/// Zones with quarter hours, half-hour changes, DST in both hemispheres and the 2026 changes.
const ZONES: [&str; 10] = [
    "UTC",
    "America/New_York",
    "America/Vancouver",
    "Europe/Berlin",
    "Asia/Kathmandu",
    "Australia/Eucla",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Africa/Casablanca",
    "America/Sao_Paulo",
];

/// Weeks with DST changes in several of the zones, and ordinary ones.
const WEEKS: [&str; 6] = [
    "2026-W13", "2026-W14", "2026-W40", "2026-W44", "2026-W45", "2026-W48",
];

/// A small deterministic generator (xorshift), so every run checks the same cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A random batch that replaces a week: a dozen ranges of random statuses.
fn random_week(rng: &mut Rng) -> String {
    let statuses = ["available", "maybe", "unavailable"];
    let updates: Vec<String> = (0..12)
        .map(|_| {
            let day = rng.below(7);
            let from = rng.below(47);
            let to = from + 1 + rng.below(48 - from);
            let time = |h: usize| format!("{:02}:{:02}", h / 2, h % 2 * 30);
            format!(
                r#"{{"day":{day},"from":"{}","to":"{}","status":"{}"}}"#,
                time(from),
                time(to),
                statuses[rng.below(3)]
            )
        })
        .collect();
    format!(r#"{{"updates":[{}]}}"#, updates.join(","))
}

/// Creates `n` calendars in random zones with random weeks; returns their ids.
async fn members(server: &TestServer, rng: &mut Rng, prefix: &str, n: usize) -> Vec<String> {
    let c = server.client(Version::HTTP_2);
    let mut ids = Vec::new();
    for i in 0..n {
        let id = format!("{prefix}-{i}");
        let zone = ZONES[rng.below(ZONES.len())];
        let key = server.create_calendar(&id, zone).await;
        let path = format!("/calendars/{id}/availability");
        let w = c.json(Method::PUT, &path, &key, &random_week(rng)).await;
        assert_eq!(w.status, StatusCode::OK, "{}", w.text());
        ids.push(id);
    }
    ids
}

fn rank(status: &str) -> u8 {
    match status {
        "available" => 2,
        "maybe" => 1,
        _ => 0,
    }
}

/// For random groups in random viewer zones and weeks (DST weeks and quarter-hour zones
/// included), every slot of the overlap is the sum of the members' own views of that slot,
/// and its status their minimum.
#[tokio::test]
async fn the_overlap_is_the_sum_of_the_members_views() {
    let server = TestServer::start().await;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let ids = members(&server, &mut rng, "m", 12).await;
    for (case, version) in (0..12).zip(VERSIONS.iter().cycle()) {
        let c = server.client(*version);
        let size = 1 + rng.below(6);
        let mut group: Vec<&str> = Vec::new();
        while group.len() < size {
            let id = ids[rng.below(ids.len())].as_str();
            if !group.contains(&id) {
                group.push(id);
            }
        }
        let tz = ZONES[rng.below(ZONES.len())];
        let week = WEEKS[rng.below(WEEKS.len())];
        let query = format!("tz={tz}&week={week}");
        let r = c
            .get(&format!("/overlap?calendars={}&{query}", group.join(",")))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let overlap = r.json();
        assert_eq!(overlap["timezone"], tz);
        assert_eq!(overlap["week"], week);
        assert_eq!(overlap["calendars"], serde_json::json!(group));
        let mut views = Vec::new();
        for id in &group {
            let v = c
                .get(&format!("/calendars/{id}/availability?{query}"))
                .await
                .json();
            views.push(v["slots"].as_array().unwrap().clone());
        }
        let slots = overlap["slots"].as_array().unwrap();
        assert_eq!(slots.len(), 336);
        for (i, slot) in slots.iter().enumerate() {
            let statuses: Vec<&str> = views
                .iter()
                .map(|v| v[i]["status"].as_str().unwrap())
                .collect();
            let count = |s: &str| statuses.iter().filter(|x| **x == s).count();
            let lowest = statuses.iter().copied().min_by_key(|s| rank(s)).unwrap();
            let context = format!("case {case}: {group:?} from {tz} in {week}, slot {i}");
            assert_eq!(slot["available"], count("available"), "{context}");
            assert_eq!(slot["maybe"], count("maybe"), "{context}");
            assert_eq!(slot["status"], lowest, "{context}");
            assert_eq!(slot["date"], views[0][i]["date"], "{context}");
            assert_eq!(slot["time"], views[0][i]["time"], "{context}");
        }
        // The same question as a body, and as CSV and the compact view.
        let body = serde_json::json!({ "calendars": group, "tz": tz, "week": week });
        let posted = c
            .json(Method::POST, "/overlap", "", &body.to_string())
            .await;
        assert_eq!(posted.status, StatusCode::OK, "{}", posted.text());
        assert_eq!(posted.json(), overlap);
        let csv = c
            .get(&format!(
                "/overlap?calendars={}&{query}&format=csv",
                group.join(",")
            ))
            .await
            .text();
        let row_nine = csv.lines().nth(19).unwrap();
        let monday_nine = &slots[18]["available"];
        assert_eq!(
            row_nine.split(',').nth(1).unwrap(),
            format!("{monday_nine}/{}", group.len())
        );
    }
}

/// Spans where at least `min` are available, with who (for small groups), in real instants.
#[tokio::test]
async fn intervals_name_who_is_free_and_honour_min() {
    let server = TestServer::start().await;
    let c = server.client(Version::HTTP_2);
    for (id, zone, hours) in [
        ("ana", "Europe/Berlin", ("09:00", "17:00")),
        ("bo", "America/New_York", ("09:00", "17:00")),
        ("chen", "Asia/Kathmandu", ("18:00", "22:00")),
    ] {
        let key = server.create_calendar(id, zone).await;
        let body = format!(
            r#"{{"updates":[{{"day":"monday","from":"{}","to":"{}","status":"available"}}]}}"#,
            hours.0, hours.1
        );
        let path = format!("/calendars/{id}/availability");
        assert_eq!(
            c.json(Method::PUT, &path, &key, &body).await.status,
            StatusCode::OK
        );
    }
    let ask = "/overlap?calendars=ana,bo,chen&tz=UTC&week=2026-W48&format=intervals";
    let all = c.get(ask).await.json();
    // Berlin 09-17 is 08-16 UTC, New York 09-17 is 14-22 UTC, Kathmandu 18-22 is 12:15-16:15
    // UTC: all three from 14:00 to 16:00 (the grid drops Kathmandu's quarter hours).
    assert_eq!(all["min"], 3);
    let spans = all["intervals"].as_array().unwrap();
    assert_eq!(spans.len(), 1, "{all}");
    assert_eq!(spans[0]["start"], "2026-11-23T14:00:00+00:00");
    assert_eq!(spans[0]["end"], "2026-11-23T16:00:00+00:00");
    assert_eq!(
        spans[0]["calendars"],
        serde_json::json!(["ana", "bo", "chen"])
    );
    let two = c.get(&format!("{ask}&min=2")).await.json();
    let spans = two["intervals"].as_array().unwrap();
    assert!(spans.iter().all(|s| s["available"].as_u64().unwrap() >= 2));
    // 12:30 (Kathmandu's first whole half hour) to 16:00, split where who changes.
    assert_eq!(spans.first().unwrap()["start"], "2026-11-23T12:30:00+00:00");
    assert_eq!(spans.last().unwrap()["end"], "2026-11-23T16:00:00+00:00");
    assert_eq!(spans.len(), 2, "{two}");
    assert_eq!(spans[0]["calendars"], serde_json::json!(["ana", "chen"]));
    // The compact view: everyone's status.
    let view = c
        .get("/overlap?calendars=ana,bo,chen&tz=UTC&week=2026-W48&format=view")
        .await
        .json();
    let monday = view["days"][0]["view"].as_str().unwrap();
    assert_eq!(monday.len(), 48);
    assert_eq!(&monday[27..33], "022220", "{monday}");
}

/// A group's answer has an ETag from every member's version: 304 while nothing changed,
/// a new tag after any member's write.
#[tokio::test]
async fn a_member_write_changes_the_tag() {
    let server = TestServer::start().await;
    let keys = [
        server.create_calendar("x", "UTC").await,
        server.create_calendar("y", "Asia/Tokyo").await,
    ];
    for version in VERSIONS {
        let c = server.client(version);
        let ask = "/overlap?calendars=x,y&tz=Europe/Paris&week=2026-W48";
        let first = c.get(ask).await;
        let tag = first.header("etag").unwrap().to_owned();
        assert!(tag.starts_with("\"g-"), "{tag}");
        let again = c.get_with(ask, &[("if-none-match", &tag)]).await;
        assert_eq!(again.status, StatusCode::NOT_MODIFIED);
        let w = c
            .json(
                Method::PATCH,
                "/calendars/y/availability",
                &keys[1],
                r#"{"updates":[{"day":"friday","time":"10:00","status":"maybe"}]}"#,
            )
            .await;
        assert_eq!(w.status, StatusCode::OK);
        let after = c.get_with(ask, &[("if-none-match", &tag)]).await;
        assert_eq!(after.status, StatusCode::OK);
        assert_ne!(after.header("etag").unwrap(), tag);
        // The order of the members is part of the answer, and so of its tag.
        let swapped = c
            .get("/overlap?calendars=y,x&tz=Europe/Paris&week=2026-W48")
            .await;
        assert_ne!(swapped.header("etag"), after.header("etag"));
    }
}

#[tokio::test]
async fn limits_and_errors_name_the_calendar() {
    let server = TestServer::start().await;
    server.create_calendar("a", "UTC").await;
    let c: Client = server.client(Version::HTTP_11);
    for (ask, status, words) in [
        ("/overlap", StatusCode::BAD_REQUEST, "name 1 to 1000"),
        (
            "/overlap?calendars=a,nowhere",
            StatusCode::NOT_FOUND,
            "\"nowhere\"",
        ),
        (
            "/overlap?calendars=a,a",
            StatusCode::BAD_REQUEST,
            "\"a\" is named more than once",
        ),
        (
            "/overlap?calendars=a&format=xml",
            StatusCode::BAD_REQUEST,
            "unknown format",
        ),
        (
            "/overlap?calendars=a&format=intervals&min=2",
            StatusCode::BAD_REQUEST,
            "min is 2",
        ),
        (
            "/overlap?calendars=a&min=x",
            StatusCode::BAD_REQUEST,
            "min \"x\"",
        ),
        (
            "/overlap?calendars=a&tz=Mars/Base",
            StatusCode::BAD_REQUEST,
            "Mars/Base",
        ),
        (
            "/overlap?calendars=a&members=b",
            StatusCode::BAD_REQUEST,
            "\"members\"",
        ),
    ] {
        let detail = c.get(ask).await.problem(status);
        assert!(detail.contains(words), "{ask}: {detail}");
    }
    let many: Vec<String> = (0..1001).map(|i| format!("c{i}")).collect();
    let body = serde_json::json!({ "calendars": many });
    let r = c
        .json(Method::POST, "/overlap", "", &body.to_string())
        .await;
    assert!(r.problem(StatusCode::BAD_REQUEST).contains("1001"));
    let r = c
        .json(
            Method::POST,
            "/overlap",
            "",
            r#"{"calendars":["a"],"zone":"UTC"}"#,
        )
        .await;
    assert!(r.problem(StatusCode::BAD_REQUEST).contains("zone"));
    let r = c.authed(Method::DELETE, "/overlap", &server.admin).await;
    assert_eq!(r.header("allow"), Some("GET, HEAD, POST"));
}

/// `format=view` for one calendar: per day 48 digits, the same statuses as the JSON week.
#[tokio::test]
async fn the_compact_view_of_one_calendar_matches_its_json() {
    let server = TestServer::start().await;
    let key = server.create_calendar("desk", "Asia/Kathmandu").await;
    let c = server.client(Version::HTTP_2);
    let w = c
        .json(
            Method::PUT,
            "/calendars/desk/availability",
            &key,
            r#"{"updates":[{"day":"tuesday","from":"09:00","to":"12:00","status":"available"},
                           {"day":"tuesday","from":"12:00","to":"13:00","status":"maybe"}]}"#,
        )
        .await;
    assert_eq!(w.status, StatusCode::OK);
    let query = "tz=Europe/London&week=2026-W48";
    let json = c
        .get(&format!("/calendars/desk/availability?{query}"))
        .await
        .json();
    let view = c
        .get(&format!("/calendars/desk/availability?{query}&format=view"))
        .await
        .json();
    assert_eq!(view["calendar"], "desk");
    let days = view["days"].as_array().unwrap();
    assert_eq!(days.len(), 7);
    let slots = json["slots"].as_array().unwrap();
    for (d, day) in days.iter().enumerate() {
        assert_eq!(day["date"], slots[d * 48]["date"]);
        let digits = day["view"].as_str().unwrap();
        assert_eq!(digits.len(), 48);
        for (h, digit) in digits.chars().enumerate() {
            let status = slots[d * 48 + h]["status"].as_str().unwrap();
            assert_eq!(
                digit,
                char::from(b'0' + rank(status)),
                "day {d} half hour {h}"
            );
        }
    }
    assert!(days[1]["view"].as_str().unwrap().contains('2'));
}

/// A write forgets its calendar's cached bodies (they describe a version that can never be
/// served again), and the group answers it is part of; other calendars' stay.
#[tokio::test]
async fn a_write_forgets_the_calendars_cached_bodies() {
    let server = TestServer::start().await;
    let key = server.create_calendar("w", "UTC").await;
    let c = server.client(Version::HTTP_2);
    for tz in ["UTC", "Asia/Tokyo"] {
        let r = c
            .get(&format!("/calendars/w/availability?tz={tz}&week=2026-W48"))
            .await;
        assert_eq!(r.status, StatusCode::OK);
    }
    assert_eq!(
        c.get("/availability?week=2026-W48").await.status,
        StatusCode::OK
    );
    let r = c.get("/overlap?calendars=w,default&week=2026-W48").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(server.app.cache.len(), 4);
    let w = c
        .json(
            Method::PATCH,
            "/calendars/w/availability",
            &key,
            r#"{"updates":[{"day":"monday","time":"09:00","status":"maybe"}]}"#,
        )
        .await;
    assert_eq!(w.status, StatusCode::OK);
    assert_eq!(
        server.app.cache.len(),
        1,
        "only the default calendar's body is left"
    );
    let metrics = c
        .authed(Method::GET, "/metrics", &server.admin)
        .await
        .text();
    assert!(
        metrics.contains("availability_cached_bodies 1"),
        "{metrics}"
    );
    assert!(metrics.contains("availability_cached_bytes "), "{metrics}");
}

/// A named group answers as `/overlap` does for its members, follows their writes, keeps
/// across a restart, and only admins define it.
#[tokio::test]
async fn a_named_group_answers_for_its_members() {
    let server = TestServer::start().await;
    let mut keys = Vec::new();
    for (id, zone) in [
        ("ana", "America/Vancouver"),
        ("ben", "Europe/Berlin"),
        ("chen", "Asia/Kathmandu"),
    ] {
        keys.push(server.create_calendar(id, zone).await);
    }
    let admin = server.admin.clone();
    let c = server.client(Version::HTTP_11);
    let put = |body: &'static str, key: String| {
        let c = c.clone();
        async move { c.json(Method::PUT, "/groups/team", &key, body).await }
    };
    let members = r#"{"members":["ana","ben","chen"]}"#;
    put(members, keys[0].clone())
        .await
        .problem(StatusCode::FORBIDDEN);
    let detail = put(r#"{"members":["ana","nobody"]}"#, admin.clone())
        .await
        .problem(StatusCode::NOT_FOUND);
    assert!(detail.contains("nobody"), "{detail}");
    let detail = put(r#"{"members":["ana","ana"]}"#, admin.clone())
        .await
        .problem(StatusCode::BAD_REQUEST);
    assert!(detail.contains("ana"), "{detail}");
    let r = put(members, admin.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.header("location"), Some("/groups/team"));
    assert_eq!(put(members, admin.clone()).await.status, StatusCode::OK);

    let week = "tz=America/New_York&week=2026-W45";
    for version in VERSIONS {
        let c = server.client(version);
        let group = c.get("/groups/team").await;
        assert_eq!(group.status, StatusCode::OK);
        assert_eq!(
            group.json()["members"],
            serde_json::json!(["ana", "ben", "chen"])
        );
        for format in ["json", "intervals", "csv", "view"] {
            let named = c
                .get(&format!("/groups/team/availability?{week}&format={format}"))
                .await;
            let adhoc = c
                .get(&format!(
                    "/overlap?calendars=ana,ben,chen&{week}&format={format}"
                ))
                .await;
            assert_eq!(named.status, StatusCode::OK, "{}", named.text());
            assert_eq!(named.body, adhoc.body, "{format}");
            assert_eq!(named.header("etag"), adhoc.header("etag"));
        }
    }
    // A member's write changes the group's answer and its tag.
    let url = format!("/groups/team/availability?{week}");
    let before = c.get(&url).await;
    let r = c
        .json(
            Method::PATCH,
            "/calendars/ben/availability",
            &keys[1],
            r#"{"updates":[{"day":"monday","from":"09:00","to":"17:00","status":"available"}]}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let after = c.get(&url).await;
    assert_ne!(before.header("etag"), after.header("etag"));

    // So does a dated write (ben's Monday off); and a member deleted leaves the group
    // without an answer.
    let r = c
        .json(
            Method::PUT,
            "/calendars/ben/overrides/2026-11-02",
            &keys[1],
            r#"{"updates":[]}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let booked = c.get(&url).await;
    assert_ne!(booked.header("etag"), after.header("etag"));
    assert_eq!(
        booked.body, before.body,
        "ben's Monday is as before the PATCH"
    );

    let server = server.restart().await;
    let c = server.client(Version::HTTP_2);
    assert_eq!(c.get(&url).await.body, booked.body);
    let r = c.authed(Method::DELETE, "/calendars/chen", &admin).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    let detail = c.get(&url).await.problem(StatusCode::NOT_FOUND);
    assert!(detail.contains("chen"), "{detail}");
    let r = c.authed(Method::DELETE, "/groups/team", &admin).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    c.get("/groups/team").await.problem(StatusCode::NOT_FOUND);
    c.get(&url).await.problem(StatusCode::NOT_FOUND);
    c.authed(Method::DELETE, "/groups/team", &admin)
        .await
        .problem(StatusCode::NOT_FOUND);
}
