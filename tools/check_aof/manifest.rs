//! Manifests, and turning the path the operator gave into the list of files to check.
//!
//! The top manifest (`appendonly.aof.manifest`) says `shards <N>`; shard i's manifest is
//! `appendonly.aof.<N>.<i>.manifest` beside it and lists that shard's files, one
//! `file <name> seq <k> type <b|i>` line each (Redis 7's syntax: key/value pairs, any order,
//! unknown keys ignored). Listed names are relative to the manifest's directory.

use std::fs;
use std::path::{Path, PathBuf};

/// Whether a listed file is the shard's base or one of its increments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Base,
    Incr,
}

/// One `file ... seq ... type ...` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    pub name: String,
    pub seq: u64,
    pub kind: Kind,
}

/// The files one manifest (or the operator, for a single file) puts in one sequence. Only
/// the last file of a group may be cut by `--fix`: that is where a crash leaves a torn write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    /// What to call the group in the report ("shard 0 (appendonly.aof.2.0.manifest)").
    pub label: String,
    pub files: Vec<PathBuf>,
}

/// Everything to check, from one command-line path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// "Checking ..." line: what the path turned out to be.
    pub what: String,
    pub groups: Vec<Group>,
    /// Manifest problems (unreadable, malformed, missing shard manifests): never fixable.
    pub errors: Vec<String>,
    /// True when the plan covers every shard of a set, so a TX group without a TXCOMMIT in
    /// these files has none anywhere.
    pub all_shards: bool,
}

/// The meaningful lines of a manifest: not blank, not `#` comments.
fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
}

/// Parses a top manifest: its shard count.
pub fn parse_top(text: &str) -> Result<u32, String> {
    let mut found = lines(text);
    let (line, first) = found.next().ok_or("empty top manifest")?;
    let shards = match first.split_ascii_whitespace().collect::<Vec<_>>().as_slice() {
        ["shards", text] => text.parse::<u32>().ok().filter(|&n| n > 0 && n.to_string() == *text),
        _ => None,
    };
    let n = shards.ok_or_else(|| format!("line {line}: expected 'shards <N>' with N >= 1, got '{first}'"))?;
    match found.next() {
        Some((line, extra)) => Err(format!("line {line}: unexpected '{extra}' after 'shards {n}'")),
        None => Ok(n),
    }
}

/// Parses a shard manifest: one base, then increments in increasing seq order.
pub fn parse_shard(text: &str) -> Result<Vec<Listed>, String> {
    let mut files: Vec<Listed> = Vec::new();
    for (line, l) in lines(text) {
        let entry = parse_file_line(l).map_err(|e| format!("line {line}: {e}"))?;
        match (entry.kind, files.last()) {
            (Kind::Base, None) | (Kind::Incr, Some(_)) => {}
            (Kind::Base, Some(_)) => {
                return Err(format!("line {line}: a second base file, or a base after incrs"));
            }
            (Kind::Incr, None) => return Err(format!("line {line}: an incr file before the base")),
        }
        if let Some(prev) = files.last().filter(|p| p.kind == Kind::Incr && p.seq >= entry.seq) {
            return Err(format!("line {line}: incr seq {} does not follow seq {}", entry.seq, prev.seq));
        }
        files.push(entry);
    }
    if files.is_empty() {
        return Err("no base file listed".into());
    }
    Ok(files)
}

fn parse_file_line(l: &str) -> Result<Listed, String> {
    let words: Vec<&str> = l.split_ascii_whitespace().collect();
    if !words.len().is_multiple_of(2) {
        return Err(format!("expected 'file <name> seq <k> type <b|i>', got '{l}'"));
    }
    let (mut name, mut seq, mut kind) = (None, None, None);
    for pair in words.chunks(2) {
        match pair[0] {
            "file" => name = Some(pair[1]),
            "seq" => seq = Some(pair[1].parse::<u64>().map_err(|_| format!("bad seq '{}'", pair[1]))?),
            "type" => {
                kind = Some(match pair[1] {
                    "b" => Kind::Base,
                    "i" => Kind::Incr,
                    t => return Err(format!("bad type '{t}' (expected b or i)")),
                })
            }
            _ => {}
        }
    }
    let (Some(name), Some(seq), Some(kind)) = (name, seq, kind) else {
        return Err(format!("expected 'file <name> seq <k> type <b|i>', got '{l}'"));
    };
    // A name is a file beside the manifest; a path could make a fix cut some other file.
    if name.contains('/') || name == "." || name == ".." {
        return Err(format!("file name '{name}' is a path"));
    }
    Ok(Listed { name: name.to_string(), seq, kind })
}

/// Whether a file holds a top manifest (its first meaningful line starts with `shards`).
fn is_top(path: &Path) -> bool {
    fs::read_to_string(path).is_ok_and(|t| lines(&t).next().is_some_and(|(_, l)| l.starts_with("shards")))
}

