//! The RDB codec against payloads redis-server 7.0.15 wrote, against hand-built values of the
//! types only older Redis versions write, and in round trips of every shape of value.

use super::packed::tests::{make_listpack, make_ziplist, make_zipmap};
use super::*;
use crate::shard::{Entry, Str};
use crate::types::hash::Hash;
use crate::types::list::{End, List};
use crate::types::set::Set;
use crate::types::zset::ZSet;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn limits() -> Limits {
    Limits::from_config(&Config::default())
}

/// A DUMP payload of type `t` around a value body.
fn payload(t: u8, body: &[u8], version: u16) -> Vec<u8> {
    let mut p = vec![t];
    p.extend_from_slice(body);
    p.extend_from_slice(&version.to_le_bytes());
    let crc = crate::persistence::crc64::crc64(&p);
    p.extend_from_slice(&crc.to_le_bytes());
    p
}

/// A value body built with the encoder's primitives.
fn body(f: impl FnOnce(&mut Encoder)) -> Vec<u8> {
    let mut e = Encoder::new(false);
    f(&mut e);
    e.buf
}

fn restore(p: &[u8]) -> Value {
    restore_payload(p, &limits()).unwrap_or_else(|e| panic!("restore failed: {e:?}"))
}

fn list_items(v: &Value) -> Vec<String> {
    let Value::List(l) = v else { panic!("not a list: {v:?}") };
    l.iter().map(|e| String::from_utf8(e.to_vec()).unwrap()).collect()
}

fn hash_pairs(v: &Value) -> Vec<(String, String)> {
    let Value::Hash(h) = v else { panic!("not a hash: {v:?}") };
    let mut p = Vec::new();
    h.for_each(|f, v| p.push((String::from_utf8_lossy(f).into(), String::from_utf8_lossy(v).into())));
    p.sort();
    p
}

fn zset_pairs(v: &Value) -> Vec<(String, f64)> {
    let Value::ZSet(z) = v else { panic!("not a zset: {v:?}") };
    let mut p = Vec::new();
    z.for_each(|m, s| p.push((String::from_utf8_lossy(m).into(), s)));
    p
}

fn set_members(v: &Value) -> Vec<String> {
    let Value::Set(s) = v else { panic!("not a set: {v:?}") };
    let mut m = Vec::new();
    s.for_each(|b| m.push(String::from_utf8_lossy(b).into()));
    m.sort();
    m
}

