//! `retainctl serve`: Apple's realtime endpoint (Get Retention Message), answering only
//! with content the snapshot lists as approved.

pub mod offer;
pub mod verify;
