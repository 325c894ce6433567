//! retainctl: keeps Apple's retention messages in git and reconciles Apple with it.
//!
//! The tree draws the layers of the design's architecture picture, from the bottom up:
//! `apple` (Apple's numbers and rules, and the wire), `manifest` (the YAML tree, decoder,
//! model, schema), `validate` (every rule → diagnostics), `desired` (the desired state and
//! its content-derived ids), `reconcile` (observe, the pure planner, apply, copy diffs,
//! the snapshot's lifecycle), `render` (one module per format), `realtime`, `serve` and
//! `sim` beside them, `preview` (message → picture of Apple's page),
//! and `commands` on top. The I/O helpers (`loader`, `base`,
//! `atomic_file`) and `cli` stay at the top level. Pure logic is tested with plain unit
//! tests.

pub mod apple;
pub mod atomic_file;
pub mod base;
pub mod cli;
pub mod commands;
pub mod desired;
pub mod loader;
pub mod manifest;
pub mod outcomes;
pub mod preview;
pub mod realtime;
pub mod reconcile;
pub mod render;
pub mod serve;
pub mod sim;
pub mod validate;
