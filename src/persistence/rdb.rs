//! The Redis RDB format: snapshot files (SAVE, BGSAVE, startup load, DEBUG RELOAD) and the
//! value encoding DUMP and RESTORE share with them.
//!
//! # File layout
//! `REDIS` and a 4-digit version, then a sequence of items, each led by one byte: AUX
//! (0xFA, two strings), SELECTDB (0xFE, a length), RESIZEDB (0xFB, two lengths), an expiry
//! for the next key (0xFC ms, 0xFD seconds), its LRU idle time (0xF8) or LFU counter (0xF9),
//! a function library (0xF5), module data (0xF7), EOF (0xFF, then an 8-byte CRC-64 of all
//! that came before); any other byte is a value type, followed by the key and the value.
//! Lengths take 1, 2, 5 or 9 bytes (top two bits of the first byte); a string is a length
//! and bytes, or an integer in 1, 2 or 4 bytes, or LZF-compressed (see `lzf`).
//!
//! # What is read
//! Versions 1 to 11: every type Redis 2.x to 7.2 writes. Strings; lists as plain lists (1),
//! ziplists (10), quicklists of ziplists (14) and quicklists of listpacks (18); sets as
//! plain sets (2), intsets (11) and listpacks (20); sorted sets with text (3) or binary (5)
//! scores, ziplists (12) and listpacks (17); hashes as plain hashes (4), zipmaps (9),
//! ziplists (13) and listpacks (16). Values are rebuilt with the constructors of
//! `crate::types`, under this server's encoding limits, so each gets the encoding Redis 7.0
//! gives it when it loads the same data with the same limits (including Redis's one
//! leniency: a packed hash or sorted set is only converted for its entry count, not for the
//! length of its values). Streams and module values stop the
//! load with an error naming the key (shardis has neither); module auxiliary data too;
//! function libraries are skipped with a warning. Empty collections are skipped, as Redis
//! does; keys whose expiry has passed are skipped (as a Redis master does).
//!
//! # What is written
//! Version 10, which Redis 7.0 and later load: the aux fields Redis writes (redis-ver,
//! redis-bits, ctime, used-mem, aof-base), then per database SELECTDB and RESIZEDB, the keys
//! with EXPIRETIME_MS before those with a TTL, EOF and the CRC (0 with `rdbchecksum no`, as
//! Redis). Strings that are integers of up to 32 bits are stored as integers and strings
//! longer than 20 bytes are LZF-compressed when that saves space (`rdbcompression yes`),
//! exactly as Redis decides. Collections use the simplest types Redis 7.0 reads back into
//! its usual encodings: lists as quicklists of listpacks (one per shardis list node, whose
//! entries are already in listpack format), integer sets as intsets, other sets as plain
//! sets, hashes as plain hashes, sorted sets with binary scores.
//!
//! A snapshot is written in sections: the header (`file_header`), one section per shard
//! (`shard_section`, each with its own SELECTDB/RESIZEDB, which Redis's loader accepts
//! repeated), and the trailer (`file_trailer`). Loading (`load_into_shard`) reads a whole file
//! and keeps only the keys a filter accepts, skipping the others without building them, so
//! every core can load its share of one file in parallel.

mod decode;
mod encode;
mod packed;

use crate::config::Config;
use crate::shard::{Entry, Shard, Value};
use decode::Reader;
pub use encode::Encoder;

/// The version snapshots and DUMP payloads are written in (Redis 7.0's).
pub const VERSION_WRITTEN: u16 = 10;
/// The newest version read (Redis 7.2's).
pub const VERSION_MAX: u16 = 11;

