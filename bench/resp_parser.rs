//! Micro-benchmark: parsing pipelined RESP commands in place (`cargo bench --bench resp_parser`).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use shardis::resp::{Parsed, Parser};
use std::hint::black_box;

fn pipeline(n: usize, value_len: usize) -> Vec<u8> {
    let value = "x".repeat(value_len);
    let mut buf = Vec::new();
    for i in 0..n {
        let key = format!("key:{i:08}");
        buf.extend_from_slice(
            format!("*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n${}\r\n{value}\r\n", key.len(), value.len())
                .as_bytes(),
        );
    }
    buf
}

fn parse_all(parser: &mut Parser, buf: &[u8]) -> usize {
    let (mut pos, mut n) = (0, 0);
    loop {
        match parser.parse(&buf[pos..]) {
            Parsed::Command { consumed, .. } => {
                pos += consumed;
                n += 1;
            }
            Parsed::Skip { consumed } => pos += consumed,
            _ => return n,
        }
    }
}

fn bench(c: &mut Criterion) {
    for (n, len) in [(16, 3), (16, 1024)] {
        let buf = pipeline(n, len);
        let mut group = c.benchmark_group(format!("parse_{n}x_set_{len}b"));
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function("in_place", |b| {
            let mut parser = Parser::new(512 << 20);
            b.iter(|| black_box(parse_all(&mut parser, black_box(&buf))))
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
