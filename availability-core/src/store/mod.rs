//! The snapshot store and its file (DESIGN.md section 4).
