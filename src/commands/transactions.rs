//! The transactions group: MULTI, EXEC, DISCARD, WATCH, UNWATCH. The queueing and EXEC itself
//! live in `tx::multi`; the connection loop queues commands while a MULTI is open.

use super::{Args, Command, Exec, Special};
use crate::error::{CmdError, CmdResult};
use crate::resp::Out;
use crate::server::client::Client;

const fn cmd(name: &'static str, arity: i32, exec: Exec) -> Command {
    Command { name, arity, flags: 0, first_key: 0, last_key: 0, step: 0, keys_fn: None, exec }
}

pub const COMMANDS: &[Command] = &[
    cmd("multi", 1, Exec::Conn(multi)),
    cmd("exec", 1, Exec::Special(Special::Exec)),
    cmd("discard", 1, Exec::Special(Special::Discard)),
    Command {
        name: "watch",
        arity: -2,
        flags: 0,
        first_key: 1,
        last_key: -1,
        step: 1,
        keys_fn: None,
        exec: Exec::Special(Special::Watch),
    },
    cmd("unwatch", 1, Exec::Special(Special::Unwatch)),
];

/// MULTI: starts queueing.
fn multi(c: &mut Client, _args: Args, out: &mut Out) -> CmdResult {
    if c.multi.is_some() {
        return Err(CmdError::msg("ERR MULTI calls can not be nested"));
    }
    c.multi = Some(Default::default());
    out.ok();
    Ok(())
}
