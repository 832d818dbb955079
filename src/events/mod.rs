//! EventBridge's pure parts, shared by the service (buses, rules, targets) and by Lambda's
//! filter criteria: the event-pattern language (`pattern`, over the shared `crate::ruler`
//! core), the index that finds the rules an event matches without testing each (`index`),
//! target input transformation (`transform`) and schedule expressions (`schedule`).

pub mod index;
pub mod pattern;
pub mod schedule;
pub mod transform;
