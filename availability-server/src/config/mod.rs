//! Configuration: defaults, then a TOML file, then `AVAILABILITY_*` environment variables,
//! then command-line flags; each later source overrides the earlier ones, setting by setting.
//!
//! Flags and environment variables are one clap definition (`env = ...`), so clap already
//! ranks a flag above its variable; this module lays both over the file and the defaults.
//!
//! - `cli`: the command line ([`Cli`]) and the operator commands.

mod cli;

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use http::HeaderName;

use crate::limit::{Rate, Rates};
use crate::server::Connections;
use crate::store::KeyHash;
use crate::wire::client::Cidr;

pub use self::cli::{AdminKeysAction, Cli, Command, LogFormat, DEFAULT_CONFIG_FILE};

/// Checks `cors_origins`: each a serialized origin (`scheme://host[:port]`, no path), or
/// `*` for every origin.
fn cors_origins(origins: Vec<String>) -> Result<Vec<String>, String> {
    for origin in &origins {
        let ok = origin == "*"
            || (origin.starts_with("https://") || origin.starts_with("http://"))
                && origin.split("://").nth(1).is_some_and(|rest| {
                    !rest.is_empty()
                        && !rest.contains('/')
                        && http::HeaderValue::from_str(origin).is_ok()
                });
        if !ok {
            return Err(format!(
                "cors_origins {origin:?}: an origin is scheme://host[:port] with no path, such \
                 as https://app.example.com (or * for every origin)"
            ));
        }
    }
    Ok(origins)
}

/// The TOML file: every setting optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    database_pool: Option<usize>,
    database_ca: Option<PathBuf>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    metrics_public: Option<bool>,
    bcrypt_cost: Option<u32>,
    shutdown_grace: Option<u64>,
    cache_entries: Option<usize>,
    cache_bytes: Option<usize>,
    admin_keys: Option<Vec<String>>,
    log: Option<String>,
    log_format: Option<LogFormat>,
    bcrypt_concurrency: Option<usize>,
    key_memo_seconds: Option<u64>,
    read_per_minute: Option<u32>,
    read_burst: Option<u32>,
    write_per_minute: Option<u32>,
    write_burst: Option<u32>,
    auth_per_minute: Option<u32>,
    auth_burst: Option<u32>,
    auth_key_per_minute: Option<u32>,
    auth_key_burst: Option<u32>,
    admin_write_per_minute: Option<u32>,
    admin_write_burst: Option<u32>,
    key_write_per_minute: Option<u32>,
    key_write_burst: Option<u32>,
    bcrypt_wait: Option<u64>,
    bcrypt_per_client: Option<usize>,
    rate_limit_clients: Option<usize>,
    client_ip_header: Option<String>,
    trusted_proxies: Option<Vec<Cidr>>,
    cors_origins: Option<Vec<String>>,
    handshake_timeout: Option<u64>,
    header_read_timeout: Option<u64>,
    idle_timeout: Option<u64>,
    max_connections: Option<usize>,
    max_connections_per_client: Option<usize>,
    max_headers: Option<usize>,
    max_header_bytes: Option<usize>,
    max_body_bytes: Option<usize>,
    body_read_timeout: Option<u64>,
    h2_max_streams: Option<u32>,
    event_streams_per_client: Option<usize>,
    max_event_streams: Option<usize>,
    event_heartbeat: Option<u64>,
    tzdata_dir: Option<PathBuf>,
    webhook_allow: Option<Vec<Cidr>>,
    webhook_ca_file: Option<PathBuf>,
    webhook_key_file: Option<PathBuf>,
}

/// The PostgreSQL database an instance runs on.
#[derive(Clone)]
pub struct Database {
    /// Its URL (which may hold a password: never logged).
    pub url: String,
    /// The most connections of the pool.
    pub pool: usize,
    /// Certificate authorities to trust besides the usual roots.
    pub ca_file: Option<PathBuf>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("pool", &self.pool)
            .field("ca_file", &self.ca_file)
            .finish_non_exhaustive()
    }
}

