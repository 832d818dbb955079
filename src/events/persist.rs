//! EventBridge state in the durable store. `Space::Events` holds one JSON record per bus,
//! rule (with its targets), archive, replay, connection and API destination, keyed
//! `kind \0 account \0 region \0 [bus \0] name`; `Space::ArchivedEvents` the archives' events,
//! keyed `archive ARN \0 ingestion time \0 id`. Restore compiles patterns and schedules again.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::context::RequestContext;
use crate::store::{Change, Space};

use super::archives::{Archive, Archived};
use super::buses::Bus;
use super::connections::{ApiDestination, Connection};
use super::replays::Replay;
use super::rules::Rule;
use super::EventsService;

fn key(parts: &[&str]) -> Vec<u8> {
    parts.join("\0").into_bytes()
}

fn archived_key(archive_arn: &str, e: &Archived) -> Vec<u8> {
    format!("{archive_arn}\0{:020}\0{}", e.ingested_ms, e.id).into_bytes()
}

impl EventsService {
    fn put<T: Serialize>(&self, ctx: &RequestContext, key: Vec<u8>, value: &T) {
        if !self.store.persistent() {
            return;
        }
        let value = serde_json::to_vec(value).unwrap_or_default();
        ctx.writes.push(self.store.submit(vec![Change::Put {
            space: Space::Events,
            key,
            value,
        }]));
    }

    fn delete(&self, ctx: &RequestContext, space: Space, key: Vec<u8>, prefix: bool) {
        if !self.store.persistent() {
            return;
        }
        let change = if prefix {
            Change::DeletePrefix { space, prefix: key }
        } else {
            Change::Delete { space, key }
        };
        ctx.writes.push(self.store.submit(vec![change]));
    }

    pub(super) fn persist_bus(&self, ctx: &RequestContext, bus: &Bus) {
        self.put(
            ctx,
            key(&["bus", &bus.account, &bus.region, &bus.name]),
            bus,
        );
    }

    pub(super) fn forget_bus(&self, ctx: &RequestContext, bus: &Bus) {
        let k = key(&["bus", &bus.account, &bus.region, &bus.name]);
        self.delete(ctx, Space::Events, k, false);
    }

    pub(super) fn persist_rule(&self, ctx: &RequestContext, bus: &Bus, rule: &Rule) {
        let k = key(&["rule", &bus.account, &bus.region, &bus.name, &rule.name]);
        self.put(ctx, k, rule);
    }

    pub(super) fn forget_rule(&self, ctx: &RequestContext, bus: &Bus, name: &str) {
        let k = key(&["rule", &bus.account, &bus.region, &bus.name, name]);
        self.delete(ctx, Space::Events, k, false);
    }

    pub(super) fn persist_archive(&self, ctx: &RequestContext, a: &Archive) {
        self.put(ctx, key(&["archive", &a.account, &a.region, &a.name]), a);
    }

    pub(super) fn persist_replay(&self, ctx: &RequestContext, r: &Replay) {
        self.put(ctx, key(&["replay", &ctx.account, &ctx.region, &r.name]), r);
    }

    pub(super) fn persist_connection(&self, ctx: &RequestContext, c: &Connection) {
        self.put(
            ctx,
            key(&["connection", &ctx.account, &ctx.region, &c.name]),
            c,
        );
    }

    pub(super) fn persist_destination(&self, ctx: &RequestContext, d: &ApiDestination) {
        self.put(
            ctx,
            key(&["destination", &ctx.account, &ctx.region, &d.name]),
            d,
        );
    }

    /// Forgets an archive, replay, connection or API destination record.
    pub(super) fn forget(
        &self,
        ctx: &RequestContext,
        kind: &str,
        account: &str,
        region: &str,
        name: &str,
    ) {
        self.delete(
            ctx,
            Space::Events,
            key(&[kind, account, region, name]),
            false,
        );
    }

