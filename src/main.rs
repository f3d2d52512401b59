//! `shardis [redis.conf] [--port 6379] [--threads N] [--<directive> <value>...]`

/// mimalloc: no per-allocation header (small values cost less than with glibc) and cheap
/// frees of memory allocated on another core (cross-shard messages are freed by the
/// receiving core, which makes glibc's arenas take locks). Version 2 (the `v2` feature), not
/// the crate's default 3: in v3 a block whose size is not a power of two occupied 15-35% more
/// RSS than its size class (1M live 80-byte blocks, the size of a key's node: 96.5 bytes each
/// against v2's 81.8), which put shardis's memory per key above Redis's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

unsafe extern "C" {
    /// mimalloc's option setter (in the statically linked libmimalloc).
    fn mi_option_set(option: i32, value: std::ffi::c_long);
}

/// mimalloc's `mi_option_purge_delay` and `mi_option_allow_thp` (v2's `mi_option_t`).
const MI_OPTION_PURGE_DELAY: i32 = 15;
const MI_OPTION_ALLOW_THP: i32 = 37;

/// Freed pages go back to the OS at once: by default mimalloc keeps them 10 ms, which after a
/// bulk load left RSS far above the data (up to 1.8x Redis's for small hashes).
///
/// No transparent huge pages, as Redis (`disable-thp yes`): mimalloc asks for them on its
/// arenas, and a 2 MB page that holds a few live blocks stays resident whole (and can only be
/// purged whole), which cost 8-10 bytes per key of RSS on 200k small hashes. The prctl covers
/// the arena mimalloc reserved before `main`; the option stops it asking again.
fn tune_allocator() {
    unsafe {
        mi_option_set(MI_OPTION_PURGE_DELAY, 0);
        mi_option_set(MI_OPTION_ALLOW_THP, 0);
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

fn main() {
    tune_allocator();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!(
            "Usage: shardis [/path/to/redis.conf] [--port 6379] [--bind 127.0.0.1] [--threads N] [--dir ./data] [--requirepass X] [--<directive> <value>...]"
        );
        return;
    }
    if args.iter().any(|a| a == "-v" || a == "--version") {
        println!("shardis v={} (redis_version 7.2.0 compatible)", env!("CARGO_PKG_VERSION"));
        return;
    }
    let config = match shardis::config::Config::from_args(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("*** FATAL CONFIG ERROR ***\n{e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = std::fs::create_dir_all(&config.dir) {
        eprintln!("can't create data directory {}: {e}", config.dir);
        std::process::exit(1);
    }
    if let Err(e) = shardis::server::boot::run(config) {
        eprintln!("{e}");
        std::process::exit(1);
    }
}
