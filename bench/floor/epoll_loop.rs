//! Floor server (a): a plain single-threaded epoll loop on libc.
//! Answers `+PONG\r\n` to every complete RESP command. `--port P --core N`.
#[path = "common.rs"]
mod common;

fn main() {
    let args = common::parse_args();
    common::pin_to_core(args.core);
    let mut srv = common::EpollServer::new(args.port).expect("listen");
    eprintln!("floor_epoll listening on 127.0.0.1:{} core {}", args.port, args.core);
    loop {
        srv.poll(-1);
    }
}
