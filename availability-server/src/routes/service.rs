//! `/healthz` and `/metrics`.

use bytes::Bytes;
use http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use http::request::Parts;
use http::Response;
use http_body_util::Full;

use super::Result;
use crate::app::App;
use crate::auth::Need;
use crate::problem::Body;
use crate::query::Query;

/// GET /healthz: 200 while the server accepts requests (503 once shutdown begins, answered
/// before routing).
pub(super) fn healthz(parts: &Parts) -> Result<Response<Body>> {
    Query::parse(parts.uri.query(), &[])?;
    super::small_read(parts, b"{\"status\":\"ok\"}\n".to_vec(), None)
}

/// GET /metrics: the Prometheus text format; admin key unless configured public.
pub(super) async fn metrics(app: &App, parts: &Parts) -> Result<Response<Body>> {
    Query::parse(parts.uri.query(), &[])?;
    if !app.metrics_public {
        app.auth
            .check(app.backend.as_ref(), &parts.headers, Need::Admin)
            .await?;
    }
    let text = app.metrics.render(app.cache.len());
    let mut response = Response::new(Full::new(Bytes::from(text)));
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
