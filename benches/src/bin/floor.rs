//! The floor of the load benchmark: `availability-server`'s own connection stack
//! (`server::run`: the accept loop, TLS from `tls::server_config`, HTTP/1.1 and HTTP/2 with
//! every limit and timer of the default configuration but the per-client connection share,
//! which the benchmark lifts for the server too; the idle watchdog, the panic guard)
//! with a handler that answers from memory with responses captured from the real server.
//! What it achieves is what HTTP and TLS alone cost on this machine; `benches/load.sh`
//! compares the real server with it.
//!
//! ```text
//! floor --listen 127.0.0.1:9443 --cert cert.pem --key key.pem --manifest manifest.tsv
//! ```
//!
//! Each manifest line is `METHOD<TAB>PATH?QUERY<TAB>ACCEPT-ENCODING<TAB>FILE` (`-` for no
//! `Accept-Encoding`), where FILE holds a response as `curl -i --http1.1` writes it. A request
//! gets the response whose method, path with query and `Accept-Encoding` are exactly its own,
//! or an empty 404.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use availability_server::metrics::Metrics;
use availability_server::server::{self, Connections, Handler};
use availability_server::{tls, wire};
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, ACCEPT_ENCODING};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::Full;
use tokio::net::TcpListener;

/// Headers hyper writes itself (or that belong to one HTTP/1.1 connection): not replayed.
const SKIPPED: [&str; 5] = [
    "date",
    "content-length",
    "connection",
    "keep-alive",
    "transfer-encoding",
];

/// What a request is matched on: method, path with query, `Accept-Encoding`.
type Route = (Method, String, Option<String>);

/// A captured response, served as is.
#[derive(Debug, Clone)]
struct Canned {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

#[derive(Debug)]
struct Args {
    listen: SocketAddr,
    cert: PathBuf,
    key: PathBuf,
    manifest: PathBuf,
}

fn main() {
    if let Err(message) = run() {
        eprintln!("floor: {message}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let args = parse_args(std::env::args().skip(1))?;
    let floor = Arc::new(Floor {
        routes: load_manifest(&args.manifest)?,
        metrics: Metrics::default(),
    });
    let identity = tls::load(&args.cert, &args.key)?;
    let tls = tls::server_config(identity).map_err(|e| format!("the TLS configuration: {e}"))?;
    // The server's runtime: multi-threaded, one worker per CPU it may run on.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("starting the runtime: {e}"))?;
    runtime.block_on(async {
        let listener = TcpListener::bind(args.listen)
            .await
            .map_err(|e| format!("listening on {}: {e}", args.listen))?;
        eprintln!(
            "floor: serving {} canned responses on https://{}",
            floor.routes.len(),
            args.listen
        );
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        // All the load comes from one address: as for the server under load, its share of
        // the connection slots is all of them.
        let connections = Connections {
            max_connections_per_client: Connections::default().max_connections,
            ..Connections::default()
        };
        server::run(
            listener,
            tls,
            floor,
            connections,
            shutdown,
            Duration::from_secs(10),
        )
        .await;
        Ok(())
    })
}

/// Canned responses by request.
struct Floor {
    routes: HashMap<Route, Canned>,
    metrics: Metrics,
}

impl Handler for Floor {
    fn handle(
        &self,
        _peer: IpAddr,
        request: Request<hyper::body::Incoming>,
    ) -> impl Future<Output = Response<wire::Body>> + Send {
        std::future::ready(answer(&self.routes, &request).map(wire::Body::from))
    }

    fn metrics(&self) -> &Metrics {
        &self.metrics
    }
}

/// The canned response for `request`, or an empty 404.
fn answer<B>(routes: &HashMap<Route, Canned>, request: &Request<B>) -> Response<Full<Bytes>> {
    let path = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let encoding = request
        .headers()
        .get(ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let Some(canned) = routes.get(&(request.method().clone(), path, encoding)) else {
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = StatusCode::NOT_FOUND;
        return response;
    };
    let mut response = Response::new(Full::new(canned.body.clone()));
    *response.status_mut() = canned.status;
    *response.headers_mut() = canned.headers.clone();
    response
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let usage = "usage: floor --listen ADDR --cert PEM --key PEM --manifest FILE";
    let (mut listen, mut cert, mut key, mut manifest) = (None, None, None, None);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(usage)?;
        match flag.as_str() {
            "--listen" => listen = Some(value.parse().map_err(|e| format!("--listen: {e}"))?),
            "--cert" => cert = Some(PathBuf::from(value)),
            "--key" => key = Some(PathBuf::from(value)),
            "--manifest" => manifest = Some(PathBuf::from(value)),
            _ => return Err(usage.to_owned()),
        }
    }
    match (listen, cert, key, manifest) {
        (Some(listen), Some(cert), Some(key), Some(manifest)) => Ok(Args {
            listen,
            cert,
            key,
            manifest,
        }),
        _ => Err(usage.to_owned()),
    }
}

fn load_manifest(path: &std::path::Path) -> Result<HashMap<Route, Canned>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("reading the manifest {}: {e}", path.display()))?;
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    let mut routes = HashMap::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let fields: Vec<&str> = line.split('\t').collect();
        let [method, target, encoding, file] = fields[..] else {
            return Err(format!(
                "{}:{}: expected 4 tab-separated fields",
                path.display(),
                n + 1
            ));
        };
        let method = Method::from_bytes(method.as_bytes())
            .map_err(|e| format!("{}:{}: {e}", path.display(), n + 1))?;
        let encoding = (encoding != "-").then(|| encoding.to_owned());
        let file = dir.join(file);
        let raw = std::fs::read(&file).map_err(|e| format!("reading {}: {e}", file.display()))?;
        let canned = parse_response(&raw).map_err(|e| format!("{}: {e}", file.display()))?;
        routes.insert((method, target.to_owned(), encoding), canned);
    }
    Ok(routes)
}

/// An HTTP/1.1 response as `curl -i` writes it: status line, headers, a blank line, the body.
fn parse_response(raw: &[u8]) -> Result<Canned, String> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no blank line after the headers")?;
    let head = std::str::from_utf8(&raw[..split]).map_err(|e| format!("the head: {e}"))?;
    let body = Bytes::copy_from_slice(&raw[split + 4..]);
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|code| code.parse::<StatusCode>().ok())
        .ok_or("no status line")?;
    let mut headers = HeaderMap::new();
    for line in lines {
        let (name, value) = line.split_once(':').ok_or("a header without ':'")?;
        let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|e| e.to_string())?;
        if SKIPPED.contains(&name.as_str()) {
            continue;
        }
        let value = HeaderValue::from_str(value.trim()).map_err(|e| e.to_string())?;
        headers.append(name, value);
    }
    Ok(Canned {
        status,
        headers,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_captured_response_is_replayed_without_hop_by_hop_headers() {
        let raw = b"HTTP/1.1 200 OK\r\ncontent-type: text/csv\r\netag: \"v2-ab\"\r\n\
            content-length: 4\r\ndate: Sat, 21 Nov 2026 05:37:23 GMT\r\n\r\na\r\nb";
        let canned = parse_response(raw).expect("parses");
        assert_eq!(canned.status, StatusCode::OK);
        assert_eq!(canned.body.as_ref(), b"a\r\nb");
        assert_eq!(canned.headers.len(), 2);
        assert_eq!(canned.headers["etag"], "\"v2-ab\"");
        assert!(parse_response(b"HTTP/1.1 200 OK\r\n").is_err());
    }
}