/// Value types (the byte before a key).
pub(crate) mod kind {
    pub const STRING: u8 = 0;
    pub const LIST: u8 = 1;
    pub const SET: u8 = 2;
    pub const ZSET: u8 = 3;
    pub const HASH: u8 = 4;
    pub const ZSET_2: u8 = 5;
    pub const MODULE_PRE_GA: u8 = 6;
    pub const MODULE_2: u8 = 7;
    pub const HASH_ZIPMAP: u8 = 9;
    pub const LIST_ZIPLIST: u8 = 10;
    pub const SET_INTSET: u8 = 11;
    pub const ZSET_ZIPLIST: u8 = 12;
    pub const HASH_ZIPLIST: u8 = 13;
    pub const LIST_QUICKLIST: u8 = 14;
    pub const STREAM_LISTPACKS: u8 = 15;
    pub const HASH_LISTPACK: u8 = 16;
    pub const ZSET_LISTPACK: u8 = 17;
    pub const LIST_QUICKLIST_2: u8 = 18;
    pub const STREAM_LISTPACKS_2: u8 = 19;
    pub const SET_LISTPACK: u8 = 20;
    pub const STREAM_LISTPACKS_3: u8 = 21;

    /// Whether `t` is a value type some Redis version writes.
    pub fn is_value_type(t: u8) -> bool {
        matches!(t, 0..=7 | 9..=21)
    }
}

/// Opcodes (bytes that are not value types).
mod op {
    pub const FUNCTION2: u8 = 0xF5;
    pub const FUNCTION_PRE_GA: u8 = 0xF6;
    pub const MODULE_AUX: u8 = 0xF7;
    pub const IDLE: u8 = 0xF8;
    pub const FREQ: u8 = 0xF9;
    pub const AUX: u8 = 0xFA;
    pub const RESIZEDB: u8 = 0xFB;
    pub const EXPIRETIME_MS: u8 = 0xFC;
    pub const EXPIRETIME: u8 = 0xFD;
    pub const SELECTDB: u8 = 0xFE;
    pub const EOF: u8 = 0xFF;
}

/// What went wrong reading RDB data, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    pub offset: usize,
    pub what: String,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (at byte offset {})", self.what, self.offset)
    }
}

/// The encoding limits values are rebuilt under (from the config, as a write would use).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub list_fill: i64,
    pub hash: crate::types::hash::Limits,
    pub set_max_intset: u64,
    pub zset: crate::types::zset::Limits,
}

impl Limits {
    pub fn from_config(c: &Config) -> Limits {
        Limits {
            list_fill: c.list_max_listpack_size,
            hash: crate::types::hash::Limits {
                entries: c.hash_max_listpack_entries,
                value: c.hash_max_listpack_value,
            },
            set_max_intset: c.set_max_intset_entries,
            zset: crate::types::zset::Limits {
                max_entries: c.zset_max_listpack_entries,
                max_value: c.zset_max_listpack_value,
            },
        }
    }
}

// ---------------------------------------------------------------------------------------------
// DUMP and RESTORE

/// Why a RESTORE payload was refused (Redis's two errors).
#[derive(Debug, Clone, PartialEq)]
pub enum RestoreError {
    /// Too short, a version newer than we read, or a checksum that does not match.
    VersionOrChecksum,
    /// The value itself does not decode (or is an empty collection, or a type we lack).
    BadFormat(String),
}

/// A DUMP payload: value type, value, RDB version (2 bytes LE), CRC-64 of all that (8 bytes LE).
pub fn dump_payload(value: &Value, compress: bool) -> Vec<u8> {
    let mut enc = Encoder::new(compress);
    enc.buf.push(encode::value_type(value));
    enc.value(value);
    enc.buf.extend_from_slice(&VERSION_WRITTEN.to_le_bytes());
    let crc = super::crc64::crc64(&enc.buf);
    enc.buf.extend_from_slice(&crc.to_le_bytes());
    enc.buf
}

