//! Prefetching the lookups a run of commands is about to make, so their cache misses overlap
//! instead of each command waiting for its own. Used for a connection's pipelined input
//! (`server::conn`) and for a batch from another core (`dispatch`). Only hints: nothing is
//! changed, and a wrong guess (an argument that is not a key) costs a wasted load.

use crate::commands::{self, eq_ic};
use crate::shard::{Entry, Value};
use crate::types::dict::Dict;
use crate::types::zset::ZSet;

/// Commands a prefetch pass looks ahead at.
pub const AHEAD: usize = 32;

/// For each command, its first key and the member it looks up in that key's collection (empty
/// for none): loads every key's bucket, then its node, then each member's bucket and node in a
/// large hash or sorted set, one pass per step so the loads of a step are in flight together.
pub fn lookups(dict: &Dict<Entry>, keys: &[&[u8]], members: &[&[u8]]) {
    for &k in keys {
        dict.prefetch_bucket(k);
    }
    for &k in keys {
        dict.prefetch_node(k);
    }
    // The collections the member lookups go into: each key's node is being loaded by now.
    let mut inner: [Option<&Value>; AHEAD] = [None; AHEAD];
    let mut any = false;
    for ((value, &k), &m) in inner.iter_mut().zip(keys).zip(members) {
        if !m.is_empty() {
            *value = dict.get(k).map(|e| &e.value);
            any |= value.is_some();
        }
    }
    if !any {
        return;
    }
    for step in [Step::Bucket, Step::Node] {
        for (value, &m) in inner.iter().zip(members) {
            if let Some(value) = value {
                member(value, m, step);
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Step {
    Bucket,
    Node,
}

/// Prefetches one step of the lookup of `member` inside a large hash or sorted set.
fn member(value: &Value, member: &[u8], step: Step) {
    match value {
        Value::Hash(h) => {
            if let Some(t) = h.as_table() {
                match step {
                    Step::Bucket => t.prefetch_bucket(member),
                    Step::Node => t.prefetch_node(member),
                }
            }
        }
        Value::ZSet(z) => {
            if let ZSet::Tree(l) = &**z {
                match step {
                    Step::Bucket => l.prefetch_member_bucket(member),
                    Step::Node => l.prefetch_member_node(member),
                }
            }
        }
        _ => {}
    }
}

/// Which argument of a command is the one member or field of a large collection it looks up
/// (hash field commands, and ZADD of one member without options, ZINCRBY, ZSCORE, ZRANK...).
pub fn member_arg(name: &[u8], argc: usize) -> Option<usize> {
    const HASH: [&str; 7] = ["hset", "hget", "hsetnx", "hexists", "hincrby", "hincrbyfloat", "hstrlen"];
    const ZSET: [&str; 4] = ["zscore", "zrank", "zrevrank", "zrem"];
    match name.first().map(|c| c | 0x20) {
        Some(b'h') if argc >= 3 && HASH.iter().any(|n| eq_ic(name, n)) => Some(2),
        Some(b'z') if argc == 4 && (eq_ic(name, "zadd") || eq_ic(name, "zincrby")) => Some(3),
        Some(b'z') if argc >= 3 && ZSET.iter().any(|n| eq_ic(name, n)) => Some(2),
        _ => None,
    }
}

/// The member argument of a command given by its table index (see `member_arg`).
pub fn member_arg_of(cmd_index: usize, argc: usize) -> Option<usize> {
    member_arg(commands::table()[cmd_index].name.as_bytes(), argc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_args_are_found_only_for_one_member_lookups() {
        assert_eq!(member_arg(b"HSET", 4), Some(2));
        assert_eq!(member_arg(b"hget", 3), Some(2));
        assert_eq!(member_arg(b"zadd", 4), Some(3));
        assert_eq!(member_arg(b"ZADD", 6), None, "several members or options");
        assert_eq!(member_arg(b"zscore", 3), Some(2));
        assert_eq!(member_arg(b"get", 2), None);
        assert_eq!(member_arg(b"hgetall", 2), None);
    }
}
