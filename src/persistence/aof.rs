//! The append-only file: one per shard, written by the core that owns the shard.
//!
//! # Format
//! Files live in `dir/appenddirname/`. A top manifest `<appendfilename>.manifest` holds one
//! line, `shards <N>`: the thread count the files were written for. Each shard `i` has its own
//! manifest `<appendfilename>.<N>.<i>.manifest` in Redis 7's syntax (`file <name> seq <k> type
//! b|i`): one base file, then the incremental files in order. Every file is a sequence of
//! records, each a RESP array of bulk strings: the commands the shard applied (SELECT when the
//! database changes), rewritten where replaying them verbatim would not give the same result:
//! relative TTLs are followed by their absolute time (`PEXPIREAT`) or `PERSIST`/`DEL`, EXPIRE
//! and friends are logged as that absolute time, SPOP as the SREM of what it popped, and keys
//! that expire or are moved out as `DEL`. Two records are shardis's own:
//! * `TX <id> <command...>`: a record of a group that must apply whole or not at all (EXEC, a
//!   command spanning shards, a gathered write-back);
//! * `TXCOMMIT <id>`: written once the group's records are safe in every shard's file.
//!
//! # Promises
//! Records are appended to the shard's buffer (`Log`) as commands run; a flusher task per core
//! writes the buffer through glommio (io_uring), so the executor never blocks. With
//! `appendfsync always` no reply leaves the core (to a client or another core) before the
//! records appended until then are fsynced; every write that lands while an fsync is running
//! shares the next one (group commit). With `everysec` (fsync once a second) and `no` (fsync
//! left to the OS) no reply leaves before those records are written, handed to the kernel: as
//! in Redis, a crash of the process alone loses no acknowledged write, and only a crash of the
//! machine can lose the last second or so.
//!
//! With `always` the file is kept zeroed a few MiB ahead of the write position (and the zeros
//! fsynced): an O_DSYNC write into space the file already has needs no journal commit for a
//! new file size, which on this machine's disk took a write from ~155 us to ~98 us. The file
//! therefore may end in zeros; a record never does (it ends in CRLF), so recovery and
//! shardis-check-aof take the last non-zero byte as the end of the log.
//!
//! # Groups that span shards stay atomic through a crash
//! A shard tags the records of a transaction's hop with its id, and answers the hop only once
//! those records are safe (written, or fsynced with `always`). The coordinator then appends
//! `TXCOMMIT` to its own core's file and waits until that is safe too; only then does it
//! conclude the transaction, releasing its keys. So: a commit record on disk implies all of the
//! group's records are on disk, and any later write that depends on the group (it ran after the
//! keys were released) is logged after the commit became safe. Recovery (`recovery`) applies a
//! tagged record only if its group's commit record exists in some file; a group cut by a crash
//! is dropped on every shard, and nothing that depended on it can have been kept. Each shard
//! replays only its own file, so the order of conflicting operations is the order they ran in.
//!
//! # Rewrite
//! A rewrite (BGREWRITEAOF, or growth past `auto-aof-rewrite-percentage`) runs per shard when no
//! transaction is scheduled there: the shard's data is serialized into a new base (commands
//! that recreate each key), a new incremental file takes the writes from that moment on, and
//! the manifest is replaced (write, fsync, rename) first to list old base + old incrs + new
//! incr, and once the new base is safe to list only the new pair. A crash at any point leaves
//! a manifest that names a complete history. A group's commit record lives only in the file
//! of the core that coordinated it, so the new base keeps the commit records of groups at
//! least as new as the oldest group still tagged in any shard's files (see `rewrite`). Group
//! ids only grow, also across restarts (recovery starts them above every id in the files).

use crate::dispatch::mesh::Response;
use crate::server::core::Core;
use glommio::io::{BufferedFile, OpenOptions};
use std::cell::{Cell, RefCell};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::task::Waker;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fsync {
    Always,
    EverySec,
    No,
}

