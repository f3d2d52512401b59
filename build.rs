//! Builds the small C helper for long double arithmetic (INCRBYFLOAT must compute and format
//! exactly as Redis does, in 80-bit long double, which Rust has no type for).
fn main() {
    println!("cargo:rerun-if-changed=src/types/long_double.c");
    cc::Build::new().file("src/types/long_double.c").opt_level(2).compile("shardis_long_double");
}
