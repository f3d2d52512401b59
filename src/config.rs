//! Every setting and limit, with its default, and the CONFIG GET/SET table. The command line,
//! a redis.conf file and CONFIG SET all go through `Config::set`, so validation lives once.
//! Each core keeps its own copy; CONFIG SET is applied on every core by a broadcast.

use crate::types::glob::glob_match;

#[derive(Clone, Debug)]
pub struct Config {
    pub port: u16,
    pub bind: String,
    pub threads: usize,
    pub dir: String,
    pub dbfilename: String,
    /// LZF-compress long strings in snapshots and DUMP payloads.
    pub rdbcompression: bool,
    /// Write a CRC-64 at the end of snapshots, and verify it when loading.
    pub rdbchecksum: bool,
    pub requirepass: String,
    pub databases: usize,
    pub maxclients: u64,
    pub proto_max_bulk_len: u64,
    pub client_query_buffer_limit: u64,
    pub timeout_secs: u64,
    pub tcp_keepalive_secs: u64,
    pub hz: u64,
    pub maxmemory: u64,
    pub maxmemory_policy: String,
    pub loglevel: String,
    pub logfile: String,
    pub save: String,
    pub appendonly: bool,
    pub appendfsync: String,
    pub appendfilename: String,
    pub appenddirname: String,
    pub auto_aof_rewrite_percentage: u64,
    pub auto_aof_rewrite_min_size: u64,
    pub aof_load_truncated: bool,
    pub lazyfree_lazy_user_del: bool,
    pub lazyfree_lazy_user_flush: bool,
    pub slowlog_log_slower_than: i64,
    pub slowlog_max_len: u64,
    pub daemonize: bool,
    pub protected_mode: bool,
    pub active_expire_effort: u64,
    pub enable_debug_command: String,
    /// Microseconds an idle core keeps polling its sockets before parking (shardis-specific).
    pub spin_us: u64,
    pub list_max_listpack_size: i64,
    pub list_compress_depth: u64,
    pub hash_max_listpack_entries: u64,
    pub hash_max_listpack_value: u64,
    pub set_max_intset_entries: u64,
    pub set_max_listpack_entries: u64,
    pub set_max_listpack_value: u64,
    pub zset_max_listpack_entries: u64,
    pub zset_max_listpack_value: u64,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            port: 6379,
            bind: "127.0.0.1".into(),
            threads: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            dir: "./data".into(),
            dbfilename: "dump.rdb".into(),
            rdbcompression: true,
            rdbchecksum: true,
            requirepass: String::new(),
            databases: 16,
            maxclients: 10000,
            proto_max_bulk_len: 512 << 20,
            client_query_buffer_limit: 1 << 30,
            timeout_secs: 0,
            tcp_keepalive_secs: 300,
            hz: 10,
            maxmemory: 0,
            maxmemory_policy: "noeviction".into(),
            loglevel: "notice".into(),
            logfile: String::new(),
            save: "3600 1 300 100 60 10000".into(),
            appendonly: false,
            appendfsync: "everysec".into(),
            appendfilename: "appendonly.aof".into(),
            appenddirname: "appendonlydir".into(),
            auto_aof_rewrite_percentage: 100,
            auto_aof_rewrite_min_size: 64 << 20,
            aof_load_truncated: true,
            lazyfree_lazy_user_del: false,
            lazyfree_lazy_user_flush: false,
            slowlog_log_slower_than: 10000,
            slowlog_max_len: 128,
            daemonize: false,
            protected_mode: true,
            active_expire_effort: 1,
            enable_debug_command: "local".into(),
            spin_us: 50,
            list_max_listpack_size: -2,
            list_compress_depth: 0,
            hash_max_listpack_entries: 512,
            hash_max_listpack_value: 64,
            set_max_intset_entries: 512,
            set_max_listpack_entries: 128,
            set_max_listpack_value: 64,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
        }
    }
}

enum Kind {
    Int { min: i64, max: i64 },
    Memory,
    Bool,
    Str,
    Enum(&'static [&'static str]),
}

