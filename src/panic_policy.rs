//! The panic policy: a panic ends the process. lyrebird does not try to carry on after one: a
//! panic can strike with a queue's or topic's lock held and its state half-updated (parking_lot
//! locks are not poisoned), and a server answering from such state could lose or duplicate
//! messages silently. Aborting is safe instead, because every acknowledged change is on disk
//! before it is acknowledged (strict durability, the store applying each job whole), so a
//! restart on the same data directory comes back with everything acknowledged; a supervisor
//! (Docker's restart policy, systemd) restarts it.
//!
//! The binary installs `install` first thing; the library does not (tests run servers inside
//! the test process, where a failing assertion is a panic too). The hook runs before any
//! unwinding, so in the binary the protocol layer's `catch_unwind` (`protocol::reply`) never
//! gets to answer a 500 and carry on; it only serves embedders that install no hook.

/// Logs a panic (message, where, which thread) and aborts the process.
pub fn install() {
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".into());
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let thread = std::thread::current();
        let thread = thread.name().unwrap_or("unnamed");
        tracing::error!(%message, %location, thread, "panicked; aborting (the panic policy: acknowledged state is on disk, restart to recover)");
        std::process::abort();
    }));
}
