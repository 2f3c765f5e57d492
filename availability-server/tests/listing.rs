//! `GET /calendars` and `GET /groups` a page at a time: id order, `limit` and `after`, the
//! `next` link and the `Link` field, cursors that outlive their item, and who may list (the
//! admin key, for both).

use http::{Method, StatusCode, Version};
use serde_json::Value;

use crate::support::{Client, Resp, TestServer};

/// Creates calendars `c000` to `c<n-1>` (besides `default`) straight in the storage, in an
/// order that is not theirs by id, so the listing's order is its own work.
async fn calendars(server: &TestServer, n: usize) -> Vec<String> {
    let storage = server.app.storage.clone();
    tokio::task::spawn_blocking(move || {
        for i in 0..n {
            let id = format!("c{:03}", (i * 37 + 11) % n);
            storage
                .create(
                    &id,
                    "UTC",
                    Vec::new(),
                    &availability_server::store::Authority::Unchecked,
                )
                .unwrap();
        }
    })
    .await
    .unwrap();
    let mut ids: Vec<String> = (0..n).map(|i| format!("c{i:03}")).collect();
    ids.push("default".to_owned());
    ids
}

/// Defines groups `g000` to `g<n-1>` straight in the storage, in an order not theirs by id.
async fn groups(server: &TestServer, n: usize) -> Vec<String> {
    let storage = server.app.storage.clone();
    tokio::task::spawn_blocking(move || {
        for i in 0..n {
            let id = format!("g{:03}", (i * 37 + 11) % n);
            let members = vec!["default".to_owned()];
            storage
                .put_group(
                    &id,
                    members,
                    &availability_server::store::Authority::Unchecked,
                )
                .unwrap();
        }
    })
    .await
    .unwrap();
    (0..n).map(|i| format!("g{i:03}")).collect()
}

/// The ids of the items of a page under `list` (`"calendars"`, `"groups"`).
fn ids_of(page: &Value, list: &str) -> Vec<String> {
    page[list]
        .as_array()
        .unwrap_or_else(|| panic!("no {list} in {page}"))
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_owned())
        .collect()
}

/// `GET path`, with `key` when there is one; asserts 200.
async fn page(c: &Client, path: &str, key: Option<&str>) -> Resp {
    let r = c.call(Method::GET, path, key, &[], "").await;
    assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text());
    r
}

/// Follows `next` from `first` to the last page, checking that each `Link` field says what
/// `next` says; every id shown, in order, and the size of each page.
async fn walk(c: &Client, first: &str, key: Option<&str>, list: &str) -> (Vec<String>, Vec<usize>) {
    let (mut path, mut ids, mut sizes) = (first.to_owned(), Vec::new(), Vec::new());
    loop {
        let r = page(c, &path, key).await;
        let body = r.json();
        let shown = ids_of(&body, list);
        sizes.push(shown.len());
        ids.extend(shown);
        let Some(next) = body["next"].as_str() else {
            assert!(body["next"].is_null(), "{path}: next is {}", body["next"]);
            assert_eq!(r.header("link"), None, "{path}: a last page has no Link");
            return (ids, sizes);
        };
        let link = format!("<{next}>; rel=\"next\"");
        assert_eq!(r.header("link"), Some(link.as_str()), "{path}");
        assert!(sizes.len() < 1_000, "a walk that never ends at {next}");
        path = next.to_owned();
    }
}

/// Asserts that `r`, the answer to `GET /<list>` with no parameter, is the first hundred of
/// `all`, which say in `next` and in `Link` that the page after the hundredth follows; and
/// that its 43rd item is as `GET /<list>/{id}` describes that item. Returns the body.
async fn first_hundred(c: &Client, r: &Resp, list: &str, all: &[String]) -> Value {
    let body = r.json();
    assert_eq!(ids_of(&body, list), all[..100]);
    let next = format!("/{list}?limit=100&after={}", all[99]);
    assert_eq!(body["next"], next.as_str());
    let link = format!("<{next}>; rel=\"next\"");
    assert_eq!(r.header("link"), Some(link.as_str()));
    let one = c.get(&format!("/{list}/{}", all[42])).await.json();
    assert_eq!(body[list][42], one);
    body
}

