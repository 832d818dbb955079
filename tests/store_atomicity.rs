//! Issue 17 item 1: each store job is applied atomically. A child process writes jobs of many
//! changes across two spaces as fast as it can and is SIGKILLed at a random moment, several
//! times; after each kill every job is on disk whole or not at all.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use lyrebird::store::sled::SledStore;
use lyrebird::store::{Change, Durability, Space, Store};

const CHANGES_PER_JOB: u32 = 300;
const CHILD_ENV: &str = "LYREBIRD_ATOMICITY_CHILD_DIR";

fn key(job: u32, i: u32) -> Vec<u8> {
    let mut k = job.to_be_bytes().to_vec();
    k.extend_from_slice(&i.to_be_bytes());
    k
}

/// The writer: runs only in the child process (the same test, re-invoked with `CHILD_ENV`).
fn write_until_killed(dir: PathBuf) -> ! {
    // The parent's handle of the last round may take a moment to release sled's lock.
    let mut attempts = 0;
    let store = loop {
        match SledStore::open(&dir, Durability::Relaxed) {
            Ok(store) => break store,
            Err(e) if attempts < 100 => {
                attempts += 1;
                let _ = e;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("open: {e}"),
        }
    };
    // Continue numbering after what earlier rounds left.
    let mut job = store.load(Space::Queues).expect("load").len() as u32 + 1_000_000 * rand_round();
    loop {
        let mut changes: Vec<Change> = (0..CHANGES_PER_JOB)
            .map(|i| Change::Put {
                space: Space::Messages,
                key: key(job, i),
                value: vec![7u8; 64],
            })
            .collect();
        changes.push(Change::Put {
            space: Space::Queues,
            key: job.to_be_bytes().to_vec(),
            value: b"job".to_vec(),
        });
        drop(store.submit(changes));
        job += 1;
    }
}

fn rand_round() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
        % 4000
}

#[test]
fn a_killed_writer_leaves_whole_jobs_only() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        write_until_killed(PathBuf::from(dir));
    }
    let dir = std::env::temp_dir().join(format!("lyrebird-atomicity-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut written = 0;
    for round in 0..6u64 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "a_killed_writer_leaves_whole_jobs_only",
                "--nocapture",
            ])
            .env(CHILD_ENV, &dir)
            .spawn()
            .expect("child starts");
        std::thread::sleep(Duration::from_millis(900 + 97 * round));
        child.kill().expect("SIGKILL");
        let _ = child.wait();

        let store = SledStore::open(&dir, Durability::Strict).expect("reopen");
        let mut per_job: BTreeMap<u32, u32> = BTreeMap::new();
        store
            .scan(Space::Messages, &mut |k, _| {
                let job = u32::from_be_bytes(k[..4].try_into().unwrap());
                *per_job.entry(job).or_default() += 1;
                Ok(())
            })
            .unwrap();
        let mut marked = std::collections::BTreeSet::new();
        store
            .scan(Space::Queues, &mut |k, _| {
                marked.insert(u32::from_be_bytes(k.try_into().unwrap()));
                Ok(())
            })
            .unwrap();
        written = written.max(per_job.len());
        for (job, count) in &per_job {
            assert_eq!(
                *count, CHANGES_PER_JOB,
                "round {round}: job {job} is half on disk"
            );
            assert!(
                marked.contains(job),
                "round {round}: job {job} lacks its other space"
            );
        }
        assert_eq!(
            marked.len(),
            per_job.len(),
            "round {round}: a job's marker without its records"
        );
        drop(store);
        // sled releases its lock when the last handle (the writer thread's) goes.
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(written > 0, "the writer never got anything to disk");
    let _ = std::fs::remove_dir_all(&dir);
}
