//! retainctl: keeps Apple's retention messages in git and reconciles Apple with it.
//!
//! Pure logic (manifest model, validation, identifiers, desired state) lives apart from
//! I/O (loader, CLI), so it is tested with plain unit tests.

pub mod apple;
pub mod atomic_file;
pub mod base;
pub mod cli;
pub mod commands;
pub mod desired;
pub mod diagnostics;
pub mod diff;
pub mod ids;
pub mod image_rules;
pub mod loader;
pub mod locale;
pub mod manifest;
pub mod realtime;
pub mod reconcile;
pub mod render;
pub mod schema;
pub mod serve;
pub mod sim;
pub mod validate;
pub mod yaml;
