//! Combining the per-shard replies of a command that ran on several shards.

use crate::commands::Merge;
use crate::resp::Out;

/// Length in bytes of the first complete RESP value in `buf` (replies from our own shards, so
/// well-formed; a malformed one yields None).
pub fn value_len(buf: &[u8]) -> Option<usize> {
    let line_end = memchr::memchr(b'\n', buf)? + 1;
    let header = std::str::from_utf8(&buf[1..line_end - 2]).ok();
    let count = || header.and_then(|h| h.parse::<i64>().ok());
    match buf[0] {
        b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => Some(line_end),
        b'$' | b'=' | b'!' => {
            let n = count()?;
            if n < 0 { Some(line_end) } else { Some(line_end + n as usize + 2) }
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n = count()?;
            let items = if n < 0 {
                0
            } else if matches!(buf[0], b'%' | b'|') {
                n * 2
            } else {
                n
            };
            let mut at = line_end;
            for _ in 0..items {
                at += value_len(&buf[at..])?;
            }
            if buf[0] == b'|' {
                at += value_len(&buf[at..])?;
            }
            Some(at)
        }
        _ => None,
    }
}

/// Splits an aggregate reply into its elements' byte ranges.
pub fn elements(buf: &[u8]) -> Vec<&[u8]> {
    let mut items = Vec::new();
    let Some(line_end) = memchr::memchr(b'\n', buf).map(|i| i + 1) else { return items };
    let n: i64 = std::str::from_utf8(&buf[1..line_end - 2]).ok().and_then(|h| h.parse().ok()).unwrap_or(0);
    let mut at = line_end;
    for _ in 0..n.max(0) {
        let Some(len) = value_len(&buf[at..]) else { break };
        items.push(&buf[at..at + len]);
        at += len;
    }
    items
}

fn int_of(reply: &[u8]) -> i64 {
    std::str::from_utf8(&reply[1..reply.len().saturating_sub(2)])
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Merges per-shard replies. `replies[i]` answered the keys at argument positions
/// `positions[i]` (for `PerKeyArray`); the first error reply wins.
pub fn merge(how: Merge, replies: &[&[u8]], positions: &[Vec<usize>], out: &mut Out) {
    if let Some(err) = replies.iter().find(|r| r.first() == Some(&b'-')) {
        out.raw(err);
        return;
    }
    match how {
        Merge::SumInts => out.int(replies.iter().map(|r| int_of(r)).sum()),
        Merge::AllOk => out.ok(),
        Merge::Concat => {
            let all: Vec<&[u8]> = replies.iter().flat_map(|r| elements(r)).collect();
            out.array(all.len());
            for e in all {
                out.raw(e);
            }
        }
        Merge::PerKeyArray => {
            let mut placed: Vec<(usize, &[u8])> = Vec::new();
            for (reply, pos) in replies.iter().zip(positions) {
                for (e, &p) in elements(reply).into_iter().zip(pos) {
                    placed.push((p, e));
                }
            }
            placed.sort_by_key(|&(p, _)| p);
            out.array(placed.len());
            for (_, e) in placed {
                out.raw(e);
            }
        }
    }
}

/// The integer of an integer reply (0 for anything else).
pub fn elements_int(reply: &[u8]) -> i64 {
    if reply.first() == Some(&b':') { int_of(reply) } else { 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_and_merges() {
        assert_eq!(value_len(b"*2\r\n$1\r\na\r\n$-1\r\nXX"), Some(16));
        assert_eq!(value_len(b"%1\r\n+a\r\n:1\r\n"), Some(12));
        let mut out = Out::new(false);
        merge(Merge::SumInts, &[b":2\r\n", b":3\r\n"], &[], &mut out);
        assert_eq!(out.buf, b":5\r\n");
        let mut out = Out::new(false);
        let replies: [&[u8]; 2] = [b"*2\r\n$1\r\na\r\n$1\r\nc\r\n", b"*1\r\n$-1\r\n"];
        merge(Merge::PerKeyArray, &replies, &[vec![1, 3], vec![2]], &mut out);
        assert_eq!(out.buf, b"*3\r\n$1\r\na\r\n$-1\r\n$1\r\nc\r\n");
    }
}
