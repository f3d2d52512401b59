//! Pipeline squashing: while a connection's input is parsed, commands for other shards are
//! gathered into one batch per shard; local commands run at once. Replies are put back in
//! request order when the group is flushed (before any command that needs the connection's
//! state or several shards, and when the input is exhausted).
//!
//! A multi-key command whose keys live on this shard and one other (MSET, MGET, DEL... with
//! two shards, the common cross-shard case) joins the pipeline too, as a *split* transaction,
//! instead of stopping it for the two round trips of a scheduled transaction (`coord`): it is
//! scheduled here at once, its other part travels in that shard's batch as a `TxPart`, which
//! the other shard schedules and runs only if it may run at once, and this shard's part runs
//! when the batch's replies are back. That is the protocol of `tx` with the last shard
//! scheduling and running in one step: no hop runs before the transaction is scheduled on both
//! shards. A batch with parts never waits on the other shard (it stops and hands the rest
//! back, see `dispatch::run_batch_eager`), so this shard's scheduled part never waits on
//! anything queued behind it; what was handed back runs here the slow way, in order.

use super::mesh::{Batch, ReplyFuture, ReqBody, RespBody, TxPart};
use super::{coord, exec_local, merge};
use crate::commands::{Args, Merge, OwnedArgs};
use crate::resp::Out;
use crate::server::client::Client;
use crate::server::core::Core;
use crate::tx::TxId;
use crate::tx::queue::LockKey;
use std::rc::Rc;

enum Piece {
    Local { start: u32, end: u32 },
    Remote { shard: u16, index: u32 },
    Split(Box<Split>),
}

/// A multi-key command split between this shard and `shard` as transaction `tx`.
pub struct Split {
    pub shard: usize,
    pub tx: TxId,
    pub cmd: usize,
    /// This shard's part of the command.
    pub local: OwnedArgs,
    /// Each part's key positions in the whole command, in shard order: to merge the two
    /// replies, and to rebuild the command if the other shard hands its part back.
    pub positions: [Vec<usize>; 2],
    pub how: Merge,
    /// The other part's index in its batch (from `push_part`).
    pub index: u32,
    /// This shard's reply, once its half has run.
    pub local_reply: Option<Vec<u8>>,
}

/// A shard's answer to the batch it was sent.
#[derive(Default)]
struct Answer {
    out: Vec<u8>,
    ends: Vec<u32>,
    /// The batch, when the shard stopped before its end (`RespBody::Stopped`).
    handed_back: Option<Batch>,
}

impl Answer {
    fn ran(&self, index: u32) -> bool {
        (index as usize) < self.ends.len()
    }

    fn reply(&self, index: u32) -> &[u8] {
        let start = if index == 0 { 0 } else { self.ends[index as usize - 1] as usize };
        &self.out[start..self.ends[index as usize] as usize]
    }
}

pub struct Pipeline {
    batches: Vec<Option<Batch>>,
    pieces: Vec<Piece>,
    /// Replies of local commands that come after a remote one in the group.
    scratch: Out,
    waits: Vec<(usize, ReplyFuture)>,
    replies: Vec<Answer>,
    /// Per shard: its batch carries transaction parts.
    split_shards: Vec<bool>,
    /// How many shards' batches carry transaction parts.
    eager: usize,
}

