//! What an operator watches: `/readyz`, a `Request-Id` on every answer, and the log as JSON,
//! one object a line, with a line per request that names it and never a key.

use http::{Method, StatusCode, Version};
use serde_json::Value;

use crate::support::{Binary, Client, TestServer, JSON};

/// A made id: 16 hex digits.
fn is_made(id: Option<&str>) -> bool {
    id.is_some_and(|id| id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[tokio::test]
async fn every_answer_names_its_request_and_readyz_says_ready() {
    let server = TestServer::start().await;
    for version in [Version::HTTP_11, Version::HTTP_2] {
        let c = server.client(version);
        let ready = c.get("/readyz").await;
        assert_eq!(ready.status, StatusCode::OK, "{}", ready.text());
        let body = ready.json();
        assert_eq!(body["status"], "ready", "{body}");
        assert_eq!(body["calendars"], 1, "{body}");
        assert!(
            is_made(ready.header("request-id")),
            "{:?}",
            ready.header("request-id")
        );
        // Kept when well-formed, made anew otherwise.
        let kept = c.get_with("/healthz", &[("request-id", "lb-7f3a:2")]).await;
        assert_eq!(kept.header("request-id"), Some("lb-7f3a:2"));
        let replaced = c.get_with("/healthz", &[("request-id", "not ok")]).await;
        assert!(is_made(replaced.header("request-id")));
        // Refusals too: a write without a key, refused before its body is read, and an
        // unknown path.
        let refused = c
            .call(
                Method::PATCH,
                "/calendars/default/availability",
                None,
                &[JSON],
                "{}".to_owned(),
            )
            .await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
        assert!(is_made(refused.header("request-id")));
        let missing = c.get("/no-such-thing").await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        assert!(is_made(missing.header("request-id")));
        assert_ne!(missing.header("request-id"), refused.header("request-id"));
    }
}

// Multi-threaded: the test waits on the child process while the client's connection tasks
// must go on running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_json_log_is_an_object_a_line_with_each_request_and_no_key() {
    let data = tempfile::tempdir().unwrap();
    let log = "info,availability_server::access=info";
    let mut child = Binary::start(data.path(), log, ["--log-format", "json"]);
    let c = Client::new(child.addr, child.root(), Version::HTTP_2);
    let admin = child
        .printed_key()
        .expect("a first start prints an admin key");
    let key = c.create_calendar(&admin, "desk", "Europe/Paris").await;
    let write = c
        .json(
            Method::PATCH,
            "/calendars/desk/availability",
            &key,
            r#"{"updates":[{"day":"monday","from":"09:00","to":"17:00","status":"available"}]}"#,
        )
        .await;
    assert_eq!(write.status, StatusCode::OK, "{}", write.text());
    let wrong = c
        .json(
            Method::PATCH,
            "/calendars/desk/availability",
            &admin[..40],
            "{}",
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let asked = c
        .get_with("/calendars/desk", &[("request-id", "trace-42")])
        .await;
    assert_eq!(asked.status, StatusCode::OK);
    assert_eq!(child.terminate(), 0);
    let logged = child.log();

    let lines: Vec<Value> = logged
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}")))
        .collect();
    for line in &lines {
        for field in ["timestamp", "level", "target"] {
            assert!(line[field].is_string(), "no {field}: {line}");
        }
        assert!(line["fields"]["message"].is_string(), "no message: {line}");
    }
    let requests: Vec<&Value> = lines
        .iter()
        .filter(|l| l["target"] == "availability_server::access")
        .map(|l| &l["fields"])
        .collect();
    for request in &requests {
        for field in ["request_id", "method", "path", "route", "client"] {
            assert!(request[field].is_string(), "no {field}: {request}");
        }
        assert!(
            request["status"].is_u64() && request["micros"].is_u64(),
            "{request}"
        );
    }
    let line_of = |id: &str| requests.iter().find(|r| r["request_id"] == id).copied();
    let traced = line_of("trace-42").expect("the request's id in its line");
    assert_eq!(
        (&traced["method"], &traced["status"]),
        (&"GET".into(), &200.into())
    );
    let written = line_of(write.header("request-id").unwrap()).expect("the write's line");
    assert_eq!(
        (&written["route"], &written["status"]),
        (&"availability".into(), &200.into())
    );
    let refused = line_of(wrong.header("request-id").unwrap()).expect("the refusal's line");
    assert_eq!(refused["status"], 401);
    // No key, nor the secret part of one, in any line.
    for token in [&admin, &key] {
        assert!(!logged.contains(token.as_str()) && !logged.contains(&token[17..]));
    }
    assert!(!logged.contains(&admin[..40]), "the mistyped key");
}

/// The `/metrics` exposition after requests of every kind, as Prometheus's own checker reads
/// it: `promtool check metrics` (Debian's `prometheus` package) finds no problem.
#[tokio::test]
async fn promtool_accepts_the_metrics() {
    const TEST: &str = "promtool_accepts_the_metrics";
    let server = TestServer::start().await;
    let c = server.client(Version::HTTP_2);
    let key = c
        .create_calendar(&server.admin, "desk", "Europe/Paris")
        .await;
    let write = c
        .json(
            Method::PATCH,
            "/calendars/desk/availability",
            &key,
            r#"{"updates":[{"day":"monday","from":"09:00","to":"17:00","status":"available"}]}"#,
        )
        .await;
    assert_eq!(write.status, StatusCode::OK, "{}", write.text());
    for path in [
        "/calendars/desk/availability",
        "/calendars/desk/availability",
        "/nothing",
    ] {
        c.get(path).await;
    }
    c.json(
        Method::PATCH,
        "/calendars/desk/availability",
        "avk_wrong",
        "{}",
    )
    .await;
    let metrics = c.authed(Method::GET, "/metrics", &server.admin).await;
    assert_eq!(metrics.status, StatusCode::OK, "{}", metrics.text());
    let run = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match run {
        Ok(child) => child,
        Err(e) => {
            let why = format!("no promtool (apt-get install prometheus): {e}");
            crate::support::cannot_run(TEST, &why);
            return;
        }
    };
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), &metrics.body).unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool: {said}\n{}",
        metrics.text()
    );
}

