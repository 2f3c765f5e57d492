//! Live updates: the event streams of calendars and groups, read chunk by chunk over both
//! protocols: the state at connect, an event per commit, `Last-Event-ID`, heartbeats, the
//! bounds on subscribers, deletion and graceful shutdown.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode, Version};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use crate::support::{full, Client, TestServer, VERSIONS};

/// An open event stream.
pub(crate) struct Events {
    pub status: StatusCode,
    pub headers: HeaderMap,
    body: Incoming,
    buffer: String,
}

impl Events {
    /// Opens `path` with `headers` on a new connection of `client`.
    pub(crate) async fn open(client: &Client, path: &str, headers: &[(&str, &str)]) -> Events {
        let request = Client::request(Method::GET, path, None, headers);
        let response = client.open(request.body(full(Bytes::new())).unwrap()).await;
        let (parts, body) = response.into_parts();
        Events {
            status: parts.status,
            headers: parts.headers,
            body,
            buffer: String::new(),
        }
    }

    /// The next message (an event or a comment, without its blank line), or `None` when the
    /// stream ends; fails after `within`.
    pub(crate) async fn next_within(&mut self, within: Duration) -> Option<String> {
        tokio::time::timeout(within, async {
            loop {
                if let Some(end) = self.buffer.find("\n\n") {
                    let message = self.buffer[..end].to_owned();
                    self.buffer.drain(..end + 2);
                    return Some(message);
                }
                match self.body.frame().await {
                    Some(Ok(frame)) => {
                        if let Some(data) = frame.data_ref() {
                            self.buffer.push_str(std::str::from_utf8(data).unwrap());
                        }
                    }
                    Some(Err(_)) | None => return None,
                }
            }
        })
        .await
        .expect("a message in time")
    }

    pub(crate) async fn next(&mut self) -> Option<String> {
        self.next_within(Duration::from_secs(10)).await
    }
}

/// The `data` of an event, as JSON.
fn data(message: &str) -> serde_json::Value {
    let line = message
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .unwrap_or_else(|| panic!("no data in {message:?}"));
    serde_json::from_str(line).unwrap()
}

fn id(message: &str) -> &str {
    message
        .lines()
        .find_map(|l| l.strip_prefix("id: "))
        .unwrap_or_else(|| panic!("no id in {message:?}"))
}

const WEEK: &str =
    r#"{"updates":[{"day":"monday","from":"09:00","to":"12:00","status":"available"}]}"#;

