//! The OpenAPI document (`GET /openapi.json`) against the server it describes: every route of
//! the table is documented with each of its methods and nothing else is; the parameters
//! documented are the ones the handlers accept; and real answers, successes and problems,
//! of every operation validate against the schemas the document gives them.

use std::collections::{BTreeMap, BTreeSet};

use availability_server::routes::{table, OPENAPI};
use http::{Method, StatusCode, Version};
use serde_json::{json, Value};

use crate::live::Events;
use crate::support::{full, Client, Resp, TestServer};

fn document() -> Value {
    serde_json::from_str(OPENAPI).expect("the OpenAPI document is JSON")
}

/// The HTTP methods an OpenAPI path item may hold.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Every (path, METHOD) of the document.
fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if item.get(method).is_some() {
                out.insert((path.clone(), method.to_uppercase()));
            }
        }
    }
    out
}

/// Follows a local `$ref` (`#/components/...`) to what it names.
fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let pointer = reference.strip_prefix('#').expect("a local reference");
            resolve(
                doc,
                doc.pointer(pointer)
                    .unwrap_or_else(|| panic!("{reference}")),
            )
        }
        None => value,
    }
}

/// The parameters of an operation, its path item's included, resolved.
fn parameters<'a>(doc: &'a Value, path: &str, method: &str) -> Vec<&'a Value> {
    let item = &doc["paths"][path];
    let mut out: Vec<&Value> = Vec::new();
    for list in [&item["parameters"], &item[method]["parameters"]] {
        for parameter in list.as_array().into_iter().flatten() {
            out.push(resolve(doc, parameter));
        }
    }
    out
}

/// A route added to the table without its documentation, or documentation left behind by a
/// removed route, fails here. `HEAD` goes with `GET` (the table test checks that it does),
/// so the document describes the `GET`.
#[test]
fn the_document_describes_exactly_the_route_table() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    let routed: BTreeSet<(String, String)> = table()
        .into_iter()
        .flat_map(|(path, methods)| {
            methods
                .into_iter()
                .filter(|m| m != "HEAD")
                .map(move |m| (path.clone(), m))
        })
        .collect();
    let documented = documented(&doc);
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from availability-server/openapi.json: {undocumented:?}"
    );
    assert!(
        unrouted.is_empty(),
        "operations in availability-server/openapi.json that no route serves: {unrouted:?}"
    );
}

/// Each operation declares exactly the path parameters its template names, every reference
/// resolves, and every operation documents the answers any request can get (a bad parameter,
/// a spent rate limit, shutdown), each problem as `application/problem+json`.
#[test]
fn every_operation_is_complete() {
    let doc = document();
    let text = OPENAPI;
    let mut at = 0;
    while let Some(found) = text[at..].find("\"$ref\": \"#") {
        let start = at + found + "\"$ref\": \"#".len();
        let end = start + text[start..].find('"').expect("a closed string");
        assert!(
            doc.pointer(&text[start..end]).is_some(),
            "a reference to nothing: #{}",
            &text[start..end]
        );
        at = end;
    }
    for (path, method) in documented(&doc) {
        let method = method.to_lowercase();
        let operation = &doc["paths"][&path][&method];
        let in_template: BTreeSet<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        let declared: BTreeSet<&str> = parameters(&doc, &path, &method)
            .into_iter()
            .filter(|p| p["in"] == "path")
            .map(|p| {
                assert_eq!(p["required"], true, "{path}: a path parameter is required");
                p["name"].as_str().expect("a name")
            })
            .collect();
        assert_eq!(in_template, declared, "{method} {path}");
        let responses = operation["responses"].as_object().expect("responses");
        for status in ["400", "429", "503"] {
            assert!(responses.contains_key(status), "{method} {path}: {status}");
        }
        for (status, response) in responses {
            let response = resolve(&doc, response);
            assert!(
                response["description"].is_string(),
                "{method} {path} {status}"
            );
            if status.starts_with('4') || status.starts_with('5') {
                let content = response["content"].as_object().expect("a problem body");
                assert_eq!(
                    content.keys().collect::<Vec<_>>(),
                    ["application/problem+json"],
                    "{method} {path} {status}"
                );
            }
        }
        assert!(operation["operationId"].is_string(), "{method} {path}");
    }
}

