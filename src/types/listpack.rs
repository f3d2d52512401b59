//! A listpack: a sequence of byte strings packed into one contiguous buffer, as Redis's
//! `listpack.c` lays them out, so small lists and hashes cost about what they cost in Redis.
//!
//! Each entry is `header payload backlen`:
//! - the header says what follows: an integer of 7, 13, 16, 24, 32 or 64 bits (strings that
//!   are canonical decimal integers are stored as integers), or a string of 6-, 12- or 32-bit
//!   length followed by its bytes;
//! - `backlen` is the size of `header payload` in 1 to 5 bytes of 7 bits, readable from its
//!   last byte backwards, so the list can be walked from either end. Hashes are only ever
//!   walked forward, so theirs (`ForwardListpack`) leave it out: one byte less per field and
//!   per value, which moves a typical 10-field hash into the next smaller size class.
//!
//! The entries are one allocation, as Redis's listpack; its length and entry count (Redis's
//! 6-byte header) live in the 16-byte handle instead, and Redis's end byte is not stored, so a
//! small hash or list fits inside its key's entry with no box of its own, and its allocation
//! holds only entries. The allocation is sized to the allocator's size class of the encoded
//! length, not doubled: small listpacks cost what they encode, as Redis's (which reallocs to
//! the exact size on every change), while a push still reallocs only when it crosses a class,
//! and classes grow by 1/8 past 1 KB so big nodes stay amortized O(1) per byte. Positions are
//! byte offsets of entries; an offset equal to `bytes()` is the end.

use crate::resp::parse::parse_i64;
use std::alloc::Layout;
use std::ptr::NonNull;

/// One element as stored: integers are given back as numbers, so no formatting is paid for
/// unless the caller wants the bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Elem<'a> {
    Int(i64),
    Str(&'a [u8]),
}

