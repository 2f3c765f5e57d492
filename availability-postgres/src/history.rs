//! The pattern history in the database: a row per version of a calendar's weekly pattern,
//! written in the transaction of the change, and read from the database when asked for (a
//! rare read; the mirror keeps only what readers of the week need).

use availability_core::store::{Calendar, PastPattern, MAX_HISTORY};
use availability_core::{BackendError, Error, Week};

use crate::fail::{db, from_db, Fail};
use crate::load::now_s;
use crate::persist::{args, exec, run_steps, Tx};
use crate::rows::signed;
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
        vec![exec(
            tx,
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
        let rows = self
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
        let mut history = Vec::with_capacity(rows.len());
        for (n, row) in rows.iter().enumerate() {
            let read = |e| from_db("reading the pattern history", e);
            let version: i64 = row.try_get(0).map_err(read)?;
            let at_ms: i64 = row.try_get(1).map_err(read)?;
            if n > 0 && at_ms < cutoff_ms {
                break;
            }
            let key_id: Option<String> = row.try_get(2).map_err(read)?;
            let week: Vec<u8> = row.try_get(3).map_err(read)?;
            let changed: Vec<u8> = row.try_get(4).map_err(read)?;
            history.push(version_of(
                id,
                version,
                at_ms,
                key_id.as_deref(),
                &week,
                &changed,
            )?);
        }
        if history.is_empty() {
            history.push(PastPattern::of_calendar(&calendar));
        }
        Ok(history)
    }
}

/// A row's version, checked as the store file's are.
fn version_of(
    id: &str,
    version: i64,
    at_ms: i64,
    key_id: Option<&str>,
    week: &[u8],
    changed: &[u8],
) -> Result<PastPattern, Error> {
    let corrupt = |what: String| {
        Error::of_backend(
            BackendError::Corrupt,
            format!("calendar {id:?}'s pattern history, version {version}: {what}"),
        )
    };
    let week: &[u8; Week::BYTES] = week
        .try_into()
        .map_err(|_| corrupt(format!("a week of {} bytes", week.len())))?;
    let week = Week::from_bytes(week).map_err(|e| corrupt(e.to_string()))?;
    if changed.len() != 48 {
        return Err(corrupt(format!("changed slots of {} bytes", changed.len())));
    }
    let words = std::array::from_fn(|j| {
        let mut word = [0_u8; 8];
        word.copy_from_slice(&changed[j * 8..j * 8 + 8]);
        u64::from_le_bytes(word)
    });
    let version =
        u64::try_from(version).map_err(|_| corrupt(String::from("a negative version")))?;
    PastPattern::new(version, at_ms, key_id, week, words).map_err(|e| corrupt(e.to_string()))
}