#[tokio::test]
async fn calendars_come_a_hundred_at_a_time_in_id_order() {
    let server = TestServer::start().await;
    let all = calendars(&server, 150).await;
    let admin = Some(server.admin.as_str());
    let c = server.client(Version::HTTP_11);

    let first = page(&c, "/calendars", admin).await;
    let body = first_hundred(&c, &first, "calendars", &all).await;
    assert_eq!(body["next"], "/calendars?limit=100&after=c099");

    // The rest, over HTTP/2: the last page, which says so.
    let h2 = server.client(Version::HTTP_2);
    let second = page(&h2, "/calendars?limit=100&after=c099", admin).await;
    let body = second.json();
    assert_eq!(ids_of(&body, "calendars"), all[100..]);
    assert_eq!(body["next"], Value::Null);
    assert_eq!(second.header("link"), None);

    // Following `next` visits every calendar once, in id order, and ends on a page that is
    // not empty.
    for (first, size) in [("/calendars", 100), ("/calendars?limit=7", 7)] {
        let (ids, sizes) = walk(&h2, first, admin, "calendars").await;
        assert_eq!(ids, all, "{first}");
        let pages = all.len().div_ceil(size);
        assert_eq!(sizes.len(), pages, "{first}: {sizes:?}");
        assert!(sizes[..pages - 1].iter().all(|&s| s == size), "{sizes:?}");
        assert_eq!(sizes[pages - 1], all.len() - size * (pages - 1));
    }
    // A listing that fills its last page exactly has no empty page after it.
    let (ids, sizes) = walk(&c, "/calendars?limit=151", admin, "calendars").await;
    assert_eq!((ids.len(), sizes), (151, vec![151]));
}

#[tokio::test]
async fn a_cursor_outlives_its_calendar() {
    let server = TestServer::start().await;
    let all = calendars(&server, 30).await;
    let admin = Some(server.admin.as_str());
    let c = server.client(Version::HTTP_11);

    let first = page(&c, "/calendars?limit=10", admin).await.json();
    assert_eq!(first["next"], "/calendars?limit=10&after=c009");
    // The last calendar of the page goes before the next page is asked for.
    let gone = c
        .authed(Method::DELETE, "/calendars/c009", &server.admin)
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT, "{}", gone.text());
    let next = page(&c, first["next"].as_str().unwrap(), admin)
        .await
        .json();
    assert_eq!(ids_of(&next, "calendars"), all[10..20]);

    // Any well-formed id is a cursor, whether or not it ever named a calendar.
    let between = page(&c, "/calendars?limit=2&after=c0155", admin)
        .await
        .json();
    assert_eq!(ids_of(&between, "calendars"), ["c016", "c017"]);
    let past = page(&c, "/calendars?after=zzz", admin).await.json();
    assert_eq!(past, serde_json::json!({ "calendars": [], "next": null }));
    // An empty `after` is none given: the first page.
    let empty = page(&c, "/calendars?limit=3&after=", admin).await.json();
    assert_eq!(ids_of(&empty, "calendars"), all[..3]);
}

/// Asserts 400 for `path` with a detail that names `parameter`.
async fn refused(c: &Client, path: &str, key: Option<&str>, parameter: &str) {
    let r = c.call(Method::GET, path, key, &[], "").await;
    let detail = r.problem(StatusCode::BAD_REQUEST);
    assert!(detail.contains(parameter), "{path}: {detail}");
}

