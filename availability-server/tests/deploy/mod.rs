//! The monitoring files in `deploy/`: the Grafana dashboard reads only series the server
//! exports, and Prometheus's own checker accepts the scrape configuration and the dashboard's
//! expressions.
//!
//! - `promql`: the expressions' selectors, and the exposition they are checked against;
//! - here: the checks.

mod promql;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, SecondsFormat};
use http::{Method, StatusCode, Version};
use serde_json::Value;

use self::promql::{uses, Exposition};
use crate::live::Events;
use crate::support::{cannot_run, Client, TestServer, JSON};

const DASHBOARD: &str = include_str!("../../../deploy/grafana-dashboard.json");
const PROMETHEUS: &str = include_str!("../../../deploy/prometheus.yml");

/// Labels Prometheus adds to every series it scrapes.
const TARGET_LABELS: [&str; 2] = ["job", "instance"];

/// Every panel, those inside rows too.
fn panels(dashboard: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    let mut todo: Vec<&Value> = dashboard["panels"].as_array().unwrap().iter().collect();
    while let Some(panel) = todo.pop() {
        if let Some(inner) = panel["panels"].as_array() {
            todo.extend(inner);
        }
        out.push(panel);
    }
    out
}

/// Every PromQL expression of the dashboard, with where it is: the panels' targets, and the
/// selector of each `label_values(selector, label)` variable.
fn expressions(dashboard: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for panel in panels(dashboard) {
        for target in panel["targets"].as_array().into_iter().flatten() {
            if let Some(expr) = target["expr"].as_str() {
                let title = panel["title"].as_str().unwrap_or_default();
                let at = format!("panel {title:?}, {}", target["refId"]);
                out.push((at, expr.to_owned()));
            }
        }
    }
    for variable in dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let query = match &variable["query"] {
            Value::String(query) => query.as_str(),
            query => query["query"].as_str().unwrap_or_default(),
        };
        if let Some(inner) = query
            .trim()
            .strip_prefix("label_values(")
            .and_then(|q| q.strip_suffix(')'))
        {
            let (selector, _label) = inner.rsplit_once(',').unwrap_or((inner, ""));
            let at = format!("variable {}", variable["name"]);
            out.push((at, selector.trim().to_owned()));
        }
    }
    out
}

/// What is wrong with `dashboard` against `exposition`: names that are no series of it,
/// labels its series do not have, and equality matchers that no sample satisfies (the test
/// makes the requests that give each such series a sample).
fn problems(dashboard: &Value, exposition: &Exposition) -> Vec<String> {
    let mut known: BTreeSet<&str> = TARGET_LABELS.into();
    for (_, labels) in &exposition.samples {
        known.extend(labels.keys().map(String::as_str));
    }
    let mut out = Vec::new();
    let found = expressions(dashboard);
    assert!(!found.is_empty(), "no expression in the dashboard");
    for (at, expr) in found {
        let used = match uses(&expr) {
            Ok(used) => used,
            Err(e) => {
                out.push(format!("{at}: {e}"));
                continue;
            }
        };
        if used.selectors.is_empty() {
            out.push(format!("{at}: reads no metric: {expr}"));
        }
        for label in &used.grouping {
            if !known.contains(label.as_str()) {
                out.push(format!("{at}: no series has a label {label:?}"));
            }
        }
        for selector in used.selectors {
            let name = selector.metric.as_str();
            if let Err(e) = exposition.series(name) {
                out.push(format!("{at}: {e}"));
                continue;
            }
            let samples: Vec<_> = exposition.labels_of(name).collect();
            if samples.is_empty() {
                out.push(format!("{at}: {name} has no sample"));
                continue;
            }
            let own: Vec<_> = selector
                .matchers
                .iter()
                .filter(|m| !TARGET_LABELS.contains(&m.label.as_str()))
                .collect();
            let missing: Vec<_> = own
                .iter()
                .filter(|m| !samples.iter().any(|l| l.contains_key(&m.label)))
                .collect();
            for m in &missing {
                out.push(format!("{at}: {name} has no label {:?}", m.label));
            }
            if !missing.is_empty() {
                continue;
            }
            // Literal values, which the test's requests give a sample; regular expressions
            // and Grafana variables are not checked.
            let equal: Vec<_> = own
                .iter()
                .filter(|m| m.op == "=" && !m.value.contains('$'))
                .collect();
            let matched = samples
                .iter()
                .any(|labels| equal.iter().all(|m| labels.get(&m.label) == Some(&m.value)));
            if !matched {
                let wanted: Vec<_> = equal
                    .iter()
                    .map(|m| format!("{}={:?}", m.label, m.value))
                    .collect();
                out.push(format!(
                    "{at}: no sample of {name} has {}",
                    wanted.join(", ")
                ));
            }
        }
    }
    out
}