impl Fsync {
    pub fn parse(s: &str) -> Option<Fsync> {
        match s.to_ascii_lowercase().as_str() {
            "always" => Some(Fsync::Always),
            "everysec" => Some(Fsync::EverySec),
            "no" => Some(Fsync::No),
            _ => None,
        }
    }
}

/// The shard's side of its AOF: records are appended here as commands run.
pub struct Log {
    pub buf: Vec<u8>,
    /// The database the last SELECT record chose (None: none written in this file yet).
    selected: Option<usize>,
    /// The group id records are tagged with right now (0: none).
    pub tag: u64,
    /// Bytes appended since the log was opened: the stream offset just past `buf`.
    pub appended: u64,
    /// The flusher's waker while it waits for records.
    pub parked: Option<Waker>,
    /// The smallest group id tagged on a record since the last rewrite's snapshot, and in the
    /// files a rewrite is still replacing (u64::MAX: none). See `rewrite` for why.
    pub oldest_tagged: u64,
    pub oldest_tagged_replaced: u64,
    /// Ids of the commit records in this shard's current files.
    pub commits: Vec<u64>,
}

impl Default for Log {
    fn default() -> Log {
        Log {
            buf: Vec::new(),
            selected: None,
            tag: 0,
            appended: 0,
            parked: None,
            oldest_tagged: u64::MAX,
            oldest_tagged_replaced: u64::MAX,
            commits: Vec::new(),
        }
    }
}

fn push_bulk(buf: &mut Vec<u8>, arg: &[u8]) {
    buf.push(b'$');
    crate::resp::write::push_i64(buf, arg.len() as i64);
    buf.extend_from_slice(b"\r\n");
    buf.extend_from_slice(arg);
    buf.extend_from_slice(b"\r\n");
}

impl Log {
    /// Appends one command run against database `db` (tagged with the current group, if any).
    pub fn record<'a>(&mut self, db: usize, args: impl ExactSizeIterator<Item = &'a [u8]>) {
        let start = self.buf.len();
        self.select(db);
        let n = args.len();
        self.buf.push(b'*');
        if self.tag != 0 {
            self.oldest_tagged = self.oldest_tagged.min(self.tag);
            crate::resp::write::push_i64(&mut self.buf, n as i64 + 2);
            self.buf.extend_from_slice(b"\r\n$2\r\nTX\r\n");
            let mut tmp = [0u8; 24];
            let len = crate::resp::write::format_i64(&mut tmp, self.tag as i64);
            push_bulk(&mut self.buf, &tmp[..len]);
        } else {
            crate::resp::write::push_i64(&mut self.buf, n as i64);
            self.buf.extend_from_slice(b"\r\n");
        }
        for a in args {
            push_bulk(&mut self.buf, a);
        }
        self.appended += (self.buf.len() - start) as u64;
        if let Some(w) = self.parked.take() {
            w.wake();
        }
    }

    /// Appends a record outside any group (expired keys, commit records).
    pub fn record_untagged<'a>(&mut self, db: usize, args: impl ExactSizeIterator<Item = &'a [u8]>) {
        let tag = std::mem::take(&mut self.tag);
        self.record(db, args);
        self.tag = tag;
    }

    /// The smallest group id tagged on a record in this shard's files.
    pub fn oldest_tagged_in_files(&self) -> u64 {
        self.oldest_tagged.min(self.oldest_tagged_replaced)
    }

    pub fn commit(&mut self, group: u64) {
        self.commits.push(group);
        let mut tmp = [0u8; 24];
        let len = crate::resp::write::format_i64(&mut tmp, group as i64);
        let db = self.selected.unwrap_or(0);
        self.record_untagged(db, [&b"TXCOMMIT"[..], &tmp[..len]].into_iter());
    }

    fn select(&mut self, db: usize) {
        if self.selected == Some(db) {
            return;
        }
        self.selected = Some(db);
        let mut tmp = [0u8; 24];
        let len = crate::resp::write::format_i64(&mut tmp, db as i64);
        self.buf.extend_from_slice(b"*2\r\n$6\r\nSELECT\r\n");
        push_bulk(&mut self.buf, &tmp[..len]);
    }

    /// A new file starts with no database selected.
    pub fn forget_selected(&mut self) {
        self.selected = None;
    }
}

