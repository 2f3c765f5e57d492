//! An owner's week seen from another zone, across a change of clocks: an owner in New York,
//! a viewer in Berlin, during the weeks when Europe has left summer time and the United
//! States has not yet.
//!
//! ```text
//! cargo run -p availability-core --example view
//! ```
#![allow(clippy::print_stdout)] // Printing is what the example is for.

use availability_core::tz::{Plan, Zone};
use availability_core::{Batch, Day, Entry, Error, Status, Week};

fn main() -> Result<(), Error> {
    // The owner's week, in New York wall-clock time: weekdays 09:00-17:00, and maybe on
    // Sunday morning.
    let mut batch = Batch::new();
    for day in Day::WEEKDAYS {
        batch.push(Entry::range(
            day,
            "09:00".parse()?,
            "17:00".parse()?,
            Status::Available,
        ));
    }
    batch.push(Entry::range(
        Day::Sunday,
        "10:00".parse()?,
        "12:00".parse()?,
        Status::Maybe,
    ));
    let owner = batch.apply(&Week::UNAVAILABLE)?;

    let new_york: Zone = "America/New_York".parse()?;
    let berlin: Zone = "Europe/Berlin".parse()?;
    println!("time-zone database {}", Zone::database_version());

    // Berlin leaves summer time on Sunday 2026-10-25, New York on Sunday 2026-11-01: New York
    // is six hours behind Berlin before the first, five between the two, six again after.
    // Both Sundays end a week in which the difference changes, and the view follows it
    // instant by instant.
    for week in ["2026-W43", "2026-W44", "2026-W45"] {
        let plan = Plan::new(new_york, berlin, week.parse()?)?;
        let view = plan.apply(&owner);
        let how = if plan.is_rotation() {
            "one offset difference all week"
        } else {
            "the offset difference changes"
        };
        println!("{week} seen from Berlin ({how}):");
        for run in view.runs() {
            let day = run.start().day();
            if run.status() != Status::Unavailable && (day == Day::Monday || day == Day::Sunday) {
                let date = plan.week().date(day);
                println!(
                    "  {date} {} for {} half hours: {}",
                    run.start(),
                    run.len(),
                    run.status()
                );
            }
        }
    }

    // The exact intervals of the week with the change, with Berlin's offsets.
    let plan = Plan::new(new_york, berlin, "2026-W44".parse()?)?;
    println!("2026-W44, exact:");
    for interval in plan.intervals(&owner) {
        println!(
            "  {} to {}: {}",
            interval.start, interval.end, interval.status
        );
    }
    Ok(())
}
