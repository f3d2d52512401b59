//! Command errors as values, and the one place where they become Redis's error text.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum CmdError {
    WrongType,
    NotInteger,
    NotFloat,
    Syntax,
    Overflow,
    OutOfRange,
    NoSuchKey,
    DbIndexOutOfRange,
    InvalidExpire(&'static str),
    WrongArity(String),
    UnknownCommand(String),
    UnknownSubcommand {
        sub: String,
        cmd: String,
    },
    NoAuth,
    WrongPass,
    /// Any other error, already carrying its code (`ERR ...`, `NOPROTO ...`).
    Msg(String),
}

pub type CmdResult<T = ()> = Result<T, CmdError>;

impl CmdError {
    pub fn msg(s: impl Into<String>) -> CmdError {
        CmdError::Msg(s.into())
    }
}

impl fmt::Display for CmdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CmdError::WrongType => {
                f.write_str("WRONGTYPE Operation against a key holding the wrong kind of value")
            }
            CmdError::NotInteger => f.write_str("ERR value is not an integer or out of range"),
            CmdError::NotFloat => f.write_str("ERR value is not a valid float"),
            CmdError::Syntax => f.write_str("ERR syntax error"),
            CmdError::Overflow => f.write_str("ERR increment or decrement would overflow"),
            CmdError::OutOfRange => f.write_str("ERR offset is out of range"),
            CmdError::NoSuchKey => f.write_str("ERR no such key"),
            CmdError::DbIndexOutOfRange => f.write_str("ERR DB index is out of range"),
            CmdError::InvalidExpire(cmd) => write!(f, "ERR invalid expire time in '{cmd}' command"),
            CmdError::WrongArity(cmd) => {
                write!(f, "ERR wrong number of arguments for '{cmd}' command")
            }
            CmdError::UnknownCommand(s) => f.write_str(s),
            CmdError::UnknownSubcommand { sub, cmd } => {
                write!(f, "ERR unknown subcommand '{sub}'. Try {cmd} HELP.")
            }
            CmdError::NoAuth => f.write_str("NOAUTH Authentication required."),
            CmdError::WrongPass => {
                f.write_str("WRONGPASS invalid username-password pair or user is disabled.")
            }
            CmdError::Msg(s) => f.write_str(s),
        }
    }
}

/// User text inside an error, cut to `max` bytes like C's `%.*s` (which also stops at NUL).
pub fn printable_snippet(arg: &[u8], max: usize) -> String {
    let cut = &arg[..arg.len().min(max)];
    let cut = match cut.iter().position(|&b| b == 0) {
        Some(nul) => &cut[..nul],
        None => cut,
    };
    String::from_utf8_lossy(cut).into_owned()
}
