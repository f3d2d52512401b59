//! MONITOR: the clients that watch every command the server runs, and feeding them.
//!
//! A command is fed on the core of the connection that sent it, once it has passed the checks
//! that let a command run (it exists, its arity is right, the client is authenticated, it was
//! not queued by MULTI). Commands queued by MULTI are fed when EXEC runs them, then EXEC itself,
//! as Redis does. The line is formatted once; it goes straight into the output of this core's
//! monitoring clients and, for every other core that has any, into an outbox that one task
//! sends in order, so each monitor sees a core's commands in the order they were sent.
//!
//! Every core keeps its own monitoring clients and, per other core, how many that core has.
//! MONITOR tells every other core before it answers +OK, so a command dispatched on any core
//! after the +OK is fed. While nobody monitors, the command path checks one flag.
//!
//! As in Redis: admin commands (CONFIG, DEBUG, ...) are not shown, AUTH's and HELLO's secrets
//! are redacted, and a monitoring client may not run commands that read or write keys.

use crate::commands::{Args, Command, Exec, Special, eq_ic, meta, table};
use crate::dispatch::mesh::ReqBody;
use crate::server::client::{Client, ClientInfo};
use crate::server::core::Core;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// The error a monitoring client gets for a command that touches the keyspace.
pub const KEYSPACE_REFUSED: &str = "ERR Replica can't interact with the keyspace";

pub struct Monitors {
    /// This core's monitoring clients.
    local: RefCell<Vec<Rc<ClientInfo>>>,
    /// Per core: how many monitoring clients it has (this core's own entry stays 0).
    remote: RefCell<Vec<u32>>,
    /// Whether any core has a monitoring client: the one check on the command path.
    active: Cell<bool>,
    /// Per core: lines waiting to be sent there.
    outbox: RefCell<Vec<Vec<u8>>>,
    /// A task is sending the outboxes.
    sending: Cell<bool>,
}

impl Monitors {
    pub fn new(cores: usize) -> Monitors {
        Monitors {
            local: RefCell::new(Vec::new()),
            remote: RefCell::new(vec![0; cores]),
            active: Cell::new(false),
            outbox: RefCell::new(vec![Vec::new(); cores]),
            sending: Cell::new(false),
        }
    }

    fn refresh_active(&self) {
        let any = !self.local.borrow().is_empty() || self.remote.borrow().iter().any(|&n| n > 0);
        self.active.set(any);
    }

    /// Appends lines to every local monitor's output and wakes its connection.
    pub fn deliver(&self, lines: &[u8]) {
        for info in self.local.borrow().iter() {
            info.monitor_out.borrow_mut().extend_from_slice(lines);
            info.wake();
        }
    }
}

/// MONITOR: from now on the client receives every command. A second MONITOR is ignored
/// without a reply, as in Redis.
pub async fn start(core: &Rc<Core>, client: &mut Client, out: &mut crate::resp::Out) {
    if client.info.monitoring.get() {
        return;
    }
    // Built from the command metadata on first use: now, rather than on the first fed command.
    classes();
    client.info.monitoring.set(true);
    core.monitor.local.borrow_mut().push(client.info.clone());
    core.monitor.refresh_active();
    let me = core.id;
    for other in (0..core.shards).filter(|&s| s != me) {
        crate::dispatch::invoke_on(core, other, 0, move |c| count_remote(c, me, 1)).await;
    }
    out.ok();
}

/// Takes a client out of monitor mode (RESET, disconnect). The other cores are told by a task
/// of its own; a line they send meanwhile finds no monitor here and is dropped.
pub fn stop(core: &Rc<Core>, info: &ClientInfo) {
    if !info.monitoring.replace(false) {
        return;
    }
    core.monitor.local.borrow_mut().retain(|i| i.id != info.id);
    core.monitor.refresh_active();
    info.monitor_out.borrow_mut().clear();
    let me = core.id;
    let core = core.clone();
    glommio::spawn_local(async move {
        for other in (0..core.shards).filter(|&s| s != me) {
            crate::dispatch::invoke_on(&core, other, 0, move |c| count_remote(c, me, -1)).await;
        }
    })
    .detach();
}

fn count_remote(core: &Rc<Core>, from: usize, by: i32) {
    {
        let mut remote = core.monitor.remote.borrow_mut();
        remote[from] = remote[from].saturating_add_signed(by);
    }
    core.monitor.refresh_active();
}