/// Where one shard's files are and what its manifest lists.
#[derive(Clone, Debug)]
pub struct Layout {
    pub dir: PathBuf,
    pub prefix: String,
    pub shards: usize,
    pub shard: usize,
    pub base: u64,
    pub incrs: Vec<u64>,
}

impl Layout {
    pub fn base_name(&self, seq: u64) -> String {
        format!("{}.{}.{}.{seq}.base.aof", self.prefix, self.shards, self.shard)
    }

    pub fn incr_name(&self, seq: u64) -> String {
        format!("{}.{}.{}.{seq}.incr.aof", self.prefix, self.shards, self.shard)
    }

    pub fn manifest_name(&self) -> String {
        shard_manifest_name(&self.prefix, self.shards, self.shard)
    }

    pub fn manifest_text(&self) -> String {
        let mut s = format!("file {} seq {} type b\n", self.base_name(self.base), self.base);
        for &k in &self.incrs {
            s.push_str(&format!("file {} seq {k} type i\n", self.incr_name(k)));
        }
        s
    }

    /// Every file the manifest names, base first.
    pub fn files(&self) -> Vec<String> {
        let mut v = vec![self.base_name(self.base)];
        v.extend(self.incrs.iter().map(|&k| self.incr_name(k)));
        v
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

pub fn shard_manifest_name(prefix: &str, shards: usize, shard: usize) -> String {
    format!("{prefix}.{shards}.{shard}.manifest")
}

pub fn top_manifest_name(prefix: &str) -> String {
    format!("{prefix}.manifest")
}

/// Writes `bytes` to `path` through a temporary file: write, fsync, rename, fsync the directory.
pub async fn write_atomically(path: &Path, bytes: Vec<u8>) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let file = OpenOptions::new().write(true).create(true).truncate(true).buffered_open(&tmp).await?;
    write_all_at(&file, &bytes, 0).await?;
    file.fdatasync().await?;
    file.close().await?;
    glommio::io::rename(&tmp, path).await?;
    sync_dir(path.parent().unwrap_or(Path::new("."))).await
}

pub async fn sync_dir(dir: &Path) -> std::io::Result<()> {
    let d = glommio::io::Directory::open(dir).await?;
    d.sync().await?;
    d.close().await?;
    Ok(())
}

/// Writes all of `bytes` at `pos` (io_uring may write less than asked).
pub async fn write_all_at(file: &BufferedFile, bytes: &[u8], mut pos: u64) -> std::io::Result<()> {
    let mut at = 0;
    while at < bytes.len() {
        let n = file.write_at(bytes[at..].to_vec(), pos).await?;
        if n == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::WriteZero, "short write"));
        }
        pos += n as u64;
        at += n;
    }
    Ok(())
}

/// Counters for INFO persistence.
#[derive(Default, Clone, Debug)]
pub struct AofStats {
    pub rewrites: u64,
    pub last_rewrite_ok: bool,
    pub last_write_ok: bool,
    pub last_rewrite_ms: i64,
    pub rewrite_in_progress: bool,
    pub rewrite_scheduled: bool,
    /// Size of the files at the last rewrite (or at start) and now.
    pub base_size: u64,
    pub current_size: u64,
    pub fsyncs: u64,
    pub writes: u64,
}

/// What waits for records to reach the file: a task, or a reply to another core.
enum Waiter {
    Task(Waker),
    Reply(usize, Response),
}

