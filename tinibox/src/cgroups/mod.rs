//! Placeholder; owned by the helper named in lib.rs.
