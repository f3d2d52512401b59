//! Data structures with no RESP and no keyspace in them.

pub mod cycles;
pub mod dict;
pub mod glob;
pub mod hash;
pub mod intset;
pub mod list;
pub mod listpack;
pub mod long_double;
pub mod set;
pub mod zpack;
pub mod zset;
pub mod ztree;