/// The core's side of its shard's AOF: the open incremental file, how far the stream has been
/// written and fsynced, and who waits for that.
pub struct Aof {
    pub policy: Cell<Fsync>,
    pub layout: RefCell<Layout>,
    file: RefCell<Rc<BufferedFile>>,
    /// The same file opened with O_DSYNC, for `always`: a write that completes is on disk,
    /// so a group commit costs one io_uring operation instead of a write and an fsync.
    dsync: RefCell<Option<Rc<BufferedFile>>>,
    path: RefCell<PathBuf>,
    /// Write position in the current incremental file.
    pos: Cell<u64>,
    written: Cell<u64>,
    synced: Cell<u64>,
    /// (stream offset, needs fsync, waiter).
    waiters: RefCell<Vec<(u64, bool, Waiter)>>,
    pub stats: RefCell<AofStats>,
    pub rewrite_requested: Cell<bool>,
    /// An fsync up to this offset was asked for without a waiter (shutdown).
    sync_target: Cell<u64>,
    /// With `always`: the current file is zeroed (and synced) up to here.
    zeroed_to: Cell<u64>,
    /// A stretch of zeros being written to the current file: nothing else may write there.
    zeroing: Cell<Option<u64>>,
    /// Bumped when the file is switched, so a zeroing task of the old file changes nothing.
    file_gen: Cell<u64>,
}

impl Aof {
    pub fn new(policy: Fsync, layout: Layout, file: BufferedFile, pos: u64, appended: u64) -> Aof {
        let path = layout.path(&layout.incr_name(*layout.incrs.last().unwrap_or(&layout.base)));
        Aof {
            policy: Cell::new(policy),
            layout: RefCell::new(layout),
            path: RefCell::new(path),
            file: RefCell::new(Rc::new(file)),
            dsync: RefCell::new(None),
            pos: Cell::new(pos),
            written: Cell::new(appended),
            synced: Cell::new(appended),
            waiters: RefCell::new(Vec::new()),
            stats: RefCell::new(AofStats {
                last_rewrite_ok: true,
                last_write_ok: true,
                last_rewrite_ms: -1,
                ..Default::default()
            }),
            rewrite_requested: Cell::new(false),
            sync_target: Cell::new(0),
            zeroed_to: Cell::new(pos),
            zeroing: Cell::new(None),
            file_gen: Cell::new(0),
        }
    }

    fn reached(&self, off: u64, sync: bool) -> bool {
        if sync { self.synced.get() >= off } else { self.written.get() >= off }
    }

    /// Whether replies wait for an fsync (`always`) or only for the write (`everysec`, `no`).
    pub fn replies_wait_for_sync(&self) -> bool {
        self.policy.get() == Fsync::Always
    }

    /// Waits until the stream up to `off` is written (or fsynced, when `sync`).
    pub async fn until(&self, core: &Core, off: u64, sync: bool) {
        if self.reached(off, sync) {
            return;
        }
        kick(core);
        let mut registered = false;
        futures_lite::future::poll_fn(|cx| {
            if self.reached(off, sync) {
                return std::task::Poll::Ready(());
            }
            if !registered {
                registered = true;
                self.waiters.borrow_mut().push((off, sync, Waiter::Task(cx.waker().clone())));
            }
            std::task::Poll::Pending
        })
        .await;
    }

    /// Waits until everything the shard logged so far is safe for a reply to show (a client's
    /// own write, or another's it reads): fsynced with `always`, otherwise handed to the
    /// kernel. As in Redis, a crash of the process alone then loses no acknowledged write;
    /// `everysec` and `no` risk only what the kernel had not yet put on disk.
    pub async fn before_reply(&self, core: &Core) {
        let off = appended(core);
        self.until(core, off, self.replies_wait_for_sync()).await;
    }

    /// Sends a reply to another core once everything logged so far is safe (as `before_reply`).
    pub fn reply_after_logging(&self, core: &Core, to: usize, resp: Response) {
        let off = appended(core);
        self.reply_when(core, off, self.replies_wait_for_sync(), to, resp);
    }