    pub(super) fn persist_archived(&self, ctx: &RequestContext, archive_arn: &str, e: &Archived) {
        if !self.store.persistent() {
            return;
        }
        let value = serde_json::to_vec(e).unwrap_or_default();
        ctx.writes.push(self.store.submit(vec![Change::Put {
            space: Space::ArchivedEvents,
            key: archived_key(archive_arn, e),
            value,
        }]));
    }

    pub(super) fn forget_archived(&self, ctx: &RequestContext, archive_arn: &str) {
        let prefix = format!("{archive_arn}\0").into_bytes();
        self.delete(ctx, Space::ArchivedEvents, prefix, true);
    }

    /// Rebuilds everything from the store (start-up). Returns (buses, rules).
    pub fn restore(&self) -> Result<(usize, usize), String> {
        fn read<T: DeserializeOwned>(what: &str, value: &[u8]) -> Result<T, String> {
            serde_json::from_slice(value)
                .map_err(|e| format!("unreadable EventBridge {what} record: {e}"))
        }
        let mut reg = self.state.write();
        let mut rules = Vec::new();
        for (k, value) in self.store.load(Space::Events)? {
            let kind = k.split(|b| *b == 0).next().unwrap_or_default();
            match kind {
                b"bus" => {
                    let bus: Bus = read("bus", &value)?;
                    reg.buses.insert(
                        (bus.account.clone(), bus.region.clone(), bus.name.clone()),
                        bus,
                    );
                }
                b"rule" => {
                    let parts: Vec<String> = String::from_utf8_lossy(&k)
                        .split('\0')
                        .map(str::to_string)
                        .collect();
                    let mut rule: Rule = read("rule", &value)?;
                    rule.compile()
                        .map_err(|e| format!("rule {}: {}", rule.arn, e.message))?;
                    rules.push((parts, rule));
                }
                b"archive" => {
                    let mut a: Archive = read("archive", &value)?;
                    if let Some(p) = &a.event_pattern {
                        a.pattern = Some(Arc::new(
                            super::rules::parse_pattern(p).map_err(|e| e.message)?,
                        ));
                    }
                    reg.archives
                        .insert((a.account.clone(), a.region.clone(), a.name.clone()), a);
                }
                b"replay" | b"connection" | b"destination" => {
                    let parts: Vec<String> = String::from_utf8_lossy(&k)
                        .split('\0')
                        .map(str::to_string)
                        .collect();
                    let [_, account, region, name] = parts.as_slice() else {
                        continue;
                    };
                    let k = (account.clone(), region.clone(), name.clone());
                    match kind {
                        b"replay" => {
                            reg.replays.insert(k, read("replay", &value)?);
                        }
                        b"connection" => {
                            reg.connections.insert(k, read("connection", &value)?);
                        }
                        _ => {
                            reg.destinations.insert(k, read("API destination", &value)?);
                        }
                    }
                }
                _ => {}
            }
        }
        let now = self.now_ms();
        let mut rule_count = 0;
        for (parts, mut rule) in rules {
            let [_, account, region, bus, _] = parts.as_slice() else {
                continue;
            };
            if let Some(b) = reg
                .buses
                .get_mut(&(account.clone(), region.clone(), bus.clone()))
            {
                rule.next_fire_ms = rule.schedule.as_ref().and_then(|s| s.next_after(now));
                if let Some(p) = &rule.pattern {
                    b.index.insert(rule.name.clone(), p.clone());
                }
                b.rules.insert(rule.name.clone(), rule);
                rule_count += 1;
            }
        }
        let by_arn: std::collections::HashMap<String, _> = reg
            .archives
            .values()
            .map(|a| (a.arn.clone(), a.events.clone()))
            .collect();
        self.store.scan(Space::ArchivedEvents, &mut |k, v| {
            let arn = k.split(|b| *b == 0).next().unwrap_or_default();
            if let Some(events) = std::str::from_utf8(arn).ok().and_then(|a| by_arn.get(a)) {
                if let Ok(e) = serde_json::from_slice::<Archived>(v) {
                    events.lock().push(e);
                }
            }
            Ok(())
        })?;
        Ok((reg.buses.len(), rule_count))
    }
}
