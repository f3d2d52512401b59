//! Finding complete replies in a connection's input buffer, without building them.
//!
//! The load generator only needs to know where each reply ends and whether it was a value, a
//! null (a miss, for reads), an error, or an out-of-band push; it never materializes data.
//! RESP2 and RESP3 are both understood, including attributes (`|`, skipped) and nested
//! aggregates (bounded depth).

/// What a complete reply was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyKind {
    Value,
    Null,
    Error,
    /// A RESP3 push (`>`): not an answer to any request.
    Push,
}

/// Nesting deeper than this is treated as a protocol error.
const MAX_DEPTH: usize = 64;

/// Looks for one complete reply at the start of `buf`: Ok(Some((length, kind))), Ok(None) if
/// more bytes are needed, or Err when the bytes are not RESP.
pub fn scan(buf: &[u8]) -> Result<Option<(usize, ReplyKind)>, String> {
    skip(buf, 0, 0)
}

fn skip(buf: &[u8], pos: usize, depth: usize) -> Result<Option<(usize, ReplyKind)>, String> {
    if depth > MAX_DEPTH {
        return Err("reply nested too deeply".into());
    }
    let Some(&kind) = buf.get(pos) else { return Ok(None) };
    let Some((line_end, next)) = line(buf, pos + 1) else { return Ok(None) };
    let header = &buf[pos + 1..line_end];
    match kind {
        b'+' | b':' | b',' | b'(' | b'#' => Ok(Some((next, ReplyKind::Value))),
        b'-' => Ok(Some((next, ReplyKind::Error))),
        b'_' => Ok(Some((next, ReplyKind::Null))),
        b'$' | b'=' | b'!' => blob(buf, next, int(header)?, kind),
        b'*' | b'~' | b'>' => {
            let n = int(header)?;
            if n < 0 {
                return Ok(Some((next, ReplyKind::Null)));
            }
            let kind = if kind == b'>' { ReplyKind::Push } else { ReplyKind::Value };
            elements(buf, next, n as u64, depth).map(|o| o.map(|end| (end, kind)))
        }
        b'%' => elements(buf, next, 2 * int(header)?.max(0) as u64, depth)
            .map(|o| o.map(|end| (end, ReplyKind::Value))),
        b'|' => match elements(buf, next, 2 * int(header)?.max(0) as u64, depth)? {
            Some(end) => skip(buf, end, depth + 1),
            None => Ok(None),
        },
        other => Err(format!("unexpected byte 0x{other:02x} at the start of a reply")),
    }
}

fn blob(buf: &[u8], start: usize, len: i64, kind: u8) -> Result<Option<(usize, ReplyKind)>, String> {
    if len < 0 {
        return Ok(Some((start, ReplyKind::Null)));
    }
    let end = start + len as usize + 2;
    if buf.len() < end {
        return Ok(None);
    }
    if &buf[end - 2..end] != b"\r\n" {
        return Err("bulk reply not terminated by CRLF".into());
    }
    let kind = if kind == b'!' { ReplyKind::Error } else { ReplyKind::Value };
    Ok(Some((end, kind)))
}

fn elements(buf: &[u8], mut pos: usize, count: u64, depth: usize) -> Result<Option<usize>, String> {
    for _ in 0..count {
        match skip(buf, pos, depth + 1)? {
            Some((end, _)) => pos = end,
            None => return Ok(None),
        }
    }
    Ok(Some(pos))
}

/// The end of the line starting at `from` (index of its CR) and the index after its LF.
fn line(buf: &[u8], from: usize) -> Option<(usize, usize)> {
    let lf = from + memchr::memchr(b'\n', buf.get(from..)?)?;
    if lf == from || buf[lf - 1] != b'\r' {
        // A bare LF: report it as a line anyway so the integer parse fails loudly.
        return Some((lf, lf + 1));
    }
    Some((lf - 1, lf + 1))
}