/// Checks answers against the document, and remembers which operations it has seen succeed
/// and fail.
struct Checker {
    doc: Value,
    /// For each documented (path, method): seen a success, seen a problem.
    seen: BTreeMap<(String, String), (bool, bool)>,
}

impl Checker {
    fn new() -> Checker {
        let doc = document();
        let seen = documented(&doc)
            .into_iter()
            .map(|key| (key, (false, false)))
            .collect();
        Checker { doc, seen }
    }

    /// The documented path that `path` (no query) is an instance of.
    fn template(&self, path: &str) -> String {
        let segments: Vec<&str> = path.split('/').collect();
        let paths = self.doc["paths"].as_object().expect("paths");
        paths
            .keys()
            .find(|template| {
                let pattern: Vec<&str> = template.split('/').collect();
                pattern.len() == segments.len()
                    && pattern
                        .iter()
                        .zip(&segments)
                        .all(|(p, s)| p == s || (p.starts_with('{') && !s.is_empty()))
            })
            .unwrap_or_else(|| panic!("no documented path for {path}"))
            .clone()
    }

    /// Asserts that `answer` to `method path` is documented: its status, its media type, and
    /// its body under that media type's schema.
    fn check(&mut self, method: &Method, path: &str, answer: &Resp) {
        let bare = path.split('?').next().unwrap_or(path);
        let template = self.template(bare);
        let method_name = method.as_str().to_lowercase();
        let operation = &self.doc["paths"][&template][&method_name];
        assert!(
            operation.is_object(),
            "{method} {template} is not documented"
        );
        let status = answer.status.as_str();
        let response = operation["responses"].get(status).unwrap_or_else(|| {
            panic!(
                "{method} {path}: status {status} is not documented: {}",
                answer.text()
            )
        });
        let response = resolve(&self.doc, response);
        let seen = self
            .seen
            .get_mut(&(template.clone(), method.as_str().to_owned()))
            .expect("a documented operation");
        if answer.status.as_u16() < 400 {
            seen.0 = true;
        } else {
            seen.1 = true;
        }
        for (name, header) in response["headers"].as_object().into_iter().flatten() {
            // The answers' own headers, as documented: an ETag on a read, a Location on a
            // creation, Retry-After on 429 and 503, the challenge on 401; unless documented
            // as not always there (`"required": false`).
            let required = ["ETag", "Location", "WWW-Authenticate", "Retry-After"];
            let optional = resolve(&self.doc, header)["required"] == false;
            if required.contains(&name.as_str()) && !optional {
                assert!(
                    answer.header(name).is_some(),
                    "{method} {path} {status}: no {name}"
                );
            }
        }
        let Some(content) = response["content"].as_object() else {
            assert!(
                answer.body.is_empty(),
                "{method} {path} {status}: a body where none is documented"
            );
            return;
        };
        let media = answer.header("content-type").expect("a content type");
        let schema = content.get(media).map(|m| &m["schema"]).unwrap_or_else(|| {
            panic!(
                "{method} {path} {status}: {media} is not documented (only {:?})",
                content.keys().collect::<Vec<_>>()
            )
        });
        let instance: Value = if media.contains("json") {
            answer.json()
        } else {
            Value::String(answer.text())
        };
        let mut root = schema.clone();
        root.as_object_mut()
            .expect("a schema object")
            .insert("components".into(), self.doc["components"].clone());
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(&root)
            .unwrap_or_else(|e| panic!("{method} {template} {status}: the schema: {e}"));
        let errors: Vec<String> = validator
            .iter_errors(&instance)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{method} {path} {status} does not match its schema: {errors:#?}\n{}",
            answer.text()
        );
    }
}

/// A request and its answer, checked against the document.
struct Session<'a> {
    client: Client,
    checker: &'a mut Checker,
}

impl Session<'_> {
    /// Sends `method path` with an optional key, body (`content-type`, text) and headers;
    /// checks the answer and asserts its status.
    async fn call(
        &mut self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<(&str, &str)>,
        headers: &[(&str, &str)],
        status: StatusCode,
    ) -> Resp {
        let mut all: Vec<(&str, &str)> = body
            .map(|(media, _)| ("content-type", media))
            .into_iter()
            .collect();
        all.extend_from_slice(headers);
        let bytes = body.map(|(_, text)| text.to_owned()).unwrap_or_default();
        let answer = self
            .client
            .call(method.clone(), path, key, &all, bytes)
            .await;
        assert_eq!(answer.status, status, "{method} {path}: {}", answer.text());
        self.checker.check(&method, path, &answer);
        answer
    }

    async fn get(&mut self, path: &str, status: StatusCode) -> Resp {
        self.call(Method::GET, path, None, None, &[], status).await
    }

    async fn json(
        &mut self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: &str,
        status: StatusCode,
    ) -> Resp {
        let body = Some(("application/json", body));
        self.call(method, path, key, body, &[], status).await
    }
}

