//! The OpenAPI document (`GET /openapi.json`) against the server it describes: every route of
//! the table is documented with each of its methods and nothing else is; the parameters
//! documented are the ones the handlers accept; and real answers, successes and problems,
//! of every operation validate against the schemas the document gives them.
//!
//! - `checker`: an answer checked against the document, and the operations seen;
//! - `answers`: the requests that show every operation's successes and problems;
//! - here: the document itself, and the tests.

mod answers;
mod checker;
mod types;

use std::collections::BTreeSet;

use availability_server::routes::{table, OPENAPI};
use http::{Method, StatusCode, Version};
use serde_json::Value;

use crate::support::{full, Client, TestServer};
use checker::{Checker, Session};

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
        // An operation that negotiates a page for a browser (JSON or HTML by `Accept`)
        // answers that browser's problems with the page (400, 404) as pages too; every other
        // problem is JSON.
        let html = "text/html; charset=utf-8";
        let pages = responses.get("200").is_some_and(|ok| {
            let content = &resolve(&doc, ok)["content"];
            content.get(html).is_some() && content.get("application/json").is_some()
        });
        for (status, response) in responses {
            let response = resolve(&doc, response);
            assert!(
                response["description"].is_string(),
                "{method} {path} {status}"
            );
            if status.starts_with('4') || status.starts_with('5') {
                let content = response["content"].as_object().expect("a problem body");
                let mut expected = vec!["application/problem+json"];
                if pages && (status == "400" || status == "404") {
                    expected.push(html);
                }
                assert_eq!(
                    content.keys().collect::<Vec<_>>(),
                    expected,
                    "{method} {path} {status}"
                );
            }
        }
        assert!(operation["operationId"].is_string(), "{method} {path}");
    }
}

/// Every operation answers, successes and problems alike, as its schemas say.
#[tokio::test]
async fn answers_match_their_schemas() {
    // Webhooks may reach loopback, where the scenario's endpoint points at nothing.
    let server = TestServer::start_tweaked(|config| {
        config.webhook_allow = vec!["127.0.0.0/8".parse().unwrap()];
    })
    .await;
    let admin = server.admin.clone();
    let admin = Some(admin.as_str());
    let mut checker = Checker::new();
    let mut s = Session {
        client: server.client(Version::HTTP_11),
        checker: &mut checker,
    };
    answers::service(&mut s, admin).await;
    answers::pages(&mut s).await;
    answers::admin_keys(&mut s, admin).await;
    answers::backup(&mut s, admin).await;
    let (alice, bob) = answers::calendars(&mut s, admin).await;
    types::onboarding(&mut s, admin).await;
    let (alice, bob) = (Some(alice.as_str()), Some(bob.as_str()));
    answers::week(&mut s, alice, bob).await;
    answers::history(&mut s, alice).await;
    answers::calendar_keys(&mut s, alice).await;
    answers::overrides(&mut s, alice).await;
    answers::bookings(&mut s, bob).await;
    types::booking_types(&mut s, bob).await;
    answers::groups(&mut s, admin, alice).await;
    answers::webhooks(&mut s, admin, alice).await;
    types::group_bookings(&mut s, admin, alice).await;
    answers::removal(&mut s, admin, alice).await;

    // On PostgreSQL backups are the database's: that operation answers 501 there.
    let unkept = |path: &str| crate::support::on_postgres() && path == "/admin/backup";
    let missing: Vec<String> = checker
        .seen
        .iter()
        .filter(|((path, _), (success, problem))| !problem || (!success && !unkept(path)))
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

/// `unix` seconds as an RFC 3339 instant in UTC.
pub(super) fn instant(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
