//! The runner's rules with a job of numbered items held in memory.

use std::collections::HashSet;
use std::sync::Mutex;

use super::*;

/// Items 1..=n, claimed `batch` at a time; item `k` counts as `outcome(k)`.
struct Numbers {
    left: Mutex<Vec<u32>>,
    batch: usize,
    done: Mutex<Vec<u32>>,
    outcome: fn(u32) -> Counted,
    /// Claims fail from this one on (1: the first).
    failing_claim: Option<u32>,
    claims: Mutex<u32>,
    /// Items claimed and given back unworked.
    released: Mutex<Vec<u32>>,
}

impl Numbers {
    fn new(n: u32, batch: usize, outcome: fn(u32) -> Counted) -> Numbers {
        Numbers {
            left: Mutex::new((1..=n).rev().collect()),
            batch,
            done: Mutex::new(Vec::new()),
            outcome,
            failing_claim: None,
            claims: Mutex::new(0),
            released: Mutex::new(Vec::new()),
        }
    }

    fn done(&self) -> Vec<u32> {
        self.done.lock().unwrap().clone()
    }
}

impl Job for Numbers {
    type Item = u32;
    type Error = String;
    const NAME: &'static str = "numbers";
    const COUNTERS: &'static [&'static str] = &["ok", "failed", "skipped", "limited"];

    async fn claim(&self) -> Result<Vec<u32>, String> {
        let claim = {
            let mut claims = self.claims.lock().unwrap();
            *claims += 1;
            *claims
        };
        if self.failing_claim.is_some_and(|from| claim >= from) {
            return Err("database down".into());
        }
        tokio::task::yield_now().await;
        let mut left = self.left.lock().unwrap();
        let keep = left.len() - left.len().min(self.batch);
        Ok(left.split_off(keep))
    }

    async fn work(&self, item: u32) -> Counted {
        // Each item takes a turn, so the workers interleave.
        tokio::task::yield_now().await;
        self.done.lock().unwrap().push(item);
        (self.outcome)(item)
    }

    async fn remaining(&self) -> Result<i64, String> {
        Ok(self.left.lock().unwrap().len() as i64)
    }

    async fn release(&self, item: u32) {
        self.released.lock().unwrap().push(item);
    }
}

fn limits(workers: usize) -> Limits {
    Limits {
        workers,
        until: Instant::now() + Duration::from_secs(60),
        outages_to_stop: 3,
    }
}

#[tokio::test]
async fn every_item_is_worked_once_by_workers_claiming_their_own_batches() {
    let job = Numbers::new(157, 10, |_| Counted::healthy("ok"));
    let ran = run(&job, limits(4)).await;
    let done = job.done();
    assert_eq!(done.len(), 157);
    assert_eq!(done.iter().collect::<HashSet<_>>().len(), 157, "none twice");
    assert_eq!(ran.count("ok"), 157);
    // Every counter the job names is in the summary, at 0 too.
    assert_eq!(ran.counts.get("failed"), Some(&0));
    assert_eq!((ran.stopped, ran.remaining), (None, Ok(0)));
    assert!(ran.failure.is_none());
    assert!(*job.claims.lock().unwrap() >= 16 + 4, "each worker claimed");
}

#[tokio::test]
async fn a_run_past_its_deadline_claims_nothing() {
    let job = Numbers::new(5, 2, |_| Counted::healthy("ok"));
    let mut past = limits(2);
    past.until = Instant::now();
    let ran = run(&job, past).await;
    assert_eq!(ran.stopped, Some(STOPPED_BY_DEADLINE));
    assert_eq!(*job.claims.lock().unwrap(), 0);
    assert_eq!(ran.remaining, Ok(5));
}

#[tokio::test]
async fn a_stop_ends_every_worker_after_the_item_in_hand() {
    let job = Numbers::new(100, 5, |k| {
        if k == 7 {
            Counted::stop("limited", "rate_limited")
        } else {
            Counted::healthy("ok")
        }
    });
    let ran = run(&job, limits(4)).await;
    assert_eq!(ran.stopped, Some("rate_limited"));
    assert_eq!(ran.count("limited"), 1);
    // After the stop, each other worker finishes at most the item it was working on.
    let done = job.done();
    let at = done.iter().position(|k| *k == 7).unwrap();
    assert!(done.len() - at - 1 <= 3, "{done:?}");
    assert!(ran.remaining.unwrap() >= 80);
}

#[tokio::test]
async fn outages_in_a_row_stop_the_run_and_a_success_resets_the_streak() {
    // Every other item fails: never three in a row with one worker.
    let job = Numbers::new(20, 5, |k| {
        if k % 2 == 0 {
            Counted::outage("failed", "upstream_unavailable")
        } else {
            Counted::healthy("ok")
        }
    });
    let ran = run(&job, limits(1)).await;
    assert_eq!(ran.stopped, None);
    assert_eq!((ran.count("ok"), ran.count("failed")), (10, 10));

    // Neutral outcomes neither stop the run nor end a streak.
    let job = Numbers::new(20, 5, |k| match k {
        1 | 3 | 5 => Counted::outage("failed", "upstream_unavailable"),
        _ => Counted::neutral("skipped"),
    });
    let ran = run(&job, limits(1)).await;
    assert_eq!(ran.stopped, Some("upstream_unavailable"));
    assert_eq!(ran.count("failed"), 3);
    assert_eq!(job.done().len(), 5, "stopped after the third outage");
}

#[tokio::test]
async fn a_failed_claim_ends_the_run_with_its_error() {
    let mut job = Numbers::new(30, 5, |_| Counted::healthy("ok"));
    job.failing_claim = Some(3);
    let ran = run(&job, limits(1)).await;
    assert_eq!(ran.failure.as_deref(), Some("database down"));
    assert_eq!(ran.stopped, Some(STOPPED_BY_CLAIM));
    assert_eq!(ran.count("ok"), 10, "the two batches claimed before");
    assert_eq!(ran.remaining, Ok(20));
}

#[tokio::test]
async fn a_run_that_stops_mid_batch_gives_back_what_it_did_not_work() {
    // The first batch is 10 down to 1; item 8 stops the run: the rest of the batch (7
    // down to 1) is given back, none of it worked.
    let job = Numbers::new(30, 10, |k| match k {
        8 => Counted::stop("limited", "rate_limited"),
        _ => Counted::healthy("ok"),
    });
    let ran = run(&job, limits(1)).await;
    assert_eq!(ran.stopped, Some("rate_limited"));
    assert_eq!(job.done(), [10, 9, 8]);
    let mut released = job.released.lock().unwrap().clone();
    released.sort_unstable();
    assert_eq!(released, (1..=7).collect::<Vec<_>>());
}
