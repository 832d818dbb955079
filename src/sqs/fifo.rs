//! What FIFO queues keep besides their messages:
//!
//! - `Groups`, the delivery order: a queue's messages per message group in send order, and the
//!   ready list of groups whose oldest message (the head) is visible, in the order they became
//!   receivable (as recorded on AWS). A group is listed when its head becomes visible and
//!   unlisted while the head is not; later messages in flight do not block it.
//! - `Deduplication`, the window of deduplication ids seen within the last five minutes.
//!
//! Both know sequence numbers and keys only: whether a message is visible is asked of the queue
//! (`queue.rs`), which calls `Groups::sync` whenever a message changes state or leaves, and
//! journals what the window forgets.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::ops::Bound;
use std::sync::Arc;

/// A FIFO message group: its messages in send order, and its entry in the ready list.
#[derive(Debug, Default)]
struct Group {
    seqs: BTreeSet<u64>,
    /// The ready-list ticket of the group's live entry; 0 while its head is not visible. Older
    /// entries of the group in the list carry other tickets and are skipped on pop.
    ticket: u64,
}

/// A FIFO queue's groups, and the ready list: groups in the order they became receivable, each
/// entry with its group's ticket.
#[derive(Debug, Default)]
pub struct Groups {
    groups: HashMap<Arc<str>, Group>,
    ready: VecDeque<(Arc<str>, u64)>,
    next_ticket: u64,
}

impl Groups {
    /// Files a new message at the end of its group (sequence numbers only grow); the caller
    /// then `sync`s the group.
    pub fn insert(&mut self, id: Arc<str>, seq: u64) {
        self.groups.entry(id).or_default().seqs.insert(seq);
    }

    /// Drops a message from its group; false when the group is unknown. The caller then
    /// `sync`s the group: the next message may now be the head, and visible.
    pub fn remove(&mut self, id: &Arc<str>, seq: u64) -> bool {
        match self.groups.get_mut(id) {
            Some(g) => {
                g.seqs.remove(&seq);
                true
            }
            None => false,
        }
    }

    /// Lists a group at the tail of the ready list when its head has become visible, and
    /// unlists it while the head is not visible. Forgets a group that has no messages left.
    /// True when the group was newly listed (something became receivable).
    pub fn sync(&mut self, id: &Arc<str>, visible: impl Fn(u64) -> bool) -> bool {
        let Some(g) = self.groups.get_mut(id) else {
            return false;
        };
        let Some(&head) = g.seqs.first() else {
            self.groups.remove(id);
            return false;
        };
        if !visible(head) {
            g.ticket = 0;
            false
        } else if g.ticket == 0 {
            self.next_ticket += 1;
            g.ticket = self.next_ticket;
            self.ready.push_back((id.clone(), self.next_ticket));
            true
        } else {
            false
        }
    }

    /// The next group that may deliver (its head visible), unlisted.
    pub fn pop_ready(&mut self, visible: impl Fn(u64) -> bool) -> Option<Arc<str>> {
        loop {
            let (id, ticket) = self.ready.pop_front()?;
            let Some(g) = self.groups.get_mut(&id) else {
                continue;
            };
            if g.ticket != ticket {
                continue;
            }
            g.ticket = 0;
            if g.seqs.first().is_some_and(|&seq| visible(seq)) {
                return Some(id);
            }
        }
    }

    /// The message after `after` in a group (the first one when `after` is `None`).
    pub fn next_in_group(&self, id: &Arc<str>, after: Option<u64>) -> Option<u64> {
        let g = self.groups.get(id)?;
        match after {
            None => g.seqs.first().copied(),
            Some(after) => g
                .seqs
                .range((Bound::Excluded(after), Bound::Unbounded))
                .next()
                .copied(),
        }
    }

    /// Forgets every group; the collections are replaced so their capacity is freed too.
    pub fn clear(&mut self) {
        self.groups = HashMap::new();
        self.ready = VecDeque::new();
    }
}

/// What a FIFO queue remembers of a deduplication id: when it expires, and the message id and
/// sequence number a duplicate send is answered with.
pub type DedupEntry = (u64, Arc<str>, Option<String>);

/// The deduplication ids a FIFO queue has seen within the deduplication interval, and the order
/// they expire in.
#[derive(Debug, Default)]
pub struct Deduplication {
    entries: HashMap<String, DedupEntry>,
    expiry: VecDeque<(u64, String)>,
}

impl Deduplication {
    pub fn get(&self, key: &str) -> Option<&DedupEntry> {
        self.entries.get(key)
    }

    /// Remembers a key until the entry's expiry (sends come in time order, so the expiry list
    /// stays sorted; restores sort it in `finish_restore`).
    pub fn insert(&mut self, key: String, entry: DedupEntry) {
        let expires = entry.0;
        self.entries.insert(key.clone(), entry);
        self.expiry.push_back((expires, key));
    }

    /// Forgets the keys whose time is up, passing each to `forgotten`.
    pub fn expire(&mut self, now_ms: u64, mut forgotten: impl FnMut(&str)) {
        while let Some((expires, _)) = self.expiry.front() {
            if *expires > now_ms {
                break;
            }
            let (expires, key) = self.expiry.pop_front().expect("peeked");
            if self
                .entries
                .get(&key)
                .is_some_and(|(e, _, _)| *e == expires)
            {
                self.entries.remove(&key);
                forgotten(&key);
            }
        }
    }

    /// Orders the expiry list once entries read from the store are all back.
    pub fn finish_restore(&mut self) {
        self.expiry.make_contiguous().sort();
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Forgets every key; the collections are replaced so their capacity is freed too.
    pub fn clear(&mut self) {
        self.entries = HashMap::new();
        self.expiry = VecDeque::new();
    }
}
