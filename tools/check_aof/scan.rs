//! Reads one .aof file record by record and says how far it is valid.
//!
//! The file streams through a fixed buffer ([`BUF_BYTES`]), so memory stays flat whatever the
//! file or value sizes: header lines are read byte by byte, bulk payloads are skipped in
//! whole buffer spans, and only the first two arguments of a record are kept (enough to
//! recognise `TX <txid> ...` and `TXCOMMIT <txid>`).
//!
//! The grammar is strict on purpose: lengths are canonical decimals (no sign, no leading
//! zero), a record has at least one argument, every line ends in CRLF. The server writes
//! exactly this, so any other byte is damage. Damage is *truncation* when the input ended
//! while every byte so far could still begin a record (the parser ran out of bytes, never
//! met a wrong one); any wrong byte is *corruption*, reported at that byte's offset.

use std::collections::{HashMap, HashSet};
use std::io::{self, Read};

/// The read buffer: large enough that syscalls do not matter, small enough to be nothing.
pub const BUF_BYTES: usize = 1 << 20;
/// The largest argument count a record may declare (Redis's multibulk limit).
const ARRAY_LEN_MAX: u64 = i32::MAX as u64;
/// The largest bulk length a record may declare (Redis's proto-max-bulk-len ceiling).
const BULK_LEN_MAX: u64 = i64::MAX as u64;
/// Bytes kept of the first two arguments: the longest name and txid we need to recognise.
const KEEP_BYTES: usize = 24;

/// What went wrong in a file, if anything.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Damage {
    /// The file ends inside a record whose bytes so far are all valid: a crash mid-write.
    /// The incomplete record starts at the scan's `valid_up_to`.
    Truncated,
    /// A byte that no valid record could contain, at `offset`.
    Corrupt { offset: u64, reason: &'static str },
}

/// The multi-record groups seen in a file (or, merged, in a set of files).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TxLog {
    /// txid -> how many `TX` records carry it.
    pub members: HashMap<u64, u64>,
    /// txids with a `TXCOMMIT` record.
    pub commits: HashSet<u64>,
}

impl TxLog {
    pub fn merge(&mut self, other: &TxLog) {
        for (&id, &n) in &other.members {
            *self.members.entry(id).or_insert(0) += n;
        }
        self.commits.extend(other.commits.iter().copied());
    }

    /// Groups with records but no commit anywhere in the log, sorted.
    pub fn uncommitted(&self) -> Vec<u64> {
        let mut ids: Vec<u64> =
            self.members.keys().filter(|id| !self.commits.contains(id)).copied().collect();
        ids.sort_unstable();
        ids
    }
}

/// The result of scanning one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileScan {
    /// Bytes read: the file's size.
    pub size: u64,
    /// Complete, valid records before any damage.
    pub records: u64,
    /// The end of the last valid record: where a fix would cut the file.
    pub valid_up_to: u64,
    pub damage: Option<Damage>,
    /// TX groups among the valid records only (a commit in a damaged tail does not count).
    pub tx: TxLog,
}

/// Scans a whole input. Only I/O errors are errors; damage is part of the result.
pub fn scan(src: impl Read) -> io::Result<FileScan> {
    let mut input = Input::new(src);
    let mut record = Record::default();
    let mut out = FileScan { size: 0, records: 0, valid_up_to: 0, damage: None, tx: TxLog::default() };
    loop {
        let start = input.offset;
        match input.record(&mut record) {
            Ok(false) => break,
            Ok(true) => match record.note_tx(&mut out.tx) {
                Ok(()) => {
                    out.records += 1;
                    out.valid_up_to = input.offset;
                }
                Err(reason) => {
                    out.damage = Some(Damage::Corrupt { offset: start, reason });
                    break;
                }
            },
            Err(Stop::Eof) => {
                out.damage = Some(Damage::Truncated);
                break;
            }
            Err(Stop::Bad(offset, reason)) => {
                // shardis keeps the file zeroed ahead of its records with appendfsync always:
                // zeros to the end are the log's end, or a record cut short before them.
                if input.last == 0 && input.rest_is_zero()? {
                    if offset != start {
                        out.damage = Some(Damage::Truncated);
                    }
                    break;
                }
                out.damage = Some(Damage::Corrupt { offset, reason });
                break;
            }
            Err(Stop::Io(e)) => return Err(e),
        }
    }
    out.size = input.drain()?;
    Ok(out)
}

