//! The store that keeps nothing: state lives only in the services' memory.

use super::{Change, Space, Store, Ticket, Visitor};

#[derive(Debug, Default)]
pub struct MemoryStore;

impl Store for MemoryStore {
    fn persistent(&self) -> bool {
        false
    }

    fn submit(&self, _changes: Vec<Change>) -> Ticket {
        Ticket::done()
    }

    fn scan(&self, _space: Space, _visit: &mut Visitor<'_>) -> Result<(), String> {
        Ok(())
    }

    fn put_now(&self, _space: Space, _key: &[u8], _value: &[u8]) -> Result<(), String> {
        Ok(())
    }

    fn flush(&self) {}

    fn describe(&self) -> &'static str {
        "memory"
    }
}
