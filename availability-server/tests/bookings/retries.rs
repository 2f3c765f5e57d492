//! Retries: an `Idempotency-Key` gets the first answer again, also after a restart, and a
//! repeat while the first is still being answered is 409.

use http::{Method, StatusCode, Version};

use super::{ahead, always, at, book, span, HOUR};
use crate::support::{TestServer, VERSIONS};

/// A retry with the same `Idempotency-Key` and body gets the same answer and books nothing
/// more, also after a restart; the same key with another body is 422.
#[tokio::test]
async fn an_idempotent_retry_gets_the_first_answer_also_after_a_restart() {
    let server = TestServer::start().await;
    let key = always(&server, "retry").await;
    let start = ahead(0);
    let body = span(&at(start, 0), &at(start + HOUR, 0), Some("retried"));
    // The body and the headers a client acts on: the calendar's ETag after the booking, and
    // where the booking is.
    let answer = |r: &crate::support::Resp| {
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let headers = ["etag", "location"].map(|h| r.header(h).map(str::to_owned));
        assert!(headers.iter().all(Option::is_some), "{headers:?}");
        (r.body.clone(), headers)
    };
    let mut first = None;
    for version in VERSIONS {
        let c = server.client(version);
        let r = book(&c, "retry", Some(&key), &body, Some("order-17")).await;
        let first = first.get_or_insert_with(|| answer(&r));
        assert_eq!(&answer(&r), first);
    }
    let c = server.client(Version::HTTP_11);
    let other = span(&at(start + HOUR, 0), &at(start + 2 * HOUR, 0), None);
    let detail = book(&c, "retry", Some(&key), &other, Some("order-17"))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(detail.contains("Idempotency-Key"), "{detail}");
    book(&c, "retry", Some(&key), &other, Some(&"k".repeat(256)))
        .await
        .problem(StatusCode::BAD_REQUEST);

    let server = server.restart().await;
    let c = server.client(Version::HTTP_2);
    let r = book(&c, "retry", Some(&key), &body, Some("order-17")).await;
    assert_eq!(Some(answer(&r)), first);
    let list = c
        .authed(Method::GET, "/calendars/retry/bookings", &key)
        .await
        .json();
    assert_eq!(list["bookings"].as_array().unwrap().len(), 1, "{list}");
    // Without the key, the same body is a new request, and the slots are taken.
    book(&c, "retry", Some(&key), &body, None)
        .await
        .problem(StatusCode::CONFLICT);
}

/// A repeat that arrives while the first request with its key is still being answered is
/// 409; once that one is done, the key is free again.
#[tokio::test]
async fn a_repeat_while_the_first_is_running_is_409() {
    use availability_server::idempotency::{self, Start};

    let server = TestServer::start().await;
    let key = always(&server, "busy").await;
    let start = ahead(0);
    let body = span(&at(start, 0), &at(start + HOUR, 0), None);
    // Hold the key as a request being answered would.
    let (parts, ()) = http::Request::builder()
        .method(Method::POST)
        .uri("/calendars/busy/bookings")
        .header("idempotency-key", "slow-1")
        .body(())
        .unwrap()
        .into_parts();
    let principal = format!("key:{}", availability_server::auth::key_id(&key).unwrap());
    let running = idempotency::start(
        &server.app.answering,
        &server.app.store,
        &parts,
        principal,
        body.as_bytes(),
    )
    .unwrap();
    assert!(matches!(running, Start::Fresh(Some(_))));
    let c = server.client(Version::HTTP_2);
    let detail = book(&c, "busy", Some(&key), &body, Some("slow-1"))
        .await
        .problem(StatusCode::CONFLICT);
    assert!(detail.contains("still being answered"), "{detail}");
    drop(running);
    let r = book(&c, "busy", Some(&key), &body, Some("slow-1")).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
}