    /// Sends `resp` to core `to` once the stream up to `off` is safe.
    pub fn reply_when(&self, core: &Core, off: u64, sync: bool, to: usize, resp: Response) {
        if self.reached(off, sync) {
            core.mesh.reply(to, resp);
            return;
        }
        kick(core);
        self.waiters.borrow_mut().push((off, sync, Waiter::Reply(to, resp)));
    }

    /// Wakes the waiters whose records are safe; returns how many.
    fn release(&self, core: &Core) -> usize {
        let ready: Vec<Waiter> = {
            let mut waiters = self.waiters.borrow_mut();
            let mut ready = Vec::new();
            let mut i = 0;
            while i < waiters.len() {
                if self.reached(waiters[i].0, waiters[i].1) {
                    ready.push(waiters.swap_remove(i).2);
                } else {
                    i += 1;
                }
            }
            ready
        };
        let n = ready.len();
        for w in ready {
            match w {
                Waiter::Task(w) => w.wake(),
                Waiter::Reply(to, resp) => core.mesh.reply(to, resp),
            }
        }
        n
    }

    fn anyone_waits_for_sync(&self) -> bool {
        self.sync_target.get() > self.synced.get()
            || self.waiters.borrow().iter().any(|w| w.1 && w.0 > self.synced.get())
    }

    /// Asks for everything logged so far to be fsynced; true once it is.
    pub fn sync_everything(&self, core: &Core) -> bool {
        let off = appended(core);
        if self.synced.get() >= off {
            return true;
        }
        self.sync_target.set(off);
        kick(core);
        false
    }
}

/// Writes group `group`'s commit record to this core's file and waits until it is safe; the
/// caller concludes the group's transaction only then (see the module doc).
pub async fn commit_group(core: &Core, group: u64) {
    let Some(aof) = core.aof.get() else { return };
    let off = {
        let mut shard = core.shard.borrow_mut();
        let Some(log) = shard.aof.as_mut() else { return };
        log.commit(group);
        log.appended
    };
    aof.until(core, off, aof.policy.get() == Fsync::Always).await;
}

/// The stream offset just past the last record the shard appended.
pub fn appended(core: &Core) -> u64 {
    core.shard.borrow().aof.as_ref().map_or(0, |l| l.appended)
}

/// Wakes the flusher if it waits for records.
pub fn kick(core: &Core) {
    let mut shard = core.shard.borrow_mut();
    if let Some(log) = shard.aof.as_mut()
        && let Some(w) = log.parked.take()
    {
        w.wake();
    }
}

/// Takes what the shard has appended: (bytes, stream offset at their end).
fn take_records(core: &Core) -> (Vec<u8>, u64) {
    let mut shard = core.shard.borrow_mut();
    let log = shard.aof.as_mut().expect("the flusher runs only with an AOF");
    let fresh = Vec::with_capacity(log.buf.capacity().clamp(4096, 1 << 20));
    (std::mem::replace(&mut log.buf, fresh), log.appended)
}

