//! Moving back (`availability-server migrate --from <url> --to <data-dir>`): a database's
//! state read whole into a mirror without writing anything, for the store file to be
//! written from; and a database that must exist already opened without a first start (the
//! `admin-keys` command).

use std::sync::Arc;

use availability_core::store::{Options, Store};
use tokio_postgres::GenericClient;

use crate::connect;
use crate::import::{migration_client, said};
use crate::load;
use crate::schema::VERSION;
use crate::{Database, OnChange, Settings};

/// A database's state, read whole.
#[derive(Debug)]
pub struct Exported {
    /// Every calendar, admin key, group (with its booking types) and unexpired remembered
    /// answer, in a mirror.
    pub store: Store,
    /// The least incarnation the database would give a calendar it created next, or group
    /// booking id it would give next if that is more: a store file numbers both from one
    /// sequence, so neither is given again after the move.
    pub next_incarnation: u64,
}

/// The schema version the database has, without making or changing anything: 0 when it has
/// none.
async fn schema_version(client: &impl GenericClient) -> Result<i32, String> {
    let made: bool = client
        .query_one("SELECT to_regclass('availability_schema') IS NOT NULL", &[])
        .await
        .map_err(|e| said("reading the schema version", e))?
        .get(0);
    if !made {
        return Ok(0);
    }
    client
        .query_one(
            "SELECT coalesce(max(version), 0) FROM availability_schema",
            &[],
        )
        .await
        .map_err(|e| said("reading the schema version", e))?
        .try_get(0)
        .map_err(|e| said("reading the schema version", e))
}

/// Refuses a database whose schema is not this build's.
async fn require_schema(client: &impl GenericClient) -> Result<(), String> {
    match schema_version(client).await? {
        0 => Err(String::from(
            "the database has no availability schema: start a server on it once, or migrate \
             a data directory into it",
        )),
        v if v == VERSION => Ok(()),
        v => Err(format!(
            "the database's schema is version {v} and this build's is version {VERSION}: run \
             the build of the same version (a server of this build brings an older schema up \
             to date when it starts)"
        )),
    }
}

impl Database {
    /// Opens a database that exists already (its schema made by a server of this build): as
    /// [`Database::open`], but it makes nothing, neither the schema nor the first start's
    /// calendar or admin key.
    ///
    /// # Errors
    ///
    /// As [`Database::open`]; a database without the schema, or with another version of it.
    pub async fn open_existing(
        settings: Settings,
        on_change: OnChange,
    ) -> Result<Arc<Database>, String> {
        let config = settings.config()?;
        let tls = connect::tls(settings.ca_file.as_deref())?;
        let (client, heard) = connect::direct(&config, tls.clone())
            .await
            .map_err(|e| e.to_string())?;
        require_schema(&client).await?;
        let pool = connect::pool(&settings, config.clone(), tls.clone())?;
        Database::start(settings, on_change, (config, tls), (client, heard), pool).await
    }
}

/// Reads everything in the database into a new mirror, writing nothing: what a copy back
/// to a store file holds. Dated data past the retention period is left out, as a server
/// leaves it out when it loads.
///
/// # Errors
///
/// A message for the operator: the database unreachable, without the schema or with
/// another version of it, a row the store could not hold.
pub async fn export(settings: &Settings) -> Result<Exported, String> {
    let mut client = migration_client(settings).await?;
    require_schema(&client).await?;
    let store = Store::mirror(Options {
        retention_seconds: settings.retention_seconds,
    })
    .map_err(|e| e.to_string())?;
    load::everything(&mut client, &store, settings.retention_seconds)
        .await
        .map_err(|e| format!("loading the database: {e}"))?;
    let mut next = 1;
    for sequence in ["availability_incarnations", "availability_group_bookings"] {
        let row = client
            .query_one(
                &format!("SELECT last_value, is_called FROM {sequence}"),
                &[],
            )
            .await
            .map_err(|e| said("reading the sequences", e))?;
        let last: i64 = row.get(0);
        let called: bool = row.get(1);
        let given = if called { last.saturating_add(1) } else { last };
        next = next.max(u64::try_from(given).unwrap_or(1));
    }
    Ok(Exported {
        store,
        next_incarnation: next,
    })
}
