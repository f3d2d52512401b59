//! What the connections send: command templates, the SET:GET mix, the `--tests` suite, and
//! the encoder that writes requests straight into a connection's output buffer.
//!
//! A template is a command line whose arguments may contain the placeholders `__key__` (a
//! fresh key from the command's key pattern, `prefix + number`) and `__data__` (a value of
//! `--data-size` bytes, or a random size in `--data-size-range`). Templates are compiled once
//! per run into RESP chunks: everything that does not change between requests (the array
//! header, the command name, literal arguments and, for a fixed data size, the whole value
//! with its length header) is pre-encoded, so sending a request is a few memcpys plus the
//! digits of its key. A workload interleaves its commands by their ratios with a fixed,
//! smooth schedule (1:10 sends one SET, then ten GETs, spread as evenly as possible).

use crate::keys::{self, KeyGen, KeyPattern, KeySpace, Rng};
use std::sync::Arc;

/// The built-in `--tests`, in redis-benchmark's order (aliases resolve to these).
pub const TEST_NAMES: &[&str] = &[
    "ping_inline",
    "ping_mbulk",
    "set",
    "get",
    "incr",
    "lpush",
    "rpush",
    "lpop",
    "rpop",
    "sadd",
    "hset",
    "spop",
    "zadd",
    "zpopmin",
    "lrange_100",
    "lrange_300",
    "lrange_500",
    "lrange_600",
    "mset",
    "xadd",
];

/// Commands that answer null for a missing key: their replies count as hits or misses.
const READ_COMMANDS: &[&str] =
    &["GET", "GETDEL", "GETEX", "HGET", "LINDEX", "LPOP", "RPOP", "SPOP", "SRANDMEMBER", "ZSCORE", "HGETDEL"];

/// How many elements the lrange tests put in their list before they start.
const LRANGE_LIST_LEN: usize = 600;

/// One part of an argument.
#[derive(Clone, Debug, PartialEq)]
pub enum Piece {
    Lit(Vec<u8>),
    Key,
    Data,
    /// A random number of seconds in the expiry range (SET ... EX n).
    Expiry,
}

/// A command line with placeholders; `inline` sends it as an inline command (`PING\r\n`).
#[derive(Clone, Debug, PartialEq)]
pub struct Template {
    pub args: Vec<Vec<Piece>>,
    pub inline: bool,
}

impl Template {
    /// Parses `ZADD __key__ 1 __data__`: whitespace separates arguments, double quotes group
    /// (with `\"` and `\\` escapes), and placeholders may sit inside an argument
    /// (`counter:__key__`).
    pub fn parse(line: &str) -> Result<Template, String> {
        let words = split_words(line)?;
        if words.is_empty() {
            return Err("empty command".into());
        }
        Ok(Template { args: words.iter().map(|w| pieces_of(w)).collect(), inline: false })
    }

    fn parse_ok(line: &str) -> Template {
        Template::parse(line).expect("built-in template parses")
    }

    /// The command's name for reports: its first word, upper-cased.
    pub fn name(&self) -> String {
        match self.args.first().map(|a| a.as_slice()) {
            Some([Piece::Lit(word)]) => String::from_utf8_lossy(word).to_ascii_uppercase(),
            _ => "CMD".into(),
        }
    }
}

fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let Some(&first) = chars.peek() else { return Ok(words) };
        let mut word = String::new();
        if first == '"' {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err(format!("unbalanced quotes in command: {line}")),
                    Some('"') => break,
                    Some('\\') => word.push(chars.next().unwrap_or('\\')),
                    Some(c) => word.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                word.push(c);
            }
        }
        words.push(word);
    }
}

fn pieces_of(word: &str) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut rest = word;
    loop {
        let next = [("__key__", Piece::Key), ("__data__", Piece::Data)]
            .into_iter()
            .filter_map(|(tag, piece)| rest.find(tag).map(|at| (at, tag.len(), piece)))
            .min_by_key(|(at, _, _)| *at);
        let Some((at, len, piece)) = next else { break };
        if at > 0 {
            pieces.push(Piece::Lit(rest.as_bytes()[..at].to_vec()));
        }
        pieces.push(piece);
        rest = &rest[at + len..];
    }
    if !rest.is_empty() || pieces.is_empty() {
        pieces.push(Piece::Lit(rest.as_bytes().to_vec()));
    }
    pieces
}

/// A command of a workload, with its share of the traffic and its key pattern.
#[derive(Clone, Debug)]
pub struct CommandSpec {
    pub name: String,
    pub template: Template,
    pub ratio: u32,
    pub key_pattern: KeyPattern,
    /// Count hits and misses (null replies) for this command.
    pub tracks_hits: bool,
}

