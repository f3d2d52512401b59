//! shardis-check-aof, the AOF checker (tools/check_aof), run as an operator runs it: on
//! hand-built file sets (N=2 shards, bases and incrs, TX groups committed and not) that are
//! valid, truncated at many offsets, corrupt in the middle, or missing files; with and without
//! `--fix`, through every kind of path (top manifest, shard manifest, directory, one file).
//! Each test checks the exit status, the offsets and counts printed, and the bytes left on disk.
//!
//! The parser's byte-level cases are unit tests in the tool (`cargo test --bin shardis-check-aof`).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("shardis-check-aof-test-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// One record as the server writes it.
fn rec(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn records(list: &[&[&[u8]]]) -> Vec<u8> {
    list.iter().flat_map(|r| rec(r)).collect()
}

/// Runs the tool; returns its exit code and stdout + stderr.
fn check(args: &[&str], stdin: &str) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_shardis-check-aof"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run shardis-check-aof");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write stdin");
    let out = child.wait_with_output().expect("wait for shardis-check-aof");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().expect("exit code"), text)
}

fn check_path(args: &[&str], path: &Path) -> (i32, String) {
    let mut all = args.to_vec();
    let p = path.to_str().expect("utf-8 path");
    all.push(p);
    check(&all, "")
}

/// A two-shard AOF set under `<tmp>/data/appendonlydir/`.
///
/// shard 0: base 1 (SELECT, SET, TX 5), incr 1 (TX 6, TX 7), incr 2 (RPUSH, PEXPIREAT, TXCOMMIT 6)
/// shard 1: base 1 (empty), incr 1 (TX 5, TXCOMMIT 5, DEL)
/// so groups 5 and 6 are committed (5 from the other shard) and 7 is not.
struct AofSet {
    _tmp: TempDir,
    data: PathBuf,
    dir: PathBuf,
}

const S0_BASE: &str = "appendonly.aof.2.0.1.base.aof";
const S0_INCR1: &str = "appendonly.aof.2.0.1.incr.aof";
const S0_INCR2: &str = "appendonly.aof.2.0.2.incr.aof";
const S1_BASE: &str = "appendonly.aof.2.1.1.base.aof";
const S1_INCR1: &str = "appendonly.aof.2.1.1.incr.aof";

impl AofSet {
    fn new() -> AofSet {
        let tmp = TempDir::new();
        let data = tmp.0.join("data");
        let dir = data.join("appendonlydir");
        fs::create_dir_all(&dir).expect("create appendonlydir");
        let set = AofSet { _tmp: tmp, data, dir };
        set.write("appendonly.aof.manifest", b"shards 2\n");
        set.write(
            "appendonly.aof.2.0.manifest",
            format!(
                "file {S0_BASE} seq 1 type b\nfile {S0_INCR1} seq 1 type i\n\n# rewritten later\n\
                 file {S0_INCR2} seq 2 type i\n"
            )
            .as_bytes(),
        );
        set.write(
            "appendonly.aof.2.1.manifest",
            format!("file {S1_BASE} seq 1 type b\nfile {S1_INCR1} seq 1 type i\n").as_bytes(),
        );
        set.write(
            S0_BASE,
            &records(&[&[b"SELECT", b"0"], &[b"SET", b"a", b"1"], &[b"TX", b"5", b"SET", b"x", b"1"]]),
        );
        set.write(
            S0_INCR1,
            &records(&[&[b"TX", b"6", b"SET", b"y", b"2"], &[b"TX", b"7", b"MSET", b"p", b"1", b"q", b"2"]]),
        );
        set.write(S0_INCR2, &Self::s0_incr2());
        set.write(S1_BASE, b"");
        set.write(
            S1_INCR1,
            &records(&[&[b"TX", b"5", b"SET", b"z", b"3"], &[b"TXCOMMIT", b"5"], &[b"DEL", b"gone"]]),
        );
        set
    }

