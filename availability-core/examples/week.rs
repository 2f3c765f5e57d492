//! A recurring week: office hours with a maybe lunch hour, written with one batch, then read
//! back as text, counts and runs, and combined with a second person's week.
//!
//! ```text
//! cargo run -p availability-core --example week
//! ```
#![allow(clippy::print_stdout)] // Printing is what the example is for.

use availability_core::{Batch, Day, Entry, Error, Status, Week};

fn main() -> Result<(), Error> {
    // Monday to Friday, 09:00-17:00 available, with a maybe lunch hour; a later entry wins
    // where two overlap.
    let mut batch = Batch::new();
    for day in Day::WEEKDAYS {
        batch.push(Entry::range(
            day,
            "09:00".parse()?,
            "17:00".parse()?,
            Status::Available,
        ));
        batch.push(Entry::range(
            day,
            "12:00".parse()?,
            "13:00".parse()?,
            Status::Maybe,
        ));
    }
    let week = batch.apply(&Week::UNAVAILABLE)?;

    // One line per day, one symbol per half hour: `.` unavailable, `?` maybe, `#` available.
    println!("{week:?}");
    let counts = week.counts();
    println!(
        "half hours: {} available, {} maybe, {} unavailable",
        counts.available, counts.maybe, counts.unavailable
    );

    println!("Monday and Tuesday, as runs:");
    for run in week
        .runs()
        .take_while(|run| run.start().day() <= Day::Tuesday)
    {
        if run.status() != Status::Unavailable {
            println!(
                "  {} for {} half hours: {}",
                run.start(),
                run.len(),
                run.status()
            );
        }
    }

    // A batch is checked whole: one bad entry refuses it and the week is unchanged.
    let bad = Batch::from(vec![
        Entry::range(
            Day::Saturday,
            "10:00".parse()?,
            "12:00".parse()?,
            Status::Available,
        ),
        Entry::range(
            Day::Sunday,
            "17:00".parse()?,
            "09:00".parse()?,
            Status::Available,
        ),
    ]);
    match bad.apply(&week) {
        Ok(_) => println!("unexpected: the backwards range was accepted"),
        Err(error) => println!("refused: {error}"),
    }

    // When are both free? The minimum of two weeks, slot by slot.
    let other = Batch::from(vec![Entry::range(
        Day::Monday,
        "11:00".parse()?,
        "15:00".parse()?,
        Status::Available,
    )])
    .apply(&Week::UNAVAILABLE)?;
    let both = week.min(other);
    for run in both
        .runs()
        .filter(|run| run.status() != Status::Unavailable)
    {
        println!(
            "both: {} for {} half hours: {}",
            run.start(),
            run.len(),
            run.status()
        );
    }
    Ok(())
}
