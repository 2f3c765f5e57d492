//! The schema: embedded migrations, applied in order under an advisory lock, so that
//! instances starting together do not race; an instance refuses a schema newer than it knows.

use availability_core::{BackendError, Error};
use tokio_postgres::Client;

use crate::fail::from_db;

/// The migrations, in order: migration `n` (from 1) makes schema version `n`.
const MIGRATIONS: &[&str] = &[
    include_str!("schema/1.sql"),
    include_str!("schema/2.sql"),
    include_str!("schema/3.sql"),
    include_str!("schema/4.sql"),
    include_str!("schema/5.sql"),
    include_str!("schema/6.sql"),
];

/// The schema version this build knows.
pub const VERSION: i32 = MIGRATIONS.len() as i32;

/// The advisory lock held while the schema is checked and migrated ("availabi" in ASCII).
const LOCK: i64 = 0x6176_6169_6c61_6269;

/// What [`migrate`] found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Migrated {
    /// The version before (0: no schema).
    pub(crate) from: i32,
}

/// Brings the schema to [`VERSION`] under the advisory lock, then runs `then` while still
/// holding it (the first start's admin key and calendar are made there, once). The lock is a
/// session lock, released at the end whatever happened.
pub(crate) async fn migrate<T>(
    client: &mut Client,
    then: impl AsyncFnOnce(&mut Client, Migrated) -> Result<T, Error>,
) -> Result<T, Error> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&LOCK])
        .await
        .map_err(|e| from_db("taking the schema lock", e))?;
    let outcome = match migrate_locked(client).await {
        Ok(migrated) => then(client, migrated).await,
        Err(e) => Err(e),
    };
    let unlocked = client
        .execute("SELECT pg_advisory_unlock($1)", &[&LOCK])
        .await
        .map_err(|e| from_db("releasing the schema lock", e));
    let value = outcome?;
    unlocked?;
    Ok(value)
}

async fn migrate_locked(client: &mut Client) -> Result<Migrated, Error> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS availability_schema (
                 only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
                 version integer NOT NULL
             )",
        )
        .await
        .map_err(|e| from_db("creating the schema table", e))?;
    let from: i32 = client
        .query_opt("SELECT version FROM availability_schema", &[])
        .await
        .map_err(|e| from_db("reading the schema version", e))?
        .map_or(Ok(0), |row| row.try_get(0))
        .map_err(|e| from_db("reading the schema version", e))?;
    if from > VERSION {
        return Err(Error::of_backend(
            BackendError::Corrupt,
            format!(
                "the database's schema is version {from}, newer than version {VERSION}, the \
                 newest this server knows: run a newer server"
            ),
        ));
    }
    for (n, sql) in MIGRATIONS.iter().enumerate().skip(from.max(0) as usize) {
        let version = n as i32 + 1;
        let tx = client
            .transaction()
            .await
            .map_err(|e| from_db("starting a migration", e))?;
        tx.batch_execute(sql)
            .await
            .map_err(|e| from_db(&format!("migrating the schema to version {version}"), e))?;
        tx.execute(
            "INSERT INTO availability_schema (version) VALUES ($1)
             ON CONFLICT (only_row) DO UPDATE SET version = EXCLUDED.version",
            &[&version],
        )
        .await
        .map_err(|e| from_db("recording the schema version", e))?;
        tx.commit()
            .await
            .map_err(|e| from_db(&format!("migrating the schema to version {version}"), e))?;
        tracing::info!(version, "database schema migrated");
    }
    Ok(Migrated { from })
}