struct Directive {
    name: &'static str,
    kind: Kind,
    mutable: bool,
    get: fn(&Config) -> String,
    set: fn(&mut Config, &str),
}

/// Declares a directive: name, kind, whether CONFIG SET may change it, and the field it maps to.
macro_rules! directive {
    ($name:literal, $kind:expr, $mutable:expr, $field:ident, int) => {
        Directive {
            name: $name,
            kind: $kind,
            mutable: $mutable,
            get: |c| c.$field.to_string(),
            set: |c, v| c.$field = v.parse().unwrap_or(c.$field),
        }
    };
    ($name:literal, $kind:expr, $mutable:expr, $field:ident, bool) => {
        Directive {
            name: $name,
            kind: $kind,
            mutable: $mutable,
            get: |c| if c.$field { "yes".into() } else { "no".into() },
            set: |c, v| c.$field = v.eq_ignore_ascii_case("yes"),
        }
    };
    ($name:literal, $kind:expr, $mutable:expr, $field:ident, str) => {
        Directive {
            name: $name,
            kind: $kind,
            mutable: $mutable,
            get: |c| c.$field.clone(),
            set: |c, v| c.$field = v.to_string(),
        }
    };
}

const I64: Kind = Kind::Int { min: i64::MIN, max: i64::MAX };
const U64: Kind = Kind::Int { min: 0, max: i64::MAX };

static DIRECTIVES: &[Directive] = &[
    directive!("port", Kind::Int { min: 0, max: 65535 }, false, port, int),
    directive!("bind", Kind::Str, false, bind, str),
    directive!("threads", Kind::Int { min: 1, max: 1024 }, false, threads, int),
    directive!("dir", Kind::Str, true, dir, str),
    directive!("dbfilename", Kind::Str, true, dbfilename, str),
    directive!("rdbcompression", Kind::Bool, true, rdbcompression, bool),
    directive!("rdbchecksum", Kind::Bool, false, rdbchecksum, bool),
    directive!("requirepass", Kind::Str, true, requirepass, str),
    directive!("databases", Kind::Int { min: 1, max: i32::MAX as i64 }, false, databases, int),
    directive!("maxclients", Kind::Int { min: 1, max: u32::MAX as i64 }, true, maxclients, int),
    directive!("proto-max-bulk-len", Kind::Memory, true, proto_max_bulk_len, int),
    directive!("client-query-buffer-limit", Kind::Memory, true, client_query_buffer_limit, int),
    directive!("timeout", Kind::Int { min: 0, max: i32::MAX as i64 }, true, timeout_secs, int),
    directive!("tcp-keepalive", Kind::Int { min: 0, max: i32::MAX as i64 }, true, tcp_keepalive_secs, int),
    directive!("hz", Kind::Int { min: 0, max: i32::MAX as i64 }, true, hz, int),
    directive!("maxmemory", Kind::Memory, true, maxmemory, int),
    directive!(
        "maxmemory-policy",
        Kind::Enum(&[
            "volatile-lru",
            "volatile-lfu",
            "volatile-random",
            "volatile-ttl",
            "allkeys-lru",
            "allkeys-lfu",
            "allkeys-random",
            "noeviction"
        ]),
        true,
        maxmemory_policy,
        str
    ),
    directive!(
        "loglevel",
        Kind::Enum(&["debug", "verbose", "notice", "warning", "nothing"]),
        true,
        loglevel,
        str
    ),
    directive!("logfile", Kind::Str, false, logfile, str),
    directive!("save", Kind::Str, true, save, str),
    // Turning the AOF on or off at run time is not supported yet: it is chosen at startup.
    directive!("appendonly", Kind::Bool, false, appendonly, bool),
    directive!("appendfsync", Kind::Enum(&["always", "everysec", "no"]), true, appendfsync, str),
    directive!("appendfilename", Kind::Str, false, appendfilename, str),
    directive!("appenddirname", Kind::Str, false, appenddirname, str),
    directive!("auto-aof-rewrite-percentage", U64, true, auto_aof_rewrite_percentage, int),
    directive!("auto-aof-rewrite-min-size", Kind::Memory, true, auto_aof_rewrite_min_size, int),
    directive!("aof-load-truncated", Kind::Bool, true, aof_load_truncated, bool),
    directive!("lazyfree-lazy-user-del", Kind::Bool, true, lazyfree_lazy_user_del, bool),
    directive!("lazyfree-lazy-user-flush", Kind::Bool, true, lazyfree_lazy_user_flush, bool),
    directive!("slowlog-log-slower-than", I64, true, slowlog_log_slower_than, int),
    directive!("slowlog-max-len", Kind::Int { min: 0, max: i64::MAX }, true, slowlog_max_len, int),
    directive!("daemonize", Kind::Bool, false, daemonize, bool),
    directive!("protected-mode", Kind::Bool, true, protected_mode, bool),
    directive!("active-expire-effort", Kind::Int { min: 1, max: 10 }, true, active_expire_effort, int),
    directive!("enable-debug-command", Kind::Enum(&["yes", "no", "local"]), false, enable_debug_command, str),
    directive!("spin-us", Kind::Int { min: 0, max: 1_000_000 }, true, spin_us, int),
    // Compact encoding thresholds; the `ziplist` names are Redis's aliases for the same settings.
    directive!(
        "list-max-listpack-size",
        Kind::Int { min: i32::MIN as i64, max: i32::MAX as i64 },
        true,
        list_max_listpack_size,
        int
    ),
    directive!(
        "list-max-ziplist-size",
        Kind::Int { min: i32::MIN as i64, max: i32::MAX as i64 },
        true,
        list_max_listpack_size,
        int
    ),
    directive!(
        "list-compress-depth",
        Kind::Int { min: 0, max: i32::MAX as i64 },
        true,
        list_compress_depth,
        int
    ),
    directive!("hash-max-listpack-entries", U64, true, hash_max_listpack_entries, int),
    directive!("hash-max-ziplist-entries", U64, true, hash_max_listpack_entries, int),
    directive!("hash-max-listpack-value", U64, true, hash_max_listpack_value, int),
    directive!("hash-max-ziplist-value", U64, true, hash_max_listpack_value, int),
    directive!("set-max-intset-entries", U64, true, set_max_intset_entries, int),
    directive!("set-max-listpack-entries", U64, true, set_max_listpack_entries, int),
    directive!("set-max-listpack-value", U64, true, set_max_listpack_value, int),
    directive!("zset-max-listpack-entries", U64, true, zset_max_listpack_entries, int),
    directive!("zset-max-ziplist-entries", U64, true, zset_max_listpack_entries, int),
    directive!("zset-max-listpack-value", U64, true, zset_max_listpack_value, int),
    directive!("zset-max-ziplist-value", U64, true, zset_max_listpack_value, int),
];