impl<'a> Elem<'a> {
    /// The element's bytes; integers are formatted into `tmp`.
    pub fn bytes<'t>(&self, tmp: &'t mut [u8; 24]) -> &'t [u8]
    where
        'a: 't,
    {
        match *self {
            Elem::Str(s) => s,
            Elem::Int(i) => {
                let n = crate::resp::write::format_i64(tmp, i);
                &tmp[..n]
            }
        }
    }

    pub fn to_vec(&self) -> Vec<u8> {
        let mut tmp = [0u8; 24];
        self.bytes(&mut tmp).to_vec()
    }

    /// Whether the element equals `b`, which the caller may have pre-parsed as `b_int`.
    pub fn eq_bytes(&self, b: &[u8], b_int: Option<i64>) -> bool {
        match *self {
            Elem::Str(s) => s == b,
            Elem::Int(i) => b_int == Some(i),
        }
    }

    /// Length in bytes of the element's string form.
    pub fn len(&self) -> usize {
        match *self {
            Elem::Str(s) => s.len(),
            Elem::Int(i) => {
                let mut tmp = [0u8; 24];
                crate::resp::write::format_i64(&mut tmp, i)
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A string as the listpack stores it: an integer if it is one in canonical form.
pub fn as_int(b: &[u8]) -> Option<i64> {
    if b.len() <= 20 { parse_i64(b) } else { None }
}

/// `BACK`: whether entries carry a backlen (lists) or not (hashes, see the module doc).
pub struct Listpack<const BACK: bool = true> {
    /// The encoded entries, in an allocation of `alloc_class(used)` bytes (dangling when empty).
    ptr: NonNull<u8>,
    used: u32,
    count: u32,
}

/// A listpack walked only forward: its entries have no backlen (`header payload`).
pub type ForwardListpack = Listpack<false>;

// SAFETY: a Listpack owns its allocation alone, like a Box<[u8]>.
unsafe impl<const BACK: bool> Send for Listpack<BACK> {}
unsafe impl<const BACK: bool> Sync for Listpack<BACK> {}

impl<const BACK: bool> Default for Listpack<BACK> {
    fn default() -> Listpack<BACK> {
        Listpack { ptr: NonNull::dangling(), used: 0, count: 0 }
    }
}

impl<const BACK: bool> Clone for Listpack<BACK> {
    fn clone(&self) -> Listpack<BACK> {
        let mut copy = Listpack::new();
        copy.resize(self.bytes());
        copy.buf_mut().copy_from_slice(self.buf());
        copy.count = self.count;
        copy
    }
}

impl<const BACK: bool> Drop for Listpack<BACK> {
    fn drop(&mut self) {
        self.resize(0);
    }
}

fn layout(cap: usize) -> Layout {
    Layout::from_size_align(cap, 1).expect("listpack size fits a layout")
}

/// The allocation size for a listpack whose entries take `n` bytes: the size class mimalloc
/// (the server's allocator) serves it from, so growing within it needs no reallocation and no
/// byte of the class is wasted: 8-byte steps up to 64 bytes, then four classes per doubling.
fn alloc_class(n: usize) -> usize {
    if n <= 64 {
        n.div_ceil(8).max(1) * 8
    } else {
        let step = n.next_power_of_two() / 8;
        n.div_ceil(step) * step
    }
}

impl<const BACK: bool> PartialEq for Listpack<BACK> {
    fn eq(&self, other: &Listpack<BACK>) -> bool {
        self.buf() == other.buf()
    }
}

impl<const BACK: bool> Eq for Listpack<BACK> {}

impl<const BACK: bool> std::fmt::Debug for Listpack<BACK> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

const STR6: u8 = 0x80;
const INT13: u8 = 0xC0;
const STR12: u8 = 0xE0;
const STR32: u8 = 0xF0;
const INT16: u8 = 0xF1;
const INT24: u8 = 0xF2;
const INT32: u8 = 0xF3;
const INT64: u8 = 0xF4;

/// Encodes `v` (header and payload, no backlen) into `out`; returns its length.
fn encode<'v>(v: &'v [u8], out: &mut [u8; 9]) -> (usize, Option<&'v [u8]>) {
    if let Some(i) = as_int(v) {
        let n = if (0..=127).contains(&i) {
            out[0] = i as u8;
            1
        } else if (-4096..=4095).contains(&i) {
            let u = (i as u16) & 0x1FFF;
            out[0] = INT13 | (u >> 8) as u8;
            out[1] = u as u8;
            2
        } else if (-32768..=32767).contains(&i) {
            out[0] = INT16;
            out[1..3].copy_from_slice(&(i as i16).to_le_bytes());
            3
        } else if (-(1 << 23)..(1 << 23)).contains(&i) {
            out[0] = INT24;
            out[1..4].copy_from_slice(&(i as i32).to_le_bytes()[..3]);
            4
        } else if (i32::MIN as i64..=i32::MAX as i64).contains(&i) {
            out[0] = INT32;
            out[1..5].copy_from_slice(&(i as i32).to_le_bytes());
            5
        } else {
            out[0] = INT64;
            out[1..9].copy_from_slice(&i.to_le_bytes());
            9
        };
        return (n, None);
    }
    let len = v.len();
    let n = if len < 64 {
        out[0] = STR6 | len as u8;
        1
    } else if len < 4096 {
        out[0] = STR12 | (len >> 8) as u8;
        out[1] = len as u8;
        2
    } else {
        out[0] = STR32;
        out[1..5].copy_from_slice(&(len as u32).to_le_bytes());
        5
    };
    (n, Some(v))
}

/// Bytes the backlen of an entry of `l` bytes takes.
fn backlen_size(l: usize) -> usize {
    match l {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    }
}

/// Writes the backlen of an entry of `l` bytes into `out` (exactly `backlen_size(l)` bytes).
fn write_backlen(out: &mut [u8], l: usize) {
    let n = backlen_size(l);
    for (i, k) in (0..n).rev().enumerate() {
        let part = ((l >> (7 * k)) & 127) as u8;
        // Every byte but the first (lowest address) carries the "more before me" bit.
        out[i] = if k == n - 1 { part } else { part | 128 };
    }
}

/// Size of the whole entry (header, payload, backlen) that `v` becomes in a list's listpack.
pub fn entry_size(v: &[u8]) -> usize {
    entry_size_in::<true>(v)
}

/// Size of the entry `v` becomes: header and payload, and the backlen when `BACK`.
fn entry_size_in<const BACK: bool>(v: &[u8]) -> usize {
    let mut hdr = [0u8; 9];
    let (n, payload) = encode(v, &mut hdr);
    let l = n + payload.map_or(0, <[u8]>::len);
    if BACK { l + backlen_size(l) } else { l }
}

/// Writes the entry `v` becomes into `out`, which is exactly `entry_size_in::<BACK>(v)` bytes.
fn write_entry<const BACK: bool>(v: &[u8], out: &mut [u8]) {
    let mut hdr = [0u8; 9];
    let (n, payload) = encode(v, &mut hdr);
    out[..n].copy_from_slice(&hdr[..n]);
    let mut l = n;
    if let Some(p) = payload {
        out[n..n + p.len()].copy_from_slice(p);
        l += p.len();
    }
    if BACK {
        write_backlen(&mut out[l..], l);
    }
}

impl<const BACK: bool> Listpack<BACK> {
    pub fn new() -> Listpack<BACK> {
        Listpack::default()
    }

    /// The encoded entries.
    fn buf(&self) -> &[u8] {
        // SAFETY: `ptr` holds `used` initialized bytes (or is dangling with `used` 0).
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.bytes()) }
    }

    fn buf_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `buf`, and `&mut self` makes the access unique.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.bytes()) }
    }

    fn set_count(&mut self, count: usize) {
        self.count = count as u32;
    }

    /// Makes the encoded length `used` (keeping the first `min(old, used)` bytes; new bytes are
    /// zero), reallocating when that changes the size class; frees the buffer when it is empty.
    fn resize(&mut self, used: usize) {
        assert!(used <= u32::MAX as usize, "listpack over 4 GB");
        let old = self.bytes();
        let cap = |n: usize| if n == 0 { 0 } else { alloc_class(n) };
        let (old_cap, new_cap) = (cap(old), cap(used));
        if old_cap != new_cap {
            // SAFETY: the allocation (if any) was made with `layout(old_cap)`; sizes are nonzero.
            let p = unsafe {
                if old_cap == 0 {
                    std::alloc::alloc(layout(new_cap))
                } else if new_cap == 0 {
                    std::alloc::dealloc(self.ptr.as_ptr(), layout(old_cap));
                    NonNull::<u8>::dangling().as_ptr()
                } else {
                    std::alloc::realloc(self.ptr.as_ptr(), layout(old_cap), new_cap)
                }
            };
            self.ptr = NonNull::new(p).unwrap_or_else(|| std::alloc::handle_alloc_error(layout(new_cap)));
        }
        if used > old {
            // SAFETY: the allocation holds at least `used` bytes.
            unsafe { std::ptr::write_bytes(self.ptr.as_ptr().add(old), 0, used - old) };
        }
        self.used = used as u32;
    }

    /// Makes room for `size` bytes at `off` by moving the bytes after it.
    fn open_gap(&mut self, off: usize, size: usize) {
        let old = self.bytes();
        self.resize(old + size);
        self.buf_mut().copy_within(off..old, off + size);
    }

    /// Removes the bytes `off..end`.
    fn close_gap(&mut self, off: usize, end: usize) {
        let old = self.bytes();
        self.buf_mut().copy_within(end..old, off);
        self.resize(old - (end - off));
    }

    pub fn len(&self) -> usize {
        self.count as usize
    }

    pub fn is_empty(&self) -> bool {
        self.used == 0
    }

    /// Bytes of encoded entries.
    pub fn bytes(&self) -> usize {
        self.used as usize
    }

    pub fn heap_bytes(&self) -> usize {
        if self.used == 0 { 0 } else { alloc_class(self.bytes()) }
    }

    /// Decodes the entry at `off`: (element, offset of the next entry).
    pub fn get(&self, off: usize) -> (Elem<'_>, usize) {
        let b = self.buf();
        let h = b[off];
        let (elem, l) = if h < 0x80 {
            (Elem::Int(h as i64), 1)
        } else if h & 0xC0 == STR6 {
            let len = (h & 0x3F) as usize;
            (Elem::Str(&b[off + 1..off + 1 + len]), 1 + len)
        } else if h & 0xE0 == INT13 {
            let u = (((h & 0x1F) as u16) << 8) | b[off + 1] as u16;
            // Sign-extend 13 bits.
            let v = ((u << 3) as i16 >> 3) as i64;
            (Elem::Int(v), 2)
        } else if h & 0xF0 == STR12 {
            let len = (((h & 0x0F) as usize) << 8) | b[off + 1] as usize;
            (Elem::Str(&b[off + 2..off + 2 + len]), 2 + len)
        } else {
            match h {
                STR32 => {
                    let len = u32::from_le_bytes(b[off + 1..off + 5].try_into().unwrap()) as usize;
                    (Elem::Str(&b[off + 5..off + 5 + len]), 5 + len)
                }
                INT16 => (Elem::Int(i16::from_le_bytes([b[off + 1], b[off + 2]]) as i64), 3),
                INT24 => {
                    let v = i32::from_le_bytes([0, b[off + 1], b[off + 2], b[off + 3]]) >> 8;
                    (Elem::Int(v as i64), 4)
                }
                INT32 => (Elem::Int(i32::from_le_bytes(b[off + 1..off + 5].try_into().unwrap()) as i64), 5),
                INT64 => (Elem::Int(i64::from_le_bytes(b[off + 1..off + 9].try_into().unwrap())), 9),
                _ => unreachable!("corrupt listpack header {h:#x}"),
            }
        };
        (elem, off + l + if BACK { backlen_size(l) } else { 0 })
    }

    /// Offset of the entry after the one at `off`.
    pub fn next(&self, off: usize) -> usize {
        self.get(off).1
    }

    pub fn first(&self) -> Option<usize> {
        (!self.is_empty()).then_some(0)
    }

    /// Offset of the entry at `index` (0-based; the caller checks it is in range), walking
    /// from whichever end is nearer (from the front only without backlens).
    pub fn seek(&self, index: usize) -> usize {
        debug_assert!(index < self.len());
        if !BACK || index <= self.len() / 2 {
            let mut off = 0;
            for _ in 0..index {
                off = self.next(off);
            }
            off
        } else {
            let mut off = self.bytes();
            for _ in index..self.len() {
                off = self.prev_entry(off).expect("index in range");
            }
            off
        }
    }

    pub fn iter(&self) -> Iter<'_, BACK> {
        Iter { lp: self, off: 0 }
    }

    pub fn push_back(&mut self, v: &[u8]) {
        self.insert_at(self.bytes(), v);
    }

    pub fn push_front(&mut self, v: &[u8]) {
        self.insert_at(0, v);
    }

    /// Inserts `v` as a new entry starting at `off` (before the entry there).
    pub fn insert_at(&mut self, off: usize, v: &[u8]) {
        let size = entry_size_in::<BACK>(v);
        let count = self.len();
        self.open_gap(off, size);
        write_entry::<BACK>(v, &mut self.buf_mut()[off..off + size]);
        self.set_count(count + 1);
    }

    /// Appends every element of `items` with one reallocation at most. A new small hash
    /// or list then gets one allocation of its final size, not one per size class crossed:
    /// the blocks those growth steps free leave holes in the allocator's pages (about 8 bytes
    /// of RSS per 10-field hash).
    pub fn extend_back<'v>(&mut self, items: impl Iterator<Item = &'v [u8]> + Clone) {
        let (old, count) = (self.bytes(), self.len());
        let (added, n) = items.clone().fold((0, 0), |(b, n), v| (b + entry_size_in::<BACK>(v), n + 1));
        self.resize(old + added);
        let mut off = old;
        for v in items {
            let size = entry_size_in::<BACK>(v);
            write_entry::<BACK>(v, &mut self.buf_mut()[off..off + size]);
            off += size;
        }
        self.set_count(count + n);
    }

    /// Removes `n` entries starting at `off`; returns the offset where the next entry now is.
    pub fn delete_range(&mut self, off: usize, n: usize) -> usize {
        let mut end = off;
        for _ in 0..n {
            end = self.next(end);
        }
        let count = self.len();
        self.close_gap(off, end);
        self.set_count(count - n);
        off
    }

    pub fn delete(&mut self, off: usize) -> usize {
        self.delete_range(off, 1)
    }

    /// Replaces the entry at `off` with `v`; returns the offset after the new entry.
    pub fn replace(&mut self, off: usize, v: &[u8]) -> usize {
        let end = self.next(off);
        let size = entry_size_in::<BACK>(v);
        let old = end - off;
        if size > old {
            self.open_gap(end, size - old);
        } else if size < old {
            self.close_gap(off + size, end);
        }
        write_entry::<BACK>(v, &mut self.buf_mut()[off..off + size]);
        off + size
    }

    /// Keeps only the entries for which `keep` is true, in one pass.
    pub fn retain(&mut self, mut keep: impl FnMut(Elem<'_>) -> bool) -> usize {
        let (mut read, mut write, mut removed) = (0, 0, 0);
        while read < self.bytes() {
            let (e, next) = self.get(read);
            if keep(e) {
                self.buf_mut().copy_within(read..next, write);
                write += next - read;
            } else {
                removed += 1;
            }
            read = next;
        }
        if removed > 0 {
            let count = self.len();
            self.resize(write);
            self.set_count(count - removed);
        }
        removed
    }

    /// Appends the raw entries of `other` after this one's.
    pub fn append(&mut self, other: &Listpack<BACK>) {
        let (old, count) = (self.bytes(), self.len());
        self.resize(old + other.bytes());
        self.buf_mut()[old..].copy_from_slice(other.buf());
        self.set_count(count + other.len());
    }

    /// Splits off the entries from `index` on into a new listpack.
    pub fn split_off(&mut self, index: usize) -> Listpack<BACK> {
        let off = if index == self.len() { self.bytes() } else { self.seek(index) };
        let mut tail = Listpack::new();
        tail.resize(self.bytes() - off);
        tail.buf_mut().copy_from_slice(&self.buf()[off..]);
        tail.set_count(self.len() - index);
        self.resize(off);
        self.set_count(index);
        tail
    }

    /// With backlens: the offset of the entry before the one that starts at (or the end at)
    /// `off`; None at 0.
    fn prev_entry(&self, off: usize) -> Option<usize> {
        debug_assert!(BACK, "only entries with a backlen can be walked backwards");
        if off == 0 {
            return None;
        }
        let mut pos = off - 1;
        let mut l = 0usize;
        let mut shift = 0;
        loop {
            let b = self.buf()[pos];
            l |= ((b & 127) as usize) << shift;
            if b & 128 == 0 {
                break;
            }
            shift += 7;
            pos -= 1;
        }
        Some(pos - l)
    }
}

