//! Pipeline squashing: while a connection's input is parsed, commands for other shards are
//! gathered into one batch per shard; local commands run at once. Replies are put back in
//! request order when the group is flushed (before any command that needs the connection's
//! state or several shards, and when the input is exhausted).

use super::mesh::{Batch, ReplyFuture, ReqBody, RespBody};
use crate::commands::Args;
use crate::resp::Out;
use crate::server::core::Core;
use std::rc::Rc;

enum Piece {
    Local { start: u32, end: u32 },
    Remote { shard: u16, index: u32 },
}

pub struct Pipeline {
    batches: Vec<Option<Batch>>,
    pieces: Vec<Piece>,
    /// Replies of local commands that come after a remote one in the group.
    scratch: Out,
    waits: Vec<(usize, ReplyFuture)>,
    replies: Vec<(Vec<u8>, Vec<u32>)>,
}

impl Pipeline {
    pub fn new(shards: usize) -> Pipeline {
        Pipeline {
            batches: (0..shards).map(|_| None).collect(),
            pieces: Vec::new(),
            scratch: Out::new(false),
            waits: Vec::new(),
            replies: (0..shards).map(|_| (Vec::new(), Vec::new())).collect(),
        }
    }

    pub fn has_remote(&self) -> bool {
        !self.pieces.is_empty()
    }

    /// Queues a command for a remote shard.
    pub fn push_remote(&mut self, shard: usize, db: usize, resp3: bool, cmd: usize, args: Args) {
        let batch = self.batches[shard].get_or_insert_with(|| Batch::new(db, resp3));
        let index = batch.cmds.len() as u32;
        batch.push(cmd, args.iter());
        self.pieces.push(Piece::Remote { shard: shard as u16, index });
    }

    /// Runs `f` to produce a local reply, in its place in the reply order.
    pub fn local_reply(&mut self, out: &mut Out, f: impl FnOnce(&mut Out)) {
        if self.pieces.is_empty() {
            f(out);
            return;
        }
        self.scratch.resp3 = out.resp3;
        let start = self.scratch.buf.len() as u32;
        f(&mut self.scratch);
        let end = self.scratch.buf.len() as u32;
        self.pieces.push(Piece::Local { start, end });
    }

    /// Sends every gathered batch, waits for all replies, and writes the group's replies to
    /// `out` in request order.
    pub async fn flush(&mut self, core: &Rc<Core>, out: &mut Out) {
        if self.pieces.is_empty() {
            return;
        }
        for shard in 0..self.batches.len() {
            if let Some(batch) = self.batches[shard].take() {
                let wait = core.mesh.start(shard, 0, ReqBody::Batch(batch)).await;
                self.waits.push((shard, wait));
            }
        }
        for (shard, wait) in self.waits.drain(..) {
            if let RespBody::Replies { out, ends } = wait.await {
                self.replies[shard] = (out, ends);
            }
        }
        for piece in self.pieces.drain(..) {
            match piece {
                Piece::Local { start, end } => {
                    out.raw(&self.scratch.buf[start as usize..end as usize]);
                }
                Piece::Remote { shard, index } => {
                    let (buf, ends) = &self.replies[shard as usize];
                    let start = if index == 0 { 0 } else { ends[index as usize - 1] as usize };
                    out.raw(&buf[start..ends[index as usize] as usize]);
                }
            }
        }
        self.scratch.buf.clear();
    }
}
