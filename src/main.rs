//! `shardis [redis.conf] [--port 6379] [--threads N] [--<directive> <value>...]`

fn main() {
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