impl Session<'_> {
    /// Opens the event stream `path`, reads its first event, and checks the answer's head
    /// with that event as its body (a stream never ends, so it is not read to its end).
    async fn stream(&mut self, path: &str) {
        let mut events = Events::open(&self.client, path, &[]).await;
        assert_eq!(events.status, StatusCode::OK, "GET {path}");
        let first = events.next().await.expect("a first event");
        let answer = Resp {
            status: events.status,
            version: Version::HTTP_11,
            headers: events.headers.clone(),
            body: format!("{first}\n\n").into(),
        };
        self.checker.check(&Method::GET, path, &answer);
    }
}

/// `unix` seconds as an RFC 3339 instant in UTC.
fn instant(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Every operation answers, successes and problems alike, as its schemas say.
#[tokio::test]
async fn answers_match_their_schemas() {
    let server = TestServer::start().await;
    let admin = server.admin.clone();
    let admin = Some(admin.as_str());
    let mut checker = Checker::new();
    let mut s = Session {
        client: server.client(Version::HTTP_11),
        checker: &mut checker,
    };
    use StatusCode as S;

    // The service.
    s.get("/healthz", S::OK).await;
    s.get("/healthz?verbose=1", S::BAD_REQUEST).await;
    s.call(Method::GET, "/metrics", admin, None, &[], S::OK)
        .await;
    s.get("/metrics", S::UNAUTHORIZED).await;
    let own = s.get("/openapi.json", S::OK).await;
    assert_eq!(own.body, OPENAPI.as_bytes());
    assert_eq!(own.header("content-type"), Some("application/json"));
    let tag = own.header("etag").unwrap().to_owned();
    let headers = [("if-none-match", tag.as_str())];
    let again = s.call(
        Method::GET,
        "/openapi.json",
        None,
        None,
        &headers,
        S::NOT_MODIFIED,
    );
    assert_eq!(again.await.header("etag"), Some(tag.as_str()));
    s.get("/openapi.json?v=3", S::BAD_REQUEST).await;

    // The start page and the pages' files.
    s.get("/", S::OK).await;
    let on = s.get("/?calendar=alice", S::SEE_OTHER).await;
    assert_eq!(on.header("location"), Some("/calendars/alice"));
    s.get("/?calendar=alice&group=team", S::BAD_REQUEST).await;
    s.get("/static/app.js", S::OK).await;
    s.get("/static/app.css", S::OK).await;
    s.get("/static/app.txt", S::NOT_FOUND).await;

    // The admin keys.
    s.call(Method::GET, "/admin/keys", admin, None, &[], S::OK)
        .await;
    s.get("/admin/keys", S::UNAUTHORIZED).await;
    let label = r#"{"label":"deploy"}"#;
    let once = [("idempotency-key", "admin-key-1")];
    let body = Some(("application/json", label));
    let made = s
        .call(Method::POST, "/admin/keys", admin, body, &once, S::CREATED)
        .await;
    let again = s
        .call(Method::POST, "/admin/keys", admin, body, &once, S::CREATED)
        .await;
    assert_eq!(made.body, again.body);
    let other = Some(("application/json", r#"{"label":"other"}"#));
    s.call(
        Method::POST,
        "/admin/keys",
        admin,
        other,
        &once,
        S::UNPROCESSABLE_ENTITY,
    )
    .await;
    s.json(
        Method::POST,
        "/admin/keys",
        admin,
        r#"{"scope":"write"}"#,
        S::BAD_REQUEST,
    )
    .await;
    let bare = s
        .call(Method::POST, "/admin/keys", admin, None, &[], S::CREATED)
        .await;
    let path = format!("/admin/keys/{}", made.json()["key_id"].as_str().unwrap());
    s.call(Method::DELETE, &path, admin, None, &[], S::NO_CONTENT)
        .await;
    s.call(Method::DELETE, &path, admin, None, &[], S::NOT_FOUND)
        .await;
    let path = format!("/admin/keys/{}", bare.json()["key_id"].as_str().unwrap());
    s.call(Method::DELETE, &path, admin, None, &[], S::NO_CONTENT)
        .await;
    // The first admin key is the last one now: it stays.
    let first = server.admin.split('_').nth(1).unwrap().to_owned();
    let path = format!("/admin/keys/{first}");
    s.call(Method::DELETE, &path, admin, None, &[], S::CONFLICT)
        .await;

    // Calendars.
    let created = s
        .json(
            Method::POST,
            "/calendars",
            admin,
            r#"{"id":"alice","timezone":"Europe/Paris"}"#,
            S::CREATED,
        )
        .await;
    let alice = created.json()["key"].as_str().unwrap().to_owned();
    let alice = Some(alice.as_str());
    let created = s
        .json(
            Method::POST,
            "/calendars",
            admin,
            r#"{"id":"bob","timezone":"America/New_York","booking":"public"}"#,
            S::CREATED,
        )
        .await;
    let bob = created.json()["key"].as_str().unwrap().to_owned();
    let bob = Some(bob.as_str());
    let once = [("idempotency-key", "erin-1")];
    let erin = Some(("application/json", r#"{"id":"erin","timezone":"UTC"}"#));
    let made = s
        .call(Method::POST, "/calendars", admin, erin, &once, S::CREATED)
        .await;
    let again = s
        .call(Method::POST, "/calendars", admin, erin, &once, S::CREATED)
        .await;
    assert_eq!(made.body, again.body);
    let frank = Some(("application/json", r#"{"id":"frank"}"#));
    s.call(
        Method::POST,
        "/calendars",
        admin,
        frank,
        &once,
        S::UNPROCESSABLE_ENTITY,
    )
    .await;
    s.json(
        Method::POST,
        "/calendars",
        admin,
        r#"{"id":"alice"}"#,
        S::CONFLICT,
    )
    .await;
    s.json(
        Method::POST,
        "/calendars",
        admin,
        r#"{"id":"Al!ce"}"#,
        S::BAD_REQUEST,
    )
    .await;
    let text = Some(("text/plain", "alice"));
    s.call(
        Method::POST,
        "/calendars",
        admin,
        text,
        &[],
        S::UNSUPPORTED_MEDIA_TYPE,
    )
    .await;
    s.call(Method::GET, "/calendars", admin, None, &[], S::OK)
        .await;
    // A page with a next one: the `Link` field is there.
    let first = "/calendars?limit=1";
    let paged = s.call(Method::GET, first, admin, None, &[], S::OK).await;
    assert!(paged.header("link").is_some());
    let bad = "/calendars?limit=1001";
    s.call(Method::GET, bad, admin, None, &[], S::BAD_REQUEST)
        .await;
    s.get("/calendars", S::UNAUTHORIZED).await;
    let calendar = s.get("/calendars/alice", S::OK).await;
    let alice_tag = calendar.header("etag").unwrap().to_owned();
    s.get("/calendars/nobody", S::NOT_FOUND).await;
    let html = [("accept", "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8")];
    let page = "/calendars/alice?tz=Asia/Tokyo&week=2026-W48";
    s.call(Method::GET, page, None, None, &html, S::OK).await;
    let page = "/calendars/alice?tz=Nowhere/Else";
    s.call(Method::GET, page, None, None, &html, S::BAD_REQUEST)
        .await;
    s.stream("/calendars/alice/events").await;
    s.get("/calendars/nobody/events", S::NOT_FOUND).await;
    let zone = r#"{"timezone":"Europe/Berlin"}"#;
    s.json(Method::PATCH, "/calendars/alice", alice, zone, S::OK)
        .await;
    s.json(Method::PATCH, "/calendars/alice", bob, zone, S::FORBIDDEN)
        .await;
    let stale = [("if-match", alice_tag.as_str())];
    let body = Some(("application/json", zone));
    s.call(
        Method::PATCH,
        "/calendars/alice",
        alice,
        body,
        &stale,
        S::PRECONDITION_FAILED,
    )
    .await;

    // The week.
    let week = r#"{"updates":[{"day":"monday","from":"09:00","to":"17:00","status":"available"},{"day":2,"time":"12:00","status":"maybe"}]}"#;
    s.json(
        Method::PATCH,
        "/calendars/alice/availability",
        alice,
        week,
        S::OK,
    )
    .await;
    let always: Vec<String> = (0..7)
        .map(|d| format!(r#"{{"day":{d},"from":"00:00","to":"24:00","status":"available"}}"#))
        .collect();
    let always = format!(r#"{{"updates":[{}]}}"#, always.join(","));
    s.json(
        Method::PUT,
        "/calendars/bob/availability",
        bob,
        &always,
        S::OK,
    )
    .await;
    let bad = r#"{"updates":[{"day":"monday","time":"09:15","status":"available"}]}"#;
    s.json(
        Method::PUT,
        "/calendars/alice/availability",
        alice,
        bad,
        S::BAD_REQUEST,
    )
    .await;
    s.json(
        Method::PATCH,
        "/calendars/alice/availability",
        None,
        week,
        S::UNAUTHORIZED,
    )
    .await;
    for format in ["json", "intervals", "view", "csv", "ics"] {
        let path =
            format!("/calendars/alice/availability?tz=Asia/Tokyo&week=2026-W48&format={format}");
        s.get(&path, S::OK).await;
    }
    s.get("/calendars/alice/availability?format=xml", S::BAD_REQUEST)
        .await;
    s.get("/calendars/nobody/availability", S::NOT_FOUND).await;
    let pattern = s.get("/calendars/alice/availability.ics", S::OK).await;
    s.get("/calendars/nobody/availability.ics", S::NOT_FOUND)
        .await;
    let pattern = pattern.text();
    let ics = Some(("text/calendar", pattern.as_str()));
    let path = "/calendars/alice/availability";
    s.call(Method::PUT, path, alice, ics, &[], S::OK).await;
    let broken = Some(("text/calendar", "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"));
    s.call(Method::PUT, path, alice, broken, &[], S::BAD_REQUEST)
        .await;
    let plain = Some(("text/plain", "monday 09:00"));
    s.call(
        Method::PUT,
        path,
        alice,
        plain,
        &[],
        S::UNSUPPORTED_MEDIA_TYPE,
    )
    .await;
    s.get(
        "/calendars/alice/availability/slot?day=monday&time=09:00&tz=Europe/London",
        S::OK,
    )
    .await;
    s.get(
        "/calendars/alice/availability/slot?day=monday",
        S::BAD_REQUEST,
    )
    .await;
    s.get("/calendars/alice/availability/csv?week=2026-11-23", S::OK)
        .await;
    s.get(
        "/calendars/alice/availability/csv?format=json",
        S::BAD_REQUEST,
    )
    .await;

    // Keys.
    s.call(
        Method::GET,
        "/calendars/alice/keys",
        alice,
        None,
        &[],
        S::OK,
    )
    .await;
    s.get("/calendars/alice/keys", S::UNAUTHORIZED).await;
    let made = s
        .json(
            Method::POST,
            "/calendars/alice/keys",
            alice,
            r#"{"scope":"book","label":"kiosk"}"#,
            S::CREATED,
        )
        .await;
    let key_id = made.json()["key_id"].as_str().unwrap().to_owned();
    let once = [("idempotency-key", "kiosk-2")];
    let kiosk = Some(("application/json", r#"{"scope":"book","label":"kiosk 2"}"#));
    let path = "/calendars/alice/keys";
    let first = s
        .call(Method::POST, path, alice, kiosk, &once, S::CREATED)
        .await;
    let again = s
        .call(Method::POST, path, alice, kiosk, &once, S::CREATED)
        .await;
    assert_eq!(first.body, again.body);
    let write = Some(("application/json", r#"{"scope":"write"}"#));
    s.call(
        Method::POST,
        path,
        alice,
        write,
        &once,
        S::UNPROCESSABLE_ENTITY,
    )
    .await;
    let scope = r#"{"scope":"read"}"#;
    s.json(
        Method::POST,
        "/calendars/alice/keys",
        alice,
        scope,
        S::BAD_REQUEST,
    )
    .await;
    let path = format!("/calendars/alice/keys/{key_id}");
    s.call(Method::DELETE, &path, alice, None, &[], S::NO_CONTENT)
        .await;
    s.call(Method::DELETE, &path, alice, None, &[], S::NOT_FOUND)
        .await;

    // Overrides.
    let day = r#"{"updates":[{"from":"10:00","to":"12:00","status":"available"},{"time":"15:00","status":"maybe"}]}"#;
    s.json(
        Method::PUT,
        "/calendars/alice/overrides/2027-01-04",
        alice,
        day,
        S::OK,
    )
    .await;
    let dayed = r#"{"updates":[{"day":"monday","time":"15:00","status":"maybe"}]}"#;
    s.json(
        Method::PUT,
        "/calendars/alice/overrides/2027-01-04",
        alice,
        dayed,
        S::BAD_REQUEST,
    )
    .await;
    s.json(
        Method::PUT,
        "/calendars/alice/overrides/2027-13-01",
        alice,
        day,
        S::BAD_REQUEST,
    )
    .await;
    s.get(
        "/calendars/alice/overrides?from=2027-01-01&to=2027-01-31",
        S::OK,
    )
    .await;
    s.get("/calendars/alice/overrides?from=tomorrow", S::BAD_REQUEST)
        .await;
    let path = "/calendars/alice/overrides/2027-01-04";
    s.call(Method::DELETE, path, alice, None, &[], S::OK).await;
    s.call(Method::DELETE, path, None, None, &[], S::UNAUTHORIZED)
        .await;

    // Bookings: bob's are public, and bob is always available.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let start = (now / 3600 + 48) * 3600;
    let span = json!({ "start": instant(start), "end": instant(start + 3600), "label": "call" });
    let span = span.to_string();
    let booked = s
        .json(
            Method::POST,
            "/calendars/bob/bookings",
            None,
            &span,
            S::CREATED,
        )
        .await;
    let booking = booked.json()["id"].as_str().unwrap().to_owned();
    let conflict = s
        .json(
            Method::POST,
            "/calendars/bob/bookings",
            None,
            &span,
            S::CONFLICT,
        )
        .await;
    assert_eq!(conflict.json()["conflict"]["reason"], "booked");
    let seconds = json!({ "start": instant(start + 7201), "end": instant(start + 9000) });
    s.json(
        Method::POST,
        "/calendars/bob/bookings",
        None,
        &seconds.to_string(),
        S::UNPROCESSABLE_ENTITY,
    )
    .await;
    s.json(
        Method::POST,
        "/calendars/bob/bookings",
        None,
        "{}",
        S::BAD_REQUEST,
    )
    .await;
    let idempotent = [("idempotency-key", "")];
    let body = Some(("application/json", span.as_str()));
    s.call(
        Method::POST,
        "/calendars/bob/bookings",
        None,
        body,
        &idempotent,
        S::BAD_REQUEST,
    )
    .await;
    s.call(
        Method::GET,
        "/calendars/bob/bookings",
        bob,
        None,
        &[],
        S::OK,
    )
    .await;
    s.get("/calendars/bob/bookings", S::UNAUTHORIZED).await;
    let path = "/calendars/bob/bookings?from=soon";
    s.call(Method::GET, path, bob, None, &[], S::BAD_REQUEST)
        .await;
    let path = format!("/calendars/bob/bookings/{booking}");
    s.call(Method::DELETE, &path, bob, None, &[], S::OK).await;
    s.call(Method::DELETE, &path, bob, None, &[], S::NOT_FOUND)
        .await;
    s.call(
        Method::DELETE,
        "/calendars/bob/bookings/x",
        bob,
        None,
        &[],
        S::BAD_REQUEST,
    )
    .await;

    // Groups and overlaps.
    let members = r#"{"members":["alice","bob"]}"#;
    s.json(Method::PUT, "/groups/team", admin, members, S::CREATED)
        .await;
    s.json(Method::PUT, "/groups/team", admin, members, S::OK)
        .await;
    let unknown = r#"{"members":["alice","carol"]}"#;
    s.json(Method::PUT, "/groups/team", admin, unknown, S::NOT_FOUND)
        .await;
    s.json(Method::PUT, "/groups/team", alice, members, S::FORBIDDEN)
        .await;
    s.get("/groups/team", S::OK).await;
    s.get("/groups?limit=1&after=a", S::OK).await;
    s.get("/groups?after=A", S::BAD_REQUEST).await;
    s.get("/groups/nobody", S::NOT_FOUND).await;
    let page = "/groups/team?tz=Europe/Paris";
    s.call(Method::GET, page, None, None, &html, S::OK).await;
    s.stream("/groups/team/events").await;
    s.get("/groups/nobody/events", S::NOT_FOUND).await;
    for format in ["json", "intervals", "view", "csv", "ics"] {
        let path =
            format!("/groups/team/availability?tz=Europe/Paris&week=2026-W48&format={format}");
        s.get(&path, S::OK).await;
    }
    s.get("/groups/team/availability?format=intervals&min=1", S::OK)
        .await;
    s.get(
        "/groups/team/availability?format=intervals&min=3",
        S::BAD_REQUEST,
    )
    .await;
    s.get("/groups/nobody/availability", S::NOT_FOUND).await;
    s.get("/overlap?calendars=alice,bob&format=intervals", S::OK)
        .await;
    s.get("/overlap?calendars=alice,bob&format=ics", S::OK)
        .await;
    s.get("/overlap?calendars=alice,alice", S::BAD_REQUEST)
        .await;
    s.get("/overlap?calendars=alice,carol", S::NOT_FOUND).await;
    let question = r#"{"calendars":["alice","bob"],"tz":"Asia/Kolkata","format":"view"}"#;
    s.json(Method::POST, "/overlap", None, question, S::OK)
        .await;
    s.json(
        Method::POST,
        "/overlap",
        None,
        r#"{"calendars":"alice"}"#,
        S::BAD_REQUEST,
    )
    .await;
    s.call(
        Method::DELETE,
        "/groups/team",
        admin,
        None,
        &[],
        S::NO_CONTENT,
    )
    .await;
    s.call(
        Method::DELETE,
        "/groups/team",
        admin,
        None,
        &[],
        S::NOT_FOUND,
    )
    .await;

    // Removing a calendar.
    s.call(
        Method::DELETE,
        "/calendars/alice",
        alice,
        None,
        &[],
        S::FORBIDDEN,
    )
    .await;
    s.call(
        Method::DELETE,
        "/calendars/alice",
        admin,
        None,
        &[],
        S::NO_CONTENT,
    )
    .await;
    s.call(
        Method::DELETE,
        "/calendars/alice",
        admin,
        None,
        &[],
        S::NOT_FOUND,
    )
    .await;

    let missing: Vec<String> = checker
        .seen
        .iter()
        .filter(|(_, (success, problem))| !success || !problem)
        .map(|((path, method), seen)| format!("{method} {path} {seen:?}"))
        .collect();
    assert!(
        missing.is_empty(),
        "operations without a checked success and a checked problem: {missing:#?}"
    );
}

/// The query parameters each operation documents are the ones its handler accepts: each is
/// taken (a handler answers an unknown one with 400 naming it), and one not documented is
/// refused.
#[tokio::test]
async fn documented_query_parameters_are_the_accepted_ones() {
    let server = TestServer::start().await;
    server.create_calendar("alice", "UTC").await;
    let client = server.client(Version::HTTP_11);
    // A group of the same id, so `/groups/{id}/...` reaches its query too.
    let members = r#"{"members":["alice"]}"#;
    let group = client
        .json(Method::PUT, "/groups/alice", &server.admin, members)
        .await;
    assert_eq!(group.status, StatusCode::CREATED, "{}", group.text());
    let doc = document();
    for (path, method) in documented(&doc) {
        let concrete = path
            .replace("{id}", "alice")
            .replace("{key_id}", "k")
            .replace("{date}", "2027-01-04")
            .replace("{booking_id}", "b");
        let method_name = method.to_lowercase();
        let names: Vec<&str> = parameters(&doc, &path, &method_name)
            .into_iter()
            .filter(|p| p["in"] == "query")
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let ask = |query: String| {
            let request = Client::request(
                method.clone(),
                &format!("{concrete}?{query}"),
                Some(&server.admin),
                &[],
            );
            client.send(request.body(full("")).unwrap())
        };
        for name in &names {
            let answer = ask(format!("{name}=1")).await;
            assert!(
                !answer.text().contains("unknown query parameter"),
                "{method} {path} does not take its documented {name}: {}",
                answer.text()
            );
        }
        let answer = ask("undocumented=1".to_owned()).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{method} {path}");
        assert!(
            answer.text().contains("unknown query parameter"),
            "{method} {path}: {}",
            answer.text()
        );
    }
}
