//! The command line: the flags, each with its `AVAILABILITY_*` variable (one clap definition,
//! so clap ranks a flag above its variable), and the operator commands.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::wire::client::Cidr;

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// A line of text with `key=value` fields.
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, and `fields` (the message
    /// and every field of the event).
    Json,
}

/// The file read when `--config` is not given, if it exists.
pub const DEFAULT_CONFIG_FILE: &str = "availability.toml";

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "availability-server",
    version,
    about = "HTTPS service for recurring weekly availability"
)]
pub struct Cli {
    /// A TOML configuration file [default: ./availability.toml when it exists].
    #[arg(long, env = "AVAILABILITY_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// The address to listen on [default: 127.0.0.1:8443].
    #[arg(long, env = "AVAILABILITY_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// The data directory: the store file and the first-run certificate [default: ./data].
    #[arg(long, env = "AVAILABILITY_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// A PostgreSQL URL (`postgres://user@host/db`, or `host=/run/postgresql dbname=...` for a
    /// Unix socket): run as one of several instances on that database instead of on the data
    /// directory's store file [default: none, the store file].
    #[arg(long, env = "AVAILABILITY_DATABASE_URL")]
    pub database_url: Option<String>,
    /// The most database connections of this instance's pool [default: 16].
    #[arg(long, env = "AVAILABILITY_DATABASE_POOL")]
    pub database_pool: Option<usize>,
    /// A PEM file of certificate authorities to trust for the database's TLS, besides the
    /// usual roots.
    #[arg(long, env = "AVAILABILITY_DATABASE_CA")]
    pub database_ca: Option<PathBuf>,
    /// A PEM certificate chain; with --tls-key. Without both, a self-signed certificate in the
    /// data directory is used (made on first start).
    #[arg(long, env = "AVAILABILITY_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "AVAILABILITY_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Serve /metrics to anyone, not only to admin keys [default: false].
    #[arg(long, env = "AVAILABILITY_METRICS_PUBLIC")]
    pub metrics_public: Option<bool>,
    /// The bcrypt cost of new key hashes, 4 to 31 [default: 12].
    #[arg(long, env = "AVAILABILITY_BCRYPT_COST")]
    pub bcrypt_cost: Option<u32>,
    /// Seconds that requests in flight get to finish at shutdown [default: 10].
    #[arg(long, env = "AVAILABILITY_SHUTDOWN_GRACE")]
    pub shutdown_grace: Option<u64>,
    /// How many rendered bodies to cache [default: 4096].
    #[arg(long, env = "AVAILABILITY_CACHE_ENTRIES")]
    pub cache_entries: Option<usize>,
    /// Bytes of rendered bodies to cache, compressed forms included [default: 8388608].
    #[arg(long, env = "AVAILABILITY_CACHE_BYTES")]
    pub cache_bytes: Option<usize>,
    /// Extra admin keys, as `<id>:<bcrypt hash>` lines from `hash-key`, comma-separated.
    #[arg(long, env = "AVAILABILITY_ADMIN_KEYS", value_delimiter = ',')]
    pub admin_keys: Option<Vec<String>>,
    /// The log filter, in tracing's `EnvFilter` syntax; `availability_server::access=info`
    /// logs a line per request (by default only answers of 500 and more)
    /// [default: info,rustls=error,availability_server::access=warn].
    #[arg(long, env = "AVAILABILITY_LOG")]
    pub log: Option<String>,
    /// How log lines are written: `text` (`key=value` fields) or `json` (one object per
    /// line) [default: text].
    #[arg(long, env = "AVAILABILITY_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,
    /// bcrypt computations at once, on the blocking pool [default: 2].
    #[arg(long, env = "AVAILABILITY_BCRYPT_CONCURRENCY")]
    pub bcrypt_concurrency: Option<usize>,
    /// Seconds a verified key is remembered, so bcrypt runs about once per key [default: 300].
    #[arg(long, env = "AVAILABILITY_KEY_MEMO_SECONDS")]
    pub key_memo_seconds: Option<u64>,
    /// Reads (GET, HEAD) per minute per client [default: 6000].
    #[arg(long, env = "AVAILABILITY_READ_PER_MINUTE")]
    pub read_per_minute: Option<u32>,
    /// Reads a client may make at once [default: 300].
    #[arg(long, env = "AVAILABILITY_READ_BURST")]
    pub read_burst: Option<u32>,
    /// Writes (other methods) per minute per client [default: 300].
    #[arg(long, env = "AVAILABILITY_WRITE_PER_MINUTE")]
    pub write_per_minute: Option<u32>,
    /// Writes a client may make at once [default: 30].
    #[arg(long, env = "AVAILABILITY_WRITE_BURST")]
    pub write_burst: Option<u32>,
    /// Key checks that need bcrypt, and refused keys, per minute per client [default: 10].
    #[arg(long, env = "AVAILABILITY_AUTH_PER_MINUTE")]
    pub auth_per_minute: Option<u32>,
    /// Such key checks a client may make at once [default: 5].
    #[arg(long, env = "AVAILABILITY_AUTH_BURST")]
    pub auth_burst: Option<u32>,
    /// Key checks that need bcrypt, per minute per key id, from all clients [default: 30].
    #[arg(long, env = "AVAILABILITY_AUTH_KEY_PER_MINUTE")]
    pub auth_key_per_minute: Option<u32>,
    /// Such key checks one key id may have at once [default: 10].
    #[arg(long, env = "AVAILABILITY_AUTH_KEY_BURST")]
    pub auth_key_burst: Option<u32>,
    /// Writes per minute per admin key, once the key is verified [default: 6000].
    #[arg(long, env = "AVAILABILITY_ADMIN_WRITE_PER_MINUTE")]
    pub admin_write_per_minute: Option<u32>,
    /// Writes an admin key may make at once [default: 300].
    #[arg(long, env = "AVAILABILITY_ADMIN_WRITE_BURST")]
    pub admin_write_burst: Option<u32>,
    /// Writes per minute per calendar key, once the key is verified [default: 300].
    #[arg(long, env = "AVAILABILITY_KEY_WRITE_PER_MINUTE")]
    pub key_write_per_minute: Option<u32>,
    /// Writes a calendar key may make at once [default: 30].
    #[arg(long, env = "AVAILABILITY_KEY_WRITE_BURST")]
    pub key_write_burst: Option<u32>,
    /// Seconds a key check may wait for a bcrypt slot before it is answered 503 [default: 2].
    #[arg(long, env = "AVAILABILITY_BCRYPT_WAIT")]
    pub bcrypt_wait: Option<u64>,
    /// bcrypt slots one client may hold or wait for at once [default: 1].
    #[arg(long, env = "AVAILABILITY_BCRYPT_PER_CLIENT")]
    pub bcrypt_per_client: Option<usize>,
    /// Clients each rate limiter remembers before forgetting idle ones [default: 100000].
    #[arg(long, env = "AVAILABILITY_RATE_LIMIT_CLIENTS")]
    pub rate_limit_clients: Option<usize>,
    /// A header naming the client behind a reverse proxy, e.g. x-forwarded-for [default: none].
    #[arg(long, env = "AVAILABILITY_CLIENT_IP_HEADER")]
    pub client_ip_header: Option<String>,
    /// Proxy addresses or ranges (10.0.0.0/8) whose client_ip_header is believed
    /// [default: 127.0.0.1,::1].
    #[arg(long, env = "AVAILABILITY_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Option<Vec<Cidr>>,
    /// Web origins whose pages may write (`https://app.example.com`), comma-separated; any
    /// origin may read [default: none].
    #[arg(long, env = "AVAILABILITY_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Option<Vec<String>>,
    /// Seconds a client has for the TLS handshake [default: 10].
    #[arg(long, env = "AVAILABILITY_HANDSHAKE_TIMEOUT")]
    pub handshake_timeout: Option<u64>,
    /// Seconds a client has to send a request head, and its first request [default: 10].
    #[arg(long, env = "AVAILABILITY_HEADER_READ_TIMEOUT")]
    pub header_read_timeout: Option<u64>,
    /// Seconds a connection may stay open with no request in flight [default: 60].
    #[arg(long, env = "AVAILABILITY_IDLE_TIMEOUT")]
    pub idle_timeout: Option<u64>,
    /// Connections open at once; more are closed on accept [default: 1024].
    #[arg(long, env = "AVAILABILITY_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Connections open at once from one client (IPv4 address or IPv6 /64) [default: 64].
    #[arg(long, env = "AVAILABILITY_MAX_CONNECTIONS_PER_CLIENT")]
    pub max_connections_per_client: Option<usize>,
    /// Header fields per HTTP/1.1 request [default: 64].
    #[arg(long, env = "AVAILABILITY_MAX_HEADERS")]
    pub max_headers: Option<usize>,
    /// Bytes of a request head (HTTP/1.1 buffer, HTTP/2 header list) [default: 16384].
    #[arg(long, env = "AVAILABILITY_MAX_HEADER_BYTES")]
    pub max_header_bytes: Option<usize>,
    /// Bytes of a request body, enforced while reading [default: 65536].
    #[arg(long, env = "AVAILABILITY_MAX_BODY_BYTES")]
    pub max_body_bytes: Option<usize>,
    /// Seconds a request body may take to arrive, once its head has [default: 30].
    #[arg(long, env = "AVAILABILITY_BODY_READ_TIMEOUT")]
    pub body_read_timeout: Option<u64>,
    /// Concurrent streams per HTTP/2 connection [default: 64].
    #[arg(long, env = "AVAILABILITY_H2_MAX_STREAMS")]
    pub h2_max_streams: Option<u32>,
    /// Event streams (`/events`) open at once from one client (IPv4 address or IPv6 /64);
    /// more are refused with 429 [default: 8].
    #[arg(long, env = "AVAILABILITY_EVENT_STREAMS_PER_CLIENT")]
    pub event_streams_per_client: Option<usize>,
    /// Event streams open at once in all; more are refused with 503 [default: 1024].
    #[arg(long, env = "AVAILABILITY_MAX_EVENT_STREAMS")]
    pub max_event_streams: Option<usize>,
    /// Seconds of quiet on an event stream before a heartbeat comment [default: 15].
    #[arg(long, env = "AVAILABILITY_EVENT_HEARTBEAT")]
    pub event_heartbeat: Option<u64>,
    /// A compiled zoneinfo directory to take time-zone rules from (with a tzdata.zi or
    /// +VERSION naming its release), or `bundled` for the release built in [default: the
    /// system's /usr/share/zoneinfo when its release is newer than the bundled one].
    #[arg(long, env = "AVAILABILITY_TZDATA_DIR")]
    pub tzdata_dir: Option<PathBuf>,
    /// Address ranges webhooks may reach although they are loopback, private, link-local or
    /// otherwise special (10.0.0.0/8), comma-separated [default: none].
    #[arg(long, env = "AVAILABILITY_WEBHOOK_ALLOW", value_delimiter = ',')]
    pub webhook_allow: Option<Vec<Cidr>>,
    /// A PEM file of certificate authorities webhook receivers may chain to, besides the
    /// platform's roots [default: none].
    #[arg(long, env = "AVAILABILITY_WEBHOOK_CA_FILE")]
    pub webhook_ca_file: Option<PathBuf>,
    /// The key webhook secrets are sealed with at rest, made on first use; instances on one
    /// database must share it [default: webhook.key in the data directory].
    #[arg(long, env = "AVAILABILITY_WEBHOOK_KEY_FILE")]
    pub webhook_key_file: Option<PathBuf>,
    /// What to do [default: serve].
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Operator commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API (the default).
    Serve,
    /// Generate an admin key: prints the key and the `<id>:<hash>` line to configure.
    GenerateKey,
    /// Print the `<id>:<hash>` line of an existing key, for `admin_keys`.
    HashKey {
        /// The key, `avk_<id>_<secret>`.
        key: String,
    },
    /// List, create or revoke the admin keys kept in the data directory, with the server
    /// stopped (a running server holds the store; use its `/admin/keys` routes instead), or
    /// in the database of --database-url.
    AdminKeys {
        /// What to do with them.
        #[command(subcommand)]
        action: AdminKeysAction,
    },
    /// Copy the calendars from a data directory's store into an empty PostgreSQL database,
    /// or from a database into a new store file, with the servers stopped; then check the
    /// copy (counts, and every calendar's incarnation and version).
    Migrate {
        /// Where the calendars are: a data directory, or a database URL (`postgres://...`,
        /// `host=... dbname=...`).
        #[arg(long)]
        from: String,
        /// Where to copy them: a database URL (an empty database), or a data directory
        /// (without a store file).
        #[arg(long)]
        to: String,
    },
    /// Copy the store into a new directory, consistent as of the command's start, while a
    /// server runs on it (through the server: the admin key in AVAILABILITY_ADMIN_KEY) or
    /// not; the copy is checked by opening it before it is declared done. On PostgreSQL, use
    /// the database's own tools.
    Backup {
        /// The directory to write the backup into (made when missing; it must hold none).
        #[arg(long)]
        to: PathBuf,
        /// The running server to ask, `https://host:port` (default: the configured listen
        /// port on localhost).
        #[arg(long)]
        server: Option<String>,
    },
    /// Put a backup in place as the data directory's store, with the server stopped; the
    /// store that was there is kept beside it.
    Restore {
        /// The backup's directory (what `backup --to` wrote).
        #[arg(long)]
        from: PathBuf,
    },
}

/// What `admin-keys` does.
#[derive(Debug, Clone, Subcommand)]
pub enum AdminKeysAction {
    /// Print every admin key: id, when it was made, where it is kept, label. Never a secret.
    List,
    /// Make a new admin key and print it once (only its hash is kept).
    Create {
        /// A label for the people who manage keys (at most 64 bytes).
        #[arg(long)]
        label: Option<String>,
    },
    /// Revoke the admin key with this id; the last admin key is refused.
    Revoke {
        /// The key's id, the 12 hex digits after `avk_`.
        key_id: String,
    },
}