/// Decodes a RESTORE payload into a value built under `limits`.
pub fn restore_payload(payload: &[u8], limits: &Limits) -> Result<Value, RestoreError> {
    if payload.len() < 10 {
        return Err(RestoreError::VersionOrChecksum);
    }
    let (body, footer) = payload.split_at(payload.len() - 10);
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    let crc = u64::from_le_bytes(footer[2..].try_into().expect("8 bytes"));
    if version > VERSION_MAX || super::crc64::crc64(&payload[..payload.len() - 8]) != crc {
        return Err(RestoreError::VersionOrChecksum);
    }
    let mut r = Reader::new(body);
    let bad = |e: Error| RestoreError::BadFormat(e.to_string());
    let t = r.u8().map_err(bad)?;
    if !kind::is_value_type(t) {
        return Err(RestoreError::BadFormat(format!("unknown value type {t}")));
    }
    match r.value(t, limits).map_err(bad)? {
        Some(v) => Ok(v),
        None => Err(RestoreError::BadFormat("empty collection".into())),
    }
}

// ---------------------------------------------------------------------------------------------
// Writing snapshots

/// The header of a snapshot: magic, version and aux fields.
pub fn file_header(redis_version: &str, used_mem: u64, now_secs: u64) -> Vec<u8> {
    let mut enc = Encoder::new(false);
    enc.buf.extend_from_slice(format!("REDIS{VERSION_WRITTEN:04}").as_bytes());
    enc.aux(b"redis-ver", redis_version.as_bytes());
    enc.aux_int(b"redis-bits", 64);
    enc.aux_int(b"ctime", now_secs as i64);
    enc.aux_int(b"used-mem", used_mem as i64);
    enc.aux_int(b"aof-base", 0);
    enc.buf
}

/// One shard's keys: per non-empty database, SELECTDB, RESIZEDB and its live keys. Runs
/// synchronously on the shard's core (so it sees one moment of the shard).
pub fn shard_section(shard: &Shard, compress: bool, now_ms: u64) -> Vec<u8> {
    let mut enc = Encoder::new(compress);
    for (i, db) in shard.dbs.iter().enumerate() {
        if db.is_empty() {
            continue;
        }
        enc.buf.push(op::SELECTDB);
        enc.length(i as u64);
        enc.buf.push(op::RESIZEDB);
        enc.length(db.len() as u64);
        enc.length(db.volatile.len() as u64);
        for (key, entry) in db.dict.iter() {
            if !entry.is_expired(now_ms) {
                enc.key_value(key, entry);
            }
        }
    }
    enc.buf
}

/// A snapshot walk's output as an RDB section (see `cow`): SELECTDB whenever the database
/// changes (keys written ahead of the walk can come from any database), then each key.
pub struct SectionSink {
    enc: Encoder,
    db: Option<usize>,
}

pub fn section_sink(compress: bool) -> Box<dyn super::cow::Sink> {
    Box::new(SectionSink { enc: Encoder::new(compress), db: None })
}

impl super::cow::Sink for SectionSink {
    fn key(&mut self, db: usize, key: &[u8], entry: &Entry) {
        if self.db != Some(db) {
            self.enc.buf.push(op::SELECTDB);
            self.enc.length(db as u64);
            self.db = Some(db);
        }
        self.enc.key_value(key, entry);
    }

    fn finish(self: Box<Self>) -> Vec<u8> {
        self.enc.buf
    }
}

/// The end of a snapshot: EOF and the CRC-64 of everything before it, EOF included (pass the
/// CRC of everything before the EOF byte; `None` writes 0, as `rdbchecksum no` does).
pub fn file_trailer(crc_before_eof: Option<u64>) -> [u8; 9] {
    let mut t = [0u8; 9];
    t[0] = op::EOF;
    let crc = crc_before_eof.map_or(0, |c| super::crc64::update(c, &[op::EOF]));
    t[1..].copy_from_slice(&crc.to_le_bytes());
    t
}

// ---------------------------------------------------------------------------------------------
// Loading snapshots

/// What a load did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct LoadStats {
    pub version: u16,
    /// Keys stored in the shard.
    pub loaded: u64,
    /// Keys skipped because their expiry had passed.
    pub expired: u64,
    /// Keys skipped because they belong to another shard.
    pub foreign: u64,
    /// Empty collections skipped.
    pub empty: u64,
    /// Function libraries skipped (shardis has no functions).
    pub functions_skipped: u64,
    /// The `redis-ver` aux field, when present.
    pub redis_ver: Option<String>,
}