#[tokio::test]
async fn a_stream_starts_with_the_state_and_follows_every_commit() {
    let server = TestServer::start().await;
    let key = server.create_calendar("desk", "UTC").await;
    for version in VERSIONS {
        let client = server.client(version);
        let origin = [("origin", "https://elsewhere.example")];
        let mut events = Events::open(&client, "/calendars/desk/events", &origin).await;
        assert_eq!(events.status, StatusCode::OK);
        assert_eq!(
            events.headers.get("content-type").unwrap(),
            "text/event-stream"
        );
        assert_eq!(
            events.headers.get("access-control-allow-origin").unwrap(),
            "*"
        );
        let first = events.next().await.unwrap();
        assert!(first.starts_with("retry: "), "{first}");
        assert!(first.contains("event: version"), "{first}");
        let before = data(&first)["version"].as_u64().unwrap();
        assert_eq!(id(&first), before.to_string());
        for n in 1..=2 {
            let write = client
                .json(Method::PATCH, "/calendars/desk/availability", &key, WEEK)
                .await;
            assert_eq!(write.status, StatusCode::OK);
            let event = events.next().await.unwrap();
            let event_data = data(&event);
            assert_eq!(event_data["version"], before + n);
            assert_eq!(event_data["calendar"], "desk");
            // The tag a write compares with If-Match.
            assert_eq!(event_data["etag"], write.header("etag").unwrap());
        }
        // A reconnecting browser names the last event it saw and gets the state now.
        let mut again =
            Events::open(&client, "/calendars/desk/events", &[("last-event-id", "1")]).await;
        let now = again.next().await.unwrap();
        assert_eq!(data(&now)["version"], before + 2);
    }
    // Unknown calendars and parameters are refused like everywhere else.
    let client = server.client(Version::HTTP_11);
    client
        .get("/calendars/nope/events")
        .await
        .problem(StatusCode::NOT_FOUND);
    client
        .get("/calendars/desk/events?tz=UTC")
        .await
        .problem(StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_group_stream_follows_its_members_and_a_deleted_calendar_ends_its_stream() {
    let server = TestServer::start().await;
    server.create_calendar("a", "UTC").await;
    let b = server.create_calendar("b", "Asia/Kathmandu").await;
    let client = server.client(Version::HTTP_2);
    let r = client
        .json(
            Method::PUT,
            "/groups/team",
            &server.admin,
            r#"{"members":["a","b"]}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let mut group = Events::open(&client, "/groups/team/events", &[]).await;
    let first = data(&group.next().await.unwrap());
    assert_eq!(first["group"], "team");
    let mut of_a = Events::open(&client, "/calendars/a/events", &[]).await;
    of_a.next().await.unwrap();
    let r = client
        .json(Method::PATCH, "/calendars/b/availability", &b, WEEK)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let changed = data(&group.next().await.unwrap());
    assert_eq!(changed["version"], first["version"].as_u64().unwrap() + 1);
    assert_ne!(changed["etag"], first["etag"]);
    // The group's page carries the same tag, so it knows it is current.
    let page = client
        .get_with(
            "/groups/team?tz=UTC",
            &[("accept", "text/html,application/xhtml+xml")],
        )
        .await;
    let tag = changed["etag"].as_str().unwrap().replace('"', "&quot;");
    assert!(page.text().contains(&format!("data-etag=\"{tag}\"")));

    // Deleting `a` ends its stream with `gone` (and the group's too: a member is missing).
    let r = client
        .authed(Method::DELETE, "/calendars/a", &server.admin)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(of_a.next().await.unwrap().starts_with("event: gone"));
    assert_eq!(of_a.next().await, None);
    assert!(group.next().await.unwrap().starts_with("event: gone"));
    assert_eq!(group.next().await, None);
    client
        .get("/groups/none/events")
        .await
        .problem(StatusCode::NOT_FOUND);
}

#[tokio::test(start_paused = true)]
async fn a_quiet_stream_sends_heartbeats() {
    let server = TestServer::start().await;
    let client = server.client(Version::HTTP_11);
    let mut events = Events::open(&client, "/calendars/default/events", &[]).await;
    events.next().await.unwrap();
    let started = tokio::time::Instant::now();
    let beat = events.next_within(Duration::from_secs(40)).await.unwrap();
    assert_eq!(beat, ": heartbeat");
    let waited = started.elapsed();
    assert!(
        waited <= Duration::from_secs(30) && waited >= Duration::from_secs(5),
        "{waited:?}"
    );
    // The connection stays open past the idle timeout (60 s): a stream is a request in
    // flight.
    for _ in 0..6 {
        assert_eq!(
            events.next_within(Duration::from_secs(40)).await.unwrap(),
            ": heartbeat"
        );
    }
}

#[tokio::test]
async fn subscribers_are_bounded_per_client() {
    let server = TestServer::start().await;
    let client = server.client(Version::HTTP_11);
    let mut open = Vec::new();
    for _ in 0..8 {
        let mut events = Events::open(&client, "/calendars/default/events", &[]).await;
        assert_eq!(events.status, StatusCode::OK);
        events.next().await.unwrap();
        open.push(events);
    }
    let refused = client.get("/calendars/default/events").await;
    refused.problem(StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.header("retry-after").is_some());
    // Another client is not held to this one's count.
    let other = server.client(Version::HTTP_11).from("127.0.0.2");
    let mut theirs = Events::open(&other, "/calendars/default/events", &[]).await;
    assert_eq!(theirs.status, StatusCode::OK);
    theirs.next().await.unwrap();
    // A closed stream gives its place back.
    drop(open.pop());
    let mut reopened = None;
    for _ in 0..50 {
        let events = Events::open(&client, "/calendars/default/events", &[]).await;
        if events.status == StatusCode::OK {
            reopened = Some(events);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(reopened.is_some(), "a place was given back");
}

/// The open streams `/metrics` counts.
async fn streams_open(client: &Client) -> u64 {
    let text = client.get("/metrics").await.text();
    text.lines()
        .find_map(|l| l.strip_prefix("availability_event_streams_open "))
        .unwrap_or_else(|| panic!("no gauge of open streams in {text}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn the_stream_bounds_are_settings_and_open_streams_are_counted() {
    let server = TestServer::start_tweaked(|config| {
        config.events.per_client = 2;
        config.events.total = 3;
        config.metrics_public = true;
    })
    .await;
    let (a, b, c) = (
        server.client(Version::HTTP_11),
        server.client(Version::HTTP_2).from("127.0.0.2"),
        server.client(Version::HTTP_11).from("127.0.0.3"),
    );
    assert_eq!(streams_open(&a).await, 0);
    let mut open = Vec::new();
    for client in [&a, &a, &b] {
        let mut events = Events::open(client, "/calendars/default/events", &[]).await;
        assert_eq!(events.status, StatusCode::OK);
        events.next().await.unwrap();
        open.push(events);
    }
    assert_eq!(streams_open(&a).await, 3);
    // The client's own bound, then the server's. (A stream let through would never end.)
    for (client, status) in [
        (&a, StatusCode::TOO_MANY_REQUESTS),
        (&c, StatusCode::SERVICE_UNAVAILABLE),
    ] {
        let refused = Events::open(client, "/calendars/default/events", &[]).await;
        assert_eq!(refused.status, status);
    }
    drop(open.pop());
    let mut counted = 0;
    for _ in 0..50 {
        counted = streams_open(&a).await;
        if counted == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(counted, 2, "a closed stream is no longer counted");
    let mut theirs = Events::open(&c, "/calendars/default/events", &[]).await;
    assert_eq!(theirs.status, StatusCode::OK);
    theirs.next().await.unwrap();
}

#[tokio::test]
async fn shutdown_ends_open_streams_cleanly() {
    let mut server = TestServer::start().await;
    let mut streams = Vec::new();
    for version in VERSIONS {
        let mut events =
            Events::open(&server.client(version), "/calendars/default/events", &[]).await;
        events.next().await.unwrap();
        streams.push(events);
    }
    server.trigger_shutdown();
    // The server's grace is 30 s: ending within a few shows the streams did not hold it.
    tokio::time::timeout(Duration::from_secs(5), server.join())
        .await
        .expect("shutdown did not wait for the streams");
    for events in &mut streams {
        assert_eq!(events.next().await, None, "the stream ended");
    }
    assert_eq!(server.app.events.open(), 0);
}
