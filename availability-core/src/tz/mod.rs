//! Time-zone views (DESIGN.md section 3).
