//! Criterion benchmarks for availability; see `benches/`.
