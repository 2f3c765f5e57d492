//! Webhooks over the real server: endpoints made with their secret shown once and sealed at
//! rest, every change of a calendar delivered in commit order and signed as the Standard
//! Webhooks library verifies (Python's `standardwebhooks`, not our code), failures retried,
//! a 410 disabling the endpoint, keys of a calendar limited to its own endpoints, and the
//! addresses no webhook may reach (`ssrf`).

mod kill;
pub(crate) mod receiver;
mod ssrf;

use std::time::Duration;

use http::{Method, StatusCode, Version};
use serde_json::{json, Value};

use self::receiver::{Message, Mode, Receiver};
use crate::support::{cannot_run, Client, Resp, TestServer, JSON};

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/oracle/webhooks_oracle.py"
);

/// Every day available all day.
const ALWAYS: &str = r#"{"updates":[
    {"day":0,"from":"00:00","to":"24:00","status":"available"},
    {"day":1,"from":"00:00","to":"24:00","status":"available"},
    {"day":2,"from":"00:00","to":"24:00","status":"available"},
    {"day":3,"from":"00:00","to":"24:00","status":"available"},
    {"day":4,"from":"00:00","to":"24:00","status":"available"},
    {"day":5,"from":"00:00","to":"24:00","status":"available"},
    {"day":6,"from":"00:00","to":"24:00","status":"available"}]}"#;

/// A server whose webhooks may reach the receiver (loopback allowed, its certificate
/// trusted).
async fn server_for(receiver: &Receiver) -> TestServer {
    let ca = receiver.ca_file.clone();
    TestServer::start_tweaked(move |config| {
        config.webhook_allow = vec!["127.0.0.0/8".parse().unwrap()];
        config.webhook_ca_file = Some(ca);
        let loose = availability_server::limit::Rate {
            per_minute: 1_000_000,
            burst: 100_000,
        };
        (
            config.rates.write,
            config.rates.key_write,
            config.rates.admin_write,
        ) = (loose, loose, loose);
    })
    .await
}

