//! FIFO delivery order: a queue's messages per message group in send order, and the ready list
//! of groups whose oldest message (the head) is visible, in the order they became receivable
//! (as recorded on AWS). A group is listed when its head becomes visible and unlisted while the
//! head is not; later messages in flight do not block it.
//!
//! The groups know sequence numbers only: whether a message is visible is asked of the queue
//! (`queue.rs`), which calls `sync` whenever a message changes state or leaves.

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