/// What only a listpack with backlens can do: walk backwards, and be written to an RDB as is.
impl Listpack<true> {
    /// The encoded entries, in Redis's listpack entry format (RDB writes them as they are,
    /// between a listpack header and end byte).
    pub fn encoded(&self) -> &[u8] {
        self.buf()
    }

    /// Offset of the entry before the one that starts at (or the end at) `off`; None at 0.
    pub fn prev(&self, off: usize) -> Option<usize> {
        self.prev_entry(off)
    }

    pub fn last(&self) -> Option<usize> {
        self.prev(self.bytes())
    }

    /// Entries from the last to the first.
    pub fn iter_rev(&self) -> RevIter<'_> {
        RevIter { lp: self, off: self.bytes() }
    }
}

pub struct Iter<'a, const BACK: bool = true> {
    lp: &'a Listpack<BACK>,
    off: usize,
}

impl<'a, const BACK: bool> Iterator for Iter<'a, BACK> {
    type Item = Elem<'a>;
    fn next(&mut self) -> Option<Elem<'a>> {
        if self.off >= self.lp.bytes() {
            return None;
        }
        let (e, next) = self.lp.get(self.off);
        self.off = next;
        Some(e)
    }
}

pub struct RevIter<'a> {
    lp: &'a Listpack,
    off: usize,
}