/// The settings in force.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen.
    pub listen: SocketAddr,
    /// The data directory.
    pub data_dir: PathBuf,
    /// The PostgreSQL database, when the instance runs on one instead of the store file.
    pub database: Option<Database>,
    /// A configured certificate and key, if any.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Whether `/metrics` is public.
    pub metrics_public: bool,
    /// bcrypt cost for new hashes.
    pub bcrypt_cost: u32,
    /// Time for requests in flight at shutdown.
    pub shutdown_grace: Duration,
    /// Cached bodies.
    pub cache_entries: usize,
    /// Bytes of cached bodies.
    pub cache_bytes: usize,
    /// Admin keys from the configuration.
    pub admin_keys: Vec<KeyHash>,
    /// The log filter.
    pub log: String,
    /// How log lines are written.
    pub log_format: LogFormat,
    /// bcrypt computations at once.
    pub bcrypt_concurrency: usize,
    /// How long a verified key is remembered.
    pub key_memo_ttl: Duration,
    /// How long a key check may wait for a bcrypt slot.
    pub bcrypt_wait: Duration,
    /// bcrypt slots one client may hold or wait for.
    pub bcrypt_per_client: usize,
    /// Rate limits.
    pub rates: Rates,
    /// A header naming the client behind a reverse proxy.
    pub client_ip_header: Option<HeaderName>,
    /// Peers whose `client_ip_header` is believed.
    pub trusted_proxies: Vec<Cidr>,
    /// Web origins allowed to write from a browser (reads are open to every origin).
    pub cors_origins: Vec<String>,
    /// Connection timeouts and limits.
    pub connections: Connections,
    /// The largest request body read.
    pub max_body_bytes: usize,
    /// Time for a request body to arrive.
    pub body_read_timeout: Duration,
    /// Where time-zone rules come from.
    pub tzdata: crate::tzdata::Source,
    /// The bounds and the heartbeat of the event streams.
    pub events: crate::events::EventLimits,
    /// Special address ranges webhooks may reach.
    pub webhook_allow: Vec<Cidr>,
    /// Certificate authorities webhook receivers may chain to, besides the platform's.
    pub webhook_ca_file: Option<PathBuf>,
    /// The key webhook secrets are sealed with (`None`: `webhook.key` in the data directory).
    pub webhook_key_file: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8443)),
            data_dir: PathBuf::from("data"),
            database: None,
            tls: None,
            metrics_public: false,
            bcrypt_cost: 12,
            shutdown_grace: Duration::from_secs(10),
            cache_entries: 4096,
            cache_bytes: crate::app::CACHE_BYTES,
            admin_keys: Vec::new(),
            // rustls warns once per connection about things the client chooses (an IP
            // address as SNI, as wrk and curl send), which would let any client write a log
            // line per connection; its errors are still logged.
            // A line per request only when asked for: answers of 500 and more are logged
            // (as errors), the rest (at info) with `availability_server::access=info`.
            log: "info,rustls=error,availability_server::access=warn".to_owned(),
            log_format: LogFormat::Text,
            bcrypt_concurrency: 2,
            key_memo_ttl: Duration::from_secs(300),
            bcrypt_wait: Duration::from_secs(2),
            bcrypt_per_client: 1,
            rates: Rates::default(),
            client_ip_header: None,
            trusted_proxies: vec![
                Cidr::from(IpAddr::from([127, 0, 0, 1])),
                Cidr::from(IpAddr::from(Ipv6Addr::LOCALHOST)),
            ],
            cors_origins: Vec::new(),
            webhook_allow: Vec::new(),
            webhook_ca_file: None,
            webhook_key_file: None,
            connections: Connections::default(),
            max_body_bytes: crate::app::BODY_LIMIT,
            body_read_timeout: Duration::from_secs(30),
            tzdata: crate::tzdata::Source::default(),
            events: crate::events::EventLimits::default(),
        }
    }
}