fn int(digits: &[u8]) -> Result<i64, String> {
    let text = std::str::from_utf8(digits).map_err(|_| "non-ASCII length in reply".to_string())?;
    text.parse::<i64>().map_err(|_| format!("bad length '{text}' in reply"))
}

/// The text of an error reply (`-ERR x` or a blob error), for reports.
pub fn error_text(reply: &[u8]) -> String {
    let body = match reply.first() {
        Some(b'-') => &reply[1..],
        Some(b'!') => match line(reply, 1) {
            Some((_, next)) => &reply[next..],
            None => reply,
        },
        _ => reply,
    };
    let text = String::from_utf8_lossy(body);
    text.trim_end_matches(['\r', '\n']).chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole(bytes: &[u8]) -> ReplyKind {
        let (len, kind) = scan(bytes).unwrap().expect("complete");
        assert_eq!(len, bytes.len(), "length of {:?}", String::from_utf8_lossy(bytes));
        for cut in 0..bytes.len() {
            assert_eq!(scan(&bytes[..cut]).unwrap(), None, "prefix of {cut} bytes is incomplete");
        }
        kind
    }

    #[test]
    fn resp2_replies() {
        assert_eq!(whole(b"+OK\r\n"), ReplyKind::Value);
        assert_eq!(whole(b"-ERR no\r\n"), ReplyKind::Error);
        assert_eq!(whole(b":12\r\n"), ReplyKind::Value);
        assert_eq!(whole(b"$3\r\nabc\r\n"), ReplyKind::Value);
        assert_eq!(whole(b"$0\r\n\r\n"), ReplyKind::Value);
        assert_eq!(whole(b"$-1\r\n"), ReplyKind::Null);
        assert_eq!(whole(b"*-1\r\n"), ReplyKind::Null);
        assert_eq!(whole(b"*2\r\n$1\r\na\r\n*1\r\n:1\r\n"), ReplyKind::Value);
        assert_eq!(whole(b"*0\r\n"), ReplyKind::Value);
    }

    #[test]
    fn resp3_replies() {
        assert_eq!(whole(b"_\r\n"), ReplyKind::Null);
        assert_eq!(whole(b",1.5\r\n"), ReplyKind::Value);
        assert_eq!(whole(b"#t\r\n"), ReplyKind::Value);
        assert_eq!(whole(b"(123\r\n"), ReplyKind::Value);
        assert_eq!(whole(b"!5\r\nERR x\r\n"), ReplyKind::Error);
        assert_eq!(whole(b"=7\r\ntxt:abc\r\n"), ReplyKind::Value);
        assert_eq!(whole(b"%1\r\n+a\r\n:1\r\n"), ReplyKind::Value);
        assert_eq!(whole(b"~2\r\n+a\r\n+b\r\n"), ReplyKind::Value);
        assert_eq!(whole(b">2\r\n+message\r\n+x\r\n"), ReplyKind::Push);
        assert_eq!(whole(b"|1\r\n+key\r\n+val\r\n$-1\r\n"), ReplyKind::Null);
    }

    #[test]
    fn pipelined_replies_scan_one_at_a_time() {
        let buf = b"+OK\r\n$-1\r\n-ERR x\r\n";
        let (a, _) = scan(buf).unwrap().unwrap();
        let (b, k) = scan(&buf[a..]).unwrap().unwrap();
        assert_eq!(k, ReplyKind::Null);
        assert_eq!(scan(&buf[a + b..]).unwrap().unwrap().1, ReplyKind::Error);
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(scan(b"hello\r\n").is_err());
        assert!(scan(b"$x\r\n").is_err());
        assert!(scan(b"$3\r\nabcde\r\n").is_err());
        let deep = "*1\r\n".repeat(100) + ":1\r\n";
        assert!(scan(deep.as_bytes()).is_err());
    }

    #[test]
    fn error_texts() {
        assert_eq!(error_text(b"-WRONGTYPE Operation\r\n"), "WRONGTYPE Operation");
        assert_eq!(error_text(b"!5\r\nERR x\r\n"), "ERR x");
    }
}