/// Feeds a command about to run, unless it is fed once it has run: Redis feeds monitors after
/// a command, which shows for a connection command (SELECT's line has the new database) and for
/// EXEC (its line follows the commands it ran); for any other command before and after look
/// the same. `after_run` is the other half.
#[inline]
pub fn before_run(core: &Rc<Core>, info: &ClientInfo, db: usize, cmd_index: usize, args: Args) {
    if core.monitor.active.get() && !fed_after_run(cmd_index) {
        feed_now(core, info, db, cmd_index, args);
    }
}

/// Feeds a command that has just run, if it is one of those fed then (see `before_run`).
#[inline]
pub fn after_run(core: &Rc<Core>, info: &ClientInfo, db: usize, cmd_index: usize, args: Args) {
    if core.monitor.active.get() && fed_after_run(cmd_index) {
        feed_now(core, info, db, cmd_index, args);
    }
}

fn fed_after_run(cmd_index: usize) -> bool {
    matches!(table()[cmd_index].exec, Exec::Conn(_) | Exec::Special(Special::Exec))
}

/// `after_run` for a command known by its arguments only (EXEC, in the special commands' runner).
pub fn after_run_looked_up(core: &Rc<Core>, info: &ClientInfo, db: usize, args: Args) {
    if core.monitor.active.get()
        && let Ok(cmd_index) = crate::commands::lookup(args)
    {
        after_run(core, info, db, cmd_index, args);
    }
}

#[cold]
fn feed_now(core: &Rc<Core>, info: &ClientInfo, db: usize, cmd_index: usize, args: Args) {
    if hidden(cmd_index) {
        return;
    }
    let line = format_line(SystemTime::now(), db, &info.addr, &table()[cmd_index], args);
    core.monitor.deliver(&line);
    let mut any_remote = false;
    {
        let remote = core.monitor.remote.borrow();
        let mut outbox = core.monitor.outbox.borrow_mut();
        for (c, &n) in remote.iter().enumerate() {
            if n > 0 {
                outbox[c].extend_from_slice(&line);
                any_remote = true;
            }
        }
    }
    if any_remote && !core.monitor.sending.replace(true) {
        glommio::spawn_local(send_outboxes(core.clone())).detach();
    }
}

/// Sends the outboxes until they stay empty; one such task runs per core at a time, so the
/// lines for each core leave in the order they were fed.
async fn send_outboxes(core: Rc<Core>) {
    loop {
        let next = {
            let mut outbox = core.monitor.outbox.borrow_mut();
            outbox.iter_mut().enumerate().find(|(_, o)| !o.is_empty()).map(|(c, o)| (c, std::mem::take(o)))
        };
        let Some((to, lines)) = next else { break };
        core.mesh.notify(to, 0, ReqBody::MonitorLines(lines)).await;
    }
    core.monitor.sending.set(false);
}

/// Redis's monitor line: `+<unix time with microseconds> [<db> <client address>] "arg" ...`.
fn format_line(now: SystemTime, db: usize, addr: &str, cmd: &Command, args: Args) -> Vec<u8> {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let mut line =
        format!("+{}.{:06} [{} {}]", since.as_secs(), since.subsec_micros(), db, addr).into_bytes();
    let redacted = redacted_args(cmd, args);
    for i in 0..args.len() {
        line.push(b' ');
        if redacted.contains(&i) {
            line.extend_from_slice(b"\"(redacted)\"");
        } else {
            quote(args.get(i), &mut line);
        }
    }
    line.extend_from_slice(b"\r\n");
    line
}

/// Which arguments Redis hides: AUTH's (when it has at most two), and the two after HELLO's
/// AUTH option.
fn redacted_args(cmd: &Command, args: Args) -> std::ops::Range<usize> {
    match cmd.name {
        "auth" if args.len() <= 3 => 1..args.len(),
        "hello" => {
            let at = (2..args.len()).find(|&i| eq_ic(args.get(i), "auth") && i + 2 < args.len());
            at.map_or(0..0, |i| i + 1..i + 3)
        }
        _ => 0..0,
    }
}