/// A calendar in UTC, available all week; returns its key.
async fn open_calendar(server: &TestServer, id: &str) -> String {
    let key = server.create_calendar(id, "UTC").await;
    let r = server
        .client(Version::HTTP_11)
        .json(
            Method::PUT,
            &format!("/calendars/{id}/availability"),
            &key,
            ALWAYS,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    key
}

/// The RFC 3339 instant `hours` whole hours from a whole hour three days ahead.
pub(crate) fn ahead(hours: i64) -> String {
    let now = chrono::Utc::now().timestamp();
    let unix = (now / 3600 + 72 + hours) * 3600;
    chrono::DateTime::from_timestamp(unix, 0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

async fn make_hook(c: &Client, key: &str, body: &Value) -> Resp {
    c.json(Method::POST, "/webhooks", key, &body.to_string())
        .await
}

pub(crate) async fn book(c: &Client, calendar: &str, key: &str, hours: i64) -> String {
    let body = json!({ "start": ahead(hours), "end": ahead(hours + 1), "label": "Sync" });
    let r = c
        .json(
            Method::POST,
            &format!("/calendars/{calendar}/bookings"),
            key,
            &body.to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    r.json()["id"].as_str().unwrap().to_owned()
}

/// What the Standard Webhooks library says of each of `messages` under `secret`; `None`
/// (having said so) without python3 or the package.
pub(crate) fn verified(test: &str, secret: &str, messages: &[Message]) -> Option<Vec<Value>> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let probe = Command::new("python3")
        .args(["-c", "import standardwebhooks"])
        .output();
    match probe {
        Ok(out) if out.status.success() => {}
        Ok(out) => {
            cannot_run(
                test,
                &format!(
                    "the Standard Webhooks oracle is missing (pip install -r \
                     availability-server/tests/oracle/webhooks-requirements.txt): {}",
                    String::from_utf8_lossy(&out.stderr)
                ),
            );
            return None;
        }
        Err(e) => {
            cannot_run(test, &format!("no python3 for the webhook oracle ({e})"));
            return None;
        }
    }
    let request = json!({
        "secret": secret,
        "messages": messages.iter().map(|m| json!({
            "headers": m.headers.iter()
                .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                .collect::<serde_json::Map<_, _>>(),
            "body": m.body,
        })).collect::<Vec<_>>(),
    });
    let mut child = Command::new("python3")
        .arg(SCRIPT)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 starts");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the oracle failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

#[tokio::test]
async fn every_change_arrives_signed_and_in_commit_order_and_the_secret_is_sealed() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(dir.path()).await;
    let server = server_for(&receiver).await;
    let c = server.client(Version::HTTP_11);
    let admin = server.admin.as_str();
    let key = open_calendar(&server, "room").await;
    let r = make_hook(
        &c,
        admin,
        &json!({ "url": receiver.url(), "events": [
            "booking.created", "booking.rescheduled", "booking.cancelled",
            "availability.changed", "override.changed", "calendar.deleted"
        ], "calendars": ["room"] }),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let made = r.json();
    let id = made["id"].as_str().unwrap().to_owned();
    let secret = made["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{made}");
    assert_eq!(
        r.header("location"),
        Some(format!("/webhooks/{id}").as_str())
    );

    // Every kind of change, in this order.
    let first = book(&c, "room", &key, 0).await;
    let second = book(&c, "room", &key, 2).await;
    let moved = json!({ "start": ahead(5), "end": ahead(6) }).to_string();
    let r = c
        .json(
            Method::PATCH,
            &format!("/calendars/room/bookings/{first}"),
            &key,
            &moved,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = c
        .authed(
            Method::DELETE,
            &format!("/calendars/room/bookings/{second}"),
            &key,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let date = &ahead(48)[..10];
    let r = c
        .json(
            Method::PUT,
            &format!("/calendars/room/overrides/{date}"),
            &key,
            r#"{"updates":[{"from":"09:00","to":"10:00","status":"maybe"}]}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = c
        .json(
            Method::PATCH,
            "/calendars/room/availability",
            &key,
            r#"{"updates":[{"day":"monday","from":"09:00","to":"10:00","status":"maybe"}]}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());

    let messages = receiver.wait_for(6, Duration::from_secs(20)).await;
    let types: Vec<String> = messages
        .iter()
        .map(|m| m.json()["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        types,
        [
            "booking.created",
            "booking.created",
            "booking.rescheduled",
            "booking.cancelled",
            "override.changed",
            "availability.changed"
        ],
        "in commit order, each once"
    );
    let bodies: Vec<Value> = messages.iter().map(Message::json).collect();
    assert_eq!(bodies[0]["data"]["calendar"], "room");
    assert_eq!(bodies[0]["data"]["booking"]["id"], first.as_str());
    assert_eq!(bodies[0]["data"]["booking"]["start"], ahead(0).as_str());
    assert_eq!(bodies[0]["data"]["booking"]["label"], "Sync");
    assert_eq!(bodies[2]["data"]["booking"]["start"], ahead(5).as_str());
    assert_eq!(bodies[2]["data"]["previous"]["start"], ahead(0).as_str());
    assert_eq!(bodies[3]["data"]["booking"]["id"], second.as_str());
    assert_eq!(bodies[3]["data"]["booking"]["end"], ahead(3).as_str());
    assert_eq!(bodies[4]["data"]["date"], date);
    let ids: std::collections::HashSet<&str> = messages
        .iter()
        .map(|m| m.header("webhook-id").unwrap())
        .collect();
    assert_eq!(ids.len(), messages.len(), "one id per event");
    for (m, body) in messages.iter().zip(&bodies) {
        assert_eq!(m.header("webhook-id"), body["data"]["id"].as_str());
        assert_eq!(m.header("content-type"), Some("application/json"));
    }

    // Verified by the specification's own library; a changed body is not.
    let mut tampered = messages[0].clone();
    tampered.body = tampered.body.replace("Sync", "Sink");
    let mut all = messages.clone();
    all.push(tampered);
    if let Some(verdicts) = verified("webhook signatures", &secret, &all) {
        for (verdict, body) in verdicts.iter().zip(&bodies) {
            assert_eq!(verdict["ok"], true, "{verdict}");
            assert_eq!(&verdict["payload"], body);
        }
        assert_eq!(verdicts.last().unwrap()["ok"], false, "{verdicts:?}");
    }

    // The attempts are listed, newest first; nothing waits.
    // The last attempt is written just after the receiver read it.
    let deliveries = poll_deliveries(&c, admin, &id, 6).await;
    assert_eq!(deliveries["waiting"], 0, "{deliveries}");
    let listed = deliveries["deliveries"].as_array().unwrap();
    assert_eq!(listed.len(), 6, "{deliveries}");
    assert_eq!(listed[0]["type"], "availability.changed");
    assert!(listed
        .iter()
        .all(|d| d["outcome"] == "delivered" && d["status"] == 204 && d["attempt"] == 1));

    // The listing never shows the secret; neither does the disk.
    let r = c.authed(Method::GET, "/webhooks", admin).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!r.text().contains(&secret), "{}", r.text());
    assert_eq!(r.json()["webhooks"][0]["url"], receiver.url().as_str());
    let raw = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(secret.trim_start_matches("whsec_"))
            .unwrap()
    };
    for file in crate::support::files(server.data.path()) {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !bytes.windows(raw.len()).any(|w| w == raw.as_slice())
                && !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "the secret is in {} in the clear",
            file.display()
        );
    }

    // Deleting the calendar tells the endpoint last.
    let r = c.authed(Method::DELETE, "/calendars/room", admin).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    let messages = receiver.wait_for(7, Duration::from_secs(20)).await;
    assert_eq!(messages.len(), 7);
    assert_eq!(messages[6].json()["type"], "calendar.deleted");
}

#[tokio::test]
async fn failures_are_retried_a_410_disables_and_a_test_event_reports() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(dir.path()).await;
    let server = server_for(&receiver).await;
    let c = server.client(Version::HTTP_11);
    let admin = server.admin.as_str();
    let key = open_calendar(&server, "desk").await;
    let r = make_hook(
        &c,
        admin,
        &json!({ "url": receiver.url(), "events": ["booking.created"] }),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_owned();

    // A test event reaches the receiver, signed, and says what it answered.
    let r = c
        .authed(Method::POST, &format!("/webhooks/{id}/test"), admin)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["delivered"], true, "{}", r.text());
    assert_eq!(r.json()["status"], 204);
    let tested = receiver.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(tested[0].json()["type"], "webhook.test");

    // 500: tried again after about 5 s; then taken.
    receiver.set_mode(Mode::Status(500));
    book(&c, "desk", &key, 0).await;
    let first = receiver.wait_for(2, Duration::from_secs(10)).await;
    assert_eq!(first.len(), 2);
    // The attempt is written just after the receiver read it.
    let listed = first_hook_once(&c, admin, |h| h["failing_since"].is_string()).await;
    assert_eq!(listed["waiting"], 1, "{listed}");
    receiver.set_mode(Mode::Status(200));
    let second = receiver.wait_for(3, Duration::from_secs(15)).await;
    assert_eq!(second.len(), 3, "retried");
    assert_eq!(
        second[1].header("webhook-id"),
        second[2].header("webhook-id"),
        "the same event, the same id"
    );
    let deliveries = poll_deliveries(&c, admin, &id, 2).await;
    let listed = deliveries["deliveries"].as_array().unwrap();
    assert_eq!(
        (
            &listed[0]["outcome"],
            &listed[0]["attempt"],
            &listed[0]["status"]
        ),
        (&json!("delivered"), &json!(2), &json!(200)),
        "{deliveries}"
    );
    assert_eq!(
        (&listed[1]["outcome"], &listed[1]["status"]),
        (&json!("retry"), &json!(500))
    );
    first_hook_once(&c, admin, |h| h["failing_since"].is_null()).await;

    // 410: given up, the endpoint disabled and saying why; later bookings send nothing.
    receiver.set_mode(Mode::Status(410));
    book(&c, "desk", &key, 2).await;
    receiver.wait_for(4, Duration::from_secs(10)).await;
    let disabled = first_hook_once(&c, admin, |h| !h["disabled"].is_null()).await;
    assert!(
        disabled["disabled"]["reason"]
            .as_str()
            .unwrap()
            .contains("410"),
        "{disabled}"
    );
    book(&c, "desk", &key, 4).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.messages().len(), 4, "nothing after the 410");

    // Metrics count the attempts.
    let r = c.authed(Method::GET, "/metrics", admin).await;
    let text = r.text();
    assert!(
        text.contains("availability_webhook_attempts_total{outcome=\"delivered\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("availability_webhook_attempts_total{outcome=\"failed\"} 2"),
        "{text}"
    );
}

/// The first endpoint `GET /webhooks` lists, once `ready` holds of it (within 10 s).
async fn first_hook_once(c: &Client, admin: &str, ready: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..200 {
        let r = c.authed(Method::GET, "/webhooks", admin).await;
        let hook = r.json()["webhooks"][0].clone();
        if ready(&hook) {
            return hook;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the endpoint never got there");
}

/// The deliveries of `id` once at least `n` attempts are listed.
async fn poll_deliveries(c: &Client, admin: &str, id: &str, n: usize) -> Value {
    for _ in 0..200 {
        let r = c
            .authed(Method::GET, &format!("/webhooks/{id}/deliveries"), admin)
            .await;
        let body = r.json();
        if body["deliveries"].as_array().unwrap().len() >= n {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("fewer than {n} attempts of {id}");
}

#[tokio::test]
async fn a_calendar_key_manages_its_own_endpoints_and_bad_ones_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(dir.path()).await;
    let server = server_for(&receiver).await;
    let c = server.client(Version::HTTP_2);
    let admin = server.admin.as_str();
    let own = open_calendar(&server, "mine").await;
    open_calendar(&server, "theirs").await;

    let url = receiver.url();
    let r = make_hook(
        &c,
        &own,
        &json!({ "url": url, "events": ["booking.created"], "calendars": ["mine"] }),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let mine = r.json()["id"].as_str().unwrap().to_owned();
    for body in [
        json!({ "url": url, "events": ["booking.created"], "calendars": ["theirs"] }),
        json!({ "url": url, "events": ["booking.created"] }),
        json!({ "url": url, "events": ["booking.created"], "calendars": ["mine", "theirs"] }),
    ] {
        let r = make_hook(&c, &own, &body).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{body}: {}", r.text());
    }
    let r = make_hook(
        &c,
        admin,
        &json!({ "url": url, "events": ["booking.created"] }),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let admins = r.json()["id"].as_str().unwrap().to_owned();

    // The calendar's key lists and removes its own, not the admin's.
    let r = c.authed(Method::GET, "/webhooks?calendar=mine", &own).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let listed: Vec<String> = r.json()["webhooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(listed, std::slice::from_ref(&mine));
    let r = c.authed(Method::GET, "/webhooks", &own).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = c
        .authed(Method::DELETE, &format!("/webhooks/{admins}"), &own)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    let r = c
        .authed(Method::GET, &format!("/webhooks/{admins}/deliveries"), &own)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    let r = c
        .authed(Method::DELETE, &format!("/webhooks/{mine}"), &own)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    let r = c
        .authed(Method::DELETE, &format!("/webhooks/{mine}"), admin)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text());

    // What is refused, and which field says so.
    for (body, field) in [
        (
            json!({ "url": "http://127.0.0.1/", "events": ["booking.created"] }),
            "url",
        ),
        (
            json!({ "url": "https://10.0.0.1/", "events": ["booking.created"] }),
            "url",
        ),
        (
            json!({ "url": "https://[fe80::1]/", "events": ["booking.created"] }),
            "url",
        ),
        (
            json!({ "url": "https://u:p@example.com/", "events": ["booking.created"] }),
            "url",
        ),
        (json!({ "url": url, "events": [] }), "events"),
        (
            json!({ "url": url, "events": ["booking.made"] }),
            "events[0]",
        ),
        (
            json!({ "url": url, "events": ["booking.created"], "calendars": ["nope", "mine"] }),
            "calendars[0]",
        ),
    ] {
        let r = make_hook(&c, admin, &body).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            r.text()
        );
        assert_eq!(r.json()["field"], field, "{body}: {}", r.text());
    }
    let r = c
        .call(
            Method::POST,
            "/webhooks",
            Some(admin),
            &[JSON],
            r#"{"url": 1}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    let r = make_hook(
        &c,
        "avk_nope_nope",
        &json!({ "url": url, "events": ["booking.created"] }),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text());
}

/// The p99 of `n` bookings of `calendar`, one at a time.
async fn booking_p99(c: &Client, calendar: &str, key: &str, first: i64, n: i64) -> Duration {
    let mut took = Vec::new();
    for i in 0..n {
        let started = std::time::Instant::now();
        book(c, calendar, key, first + i).await;
        took.push(started.elapsed());
    }
    took.sort();
    took[took.len() * 99 / 100]
}

/// A receiver that answers after 30 s, or resets every connection: bookings keep their
/// latency (against the same bookings with the sender idle), what is under way at the
/// receiver stays within the sender's bound, and the attempts say what happened.
#[tokio::test]
async fn a_slow_or_resetting_receiver_costs_the_api_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(dir.path()).await;
    receiver.set_mode(Mode::Slow(Duration::from_secs(30)));
    let server = server_for(&receiver).await;
    let c = server.client(Version::HTTP_11);
    let admin = server.admin.as_str();
    let mut keys = Vec::new();
    for n in 0..12 {
        keys.push(open_calendar(&server, &format!("room-{n}")).await);
    }
    // The sender idle: no endpoint.
    let idle = booking_p99(&c, "room-0", &keys[0], 0, 100).await;
    let r = make_hook(
        &c,
        admin,
        &json!({ "url": receiver.url(), "events": ["booking.created"] }),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_owned();
    // One booking on each of 12 calendars: 12 deliveries could start, 8 may.
    for (n, key) in keys.iter().enumerate() {
        book(&c, &format!("room-{n}"), key, 200).await;
    }
    let slow = booking_p99(&c, "room-1", &keys[1], 0, 100).await;
    // Delivery on a request's path would cost it the receiver's 30 s (or the client's 15 s
    // timeout); the margin absorbs the rest of the suite running beside this test.
    let bound = idle * 4 + Duration::from_millis(500);
    assert!(
        slow <= bound,
        "p99 {slow:?} with a slow receiver, {idle:?} idle"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let arrived = receiver.messages().len();
    assert_eq!(
        arrived,
        availability_server::webhooks::sender::PER_HOOK,
        "at most 8 deliveries at once to one endpoint"
    );

    // Resetting: every attempt fails at once, and says why; the API does not notice.
    receiver.set_mode(Mode::Reset);
    let r = c
        .authed(Method::DELETE, &format!("/webhooks/{id}"), admin)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    let r = make_hook(
        &c,
        admin,
        &json!({ "url": receiver.url(), "events": ["booking.created"], "calendars": ["room-2"] }),
    )
    .await;
    let id = r.json()["id"].as_str().unwrap().to_owned();
    let resetting = booking_p99(&c, "room-2", &keys[2], 0, 100).await;
    assert!(
        resetting <= bound,
        "p99 {resetting:?} with a resetting receiver, {idle:?} idle"
    );
    let deliveries = poll_deliveries(&c, admin, &id, 1).await;
    let first = &deliveries["deliveries"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(first["outcome"], "retry", "{deliveries}");
    assert!(first["status"].is_null(), "{deliveries}");
    assert!(
        first["error"].as_str().unwrap().contains("request failed"),
        "{deliveries}"
    );
    assert_eq!(deliveries["waiting"], 100, "{deliveries}");
}