/// The port answers from the moment it opens: while a store of 100,000 calendars loads,
/// `/readyz` and every other request get 503 with the reason and `Retry-After`, `/healthz`
/// says the process is alive; then the API takes over, with no request left unanswered in
/// between.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_is_503_with_the_reason_while_a_large_store_loads() {
    use availability_server::store::{Authority, NewCalendar};
    const CALENDARS: usize = 100_000;
    let data = tempfile::tempdir().unwrap();
    {
        let store = availability_server::store::open(data.path()).unwrap();
        let ids: Vec<String> = (0..CALENDARS).map(|i| format!("room-{i:06}")).collect();
        for chunk in ids.chunks(1000) {
            let batch: Vec<NewCalendar> = chunk
                .iter()
                .map(|id| NewCalendar {
                    id: id.clone(),
                    zone: "Europe/Berlin".to_owned(),
                    booking_public: false,
                })
                .collect();
            store.create_batch(&batch, &Authority::Unchecked).unwrap();
        }
    }
    let mut child = Binary::start_early(data.path(), "info", std::iter::empty::<&str>());
    // Meanwhile, new connections one after another across the switch to the API, each
    // asking at once: every one is answered (a connection accepted just before the switch
    // and closed unread would fail this task).
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let hammer = tokio::spawn({
        let (addr, root, done) = (child.addr, child.root(), std::sync::Arc::clone(&done));
        async move {
            let mut answered = 0_u32;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let c = Client::new(addr, root.clone(), Version::HTTP_11);
                let answer = c.get("/healthz").await;
                assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
                answered += 1;
            }
            answered
        }
    });
    let (mut starting, mut alive) = (0, 0);
    let ready = loop {
        // A new connection each time, alternating the protocols.
        let version = if starting % 2 == 0 {
            Version::HTTP_11
        } else {
            Version::HTTP_2
        };
        let c = Client::new(child.addr, child.root(), version);
        let answer = c.get("/readyz").await;
        if answer.status == StatusCode::OK {
            break answer;
        }
        let detail = answer.problem(StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            detail.contains("not ready: the server is starting"),
            "{detail}"
        );
        assert_eq!(answer.header("retry-after"), Some("1"));
        assert!(is_made(answer.header("request-id")));
        starting += 1;
        let write = c
            .json(
                Method::PATCH,
                "/calendars/room-000001/availability",
                "k",
                "{}",
            )
            .await;
        if write.status == StatusCode::SERVICE_UNAVAILABLE {
            let health = c.get("/healthz").await;
            if health.status == StatusCode::OK && health.json()["status"] == "starting" {
                alive += 1;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert!(
        starting > 0 && alive > 0,
        "{starting} answers while starting, {alive} of them alive: the load was too quick \
         to be seen (a test of nothing), or /healthz was not answered while starting"
    );
    let c = Client::new(child.addr, child.root(), Version::HTTP_2);
    assert_eq!(c.get("/healthz").await.json()["status"], "ok");
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let answered = hammer
        .await
        .expect("every connection across the switch is answered");
    assert!(answered > 0);
    let room = c.get("/calendars/room-099999").await;
    assert_eq!(room.status, StatusCode::OK, "{}", room.text());
    assert!(child.log().contains("answering 503 until ready"));
    // A new store file starts with its `default` calendar.
    assert_eq!(ready.json()["calendars"], CALENDARS + 1, "{}", ready.text());
    assert_eq!(child.terminate(), 0);
}