impl<'a> Iterator for RevIter<'a> {
    type Item = Elem<'a>;
    fn next(&mut self) -> Option<Elem<'a>> {
        let p = self.lp.prev(self.off)?;
        self.off = p;
        Some(self.lp.get(p).0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all<const BACK: bool>(lp: &Listpack<BACK>) -> Vec<Vec<u8>> {
        lp.iter().map(|e| e.to_vec()).collect()
    }

    #[test]
    fn round_trips_every_encoding() {
        let big = vec![b'x'; 5000];
        let mid = vec![b'y'; 300];
        let values: Vec<&[u8]> = vec![
            b"0",
            b"127",
            b"128",
            b"-1",
            b"-4096",
            b"4095",
            b"4096",
            b"-4097",
            b"32767",
            b"-32768",
            b"32768",
            b"8388607",
            b"-8388608",
            b"8388608",
            b"2147483647",
            b"-2147483648",
            b"2147483648",
            b"9223372036854775807",
            b"-9223372036854775808",
            b"9223372036854775808",
            b"",
            b"abc",
            b"007",
            b"-0",
            b"+1",
            b" 1",
            &mid,
            &big,
        ];
        let mut lp = Listpack::new();
        for v in &values {
            lp.push_back(v);
        }
        assert_eq!(lp.len(), values.len());
        assert_eq!(all(&lp), values.iter().map(|v| v.to_vec()).collect::<Vec<_>>());
        let rev: Vec<Vec<u8>> = lp.iter_rev().map(|e| e.to_vec()).collect();
        assert_eq!(rev, values.iter().rev().map(|v| v.to_vec()).collect::<Vec<_>>());
        for (i, v) in values.iter().enumerate() {
            assert_eq!(lp.get(lp.seek(i)).0.to_vec(), v.to_vec(), "index {i}");
        }
        assert_eq!(lp.get(0).0, Elem::Int(0));
        assert!(matches!(lp.get(lp.seek(21)).0, Elem::Str(b"abc")));
    }

    #[test]
    fn small_entries_are_compact() {
        assert_eq!(entry_size(b"5"), 2);
        assert_eq!(entry_size(b"1000"), 3);
        assert_eq!(entry_size(b"hello"), 7);
        assert_eq!(entry_size(&[b'a'; 200]), 204);
    }

    #[test]
    fn insert_delete_replace() {
        let mut lp = Listpack::new();
        for v in ["a", "b", "c"] {
            lp.push_back(v.as_bytes());
        }
        lp.push_front(b"z");
        let off = lp.seek(2);
        lp.insert_at(off, b"12345");
        assert_eq!(all(&lp), [&b"z"[..], b"a", b"12345", b"b", b"c"]);
        let off = lp.seek(1);
        lp.replace(off, &[b'q'; 200]);
        assert_eq!(lp.get(lp.seek(1)).0.len(), 200);
        let off = lp.seek(1);
        lp.delete_range(off, 2);
        assert_eq!(all(&lp), [&b"z"[..], b"b", b"c"]);
        assert_eq!(lp.retain(|e| e != Elem::Str(b"b")), 1);
        assert_eq!(all(&lp), [&b"z"[..], b"c"]);
        let tail = lp.split_off(1);
        assert_eq!(all(&lp), [&b"z"[..]]);
        assert_eq!(all(&tail), [&b"c"[..]]);
        lp.append(&tail);
        assert_eq!(all(&lp), [&b"z"[..], b"c"]);
        assert_eq!(lp.last().map(|o| lp.get(o).0), Some(Elem::Str(b"c")));
    }

    #[test]
    fn extend_back_writes_what_push_back_writes() {
        let items: [&[u8]; 5] = [b"a", b"-5000", b"12", &[b'x'; 300], b""];
        let mut one = Listpack::new();
        one.push_back(b"first");
        let mut many = one.clone();
        for v in items {
            one.push_back(v);
        }
        many.extend_back(items.iter().copied());
        assert_eq!(one, many);
        assert_eq!(many.len(), 6);
        assert_eq!(many.heap_bytes(), alloc_class(many.bytes()));
        assert_eq!(all(&many).last().unwrap(), b"");
        assert_eq!(many.prev(many.bytes()).map(|o| many.get(o).0), Some(Elem::Str(b"")));
    }

    #[test]
    fn forward_listpacks_leave_out_the_backlen() {
        let values: [&[u8]; 6] = [b"5", b"1000", b"hello", &[b'a'; 200], b"field:0", b"value:123456"];
        let mut fwd = ForwardListpack::new();
        let mut back = Listpack::<true>::new();
        fwd.extend_back(values.iter().copied());
        back.extend_back(values.iter().copied());
        assert_eq!(all(&fwd), all(&back));
        // One byte less per entry (two for the 200-byte string, whose backlen takes two).
        assert_eq!(back.bytes() - fwd.bytes(), values.len() + 1);
        for (i, v) in values.iter().enumerate() {
            assert_eq!(fwd.get(fwd.seek(i)).0.to_vec(), v.to_vec(), "index {i}");
        }
        // A 10-field hash of 7-byte fields and 12-byte values: 230 bytes with backlens (the
        // 256-byte class), 210 without (224).
        let mut hash = ForwardListpack::new();
        for i in 0..10 {
            hash.push_back(format!("field:{i}").as_bytes());
            hash.push_back(b"value:123456");
        }
        assert_eq!((hash.bytes(), hash.heap_bytes()), (210, 224));
    }

    /// Random edits against a `Vec` model: the header, the size classes and every gap move
    /// must keep the entries intact.
    #[test]
    fn random_edits_match_a_model() {
        random_edits::<true>();
        random_edits::<false>();
    }

    fn random_edits<const BACK: bool>() {
        let mut rng = 0x1234_5678_u64;
        let mut next = move |n: u64| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng % n
        };
        let mut lp = Listpack::<BACK>::new();
        let mut model: Vec<Vec<u8>> = Vec::new();
        for step in 0..5000 {
            let v = match next(4) {
                0 => next(100_000).to_string().into_bytes(),
                1 => vec![b'x'; next(300) as usize],
                _ => format!("s{step}").into_bytes(),
            };
            match next(6) {
                0 | 1 => {
                    lp.push_back(&v);
                    model.push(v);
                }
                2 => {
                    let i = next(model.len() as u64 + 1) as usize;
                    let off = if i == model.len() { lp.bytes() } else { lp.seek(i) };
                    lp.insert_at(off, &v);
                    model.insert(i, v);
                }
                3 if !model.is_empty() => {
                    let i = next(model.len() as u64) as usize;
                    lp.replace(lp.seek(i), &v);
                    model[i] = v;
                }
                4 if !model.is_empty() => {
                    let i = next(model.len() as u64) as usize;
                    let n = (next(3) as usize + 1).min(model.len() - i);
                    lp.delete_range(lp.seek(i), n);
                    model.drain(i..i + n);
                }
                _ if model.len() > 1 => {
                    let i = next(model.len() as u64) as usize;
                    let tail = lp.split_off(i);
                    let model_tail = model.split_off(i);
                    assert_eq!(all(&tail), model_tail);
                    lp.append(&tail);
                    model.extend(model_tail);
                }
                _ => {}
            }
            assert_eq!(lp.len(), model.len());
            assert_eq!(lp.is_empty(), model.is_empty());
            assert!(lp.heap_bytes() >= lp.bytes());
        }
        assert_eq!(all(&lp), model);
    }

    #[test]
    fn allocations_follow_mimalloc_classes() {
        assert_eq!(alloc_class(1), 8);
        assert_eq!(alloc_class(24), 24);
        assert_eq!(alloc_class(25), 32);
        assert_eq!(alloc_class(65), 80);
        assert_eq!(alloc_class(1024), 1024);
        assert_eq!(alloc_class(1025), 1280);
        for n in 1..100_000 {
            assert!(alloc_class(n) >= n && alloc_class(n) >= alloc_class(n - 1), "{n}");
        }
        let mut lp = Listpack::<true>::new();
        lp.push_back(b"hello");
        assert_eq!(lp.heap_bytes(), 8);
        lp.delete(0);
        assert_eq!(lp.heap_bytes(), 0);
        assert_eq!(std::mem::size_of::<Listpack>(), 16);
    }
}
