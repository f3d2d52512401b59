//! The connection group: PING, ECHO, SELECT, QUIT, RESET, HELLO, AUTH and CLIENT. These run
//! on the connection's core against its state; CLIENT LIST/KILL reach every core.

use super::{Args, CONTAINER, Command, Exec, NOAUTH, Special, eq_ic, parse_int};
use crate::error::{CmdError, CmdResult};
use crate::resp::Out;
use crate::server::client::Client;

pub const COMMANDS: &[Command] = &[
    cmd("ping", -1, NOAUTH, Exec::Conn(ping)),
    cmd("echo", 2, 0, Exec::Conn(echo)),
    cmd("select", 2, 0, Exec::Conn(select)),
    cmd("quit", -1, NOAUTH, Exec::Conn(quit)),
    cmd("reset", 1, NOAUTH, Exec::Conn(reset)),
    cmd("hello", -1, NOAUTH, Exec::Conn(hello)),
    cmd("auth", -2, NOAUTH, Exec::Conn(auth)),
    cmd("client", -2, CONTAINER, Exec::Conn(super::container_only)),
    cmd("client|id", 2, 0, Exec::Conn(client_id)),
    cmd("client|setname", 3, 0, Exec::Conn(client_setname)),
    cmd("client|getname", 2, 0, Exec::Conn(client_getname)),
    cmd("client|info", 2, 0, Exec::Conn(client_info)),
    cmd("client|setinfo", 4, 0, Exec::Conn(client_setinfo)),
    cmd("client|no-evict", 3, 0, Exec::Conn(client_on_off)),
    cmd("client|no-touch", 3, 0, Exec::Conn(client_on_off)),
    cmd("client|help", 2, 0, Exec::Conn(client_help)),
    cmd("client|list", -2, 0, Exec::Special(Special::ClientList)),
    cmd("client|kill", -3, 0, Exec::Special(Special::ClientKill)),
    cmd("client|pause", -3, 0, Exec::Special(Special::ClientPause)),
    cmd("client|unpause", 2, 0, Exec::Special(Special::ClientUnpause)),
    cmd("client|reply", 3, 0, Exec::Conn(client_reply)),
    cmd("client|unblock", -3, 0, Exec::Special(Special::ClientUnblock)),
];

const fn cmd(name: &'static str, arity: i32, flags: u32, exec: Exec) -> Command {
    Command { name, arity, flags, first_key: 0, last_key: 0, step: 0, keys_fn: None, exec }
}

/// PING [message]
fn ping(_c: &mut Client, args: Args, out: &mut Out) -> CmdResult {
    match args.len() {
        1 => out.simple("PONG"),
        2 => out.bulk(args.get(1)),
        _ => return Err(CmdError::WrongArity("ping".into())),
    }
    Ok(())
}

/// ECHO message
fn echo(_c: &mut Client, args: Args, out: &mut Out) -> CmdResult {
    out.bulk(args.get(1));
    Ok(())
}

/// SELECT index
fn select(c: &mut Client, args: Args, out: &mut Out) -> CmdResult {
    let db = parse_int(args.get(1))?;
    if db < 0 || db >= c.core.config.borrow().databases as i64 {
        return Err(CmdError::DbIndexOutOfRange);
    }
    c.select(db as usize);
    out.ok();
    Ok(())
}

/// QUIT: replies +OK and closes the connection once the reply is written.
fn quit(c: &mut Client, _args: Args, out: &mut Out) -> CmdResult {
    out.ok();
    c.close_after_reply = true;
    Ok(())
}

/// RESET: back to a fresh connection's state (db 0, RESP2, no name, not authenticated).
fn reset(c: &mut Client, _args: Args, out: &mut Out) -> CmdResult {
    crate::server::monitor::stop(&c.core, &c.info);
    c.multi = None;
    forget_watches(c);
    c.select(0);
    c.resp3 = false;
    out.resp3 = false;
    c.info.resp.set(2);
    c.info.name.borrow_mut().clear();
    c.authenticated = c.core.config.borrow().requirepass.is_empty();
    out.simple("RESET");
    Ok(())
}