impl Config {
    /// The settings from the defaults, the file, the environment and the flags.
    ///
    /// # Errors
    ///
    /// A message naming the file or setting that is wrong.
    pub fn load(cli: &Cli) -> Result<Config, String> {
        let file = match &cli.config {
            Some(path) => read_file(path)?,
            None if Path::new(DEFAULT_CONFIG_FILE).exists() => {
                read_file(Path::new(DEFAULT_CONFIG_FILE))?
            }
            None => FileConfig::default(),
        };
        let d = Config::default();
        let cert = cli.tls_cert.clone().or(file.tls_cert);
        let key = cli.tls_key.clone().or(file.tls_key);
        let tls = match (cert, key) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => return Err("tls_cert and tls_key go together: set both or neither".into()),
        };
        let bcrypt_cost = cli
            .bcrypt_cost
            .or(file.bcrypt_cost)
            .unwrap_or(d.bcrypt_cost);
        if !(4..=31).contains(&bcrypt_cost) {
            return Err(format!("bcrypt_cost is {bcrypt_cost}; it must be 4 to 31"));
        }
        let admin_keys = cli
            .admin_keys
            .clone()
            .or(file.admin_keys)
            .unwrap_or_default()
            .iter()
            .filter(|line| !line.trim().is_empty())
            .map(|line| parse_admin_key(line))
            .collect::<Result<Vec<_>, _>>()?;
        macro_rules! pick {
            ($field:ident) => {
                cli.$field.clone().or(file.$field.clone())
            };
        }
        let secs = |v: Option<u64>, default: Duration| v.map_or(default, Duration::from_secs);
        let positive = |name: &str, v: u64| {
            if v == 0 {
                Err(format!("{name} must be at least 1"))
            } else {
                Ok(())
            }
        };
        let rate = |name: &str, per: Option<u32>, burst: Option<u32>, d: Rate| {
            let r = Rate {
                per_minute: per.unwrap_or(d.per_minute),
                burst: burst.unwrap_or(d.burst),
            };
            positive(&format!("{name}_per_minute"), u64::from(r.per_minute))?;
            positive(&format!("{name}_burst"), u64::from(r.burst))?;
            Ok::<Rate, String>(r)
        };
        let rates = Rates {
            read: rate(
                "read",
                pick!(read_per_minute),
                pick!(read_burst),
                d.rates.read,
            )?,
            write: rate(
                "write",
                pick!(write_per_minute),
                pick!(write_burst),
                d.rates.write,
            )?,
            admin_write: rate(
                "admin_write",
                pick!(admin_write_per_minute),
                pick!(admin_write_burst),
                d.rates.admin_write,
            )?,
            key_write: rate(
                "key_write",
                pick!(key_write_per_minute),
                pick!(key_write_burst),
                d.rates.key_write,
            )?,
            auth: rate(
                "auth",
                pick!(auth_per_minute),
                pick!(auth_burst),
                d.rates.auth,
            )?,
            auth_key: rate(
                "auth_key",
                pick!(auth_key_per_minute),
                pick!(auth_key_burst),
                d.rates.auth_key,
            )?,
            max_clients: pick!(rate_limit_clients).unwrap_or(d.rates.max_clients),
        };
        let dc = Connections::default();
        let connections = Connections {
            handshake_timeout: secs(pick!(handshake_timeout), dc.handshake_timeout),
            header_read_timeout: secs(pick!(header_read_timeout), dc.header_read_timeout),
            idle_timeout: secs(pick!(idle_timeout), dc.idle_timeout),
            max_connections: pick!(max_connections).unwrap_or(dc.max_connections),
            max_connections_per_client: pick!(max_connections_per_client)
                .unwrap_or(dc.max_connections_per_client),
            max_headers: pick!(max_headers).unwrap_or(dc.max_headers),
            max_header_bytes: pick!(max_header_bytes).unwrap_or(dc.max_header_bytes),
            h2_max_streams: pick!(h2_max_streams).unwrap_or(dc.h2_max_streams),
        };
        let de = d.events;
        let events = crate::events::EventLimits {
            per_client: pick!(event_streams_per_client).unwrap_or(de.per_client),
            total: pick!(max_event_streams).unwrap_or(de.total),
            heartbeat: secs(pick!(event_heartbeat), de.heartbeat),
        };
        for (name, value) in [
            ("rate_limit_clients", rates.max_clients as u64),
            (
                "bcrypt_concurrency",
                pick!(bcrypt_concurrency).unwrap_or(1) as u64,
            ),
            ("handshake_timeout", connections.handshake_timeout.as_secs()),
            (
                "header_read_timeout",
                connections.header_read_timeout.as_secs(),
            ),
            ("idle_timeout", connections.idle_timeout.as_secs()),
            ("max_connections", connections.max_connections as u64),
            (
                "max_connections_per_client",
                connections.max_connections_per_client as u64,
            ),
            (
                "bcrypt_per_client",
                pick!(bcrypt_per_client).unwrap_or(1) as u64,
            ),
            ("max_headers", connections.max_headers as u64),
            ("h2_max_streams", u64::from(connections.h2_max_streams)),
            ("event_streams_per_client", events.per_client as u64),
            ("max_event_streams", events.total as u64),
            ("event_heartbeat", events.heartbeat.as_secs()),
        ] {
            positive(name, value)?;
        }
        // hyper refuses (by panicking) an HTTP/1.1 buffer smaller than 8 KiB.
        if connections.max_header_bytes < 8192 {
            return Err(format!(
                "max_header_bytes is {}; it must be at least 8192",
                connections.max_header_bytes
            ));
        }
        let max_body_bytes = pick!(max_body_bytes).unwrap_or(d.max_body_bytes);
        let body_read_timeout = secs(pick!(body_read_timeout), d.body_read_timeout);
        positive("body_read_timeout", body_read_timeout.as_secs())?;
        positive("max_body_bytes", max_body_bytes as u64)?;
        let client_ip_header = match pick!(client_ip_header) {
            None => None,
            Some(name) if name.trim().is_empty() => None,
            Some(name) => Some(
                HeaderName::try_from(name.trim().to_ascii_lowercase())
                    .map_err(|_| format!("client_ip_header {name:?} is not a valid header name"))?,
            ),
        };
        Ok(Config {
            tzdata: pick!(tzdata_dir).map_or(d.tzdata, crate::tzdata::Source::from_setting),
            bcrypt_concurrency: pick!(bcrypt_concurrency).unwrap_or(d.bcrypt_concurrency),
            key_memo_ttl: secs(pick!(key_memo_seconds), d.key_memo_ttl),
            bcrypt_wait: secs(pick!(bcrypt_wait), d.bcrypt_wait),
            bcrypt_per_client: pick!(bcrypt_per_client).unwrap_or(d.bcrypt_per_client),
            rates,
            client_ip_header,
            trusted_proxies: pick!(trusted_proxies).unwrap_or(d.trusted_proxies),
            cors_origins: cors_origins(pick!(cors_origins).unwrap_or(d.cors_origins))?,
            webhook_allow: pick!(webhook_allow).unwrap_or(d.webhook_allow),
            webhook_ca_file: pick!(webhook_ca_file),
            webhook_key_file: pick!(webhook_key_file),
            connections,
            events,
            max_body_bytes,
            body_read_timeout,
            listen: cli.listen.or(file.listen).unwrap_or(d.listen),
            data_dir: cli.data_dir.clone().or(file.data_dir).unwrap_or(d.data_dir),
            database: match cli.database_url.clone().or(file.database_url) {
                Some(url) if !url.trim().is_empty() => Some(Database {
                    url,
                    pool: match cli.database_pool.or(file.database_pool) {
                        Some(0) => return Err(String::from("database_pool must be at least 1")),
                        pool => pool.unwrap_or(16),
                    },
                    ca_file: cli.database_ca.clone().or(file.database_ca),
                }),
                _ => None,
            },
            tls,
            metrics_public: cli
                .metrics_public
                .or(file.metrics_public)
                .unwrap_or(d.metrics_public),
            bcrypt_cost,
            shutdown_grace: cli
                .shutdown_grace
                .or(file.shutdown_grace)
                .map_or(d.shutdown_grace, Duration::from_secs),
            cache_entries: cli
                .cache_entries
                .or(file.cache_entries)
                .unwrap_or(d.cache_entries),
            cache_bytes: pick!(cache_bytes).unwrap_or(d.cache_bytes),
            admin_keys,
            log: cli.log.clone().or(file.log).unwrap_or(d.log),
            log_format: cli.log_format.or(file.log_format).unwrap_or(d.log_format),
        })
    }
}

