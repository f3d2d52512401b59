//! Incremental request parser. Requests are parsed where they lie in the connection's read
//! buffer: a parsed command is a list of `(start, end)` ranges into that buffer, so a bulk
//! string is copied once (kernel -> buffer) and never again. Inline commands are the exception:
//! quoting and escapes rewrite their bytes, so their arguments are unescaped into a side buffer.
//!
//! A partial multibulk request keeps its progress (`Parser` state) so that a large pipeline
//! arriving in many reads is not re-scanned from its start on every read.

use memchr::memchr;

/// Largest header line (`*<n>` or `$<n>`) or inline request Redis accepts without a newline.
const INLINE_MAX_BYTES: usize = 64 * 1024;
/// Limits for connections that have not authenticated yet (Redis 7 defends the same way).
const UNAUTH_MULTIBULK_MAX: i64 = 10;
const UNAUTH_BULK_MAX: i64 = 16384;

/// A protocol violation: the connection gets `-ERR Protocol error: <text>` and is closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    InvalidMultibulkLength,
    InvalidBulkLength,
    ExpectedDollar(u8),
    TooBigInline,
    TooBigMultibulkCount,
    TooBigBulkCount,
    UnbalancedQuotes,
    UnauthMultibulkLength,
    UnauthBulkLength,
}

impl ParseError {
    pub fn message(&self) -> String {
        match self {
            ParseError::InvalidMultibulkLength => "invalid multibulk length".into(),
            ParseError::InvalidBulkLength => "invalid bulk length".into(),
            ParseError::ExpectedDollar(c) => format!("expected '$', got '{}'", *c as char),
            ParseError::TooBigInline => "too big inline request".into(),
            ParseError::TooBigMultibulkCount => "too big mbulk count string".into(),
            ParseError::TooBigBulkCount => "too big bulk count string".into(),
            ParseError::UnbalancedQuotes => "unbalanced quotes in request".into(),
            ParseError::UnauthMultibulkLength => "unauthenticated multibulk length".into(),
            ParseError::UnauthBulkLength => "unauthenticated bulk length".into(),
        }
    }
}

/// Outcome of one parse step over the unconsumed part of the read buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// A complete command: its arguments are in `Parser::args` (ranges into the buffer, or into
    /// `Parser::inline` when `inline` is true); `consumed` bytes may be dropped from the buffer.
    Command {
        consumed: usize,
        inline: bool,
    },
    /// Bytes that carry no command (empty inline line, `*0`, `*-1`): drop them and go on.
    Skip {
        consumed: usize,
    },
    /// Need more bytes; `want` is a lower bound on the total bytes this command needs (lets the
    /// caller grow its buffer once for a big bulk string).
    Incomplete {
        want: usize,
    },
    Error(ParseError),
}

/// Parser state for one connection.
#[derive(Default)]
pub struct Parser {
    /// Argument ranges of the command last returned (or being assembled).
    pub args: Vec<(u32, u32)>,
    /// Unescaped bytes of an inline command's arguments.
    pub inline: Vec<u8>,
    /// Progress through a partial multibulk request: arguments still expected and the offset
    /// (from the command start) where parsing resumes.
    pending_args: i64,
    resume_at: usize,
    in_multibulk: bool,
    pub max_bulk_bytes: i64,
    pub authenticated: bool,
}

impl Parser {
    pub fn new(max_bulk_bytes: i64) -> Parser {
        Parser { max_bulk_bytes, authenticated: true, ..Default::default() }
    }

    /// Forgets any partial command, keeping the buffers.
    pub fn reset(&mut self) {
        self.args.clear();
        self.inline.clear();
        self.pending_args = 0;
        self.resume_at = 0;
        self.in_multibulk = false;
    }

    /// Parses at most one command from `buf` (the unconsumed bytes of the read buffer).
    pub fn parse(&mut self, buf: &[u8]) -> Parsed {
        if buf.is_empty() {
            return Parsed::Incomplete { want: 1 };
        }
        if self.in_multibulk || buf[0] == b'*' { self.parse_multibulk(buf) } else { self.parse_inline(buf) }
    }