/// Why a record could not be read.
enum Stop {
    /// The input ended inside the record.
    Eof,
    /// A wrong byte at this offset.
    Bad(u64, &'static str),
    Io(io::Error),
}

impl From<io::Error> for Stop {
    fn from(e: io::Error) -> Self {
        Stop::Io(e)
    }
}

/// The parts of the last record that TX accounting needs.
#[derive(Default)]
struct Record {
    args: u64,
    /// The first argument (command name), its first `KEEP_BYTES` bytes, and its full length.
    name: Vec<u8>,
    name_len: u64,
    /// The second argument likewise (a txid for TX records).
    second: Vec<u8>,
    second_len: u64,
}

impl Record {
    /// Adds a TX or TXCOMMIT record to `tx`; rejects one whose shape is wrong.
    fn note_tx(&self, tx: &mut TxLog) -> Result<(), &'static str> {
        let is = |word: &[u8]| self.name_len == word.len() as u64 && self.name.eq_ignore_ascii_case(word);
        if is(b"TX") {
            if self.args < 3 {
                return Err("TX record without a txid and a command");
            }
            *tx.members.entry(self.txid()?).or_insert(0) += 1;
        } else if is(b"TXCOMMIT") {
            if self.args != 2 {
                return Err("TXCOMMIT record without exactly one txid");
            }
            tx.commits.insert(self.txid()?);
        }
        Ok(())
    }

    fn txid(&self) -> Result<u64, &'static str> {
        let bad = "txid is not a decimal u64";
        if self.second_len != self.second.len() as u64 || self.second.is_empty() {
            return Err(bad);
        }
        let text = std::str::from_utf8(&self.second).map_err(|_| bad)?;
        if !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad);
        }
        text.parse().map_err(|_| bad)
    }
}

/// A buffered reader that knows the absolute offset of its next byte.
struct Input<R> {
    src: R,
    buf: Box<[u8]>,
    pos: usize,
    end: usize,
    /// File offset of `buf[pos]`.
    offset: u64,
    /// The last byte read.
    last: u8,
}

impl<R: Read> Input<R> {
    fn new(src: R) -> Self {
        Input { src, buf: vec![0; BUF_BYTES].into_boxed_slice(), pos: 0, end: 0, offset: 0, last: 1 }
    }