#[tokio::test]
async fn limits_and_cursors_are_checked() {
    let server = TestServer::start().await;
    calendars(&server, 1_000).await;
    groups(&server, 3).await;
    let admin = Some(server.admin.as_str());
    let c = server.client(Version::HTTP_11);

    // 1,000 is the most a page holds: the 1,001st calendar is on the next page.
    let most = page(&c, "/calendars?limit=1000", admin).await.json();
    assert_eq!(ids_of(&most, "calendars").len(), 1_000);
    assert_eq!(most["next"], "/calendars?limit=1000&after=c999");

    for list in ["/calendars", "/groups"] {
        let what = &list[1..list.len() - 1];
        for limit in [
            "1001",
            "0",
            "-1",
            "abc",
            "1.5",
            "1e3",
            "10000000000000000000000",
        ] {
            let (path, detail) = (
                format!("{list}?limit={limit}"),
                format!("limit {limit:?} is not a number"),
            );
            refused(&c, &path, admin, &detail).await;
        }
        // `%2B` is a `+`, which a number does not start with here.
        refused(&c, &format!("{list}?limit=%2B5"), admin, "from 1 to 1000").await;
        for after in ["Room", "-a", "a_b", "a%2Fb", &"a".repeat(64)] {
            let path = format!("{list}?after={after}");
            refused(&c, &path, admin, &format!("is not a {what} id")).await;
        }
        refused(&c, &format!("{list}?offset=3"), admin, "offset").await;
        refused(&c, &format!("{list}?limit=1&limit=2"), admin, "limit").await;
        // An empty value is none given.
        let r = page(&c, &format!("{list}?limit=&after="), admin).await;
        assert!(!r.json()[&list[1..]].as_array().unwrap().is_empty());
    }
}

#[tokio::test]
async fn groups_are_listed_a_page_at_a_time() {
    let server = TestServer::start().await;
    let admin = Some(server.admin.as_str());
    let c = server.client(Version::HTTP_2);
    let none = page(&c, "/groups", admin).await;
    assert_eq!(
        none.json(),
        serde_json::json!({ "groups": [], "next": null })
    );
    assert_eq!(none.header("link"), None);

    let all = groups(&server, 150).await;
    let first = page(&c, "/groups", admin).await;
    let body = first_hundred(&c, &first, "groups", &all).await;
    assert_eq!(body["next"], "/groups?limit=100&after=g099");
    let one = serde_json::json!({ "id": "g042", "members": ["default"] });
    assert_eq!(body["groups"][42], one);

    for (first, size) in [("/groups", 100), ("/groups?limit=9", 9)] {
        let (ids, sizes) = walk(&c, first, admin, "groups").await;
        assert_eq!(ids, all, "{first}");
        assert_eq!(sizes.len(), all.len().div_ceil(size), "{first}: {sizes:?}");
    }

    // A removed group's id is still a cursor.
    let gone = c
        .authed(Method::DELETE, "/groups/g050", &server.admin)
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT, "{}", gone.text());
    let next = page(&c, "/groups?limit=2&after=g050", admin).await.json();
    assert_eq!(ids_of(&next, "groups"), ["g051", "g052"]);
    assert_eq!(next["next"], "/groups?limit=2&after=g052");
    let (ids, _) = walk(&c, "/groups?limit=50", admin, "groups").await;
    assert_eq!(ids.len(), 149);
    assert!(!ids.contains(&"g050".to_owned()));
}

#[tokio::test]
async fn only_an_admin_lists_calendars_and_groups() {
    let server = TestServer::start().await;
    let key = server.create_calendar("room-1", "UTC").await;
    let team = r#"{"members":["room-1"]}"#;
    let c = server.client(Version::HTTP_11);
    let made = c
        .json(Method::PUT, "/groups/team", &server.admin, team)
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text());
    for list in ["/calendars", "/groups"] {
        // The key is checked before the page's values: without the admin key, a bad limit
        // is refused as any listing is.
        for query in ["", "?limit=5&after=a", "?limit=0"] {
            let path = format!("{list}{query}");
            c.get(&path).await.asks_for_a_key();
            c.authed(Method::GET, &path, &key)
                .await
                .problem(StatusCode::FORBIDDEN);
        }
        // A parameter the listing does not take is refused before the key is asked for.
        let offset = format!("{list}?offset=3");
        refused(&c, &offset, None, "offset").await;
    }
    let admin = Some(server.admin.as_str());
    let listed = page(&c, "/calendars?limit=5&after=a", admin).await;
    assert_eq!(ids_of(&listed.json(), "calendars"), ["default", "room-1"]);
    let listed = page(&c, "/groups?limit=5&after=a", admin).await.json();
    let team = serde_json::json!({ "id": "team", "members": ["room-1"] });
    assert_eq!(
        listed,
        serde_json::json!({ "groups": [team], "next": null })
    );
    // One group stays open to anyone who knows its id.
    assert_eq!(c.get("/groups/team").await.json(), team);
}