impl CommandSpec {
    pub fn new(template: Template, ratio: u32, key_pattern: KeyPattern) -> CommandSpec {
        let name = template.name();
        let tracks_hits = READ_COMMANDS.contains(&name.as_str());
        CommandSpec { name, template, ratio, key_pattern, tracks_hits }
    }
}

/// Value sizes: fixed, or uniform in [min, max].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DataSize {
    pub min: usize,
    pub max: usize,
}

/// Everything a run's connections need to build requests; shared by all threads.
#[derive(Debug)]
pub struct Workload {
    /// "set-get", a test name, or "commands".
    pub name: String,
    pub commands: Vec<CommandSpec>,
    /// Commands sent once, on one connection, before the run starts.
    pub setup: Vec<Vec<Vec<u8>>>,
    pub keys: KeySpace,
    pub key_prefix: Vec<u8>,
    pub data: DataSize,
    pub expiry: Option<(u64, u64)>,
    compiled: Vec<Vec<Chunk>>,
    schedule: Vec<u16>,
    value: Vec<u8>,
}

/// The shared inputs of every workload of a run.
#[derive(Clone, Debug)]
pub struct Shape {
    pub keys: KeySpace,
    pub key_prefix: String,
    pub data: DataSize,
    pub expiry: Option<(u64, u64)>,
}

impl Workload {
    pub fn new(name: &str, commands: Vec<CommandSpec>, setup: Vec<Vec<Vec<u8>>>, shape: &Shape) -> Workload {
        let data = shape.data;
        let compiled = commands.iter().map(|c| compile(&c.template, data)).collect();
        let schedule = smooth_schedule(&commands.iter().map(|c| c.ratio).collect::<Vec<_>>());
        Workload {
            name: name.to_string(),
            setup,
            keys: shape.keys.clone(),
            key_prefix: shape.key_prefix.as_bytes().to_vec(),
            data,
            expiry: shape.expiry,
            compiled,
            schedule,
            value: value_bytes(data.max),
            commands,
        }
    }

    /// The memtier-style mix: SET with `set` share, GET with `get` share.
    pub fn set_get(ratio: (u32, u32), patterns: (KeyPattern, KeyPattern), shape: &Shape) -> Workload {
        let mut commands = Vec::new();
        if ratio.0 > 0 {
            commands.push(CommandSpec::new(set_template(shape.expiry.is_some()), ratio.0, patterns.0));
        }
        if ratio.1 > 0 {
            commands.push(CommandSpec::new(Template::parse_ok("GET __key__"), ratio.1, patterns.1));
        }
        Workload::new("set-get", commands, Vec::new(), shape)
    }

    /// Fills the key range once: SET over the P pattern.
    pub fn preload(shape: &Shape) -> Workload {
        let set = CommandSpec::new(set_template(shape.expiry.is_some()), 1, KeyPattern::Parallel);
        Workload::new("preload", vec![set], Vec::new(), shape)
    }

    /// One redis-benchmark style test by name (see TEST_NAMES); reads use the second
    /// (GET) key pattern, everything else the first (SET).
    pub fn test(name: &str, patterns: (KeyPattern, KeyPattern), shape: &Shape) -> Result<Workload, String> {
        let name = canonical_test(name)?;
        let (line, setup) = test_command(name);
        let mut template = Template::parse_ok(line);
        template.inline = name == "ping_inline";
        let mut spec = CommandSpec::new(template, 1, patterns.0);
        if spec.tracks_hits {
            spec.key_pattern = patterns.1;
        }
        Ok(Workload::new(name, vec![spec], setup, shape))
    }

    pub fn command_names(&self) -> Vec<String> {
        self.commands.iter().map(|c| c.name.clone()).collect()
    }
}

fn set_template(with_expiry: bool) -> Template {
    let mut t = Template::parse_ok("SET __key__ __data__");
    if with_expiry {
        t.args.push(vec![Piece::Lit(b"EX".to_vec())]);
        t.args.push(vec![Piece::Expiry]);
    }
    t
}

/// Resolves aliases (`ping` -> ping_mbulk, `lrange` -> lrange_100) and rejects unknown names.
pub fn canonical_test(name: &str) -> Result<&'static str, String> {
    let lower = name.trim().to_ascii_lowercase();
    let alias = match lower.as_str() {
        "ping" => "ping_mbulk",
        "lrange" => "lrange_100",
        other => other,
    };
    TEST_NAMES
        .iter()
        .find(|t| **t == alias)
        .copied()
        .ok_or_else(|| format!("unknown test '{name}' (known: ping, {})", TEST_NAMES.join(", ")))
}

