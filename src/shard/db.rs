//! One logical database of one shard: the key -> entry dictionary, the index of keys with a
//! TTL (what active expiry samples), and lazy expiry on access.

use super::value::Value;
use crate::types::dict::Dict;

/// A key's value with its absolute expiry (unix ms, 0 = none) and last access (for IDLETIME).
#[derive(Debug)]
pub struct Entry {
    pub value: Value,
    pub expire_at_ms: u64,
    pub access_secs: u32,
    /// The snapshot epoch this entry is already part of (see `persistence::cow`).
    pub version: u32,
}

impl Entry {
    pub fn new(value: Value) -> Entry {
        Entry { value, expire_at_ms: 0, access_secs: 0, version: crate::persistence::cow::current_epoch() }
    }

    /// Redis keeps a key alive through the millisecond of its expiry time.
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expire_at_ms != 0 && self.expire_at_ms < now_ms
    }
}

/// Keys removed by expiry, with their database, until the AOF logs them.
pub type ExpiredSink = std::rc::Rc<std::cell::RefCell<Vec<(usize, Box<[u8]>)>>>;

#[derive(Default)]
pub struct Db {
    pub dict: Dict<Entry>,
    /// Keys with a TTL; mirrors `Entry::expire_at_ms != 0` so active expiry samples only them.
    pub volatile: Dict<()>,
    /// Keys removed by lazy or active expiry since the last read of this counter.
    pub expired_count: u64,
    /// This db's index and where expiry reports removed keys (when the AOF is on).
    pub expired_sink: Option<(usize, ExpiredSink)>,
}

impl Db {
    pub fn len(&self) -> usize {
        self.dict.len()
    }

    pub fn is_empty(&self) -> bool {
        self.dict.is_empty()
    }

    /// Looks a key up for reading or writing, deleting it first if its TTL has passed.
    pub fn lookup(&mut self, key: &[u8], now_ms: u64) -> Option<&mut Entry> {
        let entry = self.dict.get_mut(key)? as *mut Entry;
        // SAFETY: `entry` points into `self.dict`, which is not touched between here and the
        // return below except by `expire_key` on the path that does not return the pointer.
        // (This is the borrow checker's known conditional-return limitation.)
        if unsafe { (*entry).is_expired(now_ms) } {
            self.expire_key(key);
            return None;
        }
        Some(unsafe { &mut *entry })
    }

    /// Read-only existence check that does not delete (for paths holding `&self`).
    pub fn peek(&self, key: &[u8], now_ms: u64) -> Option<&Entry> {
        self.dict.get(key).filter(|e| !e.is_expired(now_ms))
    }

    pub fn contains(&mut self, key: &[u8], now_ms: u64) -> bool {
        self.lookup(key, now_ms).is_some()
    }

    /// Stores `entry` under `key`, replacing any previous value and TTL. The key is copied
    /// only when it is new.
    pub fn insert(&mut self, key: &[u8], entry: Entry) {
        let volatile = entry.expire_at_ms != 0;
        let was_volatile = match self.dict.get_mut(key) {
            Some(slot) => std::mem::replace(slot, entry).expire_at_ms != 0,
            None => {
                self.dict.insert_slice(key, entry);
                false
            }
        };
        if was_volatile && !volatile {
            self.volatile.remove_value(key);
        } else if volatile && !was_volatile {
            self.volatile.insert_slice(key, ());
        }
    }

    /// SET's store: `value` under `key`, expiring at `at` (0: never), with the entry's access
    /// time and snapshot epoch. A string of the same form and size with no TTL on either side
    /// is overwritten in place (`Str::overwrite`); anything else is replaced by a new entry.
    pub fn set_string(&mut self, key: &[u8], value: &[u8], at: u64, access_secs: u32, version: u32) {
        if at == 0
            && let Some(e) = self.dict.get_mut(key)
            && e.expire_at_ms == 0
            && let Value::Str(s) = &mut e.value
            && s.overwrite(value)
        {
            e.access_secs = access_secs;
            e.version = version;
            return;
        }
        let entry = Entry { value: Value::from_bytes(value), expire_at_ms: at, access_secs, version };
        self.insert(key, entry);
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let entry = self.dict.remove_value(key)?;
        if entry.expire_at_ms != 0 {
            self.volatile.remove_value(key);
        }
        Some(entry)
    }

    fn expire_key(&mut self, key: &[u8]) {
        self.remove(key);
        self.expired_count += 1;
        if let Some((db, sink)) = &self.expired_sink {
            sink.borrow_mut().push((*db, key.into()));
        }
    }

    /// Sets or clears (0) the TTL of an existing key; returns false if the key is missing.
    pub fn set_expire(&mut self, key: &[u8], at_ms: u64) -> bool {
        let Some(entry) = self.dict.get_mut(key) else { return false };
        let was = entry.expire_at_ms;
        entry.expire_at_ms = at_ms;
        if was == 0 && at_ms != 0 {
            self.volatile.insert_slice(key, ());
        } else if was != 0 && at_ms == 0 {
            self.volatile.remove_value(key);
        }
        true
    }

    pub fn clear(&mut self) {
        self.dict.clear();
        self.volatile.clear();
    }

    /// One round of active expiry: samples up to `samples` keys with a TTL and deletes the
    /// expired ones. Returns (sampled, expired) so the caller can decide to go on, as Redis's
    /// adaptive cycle does.
    pub fn expire_sample(&mut self, rng: &mut u64, samples: usize, now_ms: u64) -> (usize, usize) {
        let mut dead: Vec<Box<[u8]>> = Vec::new();
        let mut seen = 0;
        let dict = &self.dict;
        self.volatile.sample(rng, samples, |key, _| {
            seen += 1;
            if dict.get(key).is_some_and(|e| e.is_expired(now_ms)) {
                dead.push(key.into());
            }
        });
        for key in &dead {
            self.expire_key(key);
        }
        (seen, dead.len())
    }
}
