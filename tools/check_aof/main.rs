//! shardis-check-aof: checks, and repairs a torn tail of, shardis's append-only files.
//!
//! `shardis-check-aof [--fix] [--yes] <path>`, where path is a top manifest, a shard manifest,
//! a directory holding a top manifest (or its `appendonlydir/`), or one .aof file.
//!
//! # The format
//! Each shard appends to its own files in `<dir>/<appenddirname>/` (default
//! `./data/appendonlydir/`), named after `<appendfilename>` (default `appendonly.aof`):
//! * `appendonly.aof.manifest`, the top manifest: one line `shards <N>`, the thread count
//!   the files were written for.
//! * `appendonly.aof.<N>.<i>.manifest` for each shard i in 0..N: lines in Redis 7's syntax,
//!   `file <name> seq <k> type <b|i>`, exactly one base (b) first, then zero or more incrs
//!   (i) in seq order; blank lines and `#` lines are ignored. Names look like
//!   `appendonly.aof.<N>.<i>.<k>.base.aof` and `appendonly.aof.<N>.<i>.<k>.incr.aof`.
//! * every .aof file (base or incr) is a sequence of records, each a RESP array of bulk
//!   strings: `*<n>\r\n` then n times `$<len>\r\n<len bytes>\r\n`, n >= 1. An empty file is
//!   valid. Records are Redis commands plus two of shardis's own:
//!   `TX <txid> <command> <args...>`, one record of a multi-record group (a MULTI/EXEC or a
//!   cross-shard command), which counts only if a `TXCOMMIT <txid>` record exists in some file
//!   of the same N (any shard); and `TXCOMMIT <txid>`. A txid is a decimal u64.
//!
//! # Truncation and corruption
//! A file is read until its first bad record. That record is **truncated** when every byte
//! from its start to the end of the file is a valid but incomplete prefix of a record: the
//! mark of a crash in the middle of a write, which recovery may drop. Anything else (a wrong
//! byte anywhere, even in the last record) is **corruption**, reported at the offset of the
//! first wrong byte. `--fix` cuts a truncated file at the end of its last valid record, and
//! only when the file is the last of its shard (the newest incr, or the base when there is
//! none) or was named on its own: a torn write can only be at the end of what was being
//! written. Corruption, or truncation of an earlier file, needs a human; then `--fix` changes
//! nothing at all.
//!
//! Exit status: 0 when everything is valid (or `--fix` made it so), 1 when anything is
//! truncated, corrupt, missing or unreadable, 2 for a bad command line.
//!
//! Modules: `scan` reads one file (streaming, flat memory), `manifest` turns the path into the
//! files to check; this file prints the report and does the fix.

mod manifest;
mod scan;

use manifest::Plan;
use scan::{Damage, FileScan, TxLog};
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};

/// At most this many uncommitted txids are listed; the rest are counted.
const TXIDS_SHOWN: usize = 20;

const USAGE: &str = "Usage: shardis-check-aof [--fix] [--yes] <path>\n\
    \n\
    <path> is a top manifest (appendonly.aof.manifest), a shard manifest\n\
    (appendonly.aof.<N>.<i>.manifest), a directory holding the top manifest, or one .aof file.\n\
    \n\
    --fix   cut a truncated last file of a shard (or the file given) after its last full record\n\
    --yes   do not ask before cutting\n";

struct Options {
    fix: bool,
    yes: bool,
    path: PathBuf,
}

fn parse_args(args: &[String]) -> Result<Option<Options>, String> {
    let (mut fix, mut yes, mut path) = (false, false, None);
    let mut only_paths = false;
    for a in args {
        match a.as_str() {
            "--fix" if !only_paths => fix = true,
            "--yes" | "-y" if !only_paths => yes = true,
            "-h" | "--help" if !only_paths => return Ok(None),
            "--" if !only_paths => only_paths = true,
            s if s.starts_with('-') && !only_paths => return Err(format!("unknown option '{s}'")),
            _ if path.is_some() => return Err("give exactly one path".into()),
            _ => path = Some(PathBuf::from(a)),
        }
    }
    let path = path.ok_or("no path given")?;
    Ok(Some(Options { fix, yes, path }))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match parse_args(&args) {
        Ok(Some(opts)) => run(&opts),
        Ok(None) => {
            print!("{USAGE}");
            0
        }
        Err(e) => {
            eprint!("shardis-check-aof: {e}\n\n{USAGE}");
            2
        }
    };
    std::process::exit(code);
}

/// A truncated file `--fix` may cut.
struct Fix {
    path: PathBuf,
    size: u64,
    cut_at: u64,
}

/// What the check found, beyond the printed report.
#[derive(Default)]
struct Findings {
    fixes: Vec<Fix>,
    /// Problems only a human can settle, each a sentence.
    human: Vec<String>,
    tx: TxLog,
}

fn run(opts: &Options) -> i32 {
    let plan = match manifest::plan(&opts.path) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("shardis-check-aof: {e}");
            return 1;
        }
    };
    println!("Checking {}", plan.what);
    let found = check(&plan);
    report_tx(&found.tx, plan.all_shards);
    conclude(opts, found)
}

/// Scans every file of the plan, printing a line per file.
fn check(plan: &Plan) -> Findings {
    let mut found = Findings::default();
    for e in &plan.errors {
        println!("{e}");
        found.human.push(format!("manifest problem: {e}"));
    }
    for group in &plan.groups {
        println!("{}:", group.label);
        for (i, path) in group.files.iter().enumerate() {
            let is_last = i + 1 == group.files.len();
            check_file(path, is_last, &mut found);
        }
    }
    found
}

