//! Redis's glob-style pattern matching (KEYS, SCAN MATCH, CONFIG GET): `*`, `?`, `[a-z]`,
//! `[^x]`, and `\` escapes.

pub fn glob_match(pattern: &[u8], s: &[u8], nocase: bool) -> bool {
    match_from(pattern, s, nocase, 0)
}

fn eq(a: u8, b: u8, nocase: bool) -> bool {
    if nocase { a.eq_ignore_ascii_case(&b) } else { a == b }
}

fn match_from(mut p: &[u8], mut s: &[u8], nocase: bool, depth: usize) -> bool {
    // Deeply nested stars are cut off, as Redis does, so a hostile pattern cannot recurse forever.
    if depth > 1000 {
        return false;
    }
    while !p.is_empty() {
        match p[0] {
            b'*' => {
                while p.len() > 1 && p[1] == b'*' {
                    p = &p[1..];
                }
                if p.len() == 1 {
                    return true;
                }
                for i in 0..=s.len() {
                    if match_from(&p[1..], &s[i..], nocase, depth + 1) {
                        return true;
                    }
                }
                return false;
            }
            b'?' => {
                if s.is_empty() {
                    return false;
                }
                s = &s[1..];
            }
            b'[' => {
                if s.is_empty() {
                    return false;
                }
                let (matched, rest) = match_class(&p[1..], s[0], nocase);
                if !matched {
                    return false;
                }
                p = rest;
                s = &s[1..];
                continue;
            }
            b'\\' if p.len() >= 2 => {
                if s.is_empty() || !eq(p[1], s[0], nocase) {
                    return false;
                }
                p = &p[1..];
                s = &s[1..];
            }
            c => {
                if s.is_empty() || !eq(c, s[0], nocase) {
                    return false;
                }
                s = &s[1..];
            }
        }
        p = &p[1..];
    }
    s.is_empty()
}

/// Matches one character against a `[...]` class; `p` starts after the `[`. Returns whether it
/// matched and the pattern after the closing `]` (or the end, for an unterminated class).
fn match_class(mut p: &[u8], c: u8, nocase: bool) -> (bool, &[u8]) {
    let negate = !p.is_empty() && p[0] == b'^';
    if negate {
        p = &p[1..];
    }
    let mut matched = false;
    loop {
        if p.is_empty() {
            break;
        }
        if p[0] == b']' {
            p = &p[1..];
            break;
        }
        if p[0] == b'\\' && p.len() >= 2 {
            if eq(p[1], c, nocase) {
                matched = true;
            }
            p = &p[2..];
        } else if p.len() >= 3 && p[1] == b'-' {
            let (mut lo, mut hi) = (p[0], p[2]);
            if lo > hi {
                std::mem::swap(&mut lo, &mut hi);
            }
            let (cc, lo, hi) = if nocase {
                (c.to_ascii_lowercase(), lo.to_ascii_lowercase(), hi.to_ascii_lowercase())
            } else {
                (c, lo, hi)
            };
            if cc >= lo && cc <= hi {
                matched = true;
            }
            p = &p[3..];
        } else {
            if eq(p[0], c, nocase) {
                matched = true;
            }
            p = &p[1..];
        }
    }
    (matched != negate, p)
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn patterns() {
        assert!(glob_match(b"*", b"anything", false));
        assert!(glob_match(b"h?llo", b"hello", false));
        assert!(glob_match(b"h[ae]llo", b"hallo", false));
        assert!(!glob_match(b"h[^e]llo", b"hello", false));
        assert!(glob_match(b"h[a-b]llo", b"hbllo", false));
        assert!(glob_match(b"h\\*llo", b"h*llo", false));
        assert!(!glob_match(b"h\\*llo", b"hello", false));
        assert!(glob_match(b"*max*", b"maxmemory", false));
        assert!(glob_match(b"MAX*", b"maxclients", true));
        assert!(!glob_match(b"a*b", b"acd", false));
    }
}