fn test_command(name: &str) -> (&'static str, Vec<Vec<Vec<u8>>>) {
    let lrange_setup = || {
        let mut push: Vec<Vec<u8>> = vec![b"RPUSH".to_vec(), b"mylist".to_vec()];
        push.extend((0..LRANGE_LIST_LEN).map(|i| format!("element:{i}").into_bytes()));
        vec![vec![b"DEL".to_vec(), b"mylist".to_vec()], push]
    };
    match name {
        "ping_inline" | "ping_mbulk" => ("PING", Vec::new()),
        "set" => ("SET __key__ __data__", Vec::new()),
        "get" => ("GET __key__", Vec::new()),
        "incr" => ("INCR counter:__key__", Vec::new()),
        "lpush" => ("LPUSH mylist __data__", Vec::new()),
        "rpush" => ("RPUSH mylist __data__", Vec::new()),
        "lpop" => ("LPOP mylist", Vec::new()),
        "rpop" => ("RPOP mylist", Vec::new()),
        "sadd" => ("SADD myset element:__key__", Vec::new()),
        "hset" => ("HSET myhash element:__key__ __data__", Vec::new()),
        "spop" => ("SPOP myset", Vec::new()),
        "zadd" => ("ZADD myzset 0 element:__key__", Vec::new()),
        "zpopmin" => ("ZPOPMIN myzset", Vec::new()),
        "lrange_100" => ("LRANGE mylist 0 99", lrange_setup()),
        "lrange_300" => ("LRANGE mylist 0 299", lrange_setup()),
        "lrange_500" => ("LRANGE mylist 0 499", lrange_setup()),
        "lrange_600" => ("LRANGE mylist 0 599", lrange_setup()),
        "mset" => (
            "MSET __key__ __data__ __key__ __data__ __key__ __data__ __key__ __data__ __key__ __data__ \
             __key__ __data__ __key__ __data__ __key__ __data__ __key__ __data__ __key__ __data__",
            Vec::new(),
        ),
        "xadd" => ("XADD mystream * myfield __data__", Vec::new()),
        other => unreachable!("test {other} is in TEST_NAMES"),
    }
}

/// The values every SET sends (a prefix of this buffer for smaller sizes).
fn value_bytes(len: usize) -> Vec<u8> {
    (0..len).map(|i| b"abcdefghijklmnopqrstuvwxyz0123456789"[i % 36]).collect()
}

/// A pre-encoded stretch of a request, or an argument built per request.
#[derive(Clone, Debug, PartialEq)]
enum Chunk {
    Static(Vec<u8>),
    Arg(Vec<Piece>),
}

fn compile(t: &Template, data: DataSize) -> Vec<Chunk> {
    if t.inline {
        let mut line = Vec::new();
        for (i, arg) in t.args.iter().enumerate() {
            if i > 0 {
                line.push(b' ');
            }
            for p in arg {
                if let Piece::Lit(b) = p {
                    line.extend_from_slice(b);
                }
            }
        }
        line.extend_from_slice(b"\r\n");
        return vec![Chunk::Static(line)];
    }
    let mut chunks = Vec::new();
    let mut fixed = format!("*{}\r\n", t.args.len()).into_bytes();
    for arg in &t.args {
        match static_arg(arg, data) {
            Some(bytes) => push_bulk(&mut fixed, &bytes),
            None => {
                chunks.push(Chunk::Static(std::mem::take(&mut fixed)));
                chunks.push(Chunk::Arg(arg.clone()));
            }
        }
    }
    chunks.push(Chunk::Static(fixed));
    chunks.retain(|c| !matches!(c, Chunk::Static(b) if b.is_empty()));
    chunks
}

/// The argument's bytes when they never change (literals, and values of a fixed size).
fn static_arg(arg: &[Piece], data: DataSize) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    for p in arg {
        match p {
            Piece::Lit(b) => out.extend_from_slice(b),
            Piece::Data if data.min == data.max => out.extend_from_slice(&value_bytes(data.max)),
            _ => return None,
        }
    }
    Some(out)
}

fn push_bulk(out: &mut Vec<u8>, bytes: &[u8]) {
    push_bulk_header(out, bytes.len());
    out.extend_from_slice(bytes);
    out.extend_from_slice(b"\r\n");
}

