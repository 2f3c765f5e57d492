//! The catalogue: every hostile request as the exact bytes sent, and the answer pinned for each.

use super::Outcome;

fn get(target: &str) -> Vec<u8> {
    format!("GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").into_bytes()
}

fn with_body(method: &str, target: &str, key: &str, content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut request = format!(
        "{method} {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Authorization: Bearer {key}\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}

/// Garbage that a careful server ignores rather than refuses (RFC 9110 tells recipients to
/// ignore conditional and content-coding headers they cannot parse): any answer but a 5xx.
pub(super) const TOLERATED: &[&str] = &[
    "If-None-Match garbage",
    "Accept-Encoding garbage",
    "X-Forwarded-For garbage",
    // `/` is the start page, for anyone.
    "root",
];

/// What each case of the catalogue gets, pinned: a changed answer is a changed behaviour to
/// look at, not noise. A close is pinned only where the client sent no request a server could
/// answer (nothing, half a request line, an HTTP/2 preface on HTTP/1.1).
pub(super) const EXPECTED: &[(&str, Outcome)] = &[
    ("unknown method", Outcome::Status(405)),
    ("booking far beyond the calendar", Outcome::Status(422)),
    ("booking id past u64", Outcome::Status(400)),
    ("idempotency key with a control byte", Outcome::Status(400)),
    ("method on a read-only path", Outcome::Status(405)),
    // The authority form reads as `/`, which answers GET and HEAD only.
    ("CONNECT", Outcome::Status(405)),
    ("lowercase method", Outcome::Status(405)),
    ("root", Outcome::Status(200)),
    ("dot segments", Outcome::Status(404)),
    ("encoded NUL in an id", Outcome::Status(404)),
    ("encoded slash in an id", Outcome::Status(404)),
    ("upper-case id", Outcome::Status(404)),
    ("id too long", Outcome::Status(404)),
    ("very long path", Outcome::Status(431)),
    ("deep path", Outcome::Status(431)),
    ("asterisk target", Outcome::Status(404)),
    ("raw invalid UTF-8 in the path", Outcome::Status(400)),
    ("unknown parameter", Outcome::Status(400)),
    ("repeated parameter", Outcome::Status(400)),
    ("bad percent escape", Outcome::Status(400)),
    ("percent-encoded invalid UTF-8", Outcome::Status(400)),
    ("unknown zone", Outcome::Status(400)),
    ("zone path tricks", Outcome::Status(400)),
    ("week out of range", Outcome::Status(400)),
    ("week 54", Outcome::Status(400)),
    ("negative year", Outcome::Status(400)),
    ("impossible date", Outcome::Status(400)),
    ("unknown format", Outcome::Status(400)),
    ("day out of range", Outcome::Status(400)),
    ("huge day number", Outcome::Status(400)),
    ("quarter-hour time", Outcome::Status(400)),
    ("slot at 24:00", Outcome::Status(400)),
    ("slot without a time", Outcome::Status(400)),
    ("many parameters", Outcome::Status(431)),
    ("one huge header", Outcome::Status(431)),
    ("a thousand headers", Outcome::Status(431)),
    ("header without a colon", Outcome::Status(400)),
    ("NUL in a header", Outcome::Status(400)),
    ("malformed key", Outcome::Status(400)),
    ("key from nowhere", Outcome::Status(401)),
    ("wrong secret for a real key id", Outcome::Status(401)),
    ("X-Forwarded-For garbage", Outcome::Status(200)),
    ("If-None-Match garbage", Outcome::Status(200)),
    ("Accept-Encoding garbage", Outcome::Status(200)),
    ("text body", Outcome::Status(415)),
    ("no content type", Outcome::Status(415)),
    ("empty body", Outcome::Status(400)),
    ("truncated JSON", Outcome::Status(400)),
    ("JSON nested a hundred thousand deep", Outcome::Status(413)),
    ("objects nested deep", Outcome::Status(413)),
    ("invalid UTF-8 in JSON", Outcome::Status(400)),
    ("day as a float", Outcome::Status(400)),
    ("day past u32", Outcome::Status(400)),
    ("negative day", Outcome::Status(400)),
    ("status as a number", Outcome::Status(400)),
    ("backwards range", Outcome::Status(400)),
    ("too many entries", Outcome::Status(400)),
    ("body over the cap", Outcome::Status(413)),
    ("create with a bad id", Outcome::Status(400)),
    ("create with an unknown zone", Outcome::Status(400)),
    ("create with extra fields", Outcome::Status(400)),
    ("the last admin key revoked", Outcome::Status(409)),
    ("admin key id far too long", Outcome::Status(404)),
    ("admin key label with a control byte", Outcome::Status(400)),
    ("admin key with a scope", Outcome::Status(400)),
    ("content length and chunked together", Outcome::Status(400)),
    ("invalid chunk size", Outcome::Status(400)),
    ("huge chunk size", Outcome::Status(400)),
    ("negative content length", Outcome::Status(400)),
    (
        "body shorter than its length, then gone",
        Outcome::Status(400),
    ),
    ("HTTP/9.9", Outcome::Status(400)),
    ("request line only, then gone", Outcome::Closed),
    ("HTTP/2 preface on an HTTP/1.1 connection", Outcome::Closed),
    ("binary garbage", Outcome::Status(400)),
    ("nothing at all", Outcome::Closed),
];

/// The README's count of the catalogue.
pub(super) const CASES: usize = 75;

/// The catalogue: a name and the exact bytes sent.
pub(super) fn catalogue(admin: &str) -> Vec<(&'static str, Vec<u8>)> {
    let with_header = |target: &str, header: &[u8]| {
        let mut r = get(target);
        r.splice(r.len() - 2..r.len() - 2, header.iter().copied());
        r
    };
    let batch = |body: &str| {
        with_body(
            "PATCH",
            "/calendars/default/availability",
            admin,
            "application/json",
            body.as_bytes(),
        )
    };
    let mut cases: Vec<(&'static str, Vec<u8>)> = vec![
        // Methods.
        (
            "unknown method",
            b"BREW /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec(),
        ),
        (
            "method on a read-only path",
            b"DELETE /availability/csv HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        ),
        (
            "CONNECT",
            b"CONNECT localhost:443 HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec(),
        ),
        (
            "lowercase method",
            b"get /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec(),
        ),
        // Paths.
        ("root", get("/")),
        ("dot segments", get("/calendars/../../../etc/passwd")),
        ("encoded NUL in an id", get("/calendars/%00/availability")),
        (
            "encoded slash in an id",
            get("/calendars/a%2Fb/availability"),
        ),
        ("upper-case id", get("/calendars/DEFAULT/availability")),
        (
            "id too long",
            get(&format!("/calendars/{}/availability", "a".repeat(64))),
        ),
        ("very long path", get(&format!("/{}", "a".repeat(60_000)))),
        ("deep path", get(&"/calendars".repeat(2_000))),
        (
            "asterisk target",
            b"OPTIONS * HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec(),
        ),
        (
            "raw invalid UTF-8 in the path",
            b"GET /calendars/\xff\xfe/availability HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec(),
        ),
        // Query strings.
        ("unknown parameter", get("/availability?timezone=UTC")),
        (
            "repeated parameter",
            get("/availability?tz=UTC&tz=Asia/Tokyo"),
        ),
        ("bad percent escape", get("/availability?tz=%ZZ")),
        (
            "percent-encoded invalid UTF-8",
            get("/availability?tz=%FF%FE"),
        ),
        ("unknown zone", get("/availability?tz=Mars%2FOlympus")),
        (
            "zone path tricks",
            get("/availability?tz=..%2F..%2Fetc%2Fpasswd"),
        ),
        ("week out of range", get("/availability?week=99999-W01")),
        ("week 54", get("/availability?week=2026-W54")),
        ("negative year", get("/availability?week=-2026-W01")),
        ("impossible date", get("/availability?week=2026-02-30")),
        ("unknown format", get("/availability?format=xml")),
        (
            "day out of range",
            get("/availability/slot?day=7&time=09:00"),
        ),
        (
            "huge day number",
            get("/availability/slot?day=99999999999999999999999&time=09:00"),
        ),
        (
            "quarter-hour time",
            get("/availability/slot?day=monday&time=09:15"),
        ),
        (
            "slot at 24:00",
            get("/availability/slot?day=monday&time=24:00"),
        ),
        ("slot without a time", get("/availability/slot?day=monday")),
        (
            "many parameters",
            get(&format!("/availability?{}", "a=b&".repeat(5_000))),
        ),
        // Headers.
        (
            "one huge header",
            format!(
                "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
                "a".repeat(200_000)
            )
            .into_bytes(),
        ),
        (
            "a thousand headers",
            format!(
                "GET /healthz HTTP/1.1\r\nHost: x\r\n{}\r\n",
                "X-A: b\r\n".repeat(1_000)
            )
            .into_bytes(),
        ),
        (
            "header without a colon",
            b"GET /healthz HTTP/1.1\r\nHost x\r\n\r\n".to_vec(),
        ),
        (
            "NUL in a header",
            b"GET /healthz HTTP/1.1\r\nHost: x\x00y\r\n\r\n".to_vec(),
        ),
        ("malformed key", {
            let mut r = get("/calendars");
            r.splice(
                r.len() - 2..r.len() - 2,
                *b"Authorization: Bearer avk_\xff_\x01\r\n",
            );
            r
        }),
        ("key from nowhere", {
            let mut r = get("/calendars");
            let header = format!(
                "Authorization: Bearer avk_{}_{}\r\n",
                "0".repeat(12),
                "1".repeat(40)
            );
            r.splice(r.len() - 2..r.len() - 2, header.into_bytes());
            r
        }),
        ("wrong secret for a real key id", {
            let id = availability_server::auth::key_id(admin).unwrap_or("000000000000");
            let wrong = availability_server::auth::assemble(id, &[0xee; 20]);
            with_header(
                "/calendars",
                format!("Authorization: Bearer {wrong}\r\n").as_bytes(),
            )
        }),
        // Client addresses: the test server believes X-Forwarded-For from its own address.
        (
            "X-Forwarded-For garbage",
            with_header(
                "/healthz",
                b"X-Forwarded-For: [::1]:99999, unknown, [zz]:1, 1.2.3.4:, ::ffff:1.2.3.4, \
                  ,,, 999.1.1.1, _hidden\r\nX-Forwarded-For: \xff\xfe\r\n",
            ),
        ),
        ("If-None-Match garbage", {
            let mut r = get("/availability");
            r.splice(
                r.len() - 2..r.len() - 2,
                *b"If-None-Match: \"\"\"\",,,W/\r\n",
            );
            r
        }),
        ("Accept-Encoding garbage", {
            let mut r = get("/availability");
            r.splice(
                r.len() - 2..r.len() - 2,
                *b"Accept-Encoding: br;q=NaN, gzip;q=-1, *;q=2\r\n",
            );
            r
        }),
        // Bodies and content types.
        (
            "text body",
            with_body(
                "PATCH",
                "/calendars/default/availability",
                admin,
                "text/plain",
                b"hi",
            ),
        ),
        (
            "no content type",
            format!(
                "PATCH /availability HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {admin}\r\n\
                 Content-Length: 2\r\n\r\n{{}}"
            )
            .into_bytes(),
        ),
        ("empty body", batch("")),
        (
            "truncated JSON",
            batch(r#"{"updates":[{"day":"monday","from":"09:"#),
        ),
        (
            "JSON nested a hundred thousand deep",
            batch(&"[".repeat(100_000)),
        ),
        (
            "objects nested deep",
            batch(&r#"{"updates":"#.repeat(10_000)),
        ),
        (
            "invalid UTF-8 in JSON",
            with_body(
                "PATCH",
                "/availability",
                admin,
                "application/json",
                b"{\"updates\":[{\"day\":\"\xff\xfe\",\"time\":\"09:00\",\"status\":\"maybe\"}]}",
            ),
        ),
        (
            "day as a float",
            batch(r#"{"updates":[{"day":1e400,"time":"09:00","status":"maybe"}]}"#),
        ),
        (
            "day past u32",
            batch(r#"{"updates":[{"day":4294967296,"time":"09:00","status":"maybe"}]}"#),
        ),
        (
            "negative day",
            batch(r#"{"updates":[{"day":-1,"time":"09:00","status":"maybe"}]}"#),
        ),
        (
            "status as a number",
            batch(r#"{"updates":[{"day":0,"time":"09:00","status":2}]}"#),
        ),
        (
            "backwards range",
            batch(r#"{"updates":[{"day":0,"from":"17:00","to":"09:00","status":"maybe"}]}"#),
        ),
        (
            "too many entries",
            batch(&format!(
                r#"{{"updates":[{}]}}"#,
                vec![r#"{"day":0,"time":"09:00","status":"maybe"}"#; 337].join(",")
            )),
        ),
        (
            "body over the cap",
            batch(&format!(
                r#"{{"updates":[],"pad":"{}"}}"#,
                "x".repeat(70_000)
            )),
        ),
        (
            "create with a bad id",
            with_body(
                "POST",
                "/calendars",
                admin,
                "application/json",
                br#"{"id":"-bad-","timezone":"UTC"}"#,
            ),
        ),
        (
            "create with an unknown zone",
            with_body(
                "POST",
                "/calendars",
                admin,
                "application/json",
                br#"{"id":"x1","timezone":"Nowhere/City"}"#,
            ),
        ),
        (
            "create with extra fields",
            with_body(
                "POST",
                "/calendars",
                admin,
                "application/json",
                br#"{"id":"x2","timezone":"UTC","admin":true}"#,
            ),
        ),
        // Admin keys: the only one cannot be revoked, and nothing malformed makes one.
        ("the last admin key revoked", {
            let id = availability_server::auth::key_id(admin).unwrap_or("none");
            with_body(
                "DELETE",
                &format!("/admin/keys/{id}"),
                admin,
                "application/json",
                b"",
            )
        }),
        (
            "admin key id far too long",
            with_body(
                "DELETE",
                &format!("/admin/keys/{}", "f".repeat(300)),
                admin,
                "application/json",
                b"",
            ),
        ),
        (
            "admin key label with a control byte",
            with_body(
                "POST",
                "/admin/keys",
                admin,
                "application/json",
                br#"{"label":"ops\u0007"}"#,
            ),
        ),
        (
            "admin key with a scope",
            with_body(
                "POST",
                "/admin/keys",
                admin,
                "application/json",
                br#"{"scope":"write"}"#,
            ),
        ),
        // Bookings.
        (
            "booking far beyond the calendar",
            with_body(
                "POST",
                "/calendars/default/bookings",
                admin,
                "application/json",
                br#"{"start":"9999-12-31T00:00:00+23:59","end":"9999-12-31T23:59:00-23:59"}"#,
            ),
        ),
        (
            "booking id past u64",
            format!(
                "DELETE /calendars/default/bookings/99999999999999999999999 HTTP/1.1\r\n\
                 Host: x\r\nConnection: close\r\nAuthorization: Bearer {admin}\r\n\r\n"
            )
            .into_bytes(),
        ),
        (
            "idempotency key with a control byte",
            format!(
                "POST /calendars/default/bookings HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
                 Authorization: Bearer {admin}\r\nIdempotency-Key: a\tb\r\n\
                 Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{{}}"
            )
            .into_bytes(),
        ),
        // Framing.
        (
            "content length and chunked together",
            format!(
                "PATCH /availability HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {admin}\r\n\
                 Content-Type: application/json\r\nContent-Length: 5\r\n\
                 Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
            )
            .into_bytes(),
        ),
        (
            "invalid chunk size",
            format!(
                "PATCH /availability HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {admin}\r\n\
                 Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
            )
            .into_bytes(),
        ),
        (
            "huge chunk size",
            format!(
                "PATCH /availability HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {admin}\r\n\
                 Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n\
                 FFFFFFFFFFFFFFFFFF\r\n"
            )
            .into_bytes(),
        ),
        (
            "negative content length",
            b"PATCH /availability HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n".to_vec(),
        ),
        (
            "body shorter than its length, then gone",
            format!(
                "PATCH /availability HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {admin}\r\n\
                 Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"upd"
            )
            .into_bytes(),
        ),
        (
            "HTTP/9.9",
            b"GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n".to_vec(),
        ),
        (
            "request line only, then gone",
            b"GET /healthz HTTP/1.1\r\n".to_vec(),
        ),
        (
            "HTTP/2 preface on an HTTP/1.1 connection",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec(),
        ),
        ("binary garbage", (0..=255u8).cycle().take(10_000).collect()),
    ];
    cases.push(("nothing at all", Vec::new()));
    cases
}
