//! The store: open a file, create a calendar, commit a change, and find it again after
//! reopening. A commit returns once its change is on disk.
//!
//! ```text
//! cargo run -p availability-core --example store
//! ```
#![allow(clippy::print_stdout)] // Printing is what the example is for.

use availability_core::store::{Authority, Change, Store};
use availability_core::{Batch, Day, Entry, Status};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A fresh directory, removed at the end; the store keeps its journal of dated data beside
    // the file.
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("availability.avs");

    let store = Store::open(&path)?; // created, with the `default` calendar
    let created = store.create("ana", "Europe/Lisbon", Vec::new(), &Authority::Unchecked)?;
    println!(
        "created {:?} in {}, version {}",
        created.id(),
        created.zone(),
        created.version()
    );

    let batch = Batch::from(vec![Entry::range(
        Day::Monday,
        "09:00".parse()?,
        "17:00".parse()?,
        Status::Available,
    )]);
    // The expected version makes the change conditional, as HTTP's If-Match does.
    let after = store.commit("ana", Some(created.version()), &Change::Apply(batch))?;
    println!(
        "committed: version {}, {} half hours available",
        after.version(),
        after.week().counts().available
    );

    let stale = store.commit(
        "ana",
        Some(created.version()),
        &Change::SetZone("Asia/Tokyo".into()),
    );
    if let Err(error) = stale {
        println!(
            "a second change from version {} is refused: {error}",
            created.version()
        );
    }

    drop(store);
    let store = Store::open(&path)?;
    for calendar in store.list() {
        let counts = calendar.week().counts();
        println!(
            "reopened: {:?} in {}, version {}, {} half hours available",
            calendar.id(),
            calendar.zone(),
            calendar.version(),
            counts.available
        );
    }
    let mut files = std::fs::read_dir(dir.path())?
        .map(|entry| entry.map(|entry| entry.file_name()))
        .collect::<Result<Vec<_>, _>>()?;
    files.sort();
    println!("files: {files:?}");
    Ok(())
}