/// RESET's UNWATCH: the registries of other cores are told by a task of its own, since
/// RESET answers at once.
fn forget_watches(c: &mut Client) {
    let id = c.id();
    let core = c.core.clone();
    let shards = std::mem::take(&mut c.watching);
    c.watched.clear();
    if shards.is_empty() {
        return;
    }
    glommio::spawn_local(async move {
        for shard in shards {
            crate::dispatch::invoke_on(&core, shard, 0, move |c| c.shard.borrow_mut().watch.unwatch(id))
                .await;
        }
    })
    .detach();
}

fn check_password(c: &mut Client, user: Option<&[u8]>, pass: &[u8]) -> CmdResult {
    let required = c.core.config.borrow().requirepass.clone();
    let user_ok = user.is_none_or(|u| u == b"default");
    let pass_ok = if required.is_empty() { user.is_some() } else { pass == required.as_bytes() };
    if user_ok && pass_ok {
        c.authenticated = true;
        Ok(())
    } else {
        Err(CmdError::WrongPass)
    }
}

/// AUTH [username] password
fn auth(c: &mut Client, args: Args, out: &mut Out) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::Syntax);
    }
    if args.len() == 2 && c.core.config.borrow().requirepass.is_empty() {
        return Err(CmdError::msg(
            "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
        ));
    }
    let (user, pass) = if args.len() == 3 { (Some(args.get(1)), args.get(2)) } else { (None, args.get(1)) };
    check_password(c, user, pass)?;
    out.ok();
    Ok(())
}

/// HELLO [protover [AUTH username password] [SETNAME clientname]]
fn hello(c: &mut Client, args: Args, out: &mut Out) -> CmdResult {
    let mut proto = if c.resp3 { 3 } else { 2 };
    let mut i = 1;
    if args.len() >= 2 {
        let v = parse_int(args.get(1))
            .map_err(|_| CmdError::msg("ERR Protocol version is not an integer or out of range"))?;
        if !(2..=3).contains(&v) {
            return Err(CmdError::msg("NOPROTO unsupported protocol version"));
        }
        proto = v;
        i = 2;
    }
    let mut setname = None;
    while i < args.len() {
        let more = args.len() - i - 1;
        if eq_ic(args.get(i), "auth") && more >= 2 {
            check_password(c, Some(args.get(i + 1)), args.get(i + 2))?;
            i += 3;
        } else if eq_ic(args.get(i), "setname") && more >= 1 {
            validate_name(args.get(i + 1))?;
            setname = Some(args.get(i + 1));
            i += 2;
        } else {
            return Err(CmdError::msg(format!(
                "ERR Syntax error in HELLO option '{}'",
                crate::error::printable_snippet(args.get(i), 128)
            )));
        }
    }
    if !c.authenticated {
        return Err(CmdError::msg(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
        ));
    }
    if let Some(name) = setname {
        *c.info.name.borrow_mut() = String::from_utf8_lossy(name).into_owned();
    }
    c.resp3 = proto == 3;
    out.resp3 = c.resp3;
    c.info.resp.set(proto as u8);
    out.map(7);
    out.bulk(b"server");
    out.bulk(b"redis");
    out.bulk(b"version");
    out.bulk(crate::commands::server::REDIS_VERSION.as_bytes());
    out.bulk(b"proto");
    out.int(proto);
    out.bulk(b"id");
    out.int(c.id() as i64);
    out.bulk(b"mode");
    out.bulk(b"standalone");
    out.bulk(b"role");
    out.bulk(b"master");
    out.bulk(b"modules");
    out.array(0);
    Ok(())
}

fn validate_name(name: &[u8]) -> CmdResult {
    if name.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        return Err(CmdError::msg("ERR Client names cannot contain spaces, newlines or special characters."));
    }
    Ok(())
}

/// CLIENT ID
fn client_id(c: &mut Client, _args: Args, out: &mut Out) -> CmdResult {
    out.int(c.id() as i64);
    Ok(())
}