fn check_file(path: &Path, is_last: bool, found: &mut Findings) {
    let shown = path.display();
    let scan = match File::open(path).and_then(scan::scan) {
        Ok(s) => s,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            println!("  {shown}: missing (listed in the manifest)");
            found.human.push(format!("{shown} is listed but missing"));
            return;
        }
        Err(e) => {
            println!("  {shown}: cannot read: {e}");
            found.human.push(format!("{shown} cannot be read: {e}"));
            return;
        }
    };
    let FileScan { size, records, valid_up_to, .. } = scan;
    let head = format!("  {shown}: {}, {size} bytes", count(records, "record"));
    match scan.damage {
        None => println!("{head}: OK"),
        Some(Damage::Truncated) => {
            let lost = size - valid_up_to;
            println!(
                "{head}: truncated record at offset {valid_up_to} ({lost} bytes after the last full record)"
            );
            if is_last {
                found.fixes.push(Fix { path: path.to_path_buf(), size, cut_at: valid_up_to });
            } else {
                found.human.push(format!(
                    "{shown} is truncated at offset {valid_up_to} but is not the last file of its shard: \
                     the files after it were written past a hole"
                ));
            }
        }
        Some(Damage::Corrupt { offset, reason }) => {
            println!(
                "{head}: corrupt at offset {offset}: {reason} (the last valid record ends at offset {valid_up_to})"
            );
            found.human.push(format!(
                "{shown} is corrupt at offset {offset} ({reason}); everything before offset \
                 {valid_up_to} ({}) is valid: inspect the bytes there and repair the file by hand",
                count(records, "record")
            ));
        }
    }
    found.tx.merge(&scan.tx);
}

/// "1 record", "2 records".
fn count(n: u64, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

fn report_tx(tx: &TxLog, all_shards: bool) {
    let open = tx.uncommitted();
    let mut line = format!("TX groups: {} committed, {} without TXCOMMIT", tx.commits.len(), open.len());
    if !open.is_empty() {
        let shown: Vec<String> = open.iter().take(TXIDS_SHOWN).map(u64::to_string).collect();
        line += &format!(" (dropped on recovery): {}", shown.join(" "));
        if open.len() > TXIDS_SHOWN {
            line += &format!(" ... and {} more", open.len() - TXIDS_SHOWN);
        }
    }
    println!("{line}");
    if !all_shards && !open.is_empty() {
        println!("(only these files were checked: a TXCOMMIT in another shard's files would commit them)");
    }
}

/// Prints the verdict, runs the fix if asked and allowed, and returns the exit status.
fn conclude(opts: &Options, found: Findings) -> i32 {
    if found.fixes.is_empty() && found.human.is_empty() {
        println!("AOF is valid");
        return 0;
    }
    for h in &found.human {
        println!("Needs a human: {h}");
    }
    if !opts.fix {
        for f in &found.fixes {
            println!("{} is truncated: --fix would cut it to {} bytes", f.path.display(), f.cut_at);
        }
        println!("AOF is not valid.{}", if found.human.is_empty() { " Use --fix to repair it." } else { "" });
        return 1;
    }
    if !found.human.is_empty() {
        println!("AOF is not valid and not fixable automatically: nothing was changed.");
        return 1;
    }
    for f in &found.fixes {
        println!(
            "This will shrink {} from {} bytes to {} bytes (dropping {} bytes)",
            f.path.display(),
            f.size,
            f.cut_at,
            f.size - f.cut_at
        );
    }
    if !opts.yes && !confirm() {
        println!("Aborting: nothing was changed.");
        return 1;
    }
    for f in &found.fixes {
        if let Err(e) = cut(f) {
            println!("Failed to truncate {}: {e}", f.path.display());
            return 1;
        }
        println!("Successfully truncated {} to {} bytes", f.path.display(), f.cut_at);
    }
    0
}

/// Asks on stdin; anything but y/yes (including end of input) is no.
fn confirm() -> bool {
    print!("Continue? [y/N]: ");
    let _ = io::stdout().flush();
    let mut answer = String::new();
    if io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

/// Cuts a file at `cut_at`, refusing if it changed size since the scan (a server still
/// appending to it would be cut mid-record again) and syncing before reporting success.
fn cut(f: &Fix) -> io::Result<()> {
    let file = OpenOptions::new().write(true).open(&f.path)?;
    let now = file.metadata()?.len();
    if now != f.size {
        return Err(io::Error::other(format!(
            "its size changed from {} to {now} bytes since the check (is a server writing it?)",
            f.size
        )));
    }
    file.set_len(f.cut_at)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn command_line() {
        let o = parse_args(&args(&["--fix", "x.aof", "--yes"])).unwrap().unwrap();
        assert!(o.fix && o.yes && o.path == Path::new("x.aof"));
        let o = parse_args(&args(&["--", "--fix"])).unwrap().unwrap();
        assert!(!o.fix && o.path == Path::new("--fix"));
        assert!(parse_args(&args(&["--help"])).unwrap().is_none());
        for bad in [&[][..], &["--fix"], &["a", "b"], &["--frobnicate", "a"]] {
            assert!(parse_args(&args(bad)).is_err(), "{bad:?}");
        }
    }
}
