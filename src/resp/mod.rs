//! RESP2/RESP3 wire format: an incremental in-place request parser and a reply writer.
//! This module knows no commands: it turns bytes into argument ranges and values into bytes.

pub mod parse;
pub mod write;

pub use parse::{ParseError, Parsed, Parser};
pub use write::Out;
