//! The store that keeps nothing: state lives only in the services' memory.

use super::{Change, Records, Space, Store, Ticket};

#[derive(Debug, Default)]
pub struct MemoryStore;

impl Store for MemoryStore {
    fn persistent(&self) -> bool {
        false
    }

    fn submit(&self, _changes: Vec<Change>) -> Ticket {
        Ticket::done()
    }

    fn load(&self, _space: Space) -> Result<Records, String> {
        Ok(Vec::new())
    }

    fn flush(&self) {}

    fn describe(&self) -> &'static str {
        "memory"
    }
}
