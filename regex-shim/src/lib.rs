//! `regex` for this workspace is `regex-lite`, under the name `regex`.
//!
//! Why: oci-spec (the runtime-spec and image-spec types tinibox and distro-build use) depends on
//! `regex` unconditionally, for one check (the `execCPUAffinity` syntax, runtime-spec
//! config.md) and for image references (a feature this workspace does not enable). `regex`
//! carries a full matching engine and the Unicode tables; `regex-lite`, by the same authors, has
//! the same API without them. Measured on the static musl tinibox (BENCHMARKS.md,
//! "Footprint"): 3,367,288 bytes with `regex`, 2,421,112 bytes with this patch, and a lower
//! peak RSS per container start.
//!
//! The workspace's `[patch.crates-io]` points every `regex` dependency here (oci-spec's and
//! rexpect's, a test-only dependency). Differences that matter to them: `\d`, `\w` and `\s`
//! are ASCII-only and `\p{..}` classes are refused at `Regex::new`; oci-spec's and rexpect's
//! patterns in this workspace use neither. This crate has no code of its own beyond the
//! re-export; the version number is `regex`'s, so that `regex = "1"` requirements accept it.

pub use regex_lite::*;