/// Parses Redis memory units: `1gb`, `100mb`, `1k` (1000) vs `1kb` (1024), plain bytes.
pub fn parse_memory(v: &str) -> Option<u64> {
    let lower = v.to_ascii_lowercase();
    let units: [(&str, u64); 8] = [
        ("gb", 1 << 30),
        ("mb", 1 << 20),
        ("kb", 1 << 10),
        ("g", 1_000_000_000),
        ("m", 1_000_000),
        ("k", 1_000),
        ("b", 1),
        ("", 1),
    ];
    for (suffix, mul) in units {
        if let Some(num) = lower.strip_suffix(suffix) {
            if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            return num.parse::<u64>().ok()?.checked_mul(mul);
        }
    }
    None
}

impl Config {
    /// Sets one directive, validating its value; `startup` allows immutable directives.
    pub fn set(&mut self, name: &str, value: &str, startup: bool) -> Result<(), String> {
        let lname = name.to_ascii_lowercase();
        let Some(d) = DIRECTIVES.iter().find(|d| d.name == lname) else {
            return Err(format!("Unknown option or number of arguments for CONFIG SET - '{name}'"));
        };
        if !d.mutable && !startup {
            return Err(format!(
                "CONFIG SET failed (possibly related to argument '{name}') - can't set immutable config"
            ));
        }
        let bad = |why: &str| format!("CONFIG SET failed (possibly related to argument '{name}') - {why}");
        let normalized = match &d.kind {
            Kind::Int { min, max } => {
                let v: i64 = value.parse().map_err(|_| bad("argument couldn't be parsed into an integer"))?;
                if v < *min || v > *max {
                    return Err(bad(&format!("argument must be between {min} and {max} inclusive")));
                }
                v.to_string()
            }
            Kind::Memory => {
                parse_memory(value).ok_or_else(|| bad("argument must be a memory value"))?.to_string()
            }
            Kind::Bool => match value.to_ascii_lowercase().as_str() {
                "yes" | "no" => value.to_ascii_lowercase(),
                _ => return Err(bad("argument must be 'yes' or 'no'")),
            },
            Kind::Enum(options) => {
                let v = value.to_ascii_lowercase();
                if !options.contains(&v.as_str()) {
                    return Err(bad("argument(s) must be one of the following: ".to_string().as_str())
                        + &options.join(", "));
                }
                v
            }
            Kind::Str => value.to_string(),
        };
        (d.set)(self, &normalized);
        Ok(())
    }

