//! `GET /admin/backup`: a consistent copy of the store file, streamed while the server goes on
//! answering reads and writes (what `availability-server backup` asks a running server for).

use std::sync::Arc;

use bytes::Bytes;
use http::header::{HeaderValue, CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE};
use http::{Response, StatusCode};

use crate::auth::Need;
use crate::ctx::Ctx;
use crate::store::Storage;
use crate::wire::body::RequestBody;
use crate::wire::query::Query;
use crate::wire::{Body, Problem, Result};

/// The header naming the sequence number of the copy's last record.
pub const LAST_RECORD: &str = "backup-last-record";

/// GET /admin/backup (admin): the store file as of the request, every write acknowledged
/// before it included, as `application/octet-stream` with its `Content-Length` (a copy cut
/// short is one the client can tell). 501 on PostgreSQL, whose own tools back it up.
pub(super) async fn backup(cx: Ctx<'_>, _body: RequestBody) -> Result<Response<Body>> {
    let (app, parts) = (cx.app, cx.parts);
    Query::parse(parts.uri.query(), &[])?;
    app.authorize(cx.client, parts, Need::Admin).await?;
    let Storage::File(store) = &app.storage else {
        return Err(Problem::new(
            StatusCode::NOT_IMPLEMENTED,
            "this server keeps its data in PostgreSQL: back the database up with its own \
             tools (pg_dump, or a replica)",
        ));
    };
    let store = Arc::clone(store);
    let source = tokio::task::spawn_blocking(move || store.begin_backup())
        .await
        .map_err(|e| Problem::internal("beginning a backup", e))?
        .map_err(|e| Problem::unavailable(format!("no backup: {e}"), 60))?;
    let (len, last) = (source.len(), source.last_record());
    tracing::info!(bytes = len, last_record = last, "backup: copying the store");
    // A few chunks of a megabyte ahead of the client, read off the runtime's threads.
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
    tokio::task::spawn_blocking(move || {
        let mut out = Sender(tx);
        match source.copy_to(&mut out) {
            Ok(()) => tracing::info!(bytes = len, "backup: copied"),
            // The body ends short of its length: the client sees the copy cut.
            Err(err) => tracing::warn!(%err, "backup: the copy stopped"),
        }
    });
    let chunks = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    let mut response = Response::new(Body::stream(chunks));
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
    headers.insert(
        CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"availability.store\""),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(LAST_RECORD, HeaderValue::from(last));
    Ok(response)
}

/// Hands what it is given to the response's body; fails once the client has gone.
struct Sender(tokio::sync::mpsc::Sender<Bytes>);

impl std::io::Write for Sender {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .blocking_send(Bytes::copy_from_slice(bytes))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client left"))?;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