/// Appends `arg` in double quotes, escaped as Redis's `sdscatrepr` does.
fn quote(arg: &[u8], line: &mut Vec<u8>) {
    line.push(b'"');
    for &b in arg {
        match b {
            b'\\' | b'"' => line.extend_from_slice(&[b'\\', b]),
            b'\n' => line.extend_from_slice(b"\\n"),
            b'\r' => line.extend_from_slice(b"\\r"),
            b'\t' => line.extend_from_slice(b"\\t"),
            0x07 => line.extend_from_slice(b"\\a"),
            0x08 => line.extend_from_slice(b"\\b"),
            0x20..=0x7e => line.push(b),
            _ => line.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
        }
    }
    line.push(b'"');
}

/// Per table entry: (not shown to monitors, refused to a monitoring client), from Redis's
/// command flags (ADMIN or SKIP_MONITOR; READONLY, WRITE or MAY_REPLICATE).
fn classes() -> &'static [(bool, bool)] {
    static CLASSES: OnceLock<Vec<(bool, bool)>> = OnceLock::new();
    CLASSES.get_or_init(|| {
        table()
            .iter()
            .map(|c| {
                (
                    meta::has_any_flag(c.name, &["ADMIN", "SKIP_MONITOR"]),
                    meta::has_any_flag(c.name, &["READONLY", "WRITE", "MAY_REPLICATE"]),
                )
            })
            .collect()
    })
}

fn hidden(cmd_index: usize) -> bool {
    classes()[cmd_index].0
}

/// Whether a monitoring client is refused this command (it touches the keyspace).
pub fn refused_to_monitor(cmd_index: usize) -> bool {
    classes()[cmd_index].1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::OwnedArgs;
    use std::time::Duration;

    fn line_of(argv: &[&[u8]], db: usize) -> String {
        let owned = OwnedArgs::from_slices(argv.iter().copied());
        let name = String::from_utf8_lossy(argv[0]).to_lowercase();
        let cmd = table().iter().find(|c| c.name == name).expect("known command");
        let at = UNIX_EPOCH + Duration::from_micros(1_795_619_469_000_042);
        String::from_utf8(format_line(at, db, "127.0.0.1:4242", cmd, owned.args())).unwrap()
    }

    #[test]
    fn lines_quote_and_escape_as_redis_does() {
        assert_eq!(
            line_of(&[b"SET", b"k", b"a\"b\\"], 0),
            "+1795619469.000042 [0 127.0.0.1:4242] \"SET\" \"k\" \"a\\\"b\\\\\"\r\n"
        );
        assert_eq!(
            line_of(&[b"GET", b"\x00\x01\n\xff\t\r\x07\x08 ~"], 3),
            "+1795619469.000042 [3 127.0.0.1:4242] \"GET\" \"\\x00\\x01\\n\\xff\\t\\r\\a\\b ~\"\r\n"
        );
    }

    #[test]
    fn secrets_are_redacted() {
        assert_eq!(
            line_of(&[b"AUTH", b"user", b"pw"], 0),
            "+1795619469.000042 [0 127.0.0.1:4242] \"AUTH\" \"(redacted)\" \"(redacted)\"\r\n"
        );
        assert!(line_of(&[b"AUTH", b"a", b"b", b"c"], 0).contains("\"a\" \"b\" \"c\""), "a syntax error");
        assert!(
            line_of(&[b"HELLO", b"3", b"auth", b"u", b"p", b"SETNAME", b"n"], 0)
                .ends_with("\"HELLO\" \"3\" \"auth\" \"(redacted)\" \"(redacted)\" \"SETNAME\" \"n\"\r\n")
        );
        assert!(line_of(&[b"HELLO", b"3", b"AUTH"], 0).ends_with("\"HELLO\" \"3\" \"AUTH\"\r\n"));
    }

    #[test]
    fn admin_commands_are_hidden_and_keyspace_commands_refused() {
        let index = |name: &str| table().iter().position(|c| c.name == name).unwrap();
        assert!(hidden(index("config|get")));
        assert!(hidden(index("monitor")));
        assert!(!hidden(index("set")));
        assert!(!hidden(index("client|setname")));
        assert!(refused_to_monitor(index("get")));
        assert!(refused_to_monitor(index("set")));
        assert!(!refused_to_monitor(index("ping")));
        assert!(!refused_to_monitor(index("reset")));
    }
}