impl Pipeline {
    pub fn new(shards: usize) -> Pipeline {
        Pipeline {
            batches: (0..shards).map(|_| None).collect(),
            pieces: Vec::new(),
            scratch: Out::new(false),
            waits: Vec::new(),
            replies: (0..shards).map(|_| Answer::default()).collect(),
            split_shards: vec![false; shards],
            eager: 0,
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

    /// Queues the other shard's part of split transaction `tx` (see the module doc) in that
    /// shard's batch, with its keys; returns its index there. `tx` is already scheduled on
    /// this shard with this part's keys; `push_split` then queues this shard's part.
    #[allow(clippy::too_many_arguments)]
    pub fn push_part<'a>(
        &mut self,
        shard: usize,
        db: usize,
        resp3: bool,
        cmd: usize,
        args: impl Iterator<Item = &'a [u8]>,
        tx: TxId,
        keys: Vec<LockKey>,
    ) -> u32 {
        let batch = self.batches[shard].get_or_insert_with(|| Batch::new(db, resp3));
        let at = batch.cmds.len() as u32;
        batch.push(cmd, args);
        batch.parts.push(TxPart { at, tx, keys });
        if !std::mem::replace(&mut self.split_shards[shard], true) {
            self.eager += 1;
        }
        at
    }

    /// Queues this shard's part of a split transaction whose other part `push_part` queued.
    pub fn push_split(&mut self, split: Split) {
        self.pieces.push(Piece::Split(Box::new(split)));
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
    pub async fn flush(&mut self, core: &Rc<Core>, client: &Client, out: &mut Out) {
        if self.pieces.is_empty() {
            return;
        }
        for shard in 0..self.batches.len() {
            if let Some(batch) = self.batches[shard].take() {
                let wait = core.mesh.start(shard, 0, ReqBody::Batch(batch)).await;
                self.waits.push((shard, wait));
            }
        }
        // Batches with transaction parts answer without waiting. Once they are back, the
        // parts' local halves run, in request order (which is their id order, so each waits
        // only for smaller ids), before anything else is awaited: a plain batch on a third
        // shard may wait for a transaction that waits for them here.
        let eager = std::mem::take(&mut self.eager);
        if eager > 0 {
            let splits = &self.split_shards;
            self.waits.sort_unstable_by_key(|(shard, _)| !splits[*shard]);
            self.split_shards.fill(false);
        }
        for (i, (shard, wait)) in self.waits.drain(..).enumerate() {
            self.replies[shard] = answer_of(wait.await);
            if i + 1 == eager {
                for piece in &mut self.pieces {
                    if let Piece::Split(split) = piece {
                        run_local_half(core, client, split, &self.replies[split.shard]).await;
                    }
                }
            }
        }
        for piece in self.pieces.drain(..) {
            match piece {
                Piece::Local { start, end } => {
                    out.raw(&self.scratch.buf[start as usize..end as usize]);
                }
                Piece::Remote { shard, index } => {
                    let answer = &self.replies[shard as usize];
                    if answer.ran(index) {
                        out.raw(answer.reply(index));
                    } else {
                        let batch = answer.handed_back.as_ref().expect("a stopped batch comes back");
                        let (cmd, args) = batch.command(index as usize);
                        let reply =
                            coord::call_batch(core, shard as usize, 0, client.db, client.resp3, cmd, args)
                                .await;
                        out.raw(&reply);
                    }
                }
                Piece::Split(mut split) => match split.local_reply.take() {
                    Some(local) => {
                        let remote = self.replies[split.shard].reply(split.index);
                        let replies =
                            if core.id < split.shard { [&local[..], remote] } else { [remote, &local[..]] };
                        merge::merge(split.how, &replies, &split.positions, out);
                    }
                    None => {
                        // Handed back: run it the slow way, as a transaction of its own.
                        let answer = &self.replies[split.shard];
                        let batch = answer.handed_back.as_ref().expect("a stopped batch comes back");
                        let (_, remote) = batch.command(split.index as usize);
                        let full = rejoin(core.id, &split, remote);
                        let args = full.args();
                        let groups = coord::group_keys(core, split.cmd, args);
                        coord::run_split(core, client, split.cmd, args, groups, split.how, None, out).await;
                    }
                },
            }
        }
        self.scratch.buf.clear();
    }
}

/// The whole command a split was made from: its name, then each key's group (the key and the
/// `step - 1` arguments after it) in the original order, taken from the part that holds it. A
/// split command has no other arguments (only MSET-like commands, keys from the first
/// argument on, are split).
fn rejoin(here: usize, split: &Split, remote: Args) -> OwnedArgs {
    let step = crate::commands::table()[split.cmd].step.max(1) as usize;
    let mine = usize::from(here > split.shard);
    let parts = [(&split.positions[mine], split.local.args()), (&split.positions[1 - mine], remote)];
    let mut taken = [0usize; 2];
    let mut full = OwnedArgs::from_slices([remote.get(0)]);
    while let Some(p) = (0..2).filter(|&p| taken[p] < parts[p].0.len()).min_by_key(|&p| parts[p].0[taken[p]])
    {
        let args = parts[p].1;
        let start = 1 + taken[p] * step;
        for i in start..(start + step).min(args.len()) {
            full.push(args.get(i));
        }
        taken[p] += 1;
    }
    full
}

fn answer_of(body: RespBody) -> Answer {
    match body {
        RespBody::Replies { out, ends } => Answer { out, ends, handed_back: None },
        RespBody::Stopped { out, ends, batch } => Answer { out, ends, handed_back: Some(batch) },
        _ => unreachable!("a batch answered with a non-reply"),
    }
}

/// Once the other shard has answered: runs this shard's half of a split transaction whose
/// other half ran there, or unschedules it here when it was handed back. Either way the
/// transaction holds nothing here afterwards.
async fn run_local_half(core: &Rc<Core>, client: &Client, split: &mut Split, answer: &Answer) {
    if !answer.ran(split.index) {
        core.txq.conclude(split.tx);
        return;
    }
    core.txq.until_runnable(split.tx).await;
    core.tick();
    let mut local = Out::new(client.resp3);
    exec_local(core, split.cmd, client.db, split.local.args(), &mut local);
    core.txq.conclude(split.tx);
    split.local_reply = Some(local.buf);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_of(cmd: &str, local: &[&str], positions: [Vec<usize>; 2], shard: usize) -> Split {
        let cmd = crate::commands::table().iter().position(|c| c.name == cmd).unwrap();
        Split {
            shard,
            tx: 1,
            cmd,
            local: OwnedArgs::from_slices(local.iter().map(|a| a.as_bytes())),
            positions,
            how: Merge::AllOk,
            index: 0,
            local_reply: None,
        }
    }

    fn words(args: Args) -> Vec<String> {
        args.iter().map(|a| String::from_utf8(a.to_vec()).unwrap()).collect()
    }

    #[test]
    fn a_split_command_is_rejoined_in_its_original_order() {
        let remote = OwnedArgs::from_slices(["MSET", "b", "2", "d", "4"].map(str::as_bytes));
        let whole = ["MSET", "a", "1", "b", "2", "c", "3", "d", "4"];
        // This shard (0) holds keys at 1 and 5, shard 1 those at 3 and 7.
        let split = split_of("mset", &["MSET", "a", "1", "c", "3"], [vec![1, 5], vec![3, 7]], 1);
        assert_eq!(words(rejoin(0, &split, remote.args()).args()), whole);
        // Seen from shard 1, whose part is first in shard order.
        let split = split_of("mset", &["MSET", "a", "1", "c", "3"], [vec![3, 7], vec![1, 5]], 0);
        assert_eq!(words(rejoin(1, &split, remote.args()).args()), whole);
        let remote = OwnedArgs::from_slices(["DEL", "y"].map(str::as_bytes));
        let split = split_of("del", &["DEL", "x", "z", "w"], [vec![1, 3, 4], vec![2]], 1);
        assert_eq!(words(rejoin(0, &split, remote.args()).args()), ["DEL", "x", "y", "z", "w"]);
    }
}
