//! Errors as `application/problem+json` (RFC 9457).
//!
//! Every failure a client can cause becomes a [`Problem`]: a status, a short title and a
//! `detail` written for a person, saying what was wrong and what would be accepted. Handlers
//! return `Result<Response, Problem>`; the router turns the error side into a response, so no
//! handler builds error bodies by hand.

use http::header::{HeaderValue, ALLOW, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{Response, StatusCode};

use crate::limit::Verdict;

use super::Body;

/// A client-facing error.
#[derive(Debug, Clone)]
pub struct Problem {
    status: StatusCode,
    detail: String,
    /// The `Allow` header for 405.
    allow: Option<String>,
    /// Whether to ask for credentials (`WWW-Authenticate`), for 401.
    challenge: bool,
    /// Seconds for `Retry-After`, for 429 and 503.
    retry_after: Option<u64>,
    /// The rate limit charged for this answer, for its `RateLimit` fields.
    limit: Option<Box<Verdict>>,
    /// Extension members of the body (RFC 9457 section 3.2), beside the standard ones.
    members: Option<Box<serde_json::Map<String, serde_json::Value>>>,
}

impl Problem {
    /// A problem with this status and detail.
    #[cold]
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Problem {
        Problem {
            status,
            detail: detail.into(),
            allow: None,
            challenge: false,
            retry_after: None,
            limit: None,
            members: None,
        }
    }

    /// The same problem with an extension member `name` in its body, for programs to read.
    #[must_use]
    pub fn with_member(mut self, name: &str, value: serde_json::Value) -> Problem {
        self.members
            .get_or_insert_with(Default::default)
            .insert(name.to_owned(), value);
        self
    }

    /// 400: a bad parameter or body.
    #[cold]
    pub fn bad_request(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::BAD_REQUEST, detail)
    }

    /// 401: no key, or a key that is not valid; asks for a bearer token.
    #[cold]
    pub fn unauthorized(detail: impl Into<String>) -> Problem {
        let mut p = Problem::new(StatusCode::UNAUTHORIZED, detail);
        p.challenge = true;
        p
    }

    /// 403: a valid key that does not cover this resource.
    #[cold]
    pub fn forbidden(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::FORBIDDEN, detail)
    }

    /// 404.
    #[cold]
    pub fn not_found(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, detail)
    }

    /// 405 with the methods the path does accept.
    #[cold]
    pub fn method_not_allowed(allow: String) -> Problem {
        let mut p = Problem::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("this path accepts only {allow}"),
        );
        p.allow = Some(allow);
        p
    }

    /// 409.
    #[cold]
    pub fn conflict(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::CONFLICT, detail)
    }

    /// 422: a well-formed request the rules refuse (a booking's span, an idempotency key
    /// reused for another request).
    #[cold]
    pub fn unprocessable(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::UNPROCESSABLE_ENTITY, detail)
    }

    /// 412: `If-Match` named a version that is no longer current.
    #[cold]
    pub fn precondition_failed(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::PRECONDITION_FAILED, detail)
    }

    /// 413.
    #[cold]
    pub fn too_large(limit: usize) -> Problem {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body is larger than the limit of {limit} bytes"),
        )
    }

    /// 415.
    #[cold]
    pub fn unsupported_media_type() -> Problem {
        Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the body must be JSON: send Content-Type: application/json",
        )
    }

    /// 429: a rate limit refused the request; the verdict gives `Retry-After` and the
    /// `RateLimit` fields.
    #[cold]
    pub fn too_many_requests(detail: impl Into<String>, verdict: Verdict) -> Problem {
        let mut p = Problem::new(StatusCode::TOO_MANY_REQUESTS, detail);
        p.retry_after = Some(verdict.reset.max(1));
        p.limit = Some(Box::new(verdict));
        p
    }

    /// The same problem, answered with the fields of the limit that was charged, unless it
    /// already carries those of another (the limit that refused it).
    pub fn or_limit(mut self, verdict: Verdict) -> Problem {
        if self.limit.is_none() {
            self.limit = Some(Box::new(verdict));
        }
        self
    }

    /// 503 with `Retry-After`: the server cannot take the request now, but will soon.
    #[cold]
    pub fn unavailable(detail: impl Into<String>, retry_after: u64) -> Problem {
        let mut p = Problem::new(StatusCode::SERVICE_UNAVAILABLE, detail);
        p.retry_after = Some(retry_after.max(1));
        p
    }

    /// 507: the disk holding the store is full.
    #[cold]
    pub fn insufficient_storage(context: &str, err: impl std::fmt::Display) -> Problem {
        tracing::error!(%err, "{context}: the disk is full");
        Problem::new(
            StatusCode::INSUFFICIENT_STORAGE,
            format!(
                "{context} failed: the server's disk is full, so the store cannot grow; \
                 existing calendars can still be read and written"
            ),
        )
    }

    /// 503 while the server shuts down.
    #[cold]
    pub fn shutting_down() -> Problem {
        let mut p = Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is shutting down; retry in a moment",
        );
        p.retry_after = Some(1);
        p
    }

    /// A failure on the server's side (the disk, the blocking pool). The detail is logged,
    /// not sent: it may name files of the machine.
    #[cold]
    pub fn internal(context: &str, err: impl std::fmt::Display) -> Problem {
        tracing::error!(%err, "{context}");
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("{context} failed on the server; the error is logged"),
        )
    }

    /// The HTTP answer to a store refusal. The store's messages are written for the client
    /// (they name the calendar, the key or the version); a full disk is 507, which says so
    /// without naming the file; any other failure of the store itself (I/O) is logged and
    /// answered with a bare 500.
    pub fn of_core(what: &str, err: availability_core::Error) -> Problem {
        if err.is_storage_full() {
            Problem::insufficient_storage(what, err)
        } else if err.is_unavailable() {
            Problem::unavailable(err.to_string(), 1)
        } else if err.is_unauthorized() {
            // As any request with a revoked key is answered.
            Problem::unauthorized(err.to_string())
        } else if err.is_forbidden() {
            Problem::forbidden(err.to_string())
        } else if err.is_last_admin_key() {
            Problem::conflict(err.to_string())
        } else if err.is_not_found() {
            Problem::not_found(err.to_string())
        } else if let Some(rule) = err.rule() {
            // A booking type's rule refused the start: the answer names the rule.
            Problem::conflict(err.to_string()).with_member("rule", rule.as_str().into())
        } else if err.is_invalid_booking_type() {
            let problem = Problem::unprocessable(err.to_string());
            match err.field() {
                Some(field) => problem.with_member("field", field.into()),
                None => problem,
            }
        } else if err.is_already_exists() || err.is_capacity() || err.is_conflict() {
            Problem::conflict(err.to_string())
        } else if err.is_invalid_span() {
            Problem::unprocessable(err.to_string())
        } else if err.is_version_mismatch() {
            Problem::precondition_failed(err.to_string())
        } else if err.is_parse() || err.is_invalid_entry() || err.is_too_many_entries() {
            Problem::bad_request(err.to_string())
        } else {
            Problem::internal(what, err)
        }
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The detail text.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// The title: the status's reason phrase.
    fn title(&self) -> &'static str {
        self.status.canonical_reason().unwrap_or("Error")
    }

    /// The response: a small JSON object `{ type, title, status, detail }`.
    pub fn into_response(mut self) -> Response<Body> {
        let mut body = serde_json::json!({
            "type": "about:blank",
            "title": self.title(),
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        if let (Some(members), Some(object)) = (self.members.take(), body.as_object_mut()) {
            for (name, value) in *members {
                object.entry(name).or_insert(value);
            }
        }
        let response = super::response::typed(
            self.status,
            super::response::to_bytes(&body),
            HeaderValue::from_static("application/problem+json"),
        );
        self.with_fields(response)
    }

    /// The response to a browser that asked for the page at `path` (a week page whose address
    /// is wrong): the same status and fields, with the title and detail as a small page under
    /// the pages' security fields. It links back to a page that answers: `path` without its
    /// query (the parameters were what was wrong), or the start page when nothing is at
    /// `path` (404). Extension members are for programs, which get
    /// [`Problem::into_response`]; the page leaves them out.
    pub fn into_page(self, path: &str) -> Response<Body> {
        let back = if self.status == StatusCode::NOT_FOUND
            || !path.starts_with('/')
            || path.starts_with("//")
        {
            "/"
        } else {
            path
        };
        let body = crate::page::problem(self.status.as_u16(), self.title(), &self.detail, back);
        let response = super::response::page(self.status, body);
        self.with_fields(response)
    }

    /// `response` with the fields the problem asks for: `Allow`, `WWW-Authenticate`, the
    /// rate limit's and `Retry-After`.
    fn with_fields(self, mut response: Response<Body>) -> Response<Body> {
        let headers = response.headers_mut();
        if let Some(allow) = self.allow.and_then(|a| HeaderValue::from_str(&a).ok()) {
            headers.insert(ALLOW, allow);
        }
        if self.challenge {
            headers.insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"availability\""),
            );
        }
        if let Some(verdict) = &self.limit {
            verdict.write_headers(headers);
        }
        if let Some(seconds) = self.retry_after {
            headers.insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status, self.detail)
    }
}

/// At most 80 characters of `text`, for a message that quotes what a request said.
pub fn shown(text: &str) -> &str {
    match text.char_indices().nth(80) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::shown;

    #[test]
    fn a_quote_is_cut_at_80_characters_not_bytes() {
        assert_eq!(shown("room-1"), "room-1");
        let long = "é".repeat(100);
        assert_eq!(shown(&long).chars().count(), 80);
        assert_eq!(shown(&long[..160]), &long[..160]);
    }
}