/// Turns the command-line path into a plan. Err only when the path itself is unusable.
pub fn plan(path: &Path) -> Result<Plan, String> {
    let meta = fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.is_dir() {
        return plan(&find_top(path)?);
    }
    let is_manifest = path.extension().is_some_and(|e| e == "manifest");
    Ok(if is_manifest && is_top(path) {
        plan_top(path)
    } else if is_manifest {
        plan_shard(path)
    } else {
        let file = path.to_path_buf();
        let label = "single file".to_string();
        Plan {
            what: format!("{} (a single file)", path.display()),
            groups: vec![Group { label, files: vec![file] }],
            errors: vec![],
            all_shards: false,
        }
    })
}

/// The one top manifest in `dir`, or in its `appendonlydir` (the default appenddirname).
fn find_top(dir: &Path) -> Result<PathBuf, String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut tops: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "manifest") && p.is_file() && is_top(p))
        .collect();
    tops.sort();
    match tops.len() {
        1 => Ok(tops.pop().unwrap_or_default()),
        0 if dir.join("appendonlydir").is_dir() => find_top(&dir.join("appendonlydir")),
        0 => Err(format!("{}: no top manifest (a *.manifest file saying 'shards <N>') here", dir.display())),
        _ => {
            let names: Vec<String> = tops.iter().map(|p| p.display().to_string()).collect();
            Err(format!("{}: several top manifests, name one: {}", dir.display(), names.join(", ")))
        }
    }
}

/// The directory a manifest's names are relative to.
fn dir_of(path: &Path) -> PathBuf {
    path.parent().map(Path::to_path_buf).unwrap_or_default()
}

fn plan_top(path: &Path) -> Plan {
    let mut plan =
        Plan { what: format!("{}", path.display()), groups: vec![], errors: vec![], all_shards: true };
    let shards = match fs::read_to_string(path).map_err(|e| e.to_string()).and_then(|t| parse_top(&t)) {
        Ok(n) => n,
        Err(e) => {
            plan.errors.push(format!("{}: {e}", path.display()));
            return plan;
        }
    };
    plan.what = format!("{} ({shards} shards)", path.display());
    // "appendonly.aof.manifest" -> prefix "appendonly.aof".
    let prefix = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let dir = dir_of(path);
    for i in 0..shards {
        let shard = dir.join(format!("{prefix}.{shards}.{i}.manifest"));
        if !shard.is_file() {
            plan.errors.push(format!("{}: shard {i}'s manifest is missing", shard.display()));
            continue;
        }
        let sub = plan_shard(&shard);
        plan.errors.extend(sub.errors);
        plan.groups
            .extend(sub.groups.into_iter().map(|g| Group { label: format!("shard {i} ({})", g.label), ..g }));
    }
    plan
}

fn plan_shard(path: &Path) -> Plan {
    let name = path.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let mut plan = Plan {
        what: format!("{} (one shard)", path.display()),
        groups: vec![],
        errors: vec![],
        all_shards: false,
    };
    match fs::read_to_string(path).map_err(|e| e.to_string()).and_then(|t| parse_shard(&t)) {
        Ok(listed) => {
            let dir = dir_of(path);
            let files = listed.iter().map(|l| dir.join(&l.name)).collect();
            plan.groups.push(Group { label: name, files });
        }
        Err(e) => plan.errors.push(format!("{}: {e}", path.display())),
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_manifest() {
        assert_eq!(parse_top("shards 4\n"), Ok(4));
        assert_eq!(parse_top("# written by shardis\n\nshards 2"), Ok(2));
        for bad in [
            "",
            "shards",
            "shards 0",
            "shards -1",
            "shards 02",
            "shard 2",
            "shards 2 3",
            "shards 2\nshards 3",
        ] {
            assert!(parse_top(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn shard_manifest() {
        let text = "file a.1.base.aof seq 1 type b\n\n# note\nfile a.1.incr.aof seq 1 type i\n\
                    type i seq 3 file a.3.incr.aof\n";
        let files = parse_shard(text).unwrap();
        let got: Vec<(&str, u64, Kind)> = files.iter().map(|f| (f.name.as_str(), f.seq, f.kind)).collect();
        assert_eq!(
            got,
            [
                ("a.1.base.aof", 1, Kind::Base),
                ("a.1.incr.aof", 1, Kind::Incr),
                ("a.3.incr.aof", 3, Kind::Incr)
            ]
        );
        assert_eq!(parse_shard("file a seq 1 type b startoffset 5\n").unwrap().len(), 1);
        for bad in [
            "",
            "file a seq 1 type i\n",
            "file a seq 1 type b\nfile b seq 2 type b\n",
            "file a seq 1 type b\nfile b seq 2 type i\nfile c seq 2 type i\n",
            "file a seq x type b\n",
            "file a seq 1 type h\n",
            "file a seq 1\n",
            "file a seq 1 type\n",
            "file ../a seq 1 type b\n",
        ] {
            assert!(parse_shard(bad).is_err(), "{bad:?}");
        }
    }
}
