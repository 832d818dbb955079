//! A message moved between queues — dead-lettered on receive, or redriven by a move task — is
//! written in one store job with its removal from the source (found by the crash loop, issue 17
//! item 8): a job is atomic on disk, so after a crash the message is in one queue or the other.
//! Written as two jobs, a kill between them left it in both (move task: copy first) or in
//! neither (dead letters: removal first).

mod common;

use std::time::{Duration, Instant};

use lyrebird::sqs::model::*;
use lyrebird::store::{Change, Space, Store, Ticket, Visitor};
use parking_lot::Mutex;

/// Keeps every job it is given, in order.
#[derive(Debug, Default)]
struct RecordingStore {
    jobs: Mutex<Vec<Vec<Change>>>,
}

impl Store for RecordingStore {
    fn persistent(&self) -> bool {
        true
    }

    fn submit(&self, changes: Vec<Change>) -> Ticket {
        self.jobs.lock().push(changes);
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
        "recording"
    }
}

fn message_put(c: &Change, queue: u64) -> bool {
    matches!(c, Change::Put { space: Space::Messages, key, .. } if key.starts_with(&queue.to_be_bytes()))
}

fn message_delete(c: &Change, queue: u64) -> bool {
    matches!(c, Change::Delete { space: Space::Messages, key } if key.starts_with(&queue.to_be_bytes()))
}

impl RecordingStore {
    fn len(&self) -> usize {
        self.jobs.lock().len()
    }

    /// The jobs from the `since`-th on that put messages into `to`: how many they put, and how
    /// many they delete from `from`.
    fn moves(&self, since: usize, from: u64, to: u64) -> Vec<(usize, usize)> {
        self.jobs
            .lock()
            .iter()
            .skip(since)
            .filter(|job| job.iter().any(|c| message_put(c, to)))
            .map(|job| {
                (
                    job.iter().filter(|c| message_put(c, to)).count(),
                    job.iter().filter(|c| message_delete(c, from)).count(),
                )
            })
            .collect()
    }
}

type Fixture = common::engine::Engine<RecordingStore>;

#[tokio::test]
async fn dead_lettering_and_redriving_write_the_copy_and_the_removal_as_one_job() {
    let f = Fixture::new();
    let (dlq_url, dlq_arn, dlq) = f.queue("dlq", &[]);
    let policy = format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"1"}}"#);
    let (url, _, source) = f.queue(
        "source",
        &[("RedrivePolicy", policy), ("VisibilityTimeout", "0".into())],
    );
    for i in 0..3 {
        f.send(&url, &format!("m{i}"));
    }
    assert_eq!(f.receive(&url).await, 3);
    let since = f.store.len();
    // The second receive exceeds maxReceiveCount: all three go to the dead-letter queue.
    assert_eq!(f.receive(&url).await, 0);
    assert_eq!(
        f.store.moves(since, source, dlq),
        [(3, 3)],
        "the dead-letter copies and the removals from the source are one job"
    );

    // Redrive them to their source with a move task.
    let since = f.store.len();
    f.sqs
        .start_message_move_task(
            &f.ctx,
            StartMessageMoveTaskInput {
                source_arn: Some(dlq_arn),
                ..Default::default()
            },
        )
        .expect("start");
    let deadline = Instant::now() + Duration::from_secs(10);
    while f.store.moves(since, dlq, source).len() < 3 {
        assert!(
            Instant::now() < deadline,
            "the move task did not move all three"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        f.store.moves(since, dlq, source),
        [(1, 1), (1, 1), (1, 1)],
        "each redriven copy is one job with its removal from the dead-letter queue"
    );
    assert_eq!(f.receive(&dlq_url).await, 0);
}