/// CLIENT SETNAME name
fn client_setname(c: &mut Client, args: Args, out: &mut Out) -> CmdResult {
    validate_name(args.get(2))?;
    *c.info.name.borrow_mut() = String::from_utf8_lossy(args.get(2)).into_owned();
    out.ok();
    Ok(())
}

/// CLIENT GETNAME
fn client_getname(c: &mut Client, _args: Args, out: &mut Out) -> CmdResult {
    let name = c.info.name.borrow();
    if name.is_empty() {
        out.null()
    } else {
        out.bulk(name.as_bytes())
    }
    Ok(())
}

/// CLIENT INFO
fn client_info(c: &mut Client, _args: Args, out: &mut Out) -> CmdResult {
    let line = c.info.list_line() + "\n";
    out.verbatim(line.as_bytes());
    Ok(())
}

/// CLIENT SETINFO LIB-NAME|LIB-VER value
fn client_setinfo(c: &mut Client, args: Args, out: &mut Out) -> CmdResult {
    let value = args.get(3);
    if value.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        return Err(CmdError::msg(format!(
            "ERR {} cannot contain spaces, newlines or special characters.",
            String::from_utf8_lossy(args.get(2)).to_ascii_lowercase()
        )));
    }
    let value = String::from_utf8_lossy(value).into_owned();
    if eq_ic(args.get(2), "lib-name") {
        *c.info.lib_name.borrow_mut() = value;
    } else if eq_ic(args.get(2), "lib-ver") {
        *c.info.lib_ver.borrow_mut() = value;
    } else {
        return Err(CmdError::msg(format!(
            "ERR Unrecognized option '{}'",
            crate::error::printable_snippet(args.get(2), 128)
        )));
    }
    out.ok();
    Ok(())
}

/// CLIENT NO-EVICT|NO-TOUCH ON|OFF (accepted; eviction does not exist yet)
fn client_on_off(_c: &mut Client, args: Args, out: &mut Out) -> CmdResult {
    if !eq_ic(args.get(2), "on") && !eq_ic(args.get(2), "off") {
        return Err(CmdError::Syntax);
    }
    out.ok();
    Ok(())
}

/// CLIENT REPLY ON|OFF|SKIP: OFF and SKIP are answered with silence.
fn client_reply(c: &mut Client, args: Args, out: &mut Out) -> CmdResult {
    let mode = args.get(2);
    if eq_ic(mode, "on") {
        c.reply_off = false;
        out.ok();
    } else if eq_ic(mode, "off") {
        c.reply_off = true;
    } else if eq_ic(mode, "skip") {
        if !c.reply_off {
            c.skip_next_reply = true;
        }
    } else {
        return Err(CmdError::Syntax);
    }
    Ok(())
}

/// CLIENT UNBLOCK's arguments: the client id, and 2 to unblock with an error, else 1.
pub fn parse_client_unblock(args: Args) -> CmdResult<(u64, u8)> {
    let id = parse_int(args.get(2))?;
    if args.len() == 4 && !eq_ic(args.get(3), "timeout") && !eq_ic(args.get(3), "error") {
        return Err(CmdError::msg("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"));
    }
    if args.len() > 4 {
        return Err(CmdError::Syntax);
    }
    let how = if args.len() == 4 && eq_ic(args.get(3), "error") { 2 } else { 1 };
    Ok((id as u64, how))
}

/// CLIENT HELP
fn client_help(_c: &mut Client, _args: Args, out: &mut Out) -> CmdResult {
    let lines = [
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GETNAME",
        "    Return the name of the current connection.",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "KILL <ip:port>",
        "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are: ID <client-id>, ADDR <ip:port>, LADDR <ip:port>, SKIPME (YES|NO).",
        "LIST [options ...]",
        "    Return information about client connections. Options: TYPE (NORMAL|MASTER|REPLICA|PUBSUB), ID <client-id> [...].",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "SETINFO <option> <value>",
        "    Set client meta attr. Options are: LIB-NAME, LIB-VER.",
        "HELP",
        "    Print this help.",
    ];
    out.array(lines.len());
    for l in lines {
        out.simple(l);
    }
    Ok(())
}
