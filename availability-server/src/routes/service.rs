//! `/healthz`, `/readyz`, `/metrics` and `/openapi.json`.

use std::sync::atomic::Ordering::Relaxed;

use http::header::{HeaderValue, CACHE_CONTROL};
use http::{Response, StatusCode};

use crate::auth::Need;
use crate::ctx::Ctx;
use crate::metrics::Outside;
use crate::store::Storage;
use crate::wire::body::RequestBody;
use crate::wire::query::Query;
use crate::wire::{response, Body, Problem, Result};

/// GET /healthz: 200 while the server accepts requests (503 once shutdown begins, answered
/// before routing), with the version of the time-zone data in use.
pub(super) fn healthz(cx: &Ctx<'_>) -> Result<Response<Body>> {
    Query::parse(cx.parts.uri.query(), &[])?;
    let body = serde_json::json!({ "status": "ok", "tzdata": crate::tzdata::version() });
    Ok(response::document(
        cx.parts,
        response::to_bytes(&body),
        None,
    ))
}

/// GET /readyz: 200 while the server can do its work (the store open and taking writes, the
/// zone data loaded, which both hold once it serves); 503 with the reason otherwise: once
/// shutdown begins (answered before routing), or after a failed flush, when the store refuses
/// writes until the server is restarted.
pub(super) fn readyz(cx: &Ctx<'_>) -> Result<Response<Body>> {
    Query::parse(cx.parts.uri.query(), &[])?;
    if let Some(reason) = cx.app.storage.unready() {
        return Err(Problem::unavailable(
            match &cx.app.storage {
                Storage::File(_) => format!(
                    "not ready: the store refuses writes since a flush failed ({reason}); \
                     restart the server to reopen it"
                ),
                Storage::Postgres(..) => format!(
                    "not ready: the database is away ({reason}); reads go on from memory, \
                     writes resume once it is back"
                ),
            },
            match &cx.app.storage {
                Storage::File(_) => 60,
                Storage::Postgres(..) => 2,
            },
        ));
    }
    let body = serde_json::json!({
        "status": "ready",
        "calendars": cx.app.store.len(),
        "tzdata": crate::tzdata::version(),
    });
    Ok(response::document(
        cx.parts,
        response::to_bytes(&body),
        None,
    ))
}

/// The OpenAPI 3.1 document of the API, as checked in beside the crate. The tests keep it equal
/// to the route table and check the server's answers against its schemas.
pub const OPENAPI: &str = include_str!("../../openapi.json");

/// GET /openapi.json (anyone): [`OPENAPI`], tagged by its bytes.
pub(super) fn openapi(cx: &Ctx<'_>) -> Result<Response<Body>> {
    Query::parse(cx.parts.uri.query(), &[])?;
    Ok(response::document(
        cx.parts,
        OPENAPI.as_bytes().to_vec(),
        None,
    ))
}

/// GET /metrics: the Prometheus text format; admin key unless configured public.
pub(super) async fn metrics(cx: Ctx<'_>, _body: RequestBody) -> Result<Response<Body>> {
    let app = cx.app;
    Query::parse(cx.parts.uri.query(), &[])?;
    if !app.metrics_public {
        app.authorize(cx.client, cx.parts, Need::Admin).await?;
    }
    let limits = &app.limits;
    let limiters = [
        ("read", limits.read.figures()),
        ("write", limits.write.figures()),
        ("admin", limits.admin.figures()),
        ("key", limits.key.figures()),
        ("auth", limits.auth.figures()),
        ("auth-key", limits.auth_key.figures()),
    ]
    .map(|(name, (clients, evicted))| (name, clients, evicted));
    let text = app.metrics.render(&Outside {
        cached_bodies: app.cache.len(),
        cached_bytes: app.cache.bytes(),
        event_streams: app.events.open(),
        bcrypt_runs: app.auth.bcrypt_runs.load(Relaxed),
        limiters: &limiters,
        tzdata: crate::tzdata::version(),
        webhooks: webhook_counts(app).await,
    });
    let mut response = response::typed(
        StatusCode::OK,
        text.into_bytes(),
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// The webhook sender's counts, and what waits for it now.
async fn webhook_counts(app: &crate::app::App) -> crate::metrics::WebhookCounts {
    let mut counts = crate::metrics::WebhookCounts::default();
    if let Some(hooks) = app.webhooks.get() {
        counts.delivered = hooks.stats.delivered.load(Relaxed);
        counts.failed = hooks.stats.failed.load(Relaxed);
    }
    let now_ms = app.now_unix().saturating_mul(1000);
    match app.storage.outbox_counts().await {
        Ok(outbox) => {
            counts.waiting = outbox.waiting;
            counts.retrying = outbox.retrying;
            if let Some(oldest) = outbox.oldest_ms {
                counts.oldest_seconds = (now_ms - oldest).max(0) as f64 / 1000.0;
            }
        }
        Err(e) => tracing::warn!("counting the webhook outbox for the metrics failed: {e}"),
    }
    counts
}
