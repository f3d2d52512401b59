//! The compact form of a small sorted set (Redis's `listpack` encoding): one buffer of
//! (member, score) entries ordered by (score, member). Every operation is a linear walk,
//! which is fine below `zset-max-listpack-entries`.
//!
//! Entry layout: varint(member length * 2 + is_int), member bytes, then the score: a zigzag
//! varint when it is an integer of magnitude below 2^53 (most scores; one or two bytes), else
//! the 8 bytes of the f64. -0 becomes 0, as in Redis's listpack (which stores it as the text "0").

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ZPack {
    buf: Vec<u8>,
    len: u32,
}

fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push(v as u8 | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

fn get_varint(buf: &[u8], at: &mut usize) -> u64 {
    let (mut v, mut shift) = (0u64, 0);
    loop {
        let b = buf[*at];
        *at += 1;
        v |= ((b & 0x7f) as u64) << shift;
        if b < 0x80 {
            return v;
        }
        shift += 7;
    }
}

fn as_small_int(score: f64) -> Option<i64> {
    let fits = score.fract() == 0.0 && score.abs() < 9_007_199_254_740_992.0;
    fits.then_some(score as i64)
}

/// One decoded entry: the member's bytes, its score, and where the entry starts and ends.
pub struct Entry<'a> {
    pub member: &'a [u8],
    pub score: f64,
    pub start: usize,
    pub end: usize,
}

impl ZPack {
    pub fn len(&self) -> usize {
        self.len as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn heap_bytes(&self) -> usize {
        self.buf.capacity()
    }

    fn decode(&self, start: usize) -> Entry<'_> {
        let mut at = start;
        let head = get_varint(&self.buf, &mut at);
        let mlen = (head >> 1) as usize;
        let member = &self.buf[at..at + mlen];
        at += mlen;
        let score = if head & 1 == 1 {
            let z = get_varint(&self.buf, &mut at);
            ((z >> 1) as i64 ^ -((z & 1) as i64)) as f64
        } else {
            let s = f64::from_le_bytes(self.buf[at..at + 8].try_into().expect("8 bytes"));
            at += 8;
            s
        };
        Entry { member, score, start, end: at }
    }

    pub fn iter(&self) -> impl Iterator<Item = Entry<'_>> {
        let mut at = 0;
        std::iter::from_fn(move || {
            (at < self.buf.len()).then(|| {
                let e = self.decode(at);
                at = e.end;
                e
            })
        })
    }

    pub fn find(&self, member: &[u8]) -> Option<Entry<'_>> {
        self.iter().find(|e| e.member == member)
    }

    /// Inserts a member that is not present, at its (score, member) position.
    pub fn insert(&mut self, score: f64, member: &[u8]) {
        let at = self
            .iter()
            .find(|e| e.score > score || (e.score == score && e.member > member))
            .map_or(self.buf.len(), |e| e.start);
        let mut enc = Vec::with_capacity(member.len() + 10);
        let int = as_small_int(score);
        put_varint(&mut enc, (member.len() as u64) << 1 | int.is_some() as u64);
        enc.extend_from_slice(member);
        match int {
            Some(i) => put_varint(&mut enc, ((i << 1) ^ (i >> 63)) as u64),
            None => enc.extend_from_slice(&score.to_le_bytes()),
        }
        self.buf.splice(at..at, enc);
        self.len += 1;
    }

    /// Removes a member; returns its score if it was there.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let (start, end, score) = self.find(member).map(|e| (e.start, e.end, e.score))?;
        self.buf.drain(start..end);
        self.len -= 1;
        Some(score)
    }

    /// How many leading entries satisfy `pred` (which holds for a prefix of the order).
    pub fn count_while(&self, mut pred: impl FnMut(f64, &[u8]) -> bool) -> usize {
        self.iter().take_while(|e| pred(e.score, e.member)).count()
    }

    /// Removes the entries with 0-based ranks in `start..end`, passing each to `f` first.
    pub fn remove_rank_range(&mut self, start: usize, end: usize, mut f: impl FnMut(f64, &[u8])) {
        let mut span = None::<(usize, usize)>;
        let mut n = 0;
        for (i, e) in self.iter().enumerate().skip(start).take(end.saturating_sub(start)) {
            f(e.score, e.member);
            let from = if i == start { e.start } else { span.map_or(e.start, |s| s.0) };
            span = Some((from, e.end));
            n += 1;
        }
        if let Some((a, b)) = span {
            self.buf.drain(a..b);
            self.len -= n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_exact_scores() {
        let mut p = ZPack::default();
        for (s, m) in [(2.0, "b"), (1.0, "z"), (2.0, "a"), (-0.0, "neg0"), (1e300, "big"), (-7.0, "n")] {
            p.insert(s, m.as_bytes());
        }
        let got: Vec<(String, f64)> =
            p.iter().map(|e| (String::from_utf8(e.member.to_vec()).unwrap(), e.score)).collect();
        let names: Vec<&str> = got.iter().map(|g| g.0.as_str()).collect();
        assert_eq!(names, ["n", "neg0", "z", "a", "b", "big"]);
        assert!(got[1].1.is_sign_positive() && got[1].1 == 0.0);
        assert_eq!(got[5].1, 1e300);
        assert_eq!(p.remove(b"a"), Some(2.0));
        assert_eq!(p.remove(b"a"), None);
        assert_eq!(p.count_while(|s, _| s < 2.0), 3);
        let mut gone = Vec::new();
        p.remove_rank_range(1, 3, |_, m| gone.push(m.to_vec()));
        assert_eq!(gone, [b"neg0".to_vec(), b"z".to_vec()]);
        assert_eq!(p.len(), 3);
        assert_eq!(
            p.iter().map(|e| e.member.to_vec()).collect::<Vec<_>>(),
            [b"n".to_vec(), b"b".to_vec(), b"big".to_vec()]
        );
    }
}
