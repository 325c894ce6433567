//! The local Apple: a faithful simulator of the Retention Messaging API for tests, for
//! rehearsals, and for `--env local`, where it runs inside the retainctl process.

pub mod faults;
pub mod notifications;
pub mod perf;
pub mod population;
pub mod server;
pub mod state;

pub use server::{PerfConfig, SimConfig, spawn};
pub use state::Mode;
