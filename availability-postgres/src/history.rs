//! The pattern history in the database: a row per version of a calendar's weekly pattern,
//! written in the transaction of the change, and read from the database when asked for (a
//! rare read; the mirror keeps only what readers of the week need).

use availability_core::store::{Calendar, PastPattern, MAX_HISTORY};
use availability_core::{BackendError, Error};

use crate::fail::{db, Fail};
use crate::load::now_s;
use crate::persist::{args, exec, run_steps, Tx};
use crate::rows::{self, signed};
use crate::Database;

/// The slots a version changed, as the `changed` column holds them.
fn changed_bytes(version: &PastPattern) -> Vec<u8> {
    version
        .changed_words()
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect()
}

/// Records the change of calendar `before`'s pattern to `after`'s, by the key `by`: the
/// version before it too when the history begins now, and drops the versions past
/// retention or [`MAX_HISTORY`] (never the newest).
pub(crate) async fn record(
    tx: &Tx<'_>,
    before: &Calendar,
    after: &Calendar,
    by: Option<&str>,
    retention_seconds: i64,
) -> Result<(), Fail> {
    let id = after.id();
    let first = PastPattern::of_calendar(before);
    let next = PastPattern::after(
        &before.week(),
        after.version(),
        after.changed_at_unix_ms(),
        by.map(std::sync::Arc::from),
        after.week(),
    );
    let (first_version, next_version) = (
        signed(first.version(), "a version")?,
        signed(next.version(), "a version")?,
    );
    let (first_week, next_week) = (
        first.week().to_bytes().to_vec(),
        next.week().to_bytes().to_vec(),
    );
    let (first_changed, next_changed) = (changed_bytes(&first), changed_bytes(&next));
    let cutoff_ms = (now_s() - retention_seconds).saturating_mul(1000);
    let offset = MAX_HISTORY as i64;
    // In order: each statement prepares first, and the later ones read what the earlier wrote.
    tx.execute(
        "INSERT INTO pattern_history (calendar, version, at_ms, key_id, week, changed) \
         SELECT $1, $2, $3, NULL, $4, $5 \
         WHERE NOT EXISTS (SELECT 1 FROM pattern_history WHERE calendar = $1)",
        &args(&[
            &id,
            &first_version,
            &first.at_ms(),
            &first_week,
            &first_changed,
        ]),
    )
    .await
    .map_err(db("saving the pattern history"))?;
    tx.execute(
        "INSERT INTO pattern_history (calendar, version, at_ms, key_id, week, changed) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (calendar, version) DO NOTHING",
        &args(&[
            &id,
            &next_version,
            &next.at_ms(),
            &next.key_id(),
            &next_week,
            &next_changed,
        ]),
    )
    .await
    .map_err(db("saving the pattern history"))?;
    run_steps(
        tx,
        vec![exec(
            "DELETE FROM pattern_history WHERE calendar = $1 AND version < $2 AND (at_ms < $3 \
             OR version <= (SELECT version FROM pattern_history WHERE calendar = $1 \
             ORDER BY version DESC OFFSET $4 LIMIT 1))",
            args(&[&id, &next_version, &cutoff_ms, &offset]),
        )],
        "saving the pattern history",
    )
    .await
}

impl Database {
    /// The versions of calendar `id`'s weekly pattern, newest first, as
    /// [`Store::history`](availability_core::store::Store::history) answers them: read from
    /// the database, with the mirror's calendar for one whose history has not begun.
    ///
    /// # Errors
    ///
    /// [`Error::is_not_found`] for no calendar `id`, [`Error::is_unavailable`] when the
    /// database is away, [`Error::is_corrupt`] for a row no write makes.
    pub async fn history(&self, id: &str) -> Result<Vec<PastPattern>, Error> {
        let Some(calendar) = self.store.get(id) else {
            return Err(Error::of_backend(
                BackendError::NotFound,
                format!("no calendar {id:?}"),
            ));
        };
        let cutoff_ms = (now_s() - self.settings.retention_seconds).saturating_mul(1000);
        let found = self
            .run("reading the pattern history", async |tx| {
                tx.query(
                    "SELECT version, at_ms, key_id, week, changed FROM pattern_history \
                     WHERE calendar = $1 ORDER BY version DESC",
                    &[&id],
                )
                .await
                .map_err(db("reading the pattern history"))
            })
            .await?;
        let mut history = Vec::with_capacity(found.len());
        for row in &found {
            let version = rows::past_pattern(row)?;
            // Versions past retention that no change has pruned yet are left out, never the
            // newest.
            if !history.is_empty() && version.at_ms() < cutoff_ms {
                break;
            }
            history.push(version);
        }
        if history.is_empty() {
            history.push(PastPattern::of_calendar(&calendar));
        }
        Ok(history)
    }
}
