//! Scheduled rules fire on the service clock: one task sleeps until the next rule is due (or
//! the clock is moved, or a schedule changes), then sends each due rule's targets a
//! "Scheduled Event" from `aws.events`.

use std::sync::Arc;

use crate::context::RequestContext;

use super::put_events::{event_time, Envelope, Event};
use super::EventsService;

/// A rule found due.
struct Due {
    account: String,
    region: String,
    rule_arn: String,
    rule_name: String,
    fire_ms: u64,
    targets: Arc<Vec<super::model::Target>>,
    stats: Arc<super::stats::RuleStats>,
}

impl EventsService {
    /// Starts the schedule task (once, at start-up, inside the runtime).
    pub(super) fn start_scheduler(self: &Arc<Self>) {
        self.spawn_clock_task(self.schedule_changed.clone(), EventsService::fire_due);
    }

    /// Fires every due rule; returns when the next one is due.
    fn fire_due(&self) -> Option<u64> {
        let now = self.now_ms();
        let mut due = Vec::new();
        let mut next: Option<u64> = None;
        {
            let mut reg = self.state.write();
            for bus in reg.buses.values_mut() {
                for rule in bus.rules.values_mut() {
                    let (Some(schedule), Some(at)) = (&rule.schedule, rule.next_fire_ms) else {
                        continue;
                    };
                    if !rule.enabled() {
                        continue;
                    }
                    if at <= now {
                        due.push(Due {
                            account: bus.account.clone(),
                            region: bus.region.clone(),
                            rule_arn: rule.arn.clone(),
                            rule_name: rule.name.clone(),
                            fire_ms: at,
                            targets: rule.targets.clone(),
                            stats: rule.stats.clone(),
                        });
                        // A clock moved past several periods fires once, then resumes.
                        rule.next_fire_ms = schedule.next_after(now);
                    }
                    if let Some(n) = rule.next_fire_ms {
                        next = Some(next.map_or(n, |m: u64| m.min(n)));
                    }
                }
            }
        }
        for d in due {
            let ctx = RequestContext::internal(&d.account, &d.region, "");
            let id = uuid::Uuid::new_v4().to_string();
            let resources = [d.rule_arn.clone()];
            let json = Envelope {
                id: &id,
                detail_type: "Scheduled Event",
                source: "aws.events",
                account: &d.account,
                time: &event_time(d.fire_ms),
                region: &d.region,
                replay_name: None,
                resources: &resources,
                detail: "{}",
            }
            .to_json();
            let event = Arc::new(Event::new(id, &d.account, &d.region, json, now, None));
            for target in d.targets.iter() {
                self.deliver(&ctx, &event, &d.rule_arn, &d.rule_name, target, &d.stats);
            }
        }
        next
    }
}
