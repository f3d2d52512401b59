//! Per-core boot, the socket loop, connections and client state.
pub mod boot;
pub mod client;
pub mod conn;
pub mod core;
pub mod monitor;
pub mod reactor;