fn strs(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn list_of(items: &[&[u8]], fill: i64) -> Value {
    let mut l = List::new();
    for i in items {
        l.push(End::Tail, i, fill);
    }
    Value::List(l)
}

/// Payloads of `DUMP` in redis-server 7.0.15 (see `restores_what_redis_dumped` for the data).
const REDIS_INT: &str = "00c139300a009d94ea2793fc08b9";
const REDIS_BIG_INT: &str = "0013393232333337323033363835343737353830370a003a657e9481e85f22";
const REDIS_STR: &str = "000568656c6c6f0a006372df766534200a";
const REDIS_LIST: &str = "1201021b1b00000005008161020101df38028568656c6c6f06f2a0860104ff0a00b770f9264636faa5";
const REDIS_INTSET: &str = "0b180400000004000000fdffffff0100000002000000701101000a0015ef637b140fcd64";
const REDIS_SET: &str = "0202016201610a0075d99d835ef85f65";
const REDIS_HASH_LP: &str = "1012120000000400816602817602816e020c01ff0a0001369481d35b8974";
const REDIS_ZSET_LP: &str =
    "111d1d0000000600816202dffe0281610283312e350481630283696e6604ff0a007356ad6cc2484ad0";
const REDIS_ZSET_SKIP: &str = "05020161000000000000f83f016200000000000000c00a00333818d03a99d3d3";
const REDIS_HASH_TABLE: &str = "0401016601760a00adf24356b1860efc";

#[test]
fn restores_what_redis_dumped() {
    assert_eq!(restore(&hex(REDIS_INT)), Value::Str(Str::Int(12345)));
    assert_eq!(restore(&hex(REDIS_BIG_INT)), Value::Str(Str::Int(i64::MAX)));
    assert_eq!(restore(&hex(REDIS_STR)), Value::from_bytes(b"hello"));
    let l = restore(&hex(REDIS_LIST));
    assert_eq!(list_items(&l), strs(&["a", "1", "-200", "hello", "100000"]));
    let si = restore(&hex(REDIS_INTSET));
    assert_eq!(si.encoding(), "intset");
    assert_eq!(set_members(&si), strs(&["-3", "1", "2", "70000"]));
    let ss = restore(&hex(REDIS_SET));
    assert_eq!((ss.encoding(), set_members(&ss)), ("hashtable", strs(&["a", "b"])));
    let h = restore(&hex(REDIS_HASH_LP));
    assert_eq!(h.encoding(), "listpack");
    assert_eq!(hash_pairs(&h), [("f".into(), "v".into()), ("n".into(), "12".into())]);
    let z = restore(&hex(REDIS_ZSET_LP));
    assert_eq!(z.encoding(), "listpack");
    assert_eq!(zset_pairs(&z), [("b".into(), -2.0), ("a".into(), 1.5), ("c".into(), f64::INFINITY)]);
    // Saved as a skiplist (Redis had zset-max-listpack-entries 0); small, so a listpack here.
    let zs = restore(&hex(REDIS_ZSET_SKIP));
    assert_eq!((zs.encoding(), zset_pairs(&zs)), ("listpack", vec![("b".into(), -2.0), ("a".into(), 1.5)]));
    let hs = restore(&hex(REDIS_HASH_TABLE));
    assert_eq!((hs.encoding(), hash_pairs(&hs)), ("listpack", vec![("f".into(), "v".into())]));
}

/// Where Redis's choices are deterministic (strings, one-node lists, intsets, plain hashes of
/// one field), our DUMP is byte for byte Redis's.
#[test]
fn dumps_are_redis_bytes() {
    assert_eq!(dump_payload(&Value::from_bytes(b"12345"), true), hex(REDIS_INT));
    assert_eq!(dump_payload(&Value::from_bytes(b"9223372036854775807"), true), hex(REDIS_BIG_INT));
    assert_eq!(dump_payload(&Value::from_bytes(b"hello"), true), hex(REDIS_STR));
    let list = list_of(&[b"a", b"1", b"-200", b"hello", b"100000"], -2);
    assert_eq!(dump_payload(&list, true), hex(REDIS_LIST));
    let mut set = Set::for_member(b"1");
    for m in ["1", "2", "-3", "70000"] {
        set.add(m.as_bytes(), 512);
    }
    assert_eq!(dump_payload(&Value::Set(set), true), hex(REDIS_INTSET));
    let mut h = Hash::default();
    h.set(b"f", b"v", crate::types::hash::Limits { entries: 0, value: 64 });
    assert_eq!(h.encoding(), "hashtable");
    assert_eq!(dump_payload(&Value::Hash(h), true), hex(REDIS_HASH_TABLE));
}

/// Every shape of value survives DUMP and RESTORE, compressed or not, in the same encoding.
#[test]
fn round_trips_every_shape() {
    let lim = limits();
    let mut values = vec![
        Value::from_bytes(b"0"),
        Value::from_bytes(b"-2147483648"),
        Value::from_bytes(b"2147483648"),
        Value::from_bytes(b"-9223372036854775808"),
        Value::from_bytes(b"007"),
        Value::from_bytes(b""),
        Value::from_bytes(&[0, 1, 2, 255, 13, 10]),
        Value::from_bytes("x".repeat(30).as_bytes()),
        Value::from_bytes("abc".repeat(10_000).as_bytes()),
        list_of(&[b"", b"-1", b"x", &[7u8; 100]], -2),
    ];
    let big: Vec<Vec<u8>> =
        (0..3000).map(|i| format!("element:{i}:{}", "pad".repeat(i % 7)).into_bytes()).collect();
    let refs: Vec<&[u8]> = big.iter().map(|v| v.as_slice()).collect();
    values.push(list_of(&refs, -2));
    values.push(list_of(&refs, 5));
    let mut small_hash = Hash::default();
    let mut big_hash = Hash::default();
    let mut ints = Set::for_member(b"1");
    let mut wide_ints = Set::for_member(b"1");
    let mut strs_set = Set::for_member(b"a");
    let mut small_z = ZSet::default();
    let mut big_z = ZSet::default();
    for (i, b) in big.iter().enumerate() {
        if i < 10 {
            small_hash.set(b, format!("{i}").as_bytes(), lim.hash);
            small_z.insert_new(b, i as f64 / 3.0, lim.zset);
            ints.add(format!("{}", i as i64 * 1000 - 3000).as_bytes(), lim.set_max_intset);
        }
        big_hash.set(b, b, lim.hash);
        strs_set.add(b, lim.set_max_intset);
        big_z.insert_new(b, if i % 2 == 0 { -(i as f64) } else { f64::INFINITY }, lim.zset);
    }
    wide_ints.add(i64::MIN.to_string().as_bytes(), 512);
    wide_ints.add(i64::MAX.to_string().as_bytes(), 512);
    values.extend([
        Value::Hash(small_hash),
        Value::Hash(big_hash),
        Value::Set(ints),
        Value::Set(wide_ints),
        Value::Set(strs_set),
        Value::ZSet(Box::new(small_z)),
        Value::ZSet(Box::new(big_z)),
    ]);
    for compress in [true, false] {
        for v in &values {
            let back = restore_payload(&dump_payload(v, compress), &lim).unwrap();
            assert_eq!(back.encoding(), v.encoding());
            // Lists are rebuilt with this server's node size, so only their elements compare.
            let same = match (v, &back) {
                (Value::List(_), Value::List(_)) => list_items(v) == list_items(&back),
                _ => *v == back,
            };
            assert!(same, "a {} of {} bytes (compress {compress})", v.type_name(), v.heap_bytes());
        }
    }
    let long = dump_payload(&Value::from_bytes("abc".repeat(10_000).as_bytes()), true);
    assert!(long.len() < 1000, "compressible strings are compressed: {}", long.len());
}

/// Types only older Redis versions write (and 7.2's set listpack), built by hand.
#[test]
fn reads_the_types_older_versions_write() {
    let v10 = 10;
    // 1: a linked list of strings.
    let p = payload(
        kind::LIST,
        &body(|e| {
            e.length(3);
            e.string(b"a");
            e.string(b"12");
            e.string(&[b'z'; 40]);
        }),
        6,
    );
    assert_eq!(list_items(&restore(&p)), ["a".to_string(), "12".into(), "z".repeat(40)]);
    // 3: a sorted set with text scores, including the special lengths for the infinities.
    let p = payload(
        kind::ZSET,
        &body(|e| {
            e.length(3);
            e.string(b"m1");
            e.buf.extend_from_slice(&[4, b'2', b'.', b'5', b'0']);
            e.string(b"m2");
            e.buf.push(254);
            e.string(b"m3");
            e.buf.push(255);
        }),
        7,
    );
    assert_eq!(
        zset_pairs(&restore(&p)),
        [("m3".into(), f64::NEG_INFINITY), ("m1".into(), 2.5), ("m2".into(), f64::INFINITY)]
    );
    // 9: a zipmap hash.
    let zm = make_zipmap(&[(b"name", b"redis"), (b"n", b"42")]);
    let p = payload(kind::HASH_ZIPMAP, &body(|e| e.string(&zm)), 4);
    assert_eq!(hash_pairs(&restore(&p)), [("n".into(), "42".into()), ("name".into(), "redis".into())]);
    // 10: a ziplist list; 14: a quicklist of two ziplists.
    let zl = make_ziplist(&[b"x", b"-5", b"300", b"70000", b"5000000000"]);
    let p = payload(kind::LIST_ZIPLIST, &body(|e| e.string(&zl)), 6);
    assert_eq!(list_items(&restore(&p)), strs(&["x", "-5", "300", "70000", "5000000000"]));
    let zl2 = make_ziplist(&[b"tail"]);
    let p = payload(
        kind::LIST_QUICKLIST,
        &body(|e| {
            e.length(2);
            e.string(&zl);
            e.string(&zl2);
        }),
        9,
    );
    assert_eq!(list_items(&restore(&p)).len(), 6);
    // 12 and 13: ziplist sorted sets and hashes.
    let zl = make_ziplist(&[b"a", b"1", b"b", b"2.5", b"c", b"-inf"]);
    let p = payload(kind::ZSET_ZIPLIST, &body(|e| e.string(&zl)), 9);
    assert_eq!(
        zset_pairs(&restore(&p)),
        [("c".into(), f64::NEG_INFINITY), ("a".into(), 1.0), ("b".into(), 2.5)]
    );
    let p = payload(kind::HASH_ZIPLIST, &body(|e| e.string(&zl)), 9);
    assert_eq!(hash_pairs(&restore(&p))[2], ("c".into(), "-inf".into()));
    // 16, 17, 20: listpacks (20 is Redis 7.2's small set).
    let lp = make_listpack(&[b"k", b"v", b"k2", b"-4096"]);
    let p = payload(kind::HASH_LISTPACK, &body(|e| e.string(&lp)), v10);
    assert_eq!(hash_pairs(&restore(&p)), [("k".into(), "v".into()), ("k2".into(), "-4096".into())]);
    let p = payload(kind::ZSET_LISTPACK, &body(|e| e.string(&lp)), v10);
    assert!(restore_payload(&p, &limits()).is_err(), "'v' is not a score");
    let lp = make_listpack(&[b"m", b"3", b"n", b"2"]);
    let p = payload(kind::ZSET_LISTPACK, &body(|e| e.string(&lp)), v10);
    assert_eq!(zset_pairs(&restore(&p)), [("n".into(), 2.0), ("m".into(), 3.0)]);
    let lp = make_listpack(&[b"5", b"apple", b"-1"]);
    let p = payload(kind::SET_LISTPACK, &body(|e| e.string(&lp)), 11);
    let s = restore(&p);
    assert_eq!((s.encoding(), set_members(&s)), ("hashtable", strs(&["-1", "5", "apple"])));
    let lp = make_listpack(&[b"5", b"-1"]);
    let p = payload(kind::SET_LISTPACK, &body(|e| e.string(&lp)), 11);
    assert_eq!(restore(&p).encoding(), "intset");
    // 18 with a plain node (Redis 7 keeps huge elements in nodes of their own).
    let lp = make_listpack(&[b"a", b"b"]);
    let p = payload(
        kind::LIST_QUICKLIST_2,
        &body(|e| {
            e.length(2);
            e.length(2);
            e.string(&lp);
            e.length(1);
            e.string(b"plain element");
        }),
        v10,
    );
    assert_eq!(list_items(&restore(&p)), strs(&["a", "b", "plain element"]));
}

#[test]
fn encodings_follow_this_servers_limits() {
    let fields: Vec<Vec<u8>> = (0..600).map(|i| format!("{i}").into_bytes()).collect();
    let p = payload(
        kind::HASH,
        &body(|e| {
            e.length(600);
            for f in &fields {
                e.string(f);
                e.string(b"v");
            }
        }),
        10,
    );
    assert_eq!(restore(&p).encoding(), "hashtable");
    let p = payload(
        kind::SET,
        &body(|e| {
            e.length(600);
            for f in &fields {
                e.string(f);
            }
        }),
        10,
    );
    assert_eq!(restore(&p).encoding(), "hashtable", "more than set-max-intset-entries");
    let p = payload(
        kind::SET,
        &body(|e| {
            e.length(3);
            for f in &fields[..3] {
                e.string(f);
            }
        }),
        10,
    );
    assert_eq!(restore(&p).encoding(), "intset");
    let p = payload(
        kind::ZSET_2,
        &body(|e| {
            e.length(1);
            e.string(&[b'm'; 65]);
            e.buf.extend_from_slice(&1.0f64.to_le_bytes());
        }),
        10,
    );
    assert_eq!(restore(&p).encoding(), "skiplist", "a member past zset-max-listpack-value");
}

#[test]
fn bad_payloads_are_refused_as_redis_refuses_them() {
    let lim = limits();
    let good = dump_payload(&Value::from_bytes(b"hello"), true);
    let mut bad_crc = good.clone();
    *bad_crc.last_mut().unwrap() ^= 1;
    assert_eq!(restore_payload(&bad_crc, &lim), Err(RestoreError::VersionOrChecksum));
    assert_eq!(restore_payload(&good[..9], &lim), Err(RestoreError::VersionOrChecksum));
    let newer = payload(kind::STRING, &body(|e| e.string(b"x")), 12);
    assert_eq!(restore_payload(&newer, &lim), Err(RestoreError::VersionOrChecksum));
    let bad = |t: u8, b: Vec<u8>| match restore_payload(&payload(t, &b, 10), &lim) {
        Err(RestoreError::BadFormat(why)) => why,
        other => panic!("expected a format error, got {other:?}"),
    };
    assert!(bad(kind::STRING, vec![5, b'a']).contains("past the end"));
    assert!(bad(kind::STREAM_LISTPACKS_3, vec![0]).contains("stream"));
    assert!(bad(8, vec![0]).contains("unknown value type"));
    assert!(bad(kind::LIST, vec![0]).contains("empty"));
    assert!(
        bad(
            kind::SET,
            body(|e| {
                e.length(2);
                e.string(b"a");
                e.string(b"a");
            })
        )
        .contains("duplicate")
    );
    assert!(bad(kind::MODULE_2, body(|e| e.length(0x1234 << 10))).contains("module"));
    // An LZF string that claims an absurd length is refused before anything is allocated.
    assert!(bad(kind::STRING, vec![0xC3, 2, 0x81, 0x7f, 0, 0, 0, 0, 0, 0, 0, 0, 0]).contains("LZF"));
}

// -------------------------------------------------------------------------------------------------
// Files

fn config() -> Config {
    Config { databases: 16, ..Config::default() }
}

/// A file of the given shards' sections.
fn file_of(shards: &[&Shard], checksum: bool) -> Vec<u8> {
    let mut f = file_header("7.2.4", 1000, 1_700_000_000);
    for s in shards {
        f.extend_from_slice(&shard_section(s, true, 1_000));
    }
    let crc = checksum.then(|| crate::persistence::crc64::crc64(&f));
    f.extend_from_slice(&file_trailer(crc));
    f
}

fn sample_shard() -> Shard {
    let mut s = Shard::new(0, 16);
    let lim = limits();
    for i in 0..200 {
        let key = format!("key:{i}");
        let value = match i % 4 {
            0 => Value::from_bytes(format!("{i}").as_bytes()),
            1 => list_of(&[b"a", key.as_bytes()], -2),
            2 => {
                let mut h = Hash::default();
                h.set(b"f", key.as_bytes(), lim.hash);
                Value::Hash(h)
            }
            _ => Value::from_bytes("long compressible value ".repeat(5).as_bytes()),
        };
        let mut e = Entry::new(value);
        if i % 10 == 0 {
            e.expire_at_ms = 10_000_000_000_000;
        }
        s.dbs[i % 3 * 5].insert(key.as_bytes(), e);
    }
    let mut dead = Entry::new(Value::from_bytes(b"x"));
    dead.expire_at_ms = 500;
    s.dbs[0].insert(b"expired-at-save", dead);
    s
}

fn same_keys(a: &Shard, b: &Shard) {
    for (i, (da, db)) in a.dbs.iter().zip(&b.dbs).enumerate() {
        assert_eq!(da.len(), db.len(), "db {i}");
        for (k, e) in da.dict.iter() {
            let other = db.dict.get(k).unwrap_or_else(|| panic!("missing {}", String::from_utf8_lossy(k)));
            assert_eq!(other.value, e.value);
            assert_eq!(other.expire_at_ms, e.expire_at_ms);
        }
    }
}

#[test]
fn files_load_whole_or_filtered() {
    let mut src = sample_shard();
    src.dbs[0].remove(b"expired-at-save");
    let file = file_of(&[&sample_shard()], true);
    let mut dst = Shard::new(0, 16);
    let stats = load_into_shard(&file, &mut dst, &config(), |_| true, 2_000).unwrap();
    assert_eq!((stats.version, stats.loaded, stats.expired), (10, 200, 0));
    assert_eq!(stats.redis_ver.as_deref(), Some("7.2.4"));
    same_keys(&src, &dst);
    // A filter keeps its keys and skips the others; a later clock expires keys with a TTL.
    let mut half = Shard::new(1, 16);
    let keep = |k: &[u8]| k.ends_with(b"0") || k.ends_with(b"2");
    let stats = load_into_shard(&file, &mut half, &config(), keep, 10_000_000_000_001).unwrap();
    assert_eq!((stats.foreign, stats.expired, stats.loaded), (160, 20, 20));
}

#[test]
fn sections_repeat_databases() {
    let mut a = Shard::new(0, 16);
    let mut b = Shard::new(1, 16);
    a.dbs[2].insert(b"a", Entry::new(Value::from_bytes(b"1")));
    b.dbs[2].insert(b"b", Entry::new(Value::from_bytes(b"2")));
    let mut dst = Shard::new(0, 16);
    load_into_shard(&file_of(&[&a, &b], true), &mut dst, &config(), |_| true, 0).unwrap();
    assert_eq!(dst.dbs[2].len(), 2);
    let err = load_into_shard(&file_of(&[&a, &a], true), &mut Shard::new(0, 16), &config(), |_| true, 0);
    assert!(err.unwrap_err().contains("duplicated key 'a'"));
}

#[test]
fn damaged_files_are_errors_with_offsets() {
    let file = file_of(&[&sample_shard()], true);
    let load = |bytes: &[u8], cfg: &Config| load_into_shard(bytes, &mut Shard::new(0, 16), cfg, |_| true, 0);
    for cut in [0, 5, 9, 100, file.len() / 2, file.len() - 9, file.len() - 1] {
        let err = load(&file[..cut], &config()).unwrap_err();
        assert!(err.contains("offset"), "cut {cut}: {err}");
    }
    let mut flipped = file.clone();
    let at = file.len() / 2;
    flipped[at] ^= 0x40;
    assert!(load(&flipped, &config()).is_err());
    let mut bad_sum = file.clone();
    let n = bad_sum.len();
    bad_sum[n - 1] ^= 1;
    let err = load(&bad_sum, &config()).unwrap_err();
    assert!(err.contains("checksum") && err.contains(&format!("offset {}", n - 8)), "{err}");
    let unchecked = Config { rdbchecksum: false, ..config() };
    assert!(load(&bad_sum, &unchecked).is_ok());
    assert!(load(&file_of(&[&sample_shard()], false), &config()).is_ok(), "a zero checksum is not checked");
    let few_dbs = Config { databases: 4, ..config() };
    let err = load_into_shard(&file, &mut Shard::new(0, 4), &few_dbs, |_| true, 0).unwrap_err();
    assert!(err.contains("database 5"), "{err}");
    let mut v12 = file.clone();
    v12[5..9].copy_from_slice(b"0012");
    assert!(load(&v12, &config()).unwrap_err().contains("version 0012"));
    assert!(load(b"RUDIS0010", &config()).unwrap_err().contains("signature"));
}