    fn parse_multibulk(&mut self, buf: &[u8]) -> Parsed {
        let mut pos;
        if !self.in_multibulk {
            let (n, next) = match read_header_line(buf, 0) {
                Ok(Some(v)) => v,
                Ok(None) if buf.len() > INLINE_MAX_BYTES => {
                    return Parsed::Error(ParseError::TooBigMultibulkCount);
                }
                Ok(None) => return Parsed::Incomplete { want: buf.len() + 1 },
                Err(()) => return Parsed::Error(ParseError::InvalidMultibulkLength),
            };
            if n > i32::MAX as i64 {
                return Parsed::Error(ParseError::InvalidMultibulkLength);
            }
            if !self.authenticated && n > UNAUTH_MULTIBULK_MAX {
                return Parsed::Error(ParseError::UnauthMultibulkLength);
            }
            if n <= 0 {
                return Parsed::Skip { consumed: next };
            }
            self.args.clear();
            self.pending_args = n;
            self.in_multibulk = true;
            pos = next;
        } else {
            pos = self.resume_at;
        }
        while self.pending_args > 0 {
            if pos >= buf.len() {
                return self.suspend(pos, pos + 1);
            }
            if buf[pos] != b'$' {
                self.in_multibulk = false;
                return Parsed::Error(ParseError::ExpectedDollar(buf[pos]));
            }
            let (len, data_start) = match read_header_line(buf, pos) {
                Ok(Some(v)) => v,
                Ok(None) if buf.len() - pos > INLINE_MAX_BYTES => {
                    self.in_multibulk = false;
                    return Parsed::Error(ParseError::TooBigBulkCount);
                }
                Ok(None) => return self.suspend(pos, buf.len() + 1),
                Err(()) => {
                    self.in_multibulk = false;
                    return Parsed::Error(ParseError::InvalidBulkLength);
                }
            };
            if len < 0 || len > self.max_bulk_bytes {
                self.in_multibulk = false;
                return Parsed::Error(ParseError::InvalidBulkLength);
            }
            if !self.authenticated && len > UNAUTH_BULK_MAX {
                self.in_multibulk = false;
                return Parsed::Error(ParseError::UnauthBulkLength);
            }
            let end = data_start + len as usize;
            if end + 2 > buf.len() {
                return self.suspend(pos, end + 2);
            }
            // Redis does not check the two bytes after a bulk string; neither do we.
            self.args.push((data_start as u32, end as u32));
            self.pending_args -= 1;
            pos = end + 2;
        }
        self.in_multibulk = false;
        Parsed::Command { consumed: pos, inline: false }
    }

    fn suspend(&mut self, resume_at: usize, want: usize) -> Parsed {
        self.resume_at = resume_at;
        Parsed::Incomplete { want }
    }

    /// Forgets a partial command; called when the buffer offsets it refers to move.
    pub fn rebase(&mut self, shift: usize) {
        if self.in_multibulk {
            self.resume_at -= shift;
            for r in self.args.iter_mut() {
                r.0 -= shift as u32;
                r.1 -= shift as u32;
            }
        }
    }

    fn parse_inline(&mut self, buf: &[u8]) -> Parsed {
        // Redis looks for the newline with strchr, which stops at a NUL byte: such a line
        // waits for more input until it is too big.
        let searchable = &buf[..memchr(0, buf).unwrap_or(buf.len())];
        let Some(nl) = memchr(b'\n', searchable) else {
            if buf.len() > INLINE_MAX_BYTES {
                return Parsed::Error(ParseError::TooBigInline);
            }
            return Parsed::Incomplete { want: buf.len() + 1 };
        };
        let line_end = if nl > 0 && buf[nl - 1] == b'\r' { nl - 1 } else { nl };
        self.args.clear();
        self.inline.clear();
        if let Err(e) = split_inline_args(&buf[..line_end], &mut self.inline, &mut self.args) {
            return Parsed::Error(e);
        }
        if self.args.is_empty() {
            return Parsed::Skip { consumed: nl + 1 };
        }
        Parsed::Command { consumed: nl + 1, inline: true }
    }
}

/// Reads `<type><integer>\r\n` at `at`; returns the integer and the offset after the line.
fn read_header_line(buf: &[u8], at: usize) -> Result<Option<(i64, usize)>, ()> {
    let Some(rel) = memchr(b'\r', &buf[at..]) else { return Ok(None) };
    let cr = at + rel;
    if cr + 1 >= buf.len() {
        return Ok(None);
    }
    let n = parse_i64(&buf[at + 1..cr]).ok_or(())?;
    Ok(Some((n, cr + 2)))
}

/// Strict decimal i64 as Redis's string2ll: optional '-', no '+', no spaces, no leading zeros.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let (neg, digits) = if s[0] == b'-' { (true, &s[1..]) } else { (false, s) };
    if digits.is_empty() || (digits[0] == b'0' && (digits.len() > 1 || neg)) {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    if neg {
        if v > i64::MAX as u64 + 1 { None } else { Some((v as i64).wrapping_neg()) }
    } else if v > i64::MAX as u64 {
        None
    } else {
        Some(v as i64)
    }
}

fn is_hex(c: u8) -> bool {
    c.is_ascii_hexdigit()
}

fn hex_val(c: u8) -> u8 {
    (c as char).to_digit(16).unwrap_or(0) as u8
}

