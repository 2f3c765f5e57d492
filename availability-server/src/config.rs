//! Configuration: defaults, then a TOML file, then `AVAILABILITY_*` environment variables,
//! then command-line flags; each later source overrides the earlier ones, setting by setting.
//!
//! Flags and environment variables are one clap definition (`env = ...`), so clap already
//! ranks a flag above its variable; this module lays both over the file and the defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Parser, Subcommand};
use serde::Deserialize;

use crate::state::KeyHash;

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
    /// Extra admin keys, as `<id>:<bcrypt hash>` lines from `hash-key`, comma-separated.
    #[arg(long, env = "AVAILABILITY_ADMIN_KEYS", value_delimiter = ',')]
    pub admin_keys: Option<Vec<String>>,
    /// The log filter, in tracing's `EnvFilter` syntax [default: info,rustls=error].
    #[arg(long, env = "AVAILABILITY_LOG")]
    pub log: Option<String>,
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
}

/// The TOML file: every setting optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    metrics_public: Option<bool>,
    bcrypt_cost: Option<u32>,
    shutdown_grace: Option<u64>,
    cache_entries: Option<usize>,
    admin_keys: Option<Vec<String>>,
    log: Option<String>,
}

/// The settings in force.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen.
    pub listen: SocketAddr,
    /// The data directory.
    pub data_dir: PathBuf,
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
    /// Admin keys from the configuration.
    pub admin_keys: Vec<KeyHash>,
    /// The log filter.
    pub log: String,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8443)),
            data_dir: PathBuf::from("data"),
            tls: None,
            metrics_public: false,
            bcrypt_cost: 12,
            shutdown_grace: Duration::from_secs(10),
            cache_entries: 4096,
            admin_keys: Vec::new(),
            // rustls warns once per connection about things the client chooses (an IP
            // address as SNI, as wrk and curl send), which would let any client write a log
            // line per connection; its errors are still logged.
            log: "info,rustls=error".to_owned(),
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
        Ok(Config {
            listen: cli.listen.or(file.listen).unwrap_or(d.listen),
            data_dir: cli.data_dir.clone().or(file.data_dir).unwrap_or(d.data_dir),
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
            admin_keys,
            log: cli.log.clone().or(file.log).unwrap_or(d.log),
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
    Ok(KeyHash {
        id: id.to_owned(),
        hash: hash.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("availability-server").chain(args.iter().copied()))
            .expect("parses")
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
    }
}