/// Whether to verify the file's CRC (`rdbchecksum`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Checksum {
    Verify,
    Skip,
}

/// Loads an RDB file's keys that `keep` accepts into `shard` (values built under the limits
/// of `config`); keys whose expiry is before `now_ms` are skipped. The shard's databases are
/// not cleared first. Errors name the byte offset where the data went wrong.
pub fn load_into_shard(
    bytes: &[u8],
    shard: &mut Shard,
    config: &Config,
    keep: impl Fn(&[u8]) -> bool,
    now_ms: u64,
) -> Result<LoadStats, String> {
    let mut loader = Loader::new(bytes, config, now_ms);
    let checksum = if config.rdbchecksum { Checksum::Verify } else { Checksum::Skip };
    loader.file(shard, &keep, checksum).map_err(|e| e.to_string())?;
    Ok(loader.stats)
}

/// Loads the keys of one `shard_section` (no header, no trailer) into `shard`.
pub fn load_section(
    section: &[u8],
    shard: &mut Shard,
    config: &Config,
    now_ms: u64,
) -> Result<LoadStats, String> {
    let mut loader = Loader::new(section, config, now_ms);
    loader.stats.version = VERSION_WRITTEN;
    match loader.items(shard, &|_| true) {
        Ok(false) => Ok(loader.stats),
        Ok(true) => Err("EOF inside a snapshot section".into()),
        Err(e) => Err(e.to_string()),
    }
}

struct Loader<'a> {
    r: Reader<'a>,
    limits: Limits,
    stats: LoadStats,
    db: usize,
    /// The expiry and idle time the next key gets (from the opcodes before it).
    expire_ms: Option<i64>,
    idle_secs: Option<u64>,
    now_ms: u64,
}