fn push_bulk_header(out: &mut Vec<u8>, len: usize) {
    out.push(b'$');
    keys::push_decimal(out, len as u64);
    out.extend_from_slice(b"\r\n");
}

/// A weighted round-robin order of command indexes: each index appears `ratio` times, spread
/// evenly (the "smooth" variant: at every step the most-behind command goes next).
pub fn smooth_schedule(ratios: &[u32]) -> Vec<u16> {
    let total: i64 = ratios.iter().map(|&r| r as i64).sum();
    let mut current = vec![0i64; ratios.len()];
    let mut order = Vec::with_capacity(total as usize);
    for _ in 0..total {
        for (c, &r) in current.iter_mut().zip(ratios) {
            *c += r as i64;
        }
        let (best, _) =
            current.iter().enumerate().max_by_key(|(i, c)| (**c, -(*i as i64))).expect("commands");
        current[best] -= total;
        order.push(best as u16);
    }
    order
}

/// A connection's request builder: its keys, its random source, its place in the schedule.
pub struct Encoder {
    workload: Arc<Workload>,
    keygens: Vec<KeyGen>,
    rng: Rng,
    cursor: usize,
    scratch: Vec<u8>,
}

impl Encoder {
    /// `conn` is the connection's number over all threads, `conns` their count.
    pub fn new(workload: Arc<Workload>, seed: u64, conn: u64, conns: u64) -> Encoder {
        let keygens = workload
            .commands
            .iter()
            .map(|c| KeyGen::new(c.key_pattern, &workload.keys, conn, conns))
            .collect();
        let cursor = conn as usize % workload.schedule.len().max(1);
        Encoder { workload, keygens, rng: Rng::new(seed), cursor, scratch: Vec::with_capacity(64) }
    }

    /// Appends the next request to `out`; returns its command index.
    pub fn encode_next(&mut self, out: &mut Vec<u8>) -> usize {
        let cmd = self.workload.schedule[self.cursor] as usize;
        self.cursor += 1;
        if self.cursor == self.workload.schedule.len() {
            self.cursor = 0;
        }
        let workload = Arc::clone(&self.workload);
        for chunk in &workload.compiled[cmd] {
            match chunk {
                Chunk::Static(bytes) => out.extend_from_slice(bytes),
                Chunk::Arg(pieces) => self.push_arg(cmd, pieces, out),
            }
        }
        cmd
    }

