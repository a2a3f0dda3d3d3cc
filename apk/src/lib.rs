//! An Alpine-compatible package manager: apk-tools' v2 formats (APKINDEX, .apk packages,
//! the installed database, the world file), its version ordering and dependency solving, and
//! safe transactions on a root directory. [`cli`] is the command line, which the `apk` binary
//! (src/main.rs) and tinibox's multi-call build both run.
//!
//! Modules, from the bottom up: [`version`] (ordering), [`atom`] (dependency atoms),
//! [`package`] (the package record and index stanzas), [`pkginfo`] (.PKGINFO), [`db`]
//! (installed database, world, scripts.tar), [`sign`] (keys and RSA signatures),
//! [`archive`] (gzip stream splitting, .apk and APKINDEX.tar.gz reading and verification),
//! [`fetch`] (http, https, file), [`repo`] (repositories and the cache), [`solver`],
//! [`fsroot`] (safe paths inside the root), [`script`] (running package scripts),
//! [`transaction`] (applying a solution with a journal, and `fix`), [`context`] (what one run
//! works on) and [`commands`] (the applets).

#![warn(missing_docs)]

pub mod archive;
pub mod atom;
pub mod cli;
pub mod commands;
pub mod context;
pub mod db;
pub mod fetch;
pub mod fsroot;
pub mod package;
pub mod pkginfo;
pub mod repo;
pub mod script;
pub mod sign;
pub mod solver;
pub mod transaction;
pub mod version;
