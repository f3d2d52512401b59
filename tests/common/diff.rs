//! The differential-test framework: a `Script` of commands run against a real redis-server
//! and against shardis, with the raw replies compared step by step (exactly, as multisets, or
//! as integers within a tolerance). Every collection's test file builds scripts with it.
#![allow(dead_code)]

use super::*;

/// How a step's replies are compared.
#[derive(Clone, Debug)]
#[allow(dead_code)]
pub enum Check {
    /// Byte-for-byte equality.
    Exact,
    /// Aggregate replies compared as multisets of raw elements (order unspecified:
    /// KEYS and friends). Non-aggregate replies are compared exactly.
    Unordered,
    /// Both replies must be integers within `tol` of each other (TTL/PTTL, whose
    /// value depends on when exactly each server executes the command).
    Approx(i64),
    /// Replies are read but not compared (e.g. HELLO, whose full reply differs).
    Ignore,
}

#[derive(Clone, Debug)]
pub struct Step {
    pub args: Vec<Vec<u8>>,
    pub check: Check,
}

/// A list of commands with comparison modes. Built with short helpers:
/// `x` (exact), `u` (unordered), `approx`, `ignore`; `*_args` variants take
/// explicit args for values containing spaces or empty strings.
#[derive(Default, Clone)]
pub struct Script {
    pub steps: Vec<Step>,
}

#[allow(dead_code)]
impl Script {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn push(&mut self, args: Vec<Vec<u8>>, check: Check) -> &mut Self {
        assert!(!args.is_empty(), "empty command in script");
        self.steps.push(Step { args, check });
        self
    }
    /// Exact comparison; args split on whitespace.
    pub fn x(&mut self, cmd: &str) -> &mut Self {
        self.push(args_of(cmd), Check::Exact)
    }
    /// Exact comparison; explicit args.
    pub fn xa(&mut self, args: &[&[u8]]) -> &mut Self {
        self.push(args.iter().map(|a| a.to_vec()).collect(), Check::Exact)
    }
    /// Order-insensitive comparison.
    pub fn u(&mut self, cmd: &str) -> &mut Self {
        self.push(args_of(cmd), Check::Unordered)
    }
    pub fn ua(&mut self, args: &[&[u8]]) -> &mut Self {
        self.push(args.iter().map(|a| a.to_vec()).collect(), Check::Unordered)
    }
    /// Integer replies equal within a tolerance.
    pub fn approx(&mut self, cmd: &str, tol: i64) -> &mut Self {
        self.push(args_of(cmd), Check::Approx(tol))
    }
    /// Run on both, compare nothing.
    pub fn ignore(&mut self, cmd: &str) -> &mut Self {
        self.push(args_of(cmd), Check::Ignore)
    }
    /// Several exact commands, one per line.
    pub fn lines(&mut self, cmds: &str) -> &mut Self {
        for l in cmds.lines() {
            let l = l.trim();
            if !l.is_empty() && !l.starts_with('#') {
                self.x(l);
            }
        }
        self
    }
}

/// Compares two replies according to `check`. Returns Err(explanation) on mismatch.
pub fn compare(check: &Check, redis: &[u8], shardis: &[u8]) -> Result<(), String> {
    match check {
        Check::Exact => {
            if redis == shardis {
                Ok(())
            } else {
                Err("replies differ".into())
            }
        }
        Check::Ignore => Ok(()),
        Check::Approx(tol) => match (as_int(redis), as_int(shardis)) {
            (Some(a), Some(b)) if (a - b).abs() <= *tol => Ok(()),
            (Some(a), Some(b)) => Err(format!("integers {a} and {b} differ by more than {tol}")),
            _ if redis == shardis => Ok(()),
            _ => Err("expected integer replies (or identical replies)".into()),
        },
        Check::Unordered => compare_unordered(redis, shardis),
    }
}

/// Order-insensitive comparison of aggregate replies: same type byte, same
/// element count and same multiset of raw element bytes.
pub fn compare_unordered(redis: &[u8], shardis: &[u8]) -> Result<(), String> {
    match (split_aggregate(redis), split_aggregate(shardis)) {
        (Some((h1, mut e1)), Some((h2, mut e2))) => {
            if h1 != h2 {
                return Err(format!("aggregate headers differ: {} vs {}", show(&h1), show(&h2)));
            }
            e1.sort();
            e2.sort();
            if e1 == e2 {
                Ok(())
            } else {
                let only_r: Vec<String> = e1.iter().filter(|e| !e2.contains(e)).map(|e| show(e)).collect();
                let only_s: Vec<String> = e2.iter().filter(|e| !e1.contains(e)).map(|e| show(e)).collect();
                Err(format!(
                    "element multisets differ; only in redis: {only_r:?}; only in shardis: {only_s:?}"
                ))
            }
        }
        _ if redis == shardis => Ok(()),
        _ => Err("replies differ (not both aggregates)".into()),
    }
}

pub fn read_or_err(c: &mut RawConn) -> Result<Vec<u8>, String> {
    c.try_read_reply()
}

/// Runs `script` against a fresh redis-server and a fresh shardis (`threads`
/// server threads), optionally after switching both connections to RESP3.
pub fn run_diff(name: &str, script: &Script, threads: usize, resp3: bool) {
    let Some(redis) = start_redis_or_skip() else {
        return;
    };
    let shardis = Server::start(threads, &[]);
    run_diff_on(name, script, &redis, &shardis, threads, resp3);
}