    /// Makes at least one byte available; false at end of input.
    fn fill(&mut self) -> io::Result<bool> {
        if self.pos < self.end {
            return Ok(true);
        }
        loop {
            match self.src.read(&mut self.buf) {
                Ok(n) => {
                    self.pos = 0;
                    self.end = n;
                    return Ok(n > 0);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// The next byte and its offset, or `Stop::Eof`.
    #[inline]
    fn byte(&mut self) -> Result<(u8, u64), Stop> {
        if !self.fill()? {
            return Err(Stop::Eof);
        }
        let b = self.buf[self.pos];
        self.last = b;
        self.pos += 1;
        self.offset += 1;
        Ok((b, self.offset - 1))
    }

    /// Reads one record into `rec`. Ok(false) when the input ends cleanly before it.
    fn record(&mut self, rec: &mut Record) -> Result<bool, Stop> {
        if !self.fill()? {
            return Ok(false);
        }
        let (b, at) = self.byte()?;
        if b != b'*' {
            return Err(Stop::Bad(at, "expected '*'"));
        }
        rec.args = self.length(1, ARRAY_LEN_MAX)?;
        rec.second.clear();
        rec.second_len = 0;
        for i in 0..rec.args {
            let (b, at) = self.byte()?;
            if b != b'$' {
                return Err(Stop::Bad(at, "expected '$'"));
            }
            let len = self.length(0, BULK_LEN_MAX)?;
            let keep = match i {
                0 => {
                    rec.name_len = len;
                    Some(&mut rec.name)
                }
                1 => {
                    rec.second_len = len;
                    Some(&mut rec.second)
                }
                _ => None,
            };
            self.payload(len, keep)?;
            self.crlf()?;
        }
        Ok(true)
    }

    /// Reads `<digits>\r\n` with a value in `min..=max`. Rejects at the first byte that makes
    /// the line impossible, so a line cut short by EOF is truncation only if it could still
    /// become valid.
    fn length(&mut self, min: u64, max: u64) -> Result<u64, Stop> {
        let (b, at) = self.byte()?;
        if !b.is_ascii_digit() {
            return Err(Stop::Bad(at, if b == b'\r' { "bad length (empty)" } else { "bad length" }));
        }
        let mut value = u64::from(b - b'0');
        if value == 0 {
            if min > 0 {
                return Err(Stop::Bad(at, "bad length (zero arguments)"));
            }
        } else {
            loop {
                let (b, at) = self.byte()?;
                if !b.is_ascii_digit() {
                    if b != b'\r' {
                        return Err(Stop::Bad(at, "bad length"));
                    }
                    return self.lf().map(|()| value);
                }
                value = match value.checked_mul(10).and_then(|v| v.checked_add(u64::from(b - b'0'))) {
                    Some(v) if v <= max => v,
                    _ => return Err(Stop::Bad(at, "bad length (too large)")),
                };
            }
        }
        // A zero is the whole number: a digit after it is a leading zero.
        let (b, at) = self.byte()?;
        if b != b'\r' {
            return Err(Stop::Bad(
                at,
                if b.is_ascii_digit() { "bad length (leading zero)" } else { "bad length" },
            ));
        }
        self.lf().map(|()| value)
    }

    fn lf(&mut self) -> Result<(), Stop> {
        let (b, at) = self.byte()?;
        if b != b'\n' { Err(Stop::Bad(at, "missing CRLF")) } else { Ok(()) }
    }

    fn crlf(&mut self) -> Result<(), Stop> {
        let (b, at) = self.byte()?;
        if b != b'\r' {
            return Err(Stop::Bad(at, "missing CRLF"));
        }
        self.lf()
    }

    /// Consumes `len` payload bytes, keeping the first `KEEP_BYTES` in `keep` if given.
    fn payload(&mut self, mut len: u64, mut keep: Option<&mut Vec<u8>>) -> Result<(), Stop> {
        if let Some(k) = keep.as_deref_mut() {
            k.clear();
        }
        while len > 0 {
            if !self.fill()? {
                return Err(Stop::Eof);
            }
            let n = (self.end - self.pos).min(usize::try_from(len).unwrap_or(usize::MAX));
            if let Some(k) = keep.as_deref_mut() {
                let room = KEEP_BYTES - k.len();
                k.extend_from_slice(&self.buf[self.pos..self.pos + n.min(room)]);
            }
            self.pos += n;
            self.offset += n as u64;
            len -= n as u64;
        }
        Ok(())
    }

    /// Whether every byte from here to the end is zero (consumes the zeros it sees).
    fn rest_is_zero(&mut self) -> io::Result<bool> {
        while self.fill()? {
            if self.buf[self.pos..self.end].iter().any(|&b| b != 0) {
                return Ok(false);
            }
            self.offset += (self.end - self.pos) as u64;
            self.pos = self.end;
        }
        Ok(true)
    }

    /// Reads to the end (after damage) and returns the total size.
    fn drain(&mut self) -> io::Result<u64> {
        self.offset += (self.end - self.pos) as u64;
        self.pos = self.end;
        while self.fill()? {
            self.offset += (self.end - self.pos) as u64;
            self.pos = self.end;
        }
        Ok(self.offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encodes one record the way the server writes it.
    pub fn rec(args: &[&[u8]]) -> Vec<u8> {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    fn scan_bytes(bytes: &[u8]) -> FileScan {
        scan(bytes).unwrap()
    }

    fn corrupt_at(bytes: &[u8]) -> (u64, &'static str) {
        match scan_bytes(bytes).damage {
            Some(Damage::Corrupt { offset, reason }) => (offset, reason),
            other => panic!("expected corruption in {:?}, got {other:?}", String::from_utf8_lossy(bytes)),
        }
    }

    #[test]
    fn zeros_written_ahead_end_the_log() {
        let mut f = rec(&[b"SET", b"k", b"v"]);
        let valid = f.len() as u64;
        f.extend(vec![0u8; 100_000]);
        let s = scan_bytes(&f);
        assert_eq!((s.size, s.records, s.valid_up_to, s.damage), (f.len() as u64, 1, valid, None));
        // A record cut short by a crash, then the zeros: truncation.
        let mut torn = rec(&[b"SET", b"k", b"v"]);
        torn.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$1\r\nk");
        torn.extend(vec![0u8; 5000]);
        let s = scan_bytes(&torn);
        assert_eq!((s.records, s.valid_up_to, s.damage), (1, valid, Some(Damage::Truncated)));
        // Something after the zeros is corruption.
        let mut bad = rec(&[b"SET", b"k", b"v"]);
        bad.extend(vec![0u8; 10]);
        bad.extend(rec(&[b"SET", b"k", b"v"]));
        assert!(matches!(scan_bytes(&bad).damage, Some(Damage::Corrupt { .. })));
    }

    #[test]
    fn empty_and_valid_files() {
        let s = scan_bytes(b"");
        assert_eq!((s.size, s.records, s.valid_up_to, s.damage), (0, 0, 0, None));
        let mut f = rec(&[b"SELECT", b"0"]);
        f.extend(rec(&[b"SET", b"k", b""]));
        let s = scan_bytes(&f);
        assert_eq!((s.size, s.records, s.valid_up_to, s.damage), (f.len() as u64, 2, f.len() as u64, None));
    }

    /// Every proper prefix of a valid record is truncation, at the record's start.
    #[test]
    fn every_cut_is_truncation() {
        let first = rec(&[b"SET", b"key", b"value"]);
        let second = rec(&[b"RPUSH", b"list", b"a", b"", b"0123456789"]);
        let mut f = first.clone();
        f.extend(&second);
        for cut in first.len() + 1..f.len() {
            let s = scan_bytes(&f[..cut]);
            assert_eq!(s.damage, Some(Damage::Truncated), "cut at {cut}");
            assert_eq!(
                (s.records, s.valid_up_to, s.size),
                (1, first.len() as u64, cut as u64),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn corruption_is_reported_at_the_wrong_byte() {
        let ok = rec(&[b"SET", b"k", b"v"]);
        let n = ok.len() as u64;
        let with = |tail: &[u8]| [ok.as_slice(), tail].concat();
        assert_eq!(corrupt_at(&with(b"+OK\r\n")), (n, "expected '*'"));
        assert_eq!(corrupt_at(&with(b"*2\r\n#3\r\n")), (n + 4, "expected '$'"));
        assert_eq!(corrupt_at(&with(b"*x")), (n + 1, "bad length"));
        assert_eq!(corrupt_at(&with(b"*-1\r\n")), (n + 1, "bad length"));
        assert_eq!(corrupt_at(&with(b"*\r\n")), (n + 1, "bad length (empty)"));
        assert_eq!(corrupt_at(&with(b"*0")), (n + 1, "bad length (zero arguments)"));
        assert_eq!(corrupt_at(&with(b"*1\r\n$01")), (n + 6, "bad length (leading zero)"));
        assert_eq!(corrupt_at(&with(b"*2\rx")), (n + 3, "missing CRLF"));
        assert_eq!(corrupt_at(&with(b"*1\r\n$1\r\nab")), (n + 9, "missing CRLF"));
        // i32::MAX has ten digits: the tenth nine is the one past the limit.
        assert_eq!(corrupt_at(&with(b"*99999999999\r\n")), (n + 10, "bad length (too large)"));
        // Damage right after a clean record still counts that record.
        assert_eq!(scan_bytes(&with(b"garbage")).records, 1);
    }

    #[test]
    fn an_empty_bulk_cut_short_is_truncation() {
        for tail in [&b"*1\r\n$0"[..], b"*1\r\n$0\r", b"*1\r\n$0\r\n", b"*1\r\n$0\r\n\r"] {
            assert_eq!(
                scan_bytes(tail).damage,
                Some(Damage::Truncated),
                "{:?}",
                String::from_utf8_lossy(tail)
            );
        }
    }

    #[test]
    fn tx_groups_are_collected_and_checked() {
        let mut f = rec(&[b"TX", b"7", b"SET", b"a", b"1"]);
        f.extend(rec(&[b"tx", b"7", b"SET", b"b", b"2"]));
        f.extend(rec(&[b"TX", b"9", b"DEL", b"c"]));
        f.extend(rec(&[b"TXCOMMIT", b"7"]));
        f.extend(rec(&[b"TXCOMMITTED", b"8"]));
        let s = scan_bytes(&f);
        assert_eq!(s.damage, None);
        assert_eq!(s.tx.members, HashMap::from([(7, 2), (9, 1)]));
        assert_eq!(s.tx.commits, HashSet::from([7]));
        assert_eq!(s.tx.uncommitted(), vec![9]);

        let n = f.len() as u64;
        for (bad, reason) in [
            (rec(&[b"TX", b"1"]), "TX record without a txid and a command"),
            (rec(&[b"TX", b"-1", b"SET"]), "txid is not a decimal u64"),
            (rec(&[b"TX", b"123456789012345678901234567890", b"SET"]), "txid is not a decimal u64"),
            (rec(&[b"TXCOMMIT", b"1", b"2"]), "TXCOMMIT record without exactly one txid"),
            (rec(&[b"TXCOMMIT", b""]), "txid is not a decimal u64"),
        ] {
            let s = scan_bytes(&[f.as_slice(), &bad].concat());
            assert_eq!(s.damage, Some(Damage::Corrupt { offset: n, reason }));
            assert_eq!((s.records, s.valid_up_to), (5, n));
        }
    }

    /// A reader that hands out at most `step` bytes per read, to cross every buffer boundary.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.data.len().min(self.step).min(out.len());
            out[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    /// A few MB: values larger than the buffer, many small records spanning refills, and a
    /// cut inside the big value.
    #[test]
    fn big_files_stream() {
        let big = vec![b'x'; 3 * BUF_BYTES + 17];
        let mut f = rec(&[b"SET", b"big", &big]);
        let mut n = 1;
        while f.len() < 6 << 20 {
            f.extend(rec(&[b"SET", format!("key:{n}").as_bytes(), b"some value"]));
            n += 1;
        }
        f.extend(rec(&[b"TX", b"5", b"SET", b"x", &big]));
        f.extend(rec(&[b"TXCOMMIT", b"5"]));
        n += 2;
        for step in [BUF_BYTES, 4093, 1 << 16] {
            let s = scan(Trickle { data: &f, step }).unwrap();
            assert_eq!(
                (s.records, s.valid_up_to, s.size, s.damage.clone()),
                (n, f.len() as u64, f.len() as u64, None)
            );
            assert_eq!(s.tx.commits, HashSet::from([5]));
        }
        let last = rec(&[b"TX", b"5", b"SET", b"x", &big]).len() + rec(&[b"TXCOMMIT", b"5"]).len();
        let cut = f.len() - last + BUF_BYTES;
        let s = scan(&f[..cut]).unwrap();
        assert_eq!(s.damage, Some(Damage::Truncated));
        assert_eq!((s.records, s.valid_up_to, s.size), (n - 2, (f.len() - last) as u64, cut as u64));
        assert!(s.tx.members.is_empty(), "a TX record in the cut tail must not count");
    }
}