impl<'a> Loader<'a> {
    fn new(bytes: &'a [u8], config: &Config, now_ms: u64) -> Loader<'a> {
        Loader {
            r: Reader::new(bytes),
            limits: Limits::from_config(config),
            stats: LoadStats::default(),
            db: 0,
            expire_ms: None,
            idle_secs: None,
            now_ms,
        }
    }

    /// A whole file: header, items up to EOF, checksum.
    fn file(
        &mut self,
        shard: &mut Shard,
        keep: &dyn Fn(&[u8]) -> bool,
        checksum: Checksum,
    ) -> Result<(), Error> {
        self.stats.version = self.header()?;
        if !self.items(shard, keep)? {
            return Err(self.r.error(self.r.pos, "unexpected end of data before EOF (truncated file?)"));
        }
        self.trailer(checksum)
    }

    /// Items until EOF (returns true) or the end of the input (false).
    fn items(&mut self, shard: &mut Shard, keep: &dyn Fn(&[u8]) -> bool) -> Result<bool, Error> {
        while self.r.pos < self.r.buf.len() {
            let at = self.r.pos;
            let t = self.r.u8()?;
            match t {
                op::EOF => return Ok(true),
                op::SELECTDB => {
                    let db = self.r.length()?;
                    if db >= shard.dbs.len() as u64 {
                        return Err(Error {
                            offset: at,
                            what: format!(
                                "the file selects database {db}, but this server has {} (raise `databases`)",
                                shard.dbs.len()
                            ),
                        });
                    }
                    self.db = db as usize;
                }
                op::RESIZEDB => {
                    self.r.length()?;
                    self.r.length()?;
                }
                // Both are signed, as Redis reads them: a time before 1970 is long past.
                op::EXPIRETIME_MS => self.expire_ms = Some(self.r.u64_le()? as i64),
                op::EXPIRETIME => self.expire_ms = Some(self.r.u32_le()? as i32 as i64 * 1000),
                op::IDLE => self.idle_secs = Some(self.r.length()?),
                op::FREQ => {
                    self.r.u8()?;
                }
                op::AUX => self.aux()?,
                op::FUNCTION2 => {
                    self.r.skip_string()?;
                    self.stats.functions_skipped += 1;
                }
                op::FUNCTION_PRE_GA => {
                    return Err(Error {
                        offset: at,
                        what: "pre-release function format not supported".into(),
                    });
                }
                op::MODULE_AUX => return Err(self.r.module_aux_error(at)),
                t if kind::is_value_type(t) => self.key(shard, t, keep)?,
                t => return Err(Error { offset: at, what: format!("unknown value type or opcode {t}") }),
            }
        }
        Ok(false)
    }

    /// Reads `REDISnnnn`; returns the version.
    fn header(&mut self) -> Result<u16, Error> {
        let magic = self
            .r
            .take(9)
            .map_err(|_| Error { offset: 0, what: "file too short for an RDB header".into() })?;
        if &magic[..5] != b"REDIS" {
            return Err(Error { offset: 0, what: "wrong signature (not an RDB file)".into() });
        }
        let version = std::str::from_utf8(&magic[5..]).ok().and_then(|v| v.parse::<u16>().ok());
        match version {
            Some(v) if (1..=VERSION_MAX).contains(&v) => Ok(v),
            _ => Err(Error {
                offset: 5,
                what: format!("can't handle RDB format version {}", String::from_utf8_lossy(&magic[5..])),
            }),
        }
    }

    fn aux(&mut self) -> Result<(), Error> {
        let key = self.r.string()?.into_vec();
        let value = self.r.string()?.into_vec();
        if key == b"redis-ver" {
            self.stats.redis_ver = Some(String::from_utf8_lossy(&value).into_owned());
        }
        Ok(())
    }

    /// After EOF: the checksum (from version 5 on), checked unless disabled or written as 0.
    fn trailer(&mut self, checksum: Checksum) -> Result<(), Error> {
        if self.stats.version < 5 {
            return Ok(());
        }
        let covered = self.r.pos;
        let stored = self.r.u64_le()?;
        if checksum == Checksum::Verify && stored != 0 {
            let actual = super::crc64::crc64(&self.r.buf[..covered]);
            if actual != stored {
                return Err(Error {
                    offset: covered,
                    what: format!("wrong RDB checksum: expected {stored:016x}, got {actual:016x}"),
                });
            }
        }
        Ok(())
    }

    /// One key and its value: built and stored when it is ours and alive, skipped otherwise.
    fn key(&mut self, shard: &mut Shard, t: u8, keep: &dyn Fn(&[u8]) -> bool) -> Result<(), Error> {
        let key_at = self.r.pos;
        let key = self.r.string()?.into_vec();
        let (expire_ms, idle) = (self.expire_ms.take(), self.idle_secs.take());
        let named = |e: Error| Error {
            offset: e.offset,
            what: format!("key '{}' (db {}): {}", String::from_utf8_lossy(&key), self.db, e.what),
        };
        if !keep(&key) {
            self.stats.foreign += 1;
            return self.r.skip_value(t).map_err(named);
        }
        if expire_ms.is_some_and(|t| t < self.now_ms as i64) {
            self.stats.expired += 1;
            return self.r.skip_value(t).map_err(named);
        }
        let Some(value) = self.r.value(t, &self.limits).map_err(named)? else {
            self.stats.empty += 1;
            return Ok(());
        };
        let db = &mut shard.dbs[self.db];
        if db.dict.contains_key(&key) {
            return Err(Error {
                offset: key_at,
                what: format!("duplicated key '{}' in db {}", String::from_utf8_lossy(&key), self.db),
            });
        }
        let now_secs = (self.now_ms / 1000) as u32;
        let access_secs = idle.map_or(now_secs, |i| now_secs.saturating_sub(i.min(u32::MAX as u64) as u32));
        let version = super::cow::current_epoch();
        db.insert(&key, Entry { value, expire_at_ms: expire_ms.unwrap_or(0) as u64, access_secs, version });
        self.stats.loaded += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