/// The flusher: writes what the shard appended, fsyncs when `always` asks for it, releases
/// waiters, and switches files for a rewrite. One per core.
pub async fn flusher(core: Rc<Core>, aof: Rc<Aof>) {
    loop {
        if aof.rewrite_requested.get() && core.txq.is_idle() {
            super::rewrite::start(&core, &aof).await;
        }
        let (bytes, end) = take_records(&core);
        if bytes.is_empty() {
            if aof.anyone_waits_for_sync() {
                fsync_to(&core, &aof, end).await;
                continue;
            }
            park(&core, &aof).await;
            continue;
        }
        let len = bytes.len() as u64;
        // A failed write is retried with the same bytes (Redis does the same); replies that
        // wait for these records keep waiting, so nothing unsafe is acknowledged meanwhile.
        let always = aof.policy.get() == Fsync::Always;
        let dsync = if always { aof.dsync_file().await } else { None };
        if always {
            keep_zeroed_ahead(&aof, len).await;
        }
        let write_started = std::time::Instant::now();
        loop {
            let file = dsync.clone().unwrap_or_else(|| aof.file.borrow().clone());
            match write_all_at(&file, &bytes, aof.pos.get()).await {
                Ok(()) => break,
                Err(e) => {
                    crate::log(&format!("Error writing to the AOF, retrying: {e}"));
                    aof.stats.borrow_mut().last_write_ok = false;
                    glommio::timer::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        aof.pos.set(aof.pos.get() + len);
        aof.written.set(end);
        {
            let mut st = aof.stats.borrow_mut();
            st.writes += 1;
            st.current_size += len;
            st.last_write_ok = true;
        }
        let released = if dsync.is_some() {
            aof.synced.set(end);
            aof.stats.borrow_mut().fsyncs += 1;
            aof.release(&core)
        } else if always {
            fsync_to(&core, &aof, end).await
        } else {
            aof.release(&core)
        };
        if always && released > 1 {
            gather_next_group(&aof, released, write_started.elapsed()).await;
        }
    }
}

/// Zeros written ahead of the write position, at a time.
const ZERO_STRETCH: u64 = 2 << 20;
/// How far ahead of the write position the file is kept zeroed.
const ZERO_AHEAD: u64 = 4 << 20;

/// With `always`: before a write of `len` bytes at the write position, starts zeroing the
/// next stretch of the file if the zeroed part runs short, and waits (rarely) for a stretch
/// still being zeroed that the write would reach into.
async fn keep_zeroed_ahead(aof: &Rc<Aof>, len: u64) {
    let end = aof.pos.get() + len;
    aof.settle_zeroing(end).await;
    if aof.zeroing.get().is_none() && aof.zeroed_to.get() < end + ZERO_AHEAD {
        let from = aof.zeroed_to.get().max(end);
        aof.zeroing.set(Some(from));
        let (aof, file, generation) = (aof.clone(), aof.current_file(), aof.file_gen.get());
        glommio::spawn_local(async move {
            let ok = write_zeros(&file, from, ZERO_STRETCH).await.is_ok();
            if aof.file_gen.get() == generation {
                if ok {
                    aof.zeroed_to.set(from + ZERO_STRETCH);
                }
                aof.zeroing.set(None);
            }
        })
        .detach();
    }
}

async fn write_zeros(file: &BufferedFile, from: u64, len: u64) -> std::io::Result<()> {
    const PIECE: u64 = 256 << 10;
    let zeros = vec![0u8; PIECE as usize];
    let mut at = from;
    while at < from + len {
        write_all_at(file, &zeros, at).await?;
        at += PIECE;
    }
    file.fdatasync().await?;
    Ok(())
}

/// With `always`, the writers just answered send their next writes within a round trip. If
/// the next write started at once they would miss it and wait a whole extra cycle: the
/// clients would split into two alternating half-size groups. So the next group waits until
/// most of the writers just released wait again, or at most as long as the last write took.
async fn gather_next_group(aof: &Aof, released: usize, last_write: Duration) {
    let start = std::time::Instant::now();
    let limit = last_write.min(Duration::from_millis(2));
    // Nine in ten: waiting for the last stragglers costs more than they add (measured: 90%
    // beat 100% in each of 3 alternating runs, ~7%).
    let want = (released * 9).div_ceil(10);
    while aof.waiters.borrow().len() < want && start.elapsed() < limit {
        glommio::timer::sleep(Duration::from_micros(20)).await;
    }
}

async fn fsync_to(core: &Core, aof: &Aof, end: u64) -> usize {
    let file = aof.file.borrow().clone();
    let result = file.fdatasync().await;
    match result {
        Ok(()) => {
            if aof.synced.get() < end {
                aof.synced.set(end.min(aof.written.get()));
            }
            aof.stats.borrow_mut().fsyncs += 1;
        }
        Err(e) => {
            crate::log(&format!("Can't fsync the AOF: {e}. Exiting (acknowledged writes could be lost)."));
            std::process::exit(1);
        }
    }
    aof.release(core)
}

/// Waits until records are appended (or a rewrite or fsync is asked for).
async fn park(core: &Core, aof: &Aof) {
    let mut first = true;
    futures_lite::future::poll_fn(|cx| {
        let mut shard = core.shard.borrow_mut();
        let log = shard.aof.as_mut().expect("AOF");
        let rewrite = aof.rewrite_requested.get() && core.txq.is_idle();
        if !log.buf.is_empty() || rewrite || aof.anyone_waits_for_sync() {
            return std::task::Poll::Ready(());
        }
        if !first && log.parked.is_none() {
            return std::task::Poll::Ready(());
        }
        first = false;
        log.parked = Some(cx.waker().clone());
        std::task::Poll::Pending
    })
    .await;
}

/// `everysec`: fsyncs what was written, once a second. A rewrite request is also noticed here
/// when the shard is idle.
pub async fn every_second(core: Rc<Core>, aof: Rc<Aof>) {
    loop {
        glommio::timer::sleep(Duration::from_secs(1)).await;
        if aof.policy.get() == Fsync::EverySec && aof.synced.get() < aof.written.get() {
            let end = aof.written.get();
            fsync_to(&core, &aof, end).await;
        }
        if super::rewrite::auto_rewrite_due(&core, &aof) {
            aof.rewrite_requested.set(true);
        }
        if aof.rewrite_requested.get() {
            kick(&core);
        }
    }
}

impl Aof {
    /// Makes `file` (positioned at `pos`) the file records go to from now on.
    pub fn switch_file(&self, file: BufferedFile, pos: u64, path: PathBuf) {
        *self.file.borrow_mut() = Rc::new(file);
        *self.dsync.borrow_mut() = None;
        *self.path.borrow_mut() = path;
        self.pos.set(pos);
        self.file_gen.set(self.file_gen.get() + 1);
        self.zeroing.set(None);
        self.zeroed_to.set(pos);
    }

    /// Waits until no zeros are being written at or below `end` of the current file.
    pub async fn settle_zeroing(&self, end: u64) {
        while self.zeroing.get().is_some_and(|from| end > from) {
            glommio::timer::sleep(Duration::from_micros(100)).await;
        }
    }

    /// The current file opened with O_DSYNC (opened on first use; None if that fails, and
    /// the caller then fsyncs after writing).
    async fn dsync_file(&self) -> Option<Rc<BufferedFile>> {
        if let Some(f) = self.dsync.borrow().as_ref() {
            return Some(f.clone());
        }
        let path = self.path.borrow().clone();
        let file =
            OpenOptions::new().write(true).custom_flags(libc::O_DSYNC).buffered_open(&path).await.ok()?;
        let file = Rc::new(file);
        // Writes before the switch to O_DSYNC may not be on disk yet.
        if self.synced.get() < self.written.get() && file.fdatasync().await.is_err() {
            return None;
        }
        self.synced.set(self.synced.get().max(self.written.get()));
        *self.dsync.borrow_mut() = Some(file.clone());
        Some(file)
    }

    pub fn current_file(&self) -> Rc<BufferedFile> {
        self.file.borrow().clone()
    }

    pub fn mark_written(&self, end: u64) {
        self.written.set(end);
    }

    pub fn pos(&self) -> u64 {
        self.pos.get()
    }

    pub fn advance_pos(&self, n: u64) {
        self.pos.set(self.pos.get() + n);
    }
}

/// Where records go from the start: the open incremental file.
pub async fn open_for_append(path: &Path) -> std::io::Result<(BufferedFile, u64)> {
    let file = OpenOptions::new().write(true).create(true).buffered_open(path).await?;
    let size = file.file_size().await?;
    Ok((file, size))
}