    /// Shard 0's newest file; its last record is TXCOMMIT 6.
    fn s0_incr2() -> Vec<u8> {
        records(&[
            &[b"RPUSH", b"list", b"a", b"b", b"c"],
            &[b"PEXPIREAT", b"list", b"4102444800000"],
            &[b"TXCOMMIT", b"6"],
        ])
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn write(&self, name: &str, bytes: &[u8]) {
        fs::write(self.path(name), bytes).expect("write file");
    }

    fn read(&self, name: &str) -> Vec<u8> {
        fs::read(self.path(name)).expect("read file")
    }

    fn top(&self) -> PathBuf {
        self.path("appendonly.aof.manifest")
    }
}

#[test]
fn a_valid_set_passes_through_every_kind_of_path() {
    let set = AofSet::new();
    for path in [set.top(), set.dir.clone(), set.data.clone()] {
        let (code, out) = check_path(&[], &path);
        assert_eq!(code, 0, "{path:?}:\n{out}");
        assert!(out.contains("(2 shards)"), "{out}");
        for (name, n) in [(S0_BASE, 3), (S0_INCR1, 2), (S0_INCR2, 3), (S1_BASE, 0), (S1_INCR1, 3)] {
            let size = set.read(name).len();
            let line = format!("{}: {n} records, {size} bytes: OK", set.path(name).display());
            assert!(out.contains(&line), "missing '{line}' in:\n{out}");
        }
        assert!(
            out.contains("TX groups: 2 committed, 1 without TXCOMMIT (dropped on recovery): 7\n"),
            "{out}"
        );
        assert!(out.contains("AOF is valid"), "{out}");
    }

    // One shard alone: its group 5 has no TXCOMMIT in its own files, and the tool says why.
    let (code, out) = check_path(&[], &set.path("appendonly.aof.2.0.manifest"));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("TX groups: 1 committed, 2 without TXCOMMIT (dropped on recovery): 5 7\n"), "{out}");
    assert!(out.contains("only these files were checked"), "{out}");

    // --fix on a valid set changes nothing and succeeds.
    let (code, out) = check_path(&["--fix", "--yes"], &set.top());
    assert_eq!(code, 0, "{out}");
    assert_eq!(set.read(S0_INCR2), AofSet::s0_incr2());
}

/// Cuts shard 0's newest file inside its last record (TXCOMMIT 6) at every offset: the tool
/// reports truncation at that record's start, --fix cuts there, and group 6 loses its commit.
#[test]
fn a_truncated_last_file_is_reported_and_fixed() {
    let full = AofSet::s0_incr2();
    let last_start = full.len() - rec(&[b"TXCOMMIT", b"6"]).len();
    for cut in last_start + 1..full.len() {
        let set = AofSet::new();
        set.write(S0_INCR2, &full[..cut]);
        let (code, out) = check_path(&[], &set.top());
        assert_eq!(code, 1, "cut {cut}:\n{out}");
        let line = format!(
            "{}: 2 records, {cut} bytes: truncated record at offset {last_start} ({} bytes after the last full record)",
            set.path(S0_INCR2).display(),
            cut - last_start
        );
        assert!(out.contains(&line), "cut {cut}: missing '{line}' in:\n{out}");
        assert!(out.contains("Use --fix"), "{out}");
        // The commit in the torn tail does not count.
        assert!(
            out.contains("TX groups: 1 committed, 2 without TXCOMMIT (dropped on recovery): 6 7\n"),
            "{out}"
        );
        assert_eq!(set.read(S0_INCR2), &full[..cut], "a check without --fix must not write");

        let (code, out) = check_path(&["--fix", "--yes"], &set.top());
        assert_eq!(code, 0, "cut {cut}:\n{out}");
        assert!(out.contains(&format!("from {cut} bytes to {last_start} bytes")), "{out}");
        assert_eq!(set.read(S0_INCR2), &full[..last_start], "cut {cut}");

        let (code, out) = check_path(&[], &set.top());
        assert_eq!(code, 0, "after the fix:\n{out}");
    }
}

