//! WATCH on one shard: which clients watch which of its keys, and which of those clients saw
//! a watched key change since. Clients are named by id (unique across cores), so a client
//! on any core can watch keys of any shard.
//!
//! A key counts as changed when a command changes it (see `dispatch::exec_local`, which
//! compares a watched key before and after a write), when FLUSHDB/FLUSHALL/SWAPDB empty or
//! replace it, and, checked at EXEC, when it existed at WATCH time and has expired since
//! (Redis 7's rule; a key already expired when watched does not fail EXEC).

use ahash::{AHashMap, AHashSet};

type DbKey = (u16, Box<[u8]>);

#[derive(Default)]
pub struct Registry {
    /// Watchers of each watched key.
    keys: AHashMap<DbKey, Vec<u64>>,
    /// What each client watches here, and whether the key existed when watched.
    clients: AHashMap<u64, Vec<(DbKey, bool)>>,
    /// Clients whose EXEC must fail.
    dirty: AHashSet<u64>,
}

impl Registry {
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn watch(&mut self, client: u64, db: usize, key: &[u8], existed: bool) {
        let id: DbKey = (db as u16, key.into());
        let watchers = self.keys.entry(id.clone()).or_default();
        if !watchers.contains(&client) {
            watchers.push(client);
            self.clients.entry(client).or_default().push((id, existed));
        }
    }

    pub fn is_watched(&self, db: usize, key: &[u8]) -> bool {
        !self.keys.is_empty() && self.keys.contains_key(&(db as u16, Box::from(key)))
    }

    /// Marks every watcher of the key: their EXEC will fail.
    pub fn touch(&mut self, db: usize, key: &[u8]) {
        if self.keys.is_empty() {
            return;
        }
        if let Some(watchers) = self.keys.get(&(db as u16, Box::from(key))) {
            self.dirty.extend(watchers.iter().copied());
        }
    }

    /// Touches every watched key of `db` for which `exists` holds (FLUSHDB, SWAPDB).
    pub fn touch_db(&mut self, db: usize, mut exists: impl FnMut(&[u8]) -> bool) {
        for ((d, key), watchers) in &self.keys {
            if *d as usize == db && exists(key) {
                self.dirty.extend(watchers.iter().copied());
            }
        }
    }

    /// Whether `client`'s EXEC must fail because of its keys on this shard: one was touched,
    /// or one that existed when watched no longer does (`alive` answers for a key now).
    pub fn is_dirty(&self, client: u64, mut alive: impl FnMut(usize, &[u8]) -> bool) -> bool {
        if self.dirty.contains(&client) {
            return true;
        }
        self.clients
            .get(&client)
            .is_some_and(|keys| keys.iter().any(|((db, key), existed)| *existed && !alive(*db as usize, key)))
    }

    /// Forgets everything `client` watches here.
    pub fn unwatch(&mut self, client: u64) {
        self.dirty.remove(&client);
        let Some(keys) = self.clients.remove(&client) else { return };
        for (id, _) in keys {
            if let Some(watchers) = self.keys.get_mut(&id) {
                watchers.retain(|&c| c != client);
                if watchers.is_empty() {
                    self.keys.remove(&id);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn touching_a_watched_key_dirties_its_watchers_only() {
        let mut r = Registry::default();
        r.watch(1, 0, b"a", true);
        r.watch(2, 0, b"b", false);
        r.touch(0, b"a");
        r.touch(1, b"b");
        assert!(r.is_dirty(1, |_, _| true));
        assert!(!r.is_dirty(2, |_, _| true));
        r.unwatch(1);
        assert!(!r.is_dirty(1, |_, _| true));
        assert!(!r.is_watched(0, b"a"));
        assert!(r.is_watched(0, b"b"));
    }

    #[test]
    fn a_key_that_expired_since_watch_is_dirty_but_a_stale_one_is_not() {
        let mut r = Registry::default();
        r.watch(1, 0, b"a", true);
        r.watch(2, 0, b"a", false);
        assert!(r.is_dirty(1, |_, _| false));
        assert!(!r.is_dirty(2, |_, _| false));
    }
}
