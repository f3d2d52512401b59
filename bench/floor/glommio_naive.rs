//! Floor server (b): the "obvious" glommio server: glommio::net::TcpListener,
//! spawn_local per connection, read into a buffer, write_all the replies.
//! `--port P --core N [--glommio-spin-us US]`.
#[path = "common.rs"]
mod common;

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::{LocalExecutorBuilder, Placement, net::TcpListener};
use std::time::Duration;

fn main() {
    let args = common::parse_args();
    let mut b = LocalExecutorBuilder::new(Placement::Fixed(args.core)).io_memory(1 << 20).name("floor");
    if let Some(us) = args.glommio_spin_us {
        b = b.spin_before_park(Duration::from_micros(us));
    }
    if let Some(us) = args.preempt_us {
        b = b.preempt_timer(Duration::from_micros(us));
    }
    let ex = b.make().expect("executor");
    ex.run(async move {
        let listener = TcpListener::bind(("127.0.0.1", args.port)).expect("bind");
        eprintln!("floor_glommio_naive listening on 127.0.0.1:{} core {}", args.port, args.core);
        loop {
            let mut stream = match listener.accept().await {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("accept: {e}");
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            glommio::spawn_local(async move {
                let mut inb = common::InBuf::new();
                let mut out = Vec::with_capacity(4096);
                loop {
                    let n = match stream.read(inb.spare()).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    let Ok(count) = inb.filled(n) else { return };
                    if count > 0 {
                        out.clear();
                        common::push_pongs(&mut out, count);
                        if stream.write_all(&out).await.is_err() {
                            return;
                        }
                    }
                }
            })
            .detach();
        }
    });
}