    fn push_arg(&mut self, cmd: usize, pieces: &[Piece], out: &mut Vec<u8>) {
        if let [Piece::Data] = pieces {
            let len = self.data_len();
            push_bulk(out, &self.workload.value[..len]);
            return;
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        for p in pieces {
            match p {
                Piece::Lit(b) => scratch.extend_from_slice(b),
                Piece::Key => {
                    let key = self.keygens[cmd].next(&mut self.rng);
                    scratch.extend_from_slice(&self.workload.key_prefix);
                    keys::push_decimal(&mut scratch, key);
                }
                Piece::Data => {
                    let len = self.data_len();
                    scratch.extend_from_slice(&self.workload.value[..len]);
                }
                Piece::Expiry => {
                    let (lo, hi) = self.workload.expiry.unwrap_or((1, 1));
                    keys::push_decimal(&mut scratch, self.rng.between(lo, hi));
                }
            }
        }
        push_bulk(out, &scratch);
        self.scratch = scratch;
    }

    fn data_len(&mut self) -> usize {
        let d = self.workload.data;
        if d.min == d.max { d.max } else { self.rng.between(d.min as u64, d.max as u64) as usize }
    }
}

/// Encodes a plain command (setup and handshake commands).
pub fn encode_plain(args: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        push_bulk(&mut out, a);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(data: DataSize) -> Shape {
        Shape {
            keys: KeySpace { min: 1, max: 3, stddev: None, median: None, zipf_exp: 1.0 },
            key_prefix: "k:".into(),
            data,
            expiry: None,
        }
    }

    fn encode_n(w: Workload, n: usize) -> Vec<String> {
        let mut enc = Encoder::new(Arc::new(w), 1, 0, 1);
        (0..n)
            .map(|_| {
                let mut out = Vec::new();
                enc.encode_next(&mut out);
                String::from_utf8(out).unwrap()
            })
            .collect()
    }

    #[test]
    fn templates_parse_placeholders_and_quotes() {
        let t = Template::parse(r#"HSET  counter:__key__ "a b" __data__ x\y"#).unwrap();
        assert_eq!(t.name(), "HSET");
        assert_eq!(t.args[1], vec![Piece::Lit(b"counter:".to_vec()), Piece::Key]);
        assert_eq!(t.args[2], vec![Piece::Lit(b"a b".to_vec())]);
        assert_eq!(t.args[3], vec![Piece::Data]);
        assert_eq!(t.args[4], vec![Piece::Lit(b"x\\y".to_vec())]);
        assert!(Template::parse("   ").is_err());
        assert!(Template::parse("SET \"open").is_err());
        assert_eq!(Template::parse(r#"ECHO """#).unwrap().args[1], vec![Piece::Lit(Vec::new())]);
    }

    #[test]
    fn sequential_set_requests_are_exact_resp() {
        let w = Workload::new(
            "t",
            vec![CommandSpec::new(
                Template::parse("SET __key__ __data__").unwrap(),
                1,
                KeyPattern::Sequential,
            )],
            Vec::new(),
            &shape(DataSize { min: 3, max: 3 }),
        );
        assert_eq!(
            encode_n(w, 4),
            vec![
                "*3\r\n$3\r\nSET\r\n$3\r\nk:1\r\n$3\r\nabc\r\n",
                "*3\r\n$3\r\nSET\r\n$3\r\nk:2\r\n$3\r\nabc\r\n",
                "*3\r\n$3\r\nSET\r\n$3\r\nk:3\r\n$3\r\nabc\r\n",
                "*3\r\n$3\r\nSET\r\n$3\r\nk:1\r\n$3\r\nabc\r\n",
            ]
        );
    }

    #[test]
    fn data_size_range_varies_within_bounds() {
        let w = Workload::new(
            "t",
            vec![CommandSpec::new(Template::parse("ECHO __data__").unwrap(), 1, KeyPattern::Uniform)],
            Vec::new(),
            &shape(DataSize { min: 2, max: 9 }),
        );
        let lens: Vec<usize> = encode_n(w, 200)
            .iter()
            .map(|r| r.split("\r\n").nth(3).unwrap().trim_start_matches('$').parse().unwrap())
            .collect();
        assert!(lens.iter().all(|l| (2..=9).contains(l)));
        assert!(lens.contains(&2) && lens.contains(&9));
    }

    #[test]
    fn expiry_is_appended_to_set() {
        let mut s = shape(DataSize { min: 1, max: 1 });
        s.expiry = Some((5, 5));
        let r = encode_n(Workload::set_get((1, 0), (KeyPattern::Sequential, KeyPattern::Uniform), &s), 1);
        assert_eq!(r[0], "*5\r\n$3\r\nSET\r\n$3\r\nk:1\r\n$1\r\na\r\n$2\r\nEX\r\n$1\r\n5\r\n");
    }

    #[test]
    fn ping_inline_is_inline() {
        let uniform = (KeyPattern::Uniform, KeyPattern::Uniform);
        let w = Workload::test("ping_inline", uniform, &shape(DataSize { min: 1, max: 1 })).unwrap();
        assert_eq!(encode_n(w, 1), vec!["PING\r\n"]);
    }

    #[test]
    fn every_test_name_builds() {
        for t in TEST_NAMES {
            let w = Workload::test(
                t,
                (KeyPattern::Sequential, KeyPattern::Zipf),
                &shape(DataSize { min: 1, max: 1 }),
            );
            let expected =
                if *t == "get" || t.ends_with("pop") { KeyPattern::Zipf } else { KeyPattern::Sequential };
            assert_eq!(w.unwrap().commands[0].key_pattern, expected, "{t}");
        }
        assert_eq!(canonical_test("PING").unwrap(), "ping_mbulk");
        assert!(canonical_test("nope").is_err());
    }

    #[test]
    fn schedule_honours_ratios_smoothly() {
        let s = smooth_schedule(&[1, 10]);
        assert_eq!(s.len(), 11);
        assert_eq!(s.iter().filter(|&&c| c == 0).count(), 1);
        let s = smooth_schedule(&[2, 2]);
        assert_eq!(s, vec![0, 1, 0, 1]);
        let s = smooth_schedule(&[3, 1, 1]);
        assert_eq!(s.iter().filter(|&&c| c == 0).count(), 3);
        assert_ne!(s[0..2], [0, 0], "spread out: {s:?}");
    }

    #[test]
    fn read_commands_track_hits() {
        let w = Workload::set_get(
            (1, 10),
            (KeyPattern::Uniform, KeyPattern::Uniform),
            &shape(DataSize { min: 1, max: 1 }),
        );
        assert_eq!(w.command_names(), vec!["SET", "GET"]);
        assert!(!w.commands[0].tracks_hits && w.commands[1].tracks_hits);
    }
}