#[test]
fn the_fix_asks_first() {
    let set = AofSet::new();
    let full = AofSet::s0_incr2();
    let torn = &full[..full.len() - 3];
    set.write(S0_INCR2, torn);
    let top = set.top();
    let top = top.to_str().unwrap();
    for answer in ["n\n", "", "maybe\n"] {
        let (code, out) = check(&["--fix", top], answer);
        assert_eq!(code, 1, "answer {answer:?}:\n{out}");
        assert!(out.contains("Continue? [y/N]"), "{out}");
        assert_eq!(set.read(S0_INCR2), torn, "answer {answer:?} must change nothing");
    }
    let (code, out) = check(&["--fix", top], "y\n");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Successfully truncated"), "{out}");
    assert_eq!(set.read(S0_INCR2).len(), full.len() - rec(&[b"TXCOMMIT", b"6"]).len());
}

/// A wrong byte inside shard 1's incr: reported at its exact offset, and --fix leaves every
/// file alone, including a truncated tail elsewhere that it could have cut on its own.
#[test]
fn corruption_in_the_middle_needs_a_human() {
    let set = AofSet::new();
    let mut bytes = set.read(S1_INCR1);
    let second = rec(&[b"TX", b"5", b"SET", b"z", b"3"]).len();
    // The second record is "*2\r\n$8\r\nTXCOMMIT...": break its second '$'.
    let bad = second + b"*2\r\n$8\r\nTXCOMMIT\r\n".len();
    assert_eq!(bytes[bad], b'$');
    bytes[bad] = b'#';
    set.write(S1_INCR1, &bytes);
    let full = AofSet::s0_incr2();
    set.write(S0_INCR2, &full[..full.len() - 1]);

    let (code, out) = check_path(&[], &set.top());
    assert_eq!(code, 1, "{out}");
    let line = format!(
        "{}: 1 record, {} bytes: corrupt at offset {bad}: expected '$' (the last valid record ends at offset {second})",
        set.path(S1_INCR1).display(),
        bytes.len()
    );
    assert!(out.contains(&line), "missing '{line}' in:\n{out}");
    assert!(out.contains("Needs a human"), "{out}");
    // The commit of group 5 sits after the damage and that of 6 in the torn tail: neither counts.
    assert!(
        out.contains("TX groups: 0 committed, 3 without TXCOMMIT (dropped on recovery): 5 6 7\n"),
        "{out}"
    );

    let (code, out) = check_path(&["--fix", "--yes"], &set.top());
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("nothing was changed"), "{out}");
    assert_eq!(set.read(S1_INCR1), bytes);
    assert_eq!(set.read(S0_INCR2), &full[..full.len() - 1]);
}

/// Garbage after the last record of the newest file is corruption too, not a torn write.
#[test]
fn garbage_at_the_tail_is_not_truncation() {
    let set = AofSet::new();
    let mut bytes = AofSet::s0_incr2();
    let end = bytes.len();
    // A length one short of the value: its last byte lands where the CRLF belongs.
    bytes.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\nab\ncd\r\n*1");
    set.write(S0_INCR2, &bytes);
    let (code, out) = check_path(&["--fix", "--yes"], &set.top());
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("corrupt at offset {}: missing CRLF", end + 28)), "{out}");
    assert_eq!(set.read(S0_INCR2), bytes);
}

/// A base followed by incrs is not where a crash tears a write: no automatic fix.
#[test]
fn a_truncated_earlier_file_is_not_fixed() {
    let set = AofSet::new();
    let base = set.read(S0_BASE);
    set.write(S0_BASE, &base[..base.len() - 4]);
    let (code, out) = check_path(&["--fix", "--yes"], &set.top());
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("truncated record at offset"), "{out}");
    assert!(out.contains("is not the last file of its shard"), "{out}");
    assert_eq!(set.read(S0_BASE), &base[..base.len() - 4]);
}