    /// CONFIG GET: every directive whose name matches one of the glob patterns.
    pub fn get_matching(&self, patterns: &[&[u8]]) -> Vec<(&'static str, String)> {
        DIRECTIVES
            .iter()
            .filter(|d| patterns.iter().any(|p| glob_match(p, d.name.as_bytes(), true)))
            .map(|d| (d.name, (d.get)(self)))
            .collect()
    }

    pub fn is_known(name: &str) -> bool {
        DIRECTIVES.iter().any(|d| d.name.eq_ignore_ascii_case(name))
    }

    /// Reads redis.conf syntax: `directive arg...` per line, `#` comments, quoted args.
    pub fn load_file(&mut self, text: &str) -> Result<(), String> {
        for (lineno, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut unescaped = Vec::new();
            let mut ranges = Vec::new();
            crate::resp::parse::split_inline_args(line.as_bytes(), &mut unescaped, &mut ranges)
                .map_err(|_| format!("line {}: unbalanced quotes", lineno + 1))?;
            let words: Vec<String> = ranges
                .iter()
                .map(|&(s, e)| String::from_utf8_lossy(&unescaped[s as usize..e as usize]).into_owned())
                .collect();
            if words.is_empty() {
                continue;
            }
            let value = words[1..].join(" ");
            self.set(&words[0], &value, true).map_err(|e| format!("line {}: '{}': {e}", lineno + 1, line))?;
        }
        Ok(())
    }

    /// Parses `[config-file] [--directive value...]`, as redis-server does.
    pub fn from_args(args: &[String]) -> Result<Config, String> {
        let mut cfg = Config::default();
        let mut i = 0;
        if let Some(first) = args.first()
            && !first.starts_with("--")
        {
            let text = std::fs::read_to_string(first)
                .map_err(|e| format!("can't open config file '{first}': {e}"))?;
            cfg.load_file(&text)?;
            i = 1;
        }
        while i < args.len() {
            let Some(name) = args[i].strip_prefix("--") else {
                return Err(format!("unexpected argument '{}'", args[i]));
            };
            let mut values = Vec::new();
            i += 1;
            while i < args.len() && !args[i].starts_with("--") {
                values.push(args[i].clone());
                i += 1;
            }
            cfg.set(name, &values.join(" "), true)?;
        }
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory("1gb"), Some(1 << 30));
        assert_eq!(parse_memory("1k"), Some(1000));
        assert_eq!(parse_memory("12"), Some(12));
        assert_eq!(parse_memory("x"), None);
    }

    #[test]
    fn args_and_validation() {
        let c = Config::from_args(&["--port".into(), "7000".into(), "--threads".into(), "2".into()]).unwrap();
        assert_eq!((c.port, c.threads), (7000, 2));
        let mut c = Config::default();
        assert!(c.set("port", "1", false).is_err());
        assert!(c.set("maxmemory", "1mb", false).is_ok());
        assert_eq!(c.maxmemory, 1 << 20);
        assert_eq!(c.get_matching(&[b"maxmemory*"]).len(), 2);
    }
}
