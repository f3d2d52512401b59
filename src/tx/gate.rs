//! A shard's FIFO reader/writer gate. Readers are ordinary commands, which hold it only while
//! they execute synchronously; the writer is a multi-shard transaction holding it across hops.
//! Waiters are served strictly in arrival order so a transaction cannot be starved and a
//! connection's commands keep their order.

use super::TxId;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

#[derive(Default)]
struct Grant {
    /// 0 waiting, 1 granted, 2 taken (or abandoned).
    state: Cell<u8>,
    waker: RefCell<Option<Waker>>,
}

impl Grant {
    fn fire(&self) {
        self.state.set(1);
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }
}

enum Want {
    Read,
    Write(TxId),
}

#[derive(Default)]
pub struct Gate {
    writer: Cell<Option<TxId>>,
    readers: Cell<usize>,
    queue: RefCell<VecDeque<(Want, Rc<Grant>)>>,
}

impl Gate {
    /// True when an ordinary command may run right now without waiting.
    pub fn is_free(&self) -> bool {
        self.writer.get().is_none() && self.queue.borrow().is_empty()
    }

    pub fn holder(&self) -> Option<TxId> {
        self.writer.get()
    }

    /// Waits until an ordinary command may run; the permit must be dropped right after the
    /// command's synchronous execution.
    pub async fn read(&self) -> ReadPermit<'_> {
        if self.is_free() {
            return ReadPermit { gate: self, counted: false };
        }
        let grant = Rc::new(Grant::default());
        self.queue.borrow_mut().push_back((Want::Read, grant.clone()));
        Wait { gate: self, grant, read: true }.await;
        ReadPermit { gate: self, counted: true }
    }

    /// Takes the gate for transaction `tx`; release with `release(tx)`.
    pub async fn write(&self, tx: TxId) {
        if self.is_free() && self.readers.get() == 0 {
            self.writer.set(Some(tx));
            return;
        }
        let grant = Rc::new(Grant::default());
        self.queue.borrow_mut().push_back((Want::Write(tx), grant.clone()));
        Wait { gate: self, grant, read: false }.await;
    }

    pub fn release(&self, tx: TxId) {
        if self.writer.get() == Some(tx) {
            self.writer.set(None);
            self.drain();
        }
    }

    /// Grants waiters from the front: any run of readers, or one writer once readers are gone.
    fn drain(&self) {
        let mut queue = self.queue.borrow_mut();
        while let Some((want, grant)) = queue.front() {
            if grant.state.get() == 2 {
                queue.pop_front();
                continue;
            }
            if self.writer.get().is_some() {
                break;
            }
            match want {
                Want::Read => {
                    self.readers.set(self.readers.get() + 1);
                    grant.fire();
                    queue.pop_front();
                }
                Want::Write(tx) => {
                    if self.readers.get() > 0 {
                        break;
                    }
                    self.writer.set(Some(*tx));
                    grant.fire();
                    queue.pop_front();
                    break;
                }
            }
        }
    }

    fn reader_done(&self) {
        let n = self.readers.get() - 1;
        self.readers.set(n);
        if n == 0 {
            self.drain();
        }
    }
}

pub struct ReadPermit<'a> {
    gate: &'a Gate,
    counted: bool,
}

impl Drop for ReadPermit<'_> {
    fn drop(&mut self) {
        if self.counted {
            self.gate.reader_done();
        }
    }
}

struct Wait<'a> {
    gate: &'a Gate,
    grant: Rc<Grant>,
    read: bool,
}

impl Future for Wait<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.grant.state.get() == 1 {
            self.grant.state.set(2);
            return Poll::Ready(());
        }
        *self.grant.waker.borrow_mut() = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for Wait<'_> {
    /// A waiter that goes away (its connection closed) must not keep the gate: a grant it
    /// never took is handed back; one still queued is skipped by `drain`.
    fn drop(&mut self) {
        match self.grant.state.get() {
            1 => {
                self.grant.state.set(2);
                if self.read {
                    self.gate.reader_done();
                } else if let Some(tx) = self.gate.writer.get() {
                    self.gate.release(tx);
                }
            }
            0 => self.grant.state.set(2),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_lite::future::{block_on, poll_once};

    #[test]
    fn fifo_writer_then_readers() {
        let gate = Gate::default();
        block_on(async {
            gate.write(1).await;
            assert!(!gate.is_free());
            let mut r = Box::pin(gate.read());
            assert!(poll_once(&mut r).await.is_none());
            let mut w2 = Box::pin(gate.write(2));
            assert!(poll_once(&mut w2).await.is_none());
            gate.release(1);
            let permit = poll_once(&mut r).await.expect("reader granted first");
            assert!(poll_once(&mut w2).await.is_none(), "writer waits for the reader");
            drop(permit);
            assert!(poll_once(&mut w2).await.is_some());
            assert_eq!(gate.holder(), Some(2));
            gate.release(2);
            assert!(gate.is_free());
        });
    }

    #[test]
    fn abandoned_waiters_do_not_block() {
        let gate = Gate::default();
        block_on(async {
            gate.write(1).await;
            let mut w2 = Box::pin(gate.write(2));
            assert!(poll_once(&mut w2).await.is_none());
            gate.release(1);
            drop(w2); // granted but never taken
            assert!(gate.holder().is_none());
            let mut r = Box::pin(gate.read());
            assert!(poll_once(&mut r).await.is_some());
        });
    }
}