#[test]
fn missing_files_and_manifests_are_errors() {
    let set = AofSet::new();
    fs::remove_file(set.path(S1_BASE)).unwrap();
    let (code, out) = check_path(&[], &set.top());
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("{}: missing (listed in the manifest)", set.path(S1_BASE).display())),
        "{out}"
    );
    // The other files are still checked.
    assert!(out.contains(&format!("{}: 3 records", set.path(S1_INCR1).display())), "{out}");
    let (code, out) = check_path(&["--fix", "--yes"], &set.top());
    assert_eq!(code, 1, "{out}");

    let set = AofSet::new();
    fs::remove_file(set.path("appendonly.aof.2.1.manifest")).unwrap();
    let (code, out) = check_path(&[], &set.top());
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("shard 1's manifest is missing"), "{out}");

    let set = AofSet::new();
    set.write("appendonly.aof.2.1.manifest", format!("file {S1_INCR1} seq 1 type i\n").as_bytes());
    let (code, out) = check_path(&[], &set.top());
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("an incr file before the base"), "{out}");

    let set = AofSet::new();
    set.write("appendonly.aof.manifest", b"shards two\n");
    let (code, out) = check_path(&[], &set.dir);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("expected 'shards <N>'"), "{out}");

    let tmp = TempDir::new();
    let (code, out) = check_path(&[], &tmp.0);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("no top manifest"), "{out}");
    let (code, out) = check_path(&[], &tmp.0.join("nope.aof"));
    assert_eq!(code, 1, "{out}");
}

#[test]
fn a_single_file() {
    let set = AofSet::new();
    let path = set.path(S0_INCR1);
    let (code, out) = check_path(&[], &path);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("{}: 2 records", path.display())), "{out}");
    assert!(out.contains("TX groups: 0 committed, 2 without TXCOMMIT (dropped on recovery): 6 7\n"), "{out}");

    // A base file named on its own may be cut: the operator chose it.
    let base = set.read(S0_BASE);
    let keep = base.len() - rec(&[b"TX", b"5", b"SET", b"x", b"1"]).len();
    set.write(S0_BASE, &base[..keep + 9]);
    let (code, out) = check_path(&[], &set.path(S0_BASE));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("truncated record at offset {keep}")), "{out}");
    let (code, out) = check_path(&["--yes", "--fix"], &set.path(S0_BASE));
    assert_eq!(code, 0, "{out}");
    assert_eq!(set.read(S0_BASE), &base[..keep]);

    // The empty file is valid.
    let (code, out) = check_path(&[], &set.path(S1_BASE));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("0 records, 0 bytes: OK"), "{out}");
}

/// A few MB, with a value larger than the tool's read buffer, cut inside that value.
#[test]
fn a_big_file_is_checked_and_fixed() {
    let tmp = TempDir::new();
    let path = tmp.0.join("big.aof");
    let mut bytes = Vec::new();
    let mut n = 0;
    while bytes.len() < 4 << 20 {
        bytes.extend(rec(&[b"SET", format!("key:{n}").as_bytes(), format!("value:{n}").as_bytes()]));
        n += 1;
    }
    let value = vec![b'v'; 3 << 20];
    bytes.extend(rec(&[b"SET", b"big", &value]));
    n += 1;
    let whole = bytes.len();
    bytes.extend(rec(&[b"TX", b"1", b"SET", b"big2", &value]));
    fs::write(&path, &bytes[..bytes.len() - (1 << 20)]).unwrap();

    let (code, out) = check_path(&[], &path);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!(
        "{n} records, {} bytes: truncated record at offset {whole}",
        bytes.len() - (1 << 20)
    )));
    let (code, out) = check_path(&["--fix", "--yes"], &path);
    assert_eq!(code, 0, "{out}");
    assert_eq!(fs::metadata(&path).unwrap().len(), whole as u64);
    let (code, out) = check_path(&[], &path);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("{n} records, {whole} bytes: OK")), "{out}");
}

#[test]
fn command_line_errors() {
    for args in [&[][..], &["--fix"], &["a", "b"], &["--bogus", "a"]] {
        let (code, out) = check(args, "");
        assert_eq!(code, 2, "{args:?}:\n{out}");
        assert!(out.contains("Usage: shardis-check-aof"), "{out}");
    }
    let (code, out) = check(&["--help"], "");
    assert_eq!(code, 0, "{out}");
}
