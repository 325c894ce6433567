//! The integration suite: one binary driving the real `retainctl` and simulator over loopback.

mod common;

mod action;
mod apple_library;
mod bad_input;
mod cli_habits;
mod client_sim;
mod deploy;
mod faults;
mod foundation;
mod outcomes;
mod perf_test;
mod preview;
mod readme;
mod realtime_rules;
mod reconcile_e2e;
mod s3;
mod secrets_in_logs;
mod serve;
mod serve_edge;
mod sim_cli;
mod trust;
mod validate_rules;
mod workflows;
