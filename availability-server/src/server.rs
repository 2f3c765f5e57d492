//! The accept loop: TLS, HTTP/1.1 or HTTP/2 by ALPN, and graceful shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use rustls::ServerConfig;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::app::App;

/// How long a client may take for the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take to send a request's head (HTTP/1.1).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Concurrent streams per HTTP/2 connection.
const MAX_STREAMS: u32 = 64;

/// Serves `app` on `listener` until `shutdown` completes, then stops accepting, lets
/// requests in flight finish for at most `grace`, and flushes the store.
///
/// The caller binds the listener, so tests can bind port 0. A connection that fails (TLS,
/// protocol, a reset) is logged and dropped; nothing a client does ends the loop.
pub async fn run(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    app: Arc<App>,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) {
    let acceptor = TlsAcceptor::from(tls);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // Without a timer, hyper silently ignores `header_read_timeout`.
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(64 * 1024);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(MAX_STREAMS)
        .max_header_list_size(32 * 1024);
    // The protocol is the one ALPN chose, not sniffed from the first bytes: sniffing reads
    // before hyper's header-read timer starts, so a silent client would never time out.
    let http1 = Arc::new(builder.clone().http1_only());
    let http2 = Arc::new(builder.http2_only());
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);

    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(err) => {
                    // Usually out of file descriptors: wait a little instead of spinning.
                    tracing::warn!(%err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let app = Arc::clone(&app);
        let (http1, http2) = (Arc::clone(&http1), Arc::clone(&http2));
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(err)) => {
                    app.metrics.connection_errors.fetch_add(1, Relaxed);
                    tracing::debug!(%peer, %err, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    app.metrics.connection_errors.fetch_add(1, Relaxed);
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            let service = service_fn(move |request| {
                let app = Arc::clone(&app);
                async move { Ok::<_, Infallible>(crate::routes::handle(&app, request).await) }
            });
            let builder = if tls.get_ref().1.alpn_protocol() == Some(b"h2") {
                http2
            } else {
                http1
            };
            let connection = builder
                .serve_connection(TokioIo::new(tls), service)
                .into_owned();
            if let Err(err) = watcher.watch(connection).await {
                tracing::debug!(%peer, %err, "connection ended with an error");
            }
        });
    }

    drop(listener);
    app.begin_shutdown();
    tracing::info!("shutting down: finishing requests in flight");
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            ?grace,
            "requests still in flight after the grace period; closing"
        );
    }
    match app.backend.flush() {
        Ok(()) => tracing::info!("store flushed"),
        Err(err) => tracing::error!(%err, "flushing the store failed"),
    }
}