/// `unix` as RFC 3339 in UTC.
fn rfc3339(unix: i64) -> String {
    DateTime::from_timestamp(unix, 0)
        .unwrap()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Books the hour from `start` on the calendar `desk`.
async fn book(c: &Client, key: &str, start: i64) -> (StatusCode, Value) {
    let body = serde_json::json!({ "start": rfc3339(start), "end": rfc3339(start + 3600) });
    let path = "/calendars/desk/bookings";
    let r = c.json(Method::POST, path, key, &body.to_string()).await;
    (
        r.status,
        serde_json::from_slice(&r.body).unwrap_or_default(),
    )
}

/// After requests of the kinds the dashboard shows (a pattern written, a booking, a
/// conflict, a cancellation, reads the cache answers, refusals, an event stream open and one
/// refused), every expression of the dashboard reads series the server exports, with labels
/// they have and values they take.
#[tokio::test]
async fn the_dashboard_reads_only_series_the_server_exports() {
    let server = TestServer::start_tweaked(|config| config.events.total = 1).await;
    let c = server.client(Version::HTTP_2);
    let key = c.create_calendar(&server.admin, "desk", "UTC").await;
    let days: Vec<Value> = (0..7)
        .map(|day| serde_json::json!({"day": day, "from": "00:00", "to": "24:00", "status": "available"}))
        .collect();
    let pattern = serde_json::json!({ "updates": days }).to_string();
    let r = c
        .json(Method::PUT, "/calendars/desk/availability", &key, &pattern)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    // A whole hour three days ahead, then the half hour after it.
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let start = (i64::try_from(now.as_secs()).unwrap() / 3600 + 72) * 3600;
    let (status, booked) = book(&c, &key, start).await;
    assert_eq!(status, StatusCode::CREATED, "{booked}");
    let (status, conflict) = book(&c, &key, start + 1800).await;
    assert_eq!(status, StatusCode::CONFLICT, "{conflict}");
    let cancel = format!(
        "/calendars/desk/bookings/{}",
        booked["id"].as_str().unwrap()
    );
    let r = c.authed(Method::DELETE, &cancel, &key).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    for path in [
        "/calendars/desk/availability",
        "/calendars/desk/availability",
        "/calendars/desk/availability?format=ics",
        "/calendars/desk",
        "/nothing",
    ] {
        c.get(path).await;
    }
    let path = "/calendars/desk/availability";
    let refused = c.call(Method::PATCH, path, None, &[JSON], "{}").await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    // One stream is the server's bound here: a second is 503.
    let mut open = Events::open(&c, "/calendars/desk/events", &[]).await;
    assert_eq!(open.status, StatusCode::OK);
    open.next().await.unwrap();
    let other = server.client(Version::HTTP_11).from("127.0.0.2");
    let full = Events::open(&other, "/calendars/desk/events", &[]).await;
    assert_eq!(full.status, StatusCode::SERVICE_UNAVAILABLE);

    let metrics = c.authed(Method::GET, "/metrics", &server.admin).await;
    assert_eq!(metrics.status, StatusCode::OK, "{}", metrics.text());
    let exposition = Exposition::parse(&metrics.text());
    let dashboard: Value = serde_json::from_str(DASHBOARD).unwrap();
    let found = problems(&dashboard, &exposition);
    assert!(
        found.is_empty(),
        "deploy/grafana-dashboard.json:\n  {}\nThe families /metrics has: {:?}",
        found.join("\n  "),
        exposition.families.keys().collect::<Vec<_>>()
    );
    drop(open);
}

/// The dashboard is one Grafana can import: JSON with a title, a uid, a schema version, the
/// `DS_PROMETHEUS` input that every panel and target names as its data source, and panels
/// that each have a type, a place and at least one query, under distinct ids.
#[test]
fn the_dashboard_is_a_grafana_dashboard() {
    let dashboard: Value = serde_json::from_str(DASHBOARD).expect("the dashboard is JSON");
    for field in ["title", "uid"] {
        assert!(dashboard[field].is_string(), "no {field}");
    }
    assert!(dashboard["schemaVersion"].as_u64().unwrap() >= 36);
    let inputs = dashboard["__inputs"].as_array().unwrap();
    assert!(inputs
        .iter()
        .any(|i| i["name"] == "DS_PROMETHEUS" && i["pluginId"] == "prometheus"));
    let source = serde_json::json!({"type": "prometheus", "uid": "${DS_PROMETHEUS}"});
    assert!(dashboard["panels"].is_array(), "no panels array");
    let panels = panels(&dashboard);
    assert!(!panels.is_empty(), "no panel");
    let mut ids = BTreeSet::new();
    for panel in panels {
        let title = &panel["title"];
        assert!(title.is_string() && panel["type"].is_string(), "{panel}");
        let id = panel["id"].as_u64().unwrap();
        assert!(ids.insert(id), "two panels of id {id}");
        for place in ["x", "y", "w", "h"] {
            assert!(
                panel["gridPos"][place].is_u64(),
                "{title}: no gridPos.{place}"
            );
        }
        assert_eq!(panel["datasource"], source, "{title}");
        let targets = panel["targets"].as_array().map_or(&[][..], Vec::as_slice);
        assert!(!targets.is_empty(), "{title}: no target");
        let mut refs = BTreeSet::new();
        for target in targets {
            assert_eq!(target["datasource"], source, "{title}");
            assert!(target["expr"].is_string(), "{title}: a target without expr");
            assert!(refs.insert(target["refId"].as_str().unwrap()), "{title}");
        }
    }
}

/// Runs `promtool` with `args` in `dir`: whether it succeeded, and what it said; `None`
/// (after saying so, or failing under CI) when there is no promtool.
fn promtool(test: &str, args: &[&str], dir: &Path) -> Option<(bool, String)> {
    let out = match Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .output()
    {
        Ok(out) => out,
        Err(e) => {
            let why = format!("no promtool (apt-get install prometheus): {e}");
            cannot_run(test, &why);
            return None;
        }
    };
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some((out.status.success(), said))
}

/// `promtool check config` accepts deploy/prometheus.yml with the files it names (the admin
/// key) beside it, as an operator puts them; and `promtool check rules` parses every
/// expression of the dashboard, its Grafana variables given values.
#[test]
fn promtool_accepts_the_scrape_config_and_the_dashboard_queries() {
    const TEST: &str = "promtool_accepts_the_scrape_config_and_the_dashboard_queries";
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("prometheus.yml"), PROMETHEUS).unwrap();
    // The files the configuration names outside its comments, relative to it: promtool
    // checks that they exist.
    for line in PROMETHEUS.lines().map(str::trim) {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        if key.ends_with("_file") && !key.starts_with('#') {
            let file = value.trim().trim_matches('"');
            assert!(
                !file.starts_with('/'),
                "{file}: not relative to the configuration"
            );
            std::fs::write(dir.path().join(file), "avk_000000000000_placeholder\n").unwrap();
        }
    }
    let check = ["check", "config", "prometheus.yml"];
    let Some((ok, said)) = promtool(TEST, &check, dir.path()) else {
        return;
    };
    assert!(
        ok && said.contains("SUCCESS"),
        "promtool check config: {said}"
    );

    let dashboard: Value = serde_json::from_str(DASHBOARD).unwrap();
    let rules: Vec<Value> = expressions(&dashboard)
        .into_iter()
        .enumerate()
        .map(|(n, (_, expr))| {
            let expr = expr
                .replace("$__rate_interval", "1m")
                .replace("$__range", "1h");
            serde_json::json!({ "record": format!("dashboard:expression_{n}"), "expr": expr })
        })
        .collect();
    // JSON is YAML.
    let file = serde_json::json!({ "groups": [{ "name": "dashboard", "rules": rules }] });
    std::fs::write(dir.path().join("rules.yml"), file.to_string()).unwrap();
    let check = ["check", "rules", "rules.yml"];
    let Some((ok, said)) = promtool(TEST, &check, dir.path()) else {
        return;
    };
    assert!(
        ok && said.contains("SUCCESS"),
        "promtool check rules: {said}"
    );
}
