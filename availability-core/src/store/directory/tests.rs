//! The listing order against a sorted set.

use alloc::collections::BTreeSet;
use alloc::string::String;

use proptest::prelude::*;

use super::*;

/// An id among a few dozen, so that creates, deletes and pages meet the same ids.
fn id() -> impl Strategy<Value = String> {
    (0u8..40).prop_map(|n| alloc::format!("c{n:02}"))
}

#[derive(Debug, Clone)]
enum Op {
    Create(String),
    Delete(String),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![id().prop_map(Op::Create), id().prop_map(Op::Delete)]
}

proptest! {
    /// Built from some ids, then created and deleted in any order (an id deleted and made
    /// again, an id of the build deleted, a new one deleted), the order lists what a sorted
    /// set of the ids lists, from every starting point.
    #[test]
    fn the_order_lists_what_a_sorted_set_lists(
        built in proptest::collection::btree_set(id(), 0..30),
        ops in proptest::collection::vec(op(), 0..60),
        afters in proptest::collection::vec(proptest::option::of(id()), 1..8),
    ) {
        let mut model: BTreeSet<String> = built.clone();
        let mut order = Order {
            built: built.iter().map(|id| Arc::from(id.as_str())).collect(),
            created: imbl::OrdSet::new(),
            deleted: imbl::OrdSet::new(),
        };
        for op in ops {
            // The directory creates only absent ids and deletes only present ones.
            match op {
                Op::Create(id) if !model.contains(&id) => {
                    order.insert(Arc::from(id.as_str()));
                    model.insert(id);
                }
                Op::Delete(id) if model.contains(&id) => {
                    order.remove(&id);
                    model.remove(&id);
                }
                _ => {}
            }
            for after in &afters {
                let listed: Vec<&str> = order.after(after.as_deref()).map(|id| &**id).collect();
                let expected: Vec<&str> = match after {
                    Some(after) => model
                        .range::<str, _>((core::ops::Bound::Excluded(after.as_str()), core::ops::Bound::Unbounded))
                        .map(String::as_str)
                        .collect(),
                    None => model.iter().map(String::as_str).collect(),
                };
                prop_assert_eq!(listed, expected, "after {:?}", after);
            }
        }
    }
}
