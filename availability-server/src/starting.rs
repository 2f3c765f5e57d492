//! What answers while the server loads: the port is open from the start, so that a load
//! balancer or an orchestrator sees a server that is starting, not one that refuses
//! connections. `GET /healthz` answers 200 (the process is alive and working) with
//! `"status": "starting"`; every other request, `/readyz` among them, 503 with what the server
//! is doing, for how long so far, and `Retry-After: 1`. The API takes over the port once the
//! store (or the database) is loaded ([`crate::server::serve_until`]), and the requests that
//! arrive later on connections accepted before: [`Starting::hand_over`].

use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use http::request::Parts;
use http::{Method, Request, Response, StatusCode};

use crate::app::App;
use crate::metrics::Metrics;
use crate::wire::{request_id, response, Body, Problem};

/// The handler of the port while the server loads.
#[derive(Debug)]
pub struct Starting {
    metrics: Metrics,
    since: Instant,
    stage: Mutex<&'static str>,
    /// The API, once ready: it answers what arrives from then on.
    api: OnceLock<Arc<App>>,
}

impl Starting {
    /// A server that starts now, at `stage` (such as "opening the store").
    pub fn new(stage: &'static str) -> Starting {
        Starting {
            metrics: Metrics::default(),
            since: Instant::now(),
            stage: Mutex::new(stage),
            api: OnceLock::new(),
        }
    }

    /// The server is ready: requests from now on, on the connections accepted while it
    /// started, go to `api`.
    pub fn hand_over(&self, api: Arc<App>) {
        let _ = self.api.set(api);
    }

    /// The server moved on to `stage`.
    pub fn stage(&self, stage: &'static str) {
        *self
            .stage
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = stage;
    }

    /// The answer to one request.
    fn answer(&self, request: &Parts) -> Response<Body> {
        let alive = request.uri.path() == "/healthz"
            && (request.method == Method::GET || request.method == Method::HEAD);
        let mut response = if alive {
            response::json(
                StatusCode::OK,
                response::to_bytes(&serde_json::json!({ "status": "starting" })),
            )
        } else {
            let stage = *self
                .stage
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            Problem::unavailable(
                format!(
                    "not ready: the server is starting ({stage}, for {:.1} s so far)",
                    self.since.elapsed().as_secs_f64()
                ),
                1,
            )
            .into_response()
        };
        let id = request_id::of(request);
        let headers = response.headers_mut();
        headers.insert(request_id::HEADER, id);
        headers.insert(
            http::header::CACHE_CONTROL,
            http::HeaderValue::from_static("no-store"),
        );
        tracing::debug!(
            method = %request.method,
            path = request.uri.path(),
            status = response.status().as_u16(),
            "answered while starting"
        );
        response
    }
}

impl crate::server::Handler for Starting {
    async fn handle(
        &self,
        peer: IpAddr,
        request: Request<hyper::body::Incoming>,
    ) -> Response<Body> {
        if let Some(api) = self.api.get() {
            return crate::server::Handler::handle(&**api, peer, request).await;
        }
        // The body is left unread: over HTTP/1.1 hyper then closes the connection.
        let (parts, _body) = request.into_parts();
        self.answer(&parts)
    }

    fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    fn begin_shutdown(&self) {
        if let Some(api) = self.api.get() {
            crate::server::Handler::begin_shutdown(&**api);
        }
    }
}
