//! The JSON batch decoder on arbitrary bytes: an error or a batch, never a panic; a decoded
//! batch re-encodes to JSON that decodes to the same batch, and applying it is all or nothing.
#![no_main]

use availability_core::{Batch, Week};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(batch) = serde_json::from_slice::<Batch>(data) else {
        return;
    };
    assert!(batch.len() <= Batch::MAX_ENTRIES);
    let json = serde_json::to_vec(&batch).expect("a batch serializes");
    assert_eq!(serde_json::from_slice::<Batch>(&json).expect("round trip"), batch);
    let before = Week::MAYBE;
    match batch.apply(&before) {
        Ok(after) => assert_eq!(batch.apply(&after).expect("idempotent"), after),
        Err(err) => assert!(err.entry_index().is_some_and(|i| i < batch.len())),
    }
});
