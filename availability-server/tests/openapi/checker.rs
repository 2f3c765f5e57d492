//! Checking real answers against the document: the status, the media type, the headers and the
//! body under its schema, and which operations have been seen succeed and fail.

use std::collections::BTreeMap;

use http::{Method, StatusCode, Version};
use serde_json::Value;

use super::{document, documented, resolve};
use crate::live::Events;
use crate::support::{Client, Resp};

/// Checks answers against the document, and remembers which operations it has seen succeed
/// and fail.
pub(super) struct Checker {
    doc: Value,
    /// For each documented (path, method): seen a success, seen a problem.
    pub(super) seen: BTreeMap<(String, String), (bool, bool)>,
}

impl Checker {
    pub(super) fn new() -> Checker {
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
    pub(super) fn check(&mut self, method: &Method, path: &str, answer: &Resp) {
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
        // A stream's schema is each event's, as schemathesis and OpenAPI 3.2's `itemSchema`
        // read it; with its `data` as the JSON its `contentSchema` describes.
        let stream = media.starts_with("text/event-stream");
        let instances: Vec<Value> = if media.contains("json") {
            vec![answer.json()]
        } else if stream {
            events_of(&answer.text())
        } else {
            vec![Value::String(answer.text())]
        };
        assert!(
            !instances.is_empty(),
            "{method} {path} {status}: a stream without an event"
        );
        let validator = self.validator(schema, &format!("{method} {template} {status}"));
        let data = resolve(&self.doc, schema)["properties"]["data"]["contentSchema"].clone();
        let data = (stream && !data.is_null())
            .then(|| self.validator(&data, &format!("{method} {template} {status} data")));
        for instance in &instances {
            let mut errors: Vec<String> = validator
                .iter_errors(instance)
                .map(|e| format!("{} at {}", e, e.instance_path()))
                .collect();
            if let (Some(data), Some(text)) = (&data, instance["data"].as_str()) {
                let parsed: Value = serde_json::from_str(text)
                    .unwrap_or_else(|e| panic!("{method} {path}: an event's data: {e}: {text}"));
                errors.extend(
                    data.iter_errors(&parsed)
                        .map(|e| format!("{} at data{}", e, e.instance_path())),
                );
            }
            assert!(
                errors.is_empty(),
                "{method} {path} {status} does not match its schema: {errors:#?}\n{}",
                answer.text()
            );
        }
    }

    /// A validator of `schema`, which may refer to the document's components.
    fn validator(&self, schema: &Value, what: &str) -> jsonschema::Validator {
        let mut root = schema.clone();
        root.as_object_mut()
            .expect("a schema object")
            .insert("components".into(), self.doc["components"].clone());
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(&root)
            .unwrap_or_else(|e| panic!("{what}: the schema: {e}"))
    }
}

/// The events of a Server-Sent Events text as objects of their fields (`retry` a number),
/// the way schemathesis checks them; comment lines are no event.
fn events_of(text: &str) -> Vec<Value> {
    text.split("\n\n")
        .filter_map(|block| {
            let mut event = serde_json::Map::new();
            for line in block.lines().filter(|l| !l.starts_with(':')) {
                let (field, value) = line.split_once(':').unwrap_or((line, ""));
                let value = value.strip_prefix(' ').unwrap_or(value);
                let value = match (field, value.parse::<u64>()) {
                    ("retry", Ok(ms)) => Value::from(ms),
                    _ => Value::from(value),
                };
                event.insert(field.to_owned(), value);
            }
            (!event.is_empty()).then_some(Value::Object(event))
        })
        .collect()
}

/// A request and its answer, checked against the document.
pub(super) struct Session<'a> {
    pub(super) client: Client,
    pub(super) checker: &'a mut Checker,
}

impl Session<'_> {
    /// Sends `method path` with an optional key, body (`content-type`, text) and headers;
    /// checks the answer and asserts its status.
    pub(super) async fn call(
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

    pub(super) async fn get(&mut self, path: &str, status: StatusCode) -> Resp {
        self.call(Method::GET, path, None, None, &[], status).await
    }

    pub(super) async fn json(
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
    pub(super) async fn stream(&mut self, path: &str) {
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