fn read_file(path: &Path) -> Result<FileConfig, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("reading the configuration {}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("in the configuration {}: {e}", path.display()))
}

/// `<id>:<bcrypt hash>`, as `hash-key` prints it.
fn parse_admin_key(line: &str) -> Result<KeyHash, String> {
    let (id, hash) = line.trim().split_once(':').ok_or_else(|| {
        "an admin key is configured as <id>:<bcrypt hash>, as `hash-key` prints it".to_owned()
    })?;
    if id.is_empty() || !hash.starts_with("$2") {
        return Err(format!(
            "admin key {id:?}: expected <id>:<bcrypt hash starting with $2>"
        ));
    }
    KeyHash::new(id, hash).map_err(|e| format!("admin key {id:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn cli(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("availability-server").chain(args.iter().copied()))
            .expect("parses")
    }

    #[test]
    fn cors_origins_are_origins() {
        let config = Config::load(&cli(&[
            "--cors-origins",
            "https://app.example,http://localhost:8080",
        ]))
        .expect("valid origins");
        assert_eq!(
            config.cors_origins,
            ["https://app.example", "http://localhost:8080"]
        );
        for bad in ["app.example", "https://app.example/page", "https://"] {
            let err = Config::load(&cli(&["--cors-origins", bad])).expect_err(bad);
            assert!(err.contains("cors_origins"), "{err}");
        }
    }

    #[test]
    fn file_then_flags() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9000\"\nmetrics_public = true\nbcrypt_cost = 5\n",
        )
        .expect("write");
        let config = Config::load(&cli(&[
            "--config",
            path.to_str().expect("utf8"),
            "--bcrypt-cost",
            "6",
        ]))
        .expect("loads");
        assert_eq!(config.listen.port(), 9000);
        assert!(config.metrics_public);
        assert_eq!(config.bcrypt_cost, 6);
        assert_eq!(config.data_dir, PathBuf::from("data"));
        assert_eq!(config.rates, Rates::default());
    }

    #[test]
    fn limits_from_file_and_flags() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "write_burst = 3\nidle_timeout = 5\nclient_ip_header = \"X-Forwarded-For\"\n\
             trusted_proxies = [\"10.0.0.1\", \"192.168.0.0/16\"]\n\
             admin_write_burst = 900\nmax_connections_per_client = 9\n",
        )
        .expect("write");
        let config = Config::load(&cli(&[
            "--config",
            path.to_str().expect("utf8"),
            "--max-connections",
            "7",
        ]))
        .expect("loads");
        assert_eq!(config.rates.write.burst, 3);
        assert_eq!(config.connections.idle_timeout, Duration::from_secs(5));
        assert_eq!(config.connections.max_connections, 7);
        assert_eq!(
            config.client_ip_header.as_ref().map(HeaderName::as_str),
            Some("x-forwarded-for")
        );
        assert_eq!(
            config.trusted_proxies,
            vec![
                Cidr::from(IpAddr::from([10, 0, 0, 1])),
                "192.168.0.0/16".parse().expect("range")
            ]
        );
        assert_eq!(config.rates.admin_write.burst, 900);
        assert_eq!(config.rates.key_write, Rates::default().key_write);
        assert_eq!(config.connections.max_connections_per_client, 9);
        let ranges = Config::load(&cli(&["--trusted-proxies", "10.0.0.0/8,::1"])).expect("loads");
        assert!(ranges.trusted_proxies[0].contains(IpAddr::from([10, 1, 2, 3])));
    }

    #[test]
    fn bad_settings_are_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "listn = \"x\"\n").expect("write");
        let err =
            Config::load(&cli(&["--config", path.to_str().expect("utf8")])).expect_err("unknown");
        assert!(err.contains("listn"), "{err}");
        let err = Config::load(&cli(&["--bcrypt-cost", "3"])).expect_err("cost");
        assert!(err.contains("4 to 31"), "{err}");
        let err = Config::load(&cli(&["--admin-keys", "nocolon"])).expect_err("key");
        assert!(err.contains("<id>:<bcrypt hash>"), "{err}");
        let err = Config::load(&cli(&["--tls-cert", "a.pem"])).expect_err("pair");
        assert!(err.contains("together"), "{err}");
        let err = Config::load(&cli(&["--auth-burst", "0"])).expect_err("burst");
        assert!(err.contains("auth_burst"), "{err}");
        let err = Config::load(&cli(&["--max-header-bytes", "100"])).expect_err("small");
        assert!(err.contains("8192"), "{err}");
        let err = Config::load(&cli(&["--key-write-burst", "0"])).expect_err("burst");
        assert!(err.contains("key_write_burst"), "{err}");
        let err = Cli::try_parse_from(["availability-server", "--trusted-proxies", "10.0.0.0/40"])
            .expect_err("range");
        assert!(err.to_string().contains("10.0.0.0/40"), "{err}");
        let err = Config::load(&cli(&["--client-ip-header", "a b"])).expect_err("name");
        assert!(err.contains("client_ip_header"), "{err}");
        for setting in [
            "event_streams_per_client",
            "max_event_streams",
            "event_heartbeat",
        ] {
            let flag = format!("--{}", setting.replace('_', "-"));
            let err = Config::load(&cli(&[&flag, "0"])).expect_err("zero");
            assert!(err.contains(setting), "{err}");
        }
    }

    #[test]
    fn event_stream_bounds_from_file_and_flags() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "max_event_streams = 50
event_heartbeat = 5
",
        )
        .expect("write");
        let config = Config::load(&cli(&[
            "--config",
            path.to_str().expect("utf8"),
            "--event-streams-per-client",
            "2",
        ]))
        .expect("loads");
        assert_eq!(config.events.per_client, 2);
        assert_eq!(config.events.total, 50);
        assert_eq!(config.events.heartbeat, Duration::from_secs(5));
        let defaults = Config::load(&cli(&[])).expect("loads");
        assert_eq!(defaults.events, crate::events::EventLimits::default());
    }
}
