//! Lambda: functions and what runs them.

pub mod event_sources;
