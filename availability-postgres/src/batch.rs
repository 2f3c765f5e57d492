//! Calendars created in a batch: one transaction, one statement for the rows and one for
//! the change log, however many calendars (up to the core's limit).

use std::sync::Arc;

use availability_core::store::{batch_ids, decide, Authority, Calendar, NewCalendar};
use availability_core::{BackendError, Error};

use crate::fail::{db, Fail};
use crate::persist::admin_for;
use crate::Database;

impl Database {
    /// Creates the calendars of `batch`, as
    /// [`Store::create_batch`](availability_core::store::Store::create_batch): all of them in
    /// one transaction, or none.
    ///
    /// # Errors
    ///
    /// As the store's, and [`Error::is_unavailable`] when the database is away.
    pub async fn create_batch(
        &self,
        batch: &[NewCalendar],
        by: &Authority,
    ) -> Result<Vec<Arc<Calendar>>, Error> {
        let ids: Vec<&str> = batch.iter().map(|new| new.id.as_str()).collect();
        batch_ids(batch)?;
        let made = self
            .run("creating the calendars", async |tx| {
                let admin = admin_for(tx, by).await?;
                // An incarnation each: the database keeps them unique.
                let count = ids.len() as i64;
                let incarnations: Vec<i64> = tx
                    .query(
                        "SELECT nextval('availability_incarnations') FROM generate_series(1::bigint, $1::bigint)",
                        &[&count],
                    )
                    .await
                    .map_err(db("creating the calendars"))?
                    .iter()
                    .map(|row| row.get(0))
                    .collect();
                let made = decide::batch_creation(
                    batch,
                    |i| incarnations.get(i).copied().unwrap_or_default() as u64,
                    by,
                    &admin,
                )?;
                let zones: Vec<&str> = made.iter().map(|c| c.zone()).collect();
                let public: Vec<bool> = made.iter().map(|c| c.booking_public()).collect();
                let changed: Vec<i64> = made.iter().map(|c| c.changed_at_unix_ms()).collect();
                let week: &[u8] = &availability_core::Week::UNAVAILABLE.to_bytes();
                let inserted = tx
                    .execute(
                        "INSERT INTO calendars (id, incarnation, version, zone, week, \
                         booking_public, changed_at_ms, next_booking) \
                         SELECT id, incarnation, 1, zone, $3::bytea, public, changed, 1 \
                         FROM unnest($1::text[], $2::bigint[], $4::text[], $5::bool[], \
                         $6::bigint[]) AS t(id, incarnation, zone, public, changed) \
                         ON CONFLICT (id) DO NOTHING",
                        &[&ids, &incarnations, &week, &zones, &public, &changed],
                    )
                    .await
                    .map_err(db("creating the calendars"))?;
                if inserted != ids.len() as u64 {
                    let taken = tx
                        .query(
                            "SELECT id FROM calendars WHERE id = ANY($1) \
                             AND NOT incarnation = ANY($2)",
                            &[&ids, &incarnations],
                        )
                        .await
                        .map_err(db("creating the calendars"))?;
                    let taken: Vec<String> = taken.iter().map(|row| row.get(0)).collect();
                    let first = ids
                        .iter()
                        .find(|id| taken.iter().any(|t| t == *id))
                        .unwrap_or(&ids[0]);
                    return Err(Fail::Stop(Error::of_backend(
                        BackendError::AlreadyExists,
                        format!("calendar {first:?} already exists"),
                    )));
                }
                tx.execute(
                    "INSERT INTO changes (kind, id, key, incarnation, version) \
                     SELECT 'calendar', id, NULL, incarnation, 1 \
                     FROM unnest($1::text[], $2::bigint[]) AS t(id, incarnation)",
                    &[&ids, &incarnations],
                )
                .await
                .map_err(db("creating the calendars"))?;
                tx.execute("SELECT pg_notify('availability_changes', '')", &[])
                    .await
                    .map_err(db("creating the calendars"))?;
                Ok(made)
            })
            .await?;
        Ok(made
            .into_iter()
            .map(|calendar| {
                self.store.install(calendar.clone());
                Arc::new(calendar)
            })
            .collect())
    }
}
