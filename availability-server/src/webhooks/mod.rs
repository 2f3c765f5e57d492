//! Webhooks: the endpoints' secrets sealed at rest (`seal`), the Standard Webhooks signature
//! (`sign`), what a delivery says (`payload`), where a delivery may go (`net`), the HTTPS
//! client that sends one (`client`), and the sender task that delivers the outbox
//! (`sender`). The endpoints and the outbox are the store's (`availability_core::store`) or
//! the database's (`availability_postgres`), behind `store::Storage`: an event is part of the
//! commit of its change, on the store file by construction, on a database as a row of the
//! change's transaction.

pub mod client;
pub mod net;
pub mod payload;
pub mod seal;
pub mod sender;
pub mod sign;

use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use self::client::Client;
use self::net::Policy;
use self::seal::Sealer;
use crate::wire::client::Cidr;

/// What the routes and the sender share.
#[derive(Debug)]
pub struct Webhooks {
    /// Sends deliveries.
    pub client: Client,
    /// Seals and opens the endpoints' secrets.
    pub sealer: Sealer,
    /// Counts for `/metrics`.
    pub stats: Stats,
}

/// What the sender counts.
#[derive(Debug, Default)]
pub struct Stats {
    /// Attempts a receiver took (2xx).
    pub delivered: AtomicU64,
    /// Attempts that failed.
    pub failed: AtomicU64,
}

impl Webhooks {
    /// Webhooks as the settings say: the sealing key in `key_file`, the ranges `allow`ed,
    /// and the certificate authorities of `ca_file` trusted besides the platform's.
    ///
    /// # Errors
    ///
    /// When the key file exists but holds no key, or the CA file cannot be read.
    pub fn new(
        key_file: &Path,
        allow: &[Cidr],
        ca_file: Option<&Path>,
    ) -> Result<Webhooks, String> {
        let policy = Policy {
            allow: allow.to_vec(),
        };
        Ok(Webhooks {
            client: Client::new(policy, client::roots(ca_file)?),
            sealer: Sealer::at(key_file)?,
            stats: Stats::default(),
        })
    }

    /// Webhooks over `client`.
    pub fn with_client(key_file: &Path, client: Client) -> Result<Webhooks, String> {
        Ok(Webhooks {
            client,
            sealer: Sealer::at(key_file)?,
            stats: Stats::default(),
        })
    }
}

/// Milliseconds since the epoch, as attempts and endpoints record time.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Starts the sender of `app`'s outbox.
pub fn start(app: &Arc<crate::app::App>, webhooks: Arc<Webhooks>) {
    tokio::spawn(sender::run(Arc::downgrade(app), webhooks));
}