/// The comparison itself; generic over targets so the framework can be
/// validated by running it with redis-server on both sides.
pub fn run_diff_on(
    name: &str,
    script: &Script,
    reference: &dyn Target,
    subject: &dyn Target,
    threads: usize,
    resp3: bool,
) {
    let verbose = std::env::var_os("DIFF_VERBOSE").is_some();
    let label = format!("script '{name}' (threads={threads}, {})", if resp3 { "RESP3" } else { "RESP2" });
    let mut r = reference.raw();
    let mut s = subject.raw();

    let fr = r.cmd(&[b"FLUSHALL"]);
    assert_reply(&fr, b"+OK\r\n", &format!("{label}: FLUSHALL on {}", reference.name()));
    s.send(&encode_command(&[b"FLUSHALL"]));
    match read_or_err(&mut s) {
        Ok(rep) => assert_reply(&rep, b"+OK\r\n", &format!("{label}: FLUSHALL on {}", subject.name())),
        Err(e) => panic!("{label}: FLUSHALL on {} failed: {e}", subject.name()),
    }

    if resp3 {
        for (c, t) in [(&mut r, reference), (&mut s, subject)] {
            c.send(&encode_command(&[b"HELLO", b"3"]));
            let rep = read_or_err(c).unwrap_or_else(|e| panic!("{label}: HELLO 3 on {}: {e}", t.name()));
            let pairs = map_pairs(&rep);
            let proto_ok = rep.starts_with(b"%")
                && pairs
                    .as_ref()
                    .map(|p| p.iter().any(|(k, v)| as_bulk(k).as_deref() == Some(b"proto") && v == b":3\r\n"))
                    .unwrap_or(false);
            assert!(
                proto_ok,
                "{label}: HELLO 3 on {} should reply with a map containing proto => 3, got {}",
                t.name(),
                show(&rep)
            );
        }
    }

    let mut failures: Vec<String> = Vec::new();
    let mut failed_idx: Vec<usize> = Vec::new();
    for (i, step) in script.steps.iter().enumerate() {
        let refs: Vec<&[u8]> = step.args.iter().map(|a| a.as_slice()).collect();
        let req = encode_command(&refs);
        r.send(&req);
        let rr = read_or_err(&mut r).unwrap_or_else(|e| {
            panic!(
                "{label}: step #{i} `{}`: reference {} failed: {e}",
                show_cmd(&step.args),
                reference.name()
            )
        });
        if s.try_send(&req).is_err() {
            failures.push(format!(
                "{label}: step #{i} `{}`: could not write to {} (connection closed?)",
                show_cmd(&step.args),
                subject.name()
            ));
            failed_idx.push(i);
            break;
        }
        let sr = match read_or_err(&mut s) {
            Ok(v) => v,
            Err(e) => {
                failures.push(format!(
                    "{label}: step #{i} `{}`:\n    {:>12}: {}\n    {:>12}: <no reply: {e}>",
                    show_cmd(&step.args),
                    reference.name(),
                    show(&rr),
                    subject.name()
                ));
                failed_idx.push(i);
                break; // connection is unusable now
            }
        };
        if verbose {
            eprintln!(
                "[{label}] #{i} {}\n    {:>12}: {}\n    {:>12}: {}",
                show_cmd(&step.args),
                reference.name(),
                show(&rr),
                subject.name(),
                show(&sr)
            );
        }
        if let Err(why) = compare(&step.check, &rr, &sr) {
            failures.push(format!(
                "{label}: step #{i} `{}` ({:?}): {why}\n    {:>12}: {}\n    {:>12}: {}",
                show_cmd(&step.args),
                step.check,
                reference.name(),
                show(&rr),
                subject.name(),
                show(&sr)
            ));
            failed_idx.push(i);
        }
    }
    if !failures.is_empty() {
        const MAX_SHOWN: usize = 25;
        let mut msg = format!(
            "{label}: {} of {} steps mismatched (first at step #{}); later mismatches may be consequences of earlier ones.\n",
            failures.len(),
            script.steps.len(),
            failed_idx[0]
        );
        for f in failures.iter().take(MAX_SHOWN) {
            msg.push_str(f);
            msg.push('\n');
        }
        if failures.len() > MAX_SHOWN {
            msg.push_str(&format!("... mismatched step indexes: {failed_idx:?}\n"));
        }
        panic!("{msg}");
    }
}

/// One differential test per line: `name: script_fn, threads, resp3;`.
#[macro_export]
macro_rules! diff_cases {
    ($($test:ident: $script:ident, $threads:expr, $resp3:expr;)*) => {
        $(
            #[test]
            fn $test() {
                run_diff(stringify!($script), &$script(), $threads, $resp3);
            }
        )*
    };
}

/// For each `name => script_fn;`, a module running the script with 1 and 4 threads, in RESP2
/// and in RESP3.
#[macro_export]
macro_rules! diff_matrix {
    ($($test:ident => $script:ident;)*) => {
        $(
            mod $test {
                use super::*;
                #[test]
                fn threads1() {
                    run_diff(stringify!($script), &$script(), 1, false);
                }
                #[test]
                fn threads4() {
                    run_diff(stringify!($script), &$script(), 4, false);
                }
                #[test]
                fn resp3_threads1() {
                    run_diff(stringify!($script), &$script(), 1, true);
                }
                #[test]
                fn resp3_threads4() {
                    run_diff(stringify!($script), &$script(), 4, true);
                }
            }
        )*
    };
}
