//! The sorted_set group. (Skeleton: the collections step fills this in.)

use super::Command;

pub const COMMANDS: &[Command] = &[];