/// Splits an inline request line the way redis-cli and Redis's sdssplitargs do: whitespace
/// separated, "double quotes" with C escapes (\n \xHH ...), 'single quotes' with only \'.
/// A closing quote must be followed by a space or the end of the line.
pub fn split_inline_args(
    line: &[u8],
    out: &mut Vec<u8>,
    args: &mut Vec<(u32, u32)>,
) -> Result<(), ParseError> {
    // Redis splits the line as a C string: a NUL byte ends it.
    let line = match memchr::memchr(0, line) {
        Some(nul) => &line[..nul],
        None => line,
    };
    let mut i = 0;
    loop {
        while i < line.len() && line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= line.len() {
            return Ok(());
        }
        let start = out.len();
        let mut in_dq = false;
        let mut in_sq = false;
        loop {
            if in_dq {
                if i >= line.len() {
                    return Err(ParseError::UnbalancedQuotes);
                }
                let c = line[i];
                if c == b'\\'
                    && i + 3 < line.len()
                    && line[i + 1] == b'x'
                    && is_hex(line[i + 2])
                    && is_hex(line[i + 3])
                {
                    out.push(hex_val(line[i + 2]) * 16 + hex_val(line[i + 3]));
                    i += 3;
                } else if c == b'\\' && i + 1 < line.len() {
                    i += 1;
                    out.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    });
                } else if c == b'"' {
                    if i + 1 < line.len() && !line[i + 1].is_ascii_whitespace() {
                        return Err(ParseError::UnbalancedQuotes);
                    }
                    i += 1;
                    break;
                } else {
                    out.push(c);
                }
            } else if in_sq {
                if i >= line.len() {
                    return Err(ParseError::UnbalancedQuotes);
                }
                let c = line[i];
                if c == b'\\' && i + 1 < line.len() && line[i + 1] == b'\'' {
                    i += 1;
                    out.push(b'\'');
                } else if c == b'\'' {
                    if i + 1 < line.len() && !line[i + 1].is_ascii_whitespace() {
                        return Err(ParseError::UnbalancedQuotes);
                    }
                    i += 1;
                    break;
                } else {
                    out.push(c);
                }
            } else {
                if i >= line.len() {
                    break;
                }
                match line[i] {
                    b' ' | b'\n' | b'\r' | b'\t' => break,
                    b'"' => in_dq = true,
                    b'\'' => in_sq = true,
                    c => out.push(c),
                }
            }
            i += 1;
        }
        args.push((start as u32, out.len() as u32));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args_of(p: &Parser, buf: &[u8], inline: bool) -> Vec<Vec<u8>> {
        let src = if inline { &p.inline[..] } else { buf };
        p.args.iter().map(|&(s, e)| src[s as usize..e as usize].to_vec()).collect()
    }

    #[test]
    fn multibulk_whole_and_split() {
        let req = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n";
        let mut p = Parser::new(512 << 20);
        assert_eq!(p.parse(req), Parsed::Command { consumed: req.len(), inline: false });
        assert_eq!(args_of(&p, req, false), vec![b"SET".to_vec(), b"k".to_vec(), b"hello".to_vec()]);
        let mut p = Parser::new(512 << 20);
        for cut in 1..req.len() {
            assert!(matches!(p.parse(&req[..cut]), Parsed::Incomplete { .. }), "cut {cut}");
        }
        assert_eq!(p.parse(req), Parsed::Command { consumed: req.len(), inline: false });
        assert_eq!(args_of(&p, req, false)[2], b"hello");
    }

    #[test]
    fn protocol_errors() {
        let mut p = Parser::new(512 << 20);
        assert_eq!(p.parse(b"*abc\r\n"), Parsed::Error(ParseError::InvalidMultibulkLength));
        let mut p = Parser::new(512 << 20);
        assert_eq!(p.parse(b"*1\r\n$x\r\n"), Parsed::Error(ParseError::InvalidBulkLength));
        let mut p = Parser::new(512 << 20);
        assert_eq!(p.parse(b"*1\r\nfoo\r\n"), Parsed::Error(ParseError::ExpectedDollar(b'f')));
        let mut p = Parser::new(10);
        assert_eq!(p.parse(b"*1\r\n$11\r\n"), Parsed::Error(ParseError::InvalidBulkLength));
        let mut p = Parser::new(10);
        assert_eq!(p.parse(b"*-1\r\n"), Parsed::Skip { consumed: 5 });
    }

    #[test]
    fn inline_quoting() {
        let mut p = Parser::new(512 << 20);
        let line = b"set \"a b\\x41\" 'it\\'s'\r\n";
        assert!(matches!(p.parse(line), Parsed::Command { inline: true, .. }));
        assert_eq!(args_of(&p, line, true), vec![b"set".to_vec(), b"a bA".to_vec(), b"it's".to_vec()]);
        assert_eq!(p.parse(b"set \"abc\r\n"), Parsed::Error(ParseError::UnbalancedQuotes));
        assert_eq!(p.parse(b"\r\n"), Parsed::Skip { consumed: 2 });
        // A NUL before the newline hides it, as with Redis's strchr (found by
        // tests/robustness.rs: the splitter once looped on it).
        assert!(matches!(p.parse(b"GET a\x00 b\r\n"), Parsed::Incomplete { .. }));
        let mut out = Vec::new();
        let mut args = Vec::new();
        split_inline_args(b"GET a\x00 b", &mut out, &mut args).unwrap();
        assert_eq!(args.len(), 2);
    }

    #[test]
    fn strict_integers() {
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        assert_eq!(parse_i64(b"007"), None);
        assert_eq!(parse_i64(b"+1"), None);
        assert_eq!(parse_i64(b"-0"), None);
        assert_eq!(parse_i64(b"0"), Some(0));
    }
}
