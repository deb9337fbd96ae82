//! One runner for every scheduled job (the keep-alive sweep today; the dispatcher of
//! scheduled posts and the analytics sync run the same way). A job names how it claims
//! a batch of work, what it does with one item and how each outcome counts, and what is
//! left afterwards; the runner owns the rest: its workers (each claiming its own
//! batches, so concurrent runs share the work through the claims), the deadline, the
//! stop reasons, the tally and the one summary line logged however the run ends.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

/// Why a run stopped when its deadline came.
pub const STOPPED_BY_DEADLINE: &str = "deadline";
/// Why a run stopped when a claim failed (the claims are the database's).
pub const STOPPED_BY_CLAIM: &str = "database_unavailable";
/// Why a run stopped when its upstream budget had nothing left before its deadline (the
/// analytics sync): the job at work, as the deadline is.
pub const STOPPED_BY_BUDGET: &str = "budget_spent";

/// A scheduled job, as the runner drives it.
pub trait Job: Sync {
    /// One piece of work a claim hands out.
    type Item: Send;
    /// What a failed claim (or the count of what is left) says.
    type Error: std::fmt::Display + Send;
    /// The job's name in its summary line.
    const NAME: &'static str;
    /// Its summary's counters, every one in the line even at 0 ([`Counted::counter`]
    /// names one of these).
    const COUNTERS: &'static [&'static str];

    /// Claims the next batch for one worker; empty when no work is left.
    fn claim(&self) -> impl Future<Output = Result<Vec<Self::Item>, Self::Error>> + Send;

    /// Does one item, and says how its outcome counts.
    fn work(&self, item: Self::Item) -> impl Future<Output = Counted> + Send;

    /// How much work is still due once the run ends (the summary's `remaining`).
    fn remaining(&self) -> impl Future<Output = Result<i64, Self::Error>> + Send;

    /// Gives back an item the run claimed and stopped before working (its deadline, an
    /// outage): by default its lease lapses.
    fn release(&self, item: Self::Item) -> impl Future<Output = ()> + Send {
        let _ = item;
        async {}
    }
}

/// How one item's outcome counts: the counter it adds one to, and what it says about
/// the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    pub counter: &'static str,
    pub effect: Effect,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// The upstream works: the run of outages in a row ends.
    Healthy,
    /// Says nothing about the upstream (a row of its own, someone else's lease).
    Neutral,
    /// The upstream failed; enough of these in a row stop the run.
    Outage(&'static str),
    /// Stop the run now, for this reason (a rate limit: the rest waits for the next run).
    Stop(&'static str),
}

impl Counted {
    pub fn healthy(counter: &'static str) -> Counted {
        Counted {
            counter,
            effect: Effect::Healthy,
        }
    }

    pub fn neutral(counter: &'static str) -> Counted {
        Counted {
            counter,
            effect: Effect::Neutral,
        }
    }

    /// An outage of the upstream; `why` stops the run after [`Limits::outages_to_stop`]
    /// in a row.
    pub fn outage(counter: &'static str, why: &'static str) -> Counted {
        Counted {
            counter,
            effect: Effect::Outage(why),
        }
    }

    pub fn stop(counter: &'static str, why: &'static str) -> Counted {
        Counted {
            counter,
            effect: Effect::Stop(why),
        }
    }
}

/// How a run goes: how many workers, until when, and how many upstream outages in a
/// row stop it.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub workers: usize,
    pub until: Instant,
    pub outages_to_stop: u32,
}

/// What a run did.
#[derive(Debug)]
pub struct Run<E> {
    /// Each counter the job named, and how many items it counted.
    pub counts: BTreeMap<&'static str, u64>,
    /// Why the run stopped before the work was done, if it did.
    pub stopped: Option<&'static str>,
    /// The first failed claim, if one ended the run.
    pub failure: Option<E>,
    /// What is still due ([`Job::remaining`]).
    pub remaining: Result<i64, E>,
    pub elapsed: Duration,
}

impl<E> Run<E> {
    /// How many items `counter` counted.
    pub fn count(&self, counter: &str) -> u64 {
        self.counts.get(counter).copied().unwrap_or(0)
    }
}

/// The summary line's fields beside the counts.
#[derive(Serialize)]
struct Line<'a> {
    #[serde(flatten)]
    counts: &'a BTreeMap<&'static str, u64>,
    remaining: Option<i64>,
    stopped: Option<&'static str>,
    elapsed_ms: u128,
}

/// Runs `job` with `limits.workers` workers until the work, the time or the upstream
/// runs out, and logs its summary line.
pub async fn run<J: Job>(job: &J, limits: Limits) -> Run<J::Error> {
    let started = Instant::now();
    let tally = Tally {
        counts: J::COUNTERS.iter().map(|c| (*c, 0)).collect(),
        ..Tally::default()
    };
    let shared = Shared {
        job,
        limits,
        tally: Mutex::new(tally),
    };
    let workers = (0..limits.workers.max(1)).map(|_| shared.worker());
    let failure = futures_util::future::join_all(workers)
        .await
        .into_iter()
        .find_map(Result::err);
    let tally = shared.tally.into_inner().unwrap_or_else(|p| p.into_inner());
    let remaining = job.remaining().await;
    let run = Run {
        counts: tally.counts,
        stopped: tally.stopped,
        failure,
        remaining,
        elapsed: started.elapsed(),
    };
    let line = Line {
        counts: &run.counts,
        remaining: run.remaining.as_ref().ok().copied(),
        stopped: run.stopped,
        elapsed_ms: run.elapsed.as_millis(),
    };
    let summary = serde_json::to_string(&line).unwrap_or_default();
    tracing::info!(job = J::NAME, %summary, "scheduled run done");
    run_metrics(&run);
    run
}

/// A run's metrics, by why it stopped (`done`, `deadline`, `tiktok_unavailable`,
/// `tiktok_rate_limited`, `database_unavailable`...): each counter, the run's duration,
/// what is still due, and `RunsStopped` (1 when it stopped before the work was done, as
/// its alarm counts them; a deadline or a spent budget is the job at work).
fn run_metrics<E>(run: &Run<E>) {
    use crate::metrics::{Line, Unit};
    let stopped = run.stopped.unwrap_or("done");
    let cut_short = run
        .stopped
        .is_some_and(|why| why != STOPPED_BY_DEADLINE && why != STOPPED_BY_BUDGET);
    let mut line = Line::new(&[("stopped", stopped)])
        .by(&[&[], &["stopped"]])
        .count("Runs", 1)
        .count("RunsStopped", u64::from(cut_short))
        .value(
            "RunDuration",
            Unit::Milliseconds,
            run.elapsed.as_secs_f64() * 1000.0,
        );
    for (name, count) in &run.counts {
        line = line.count(name, *count);
    }
    if let Ok(remaining) = &run.remaining {
        line = line.count("Remaining", (*remaining).max(0) as u64);
    }
    line.emit();
}

/// What a run's workers share.
struct Shared<'a, J> {
    job: &'a J,
    limits: Limits,
    tally: Mutex<Tally>,
}

#[derive(Default)]
struct Tally {
    counts: BTreeMap<&'static str, u64>,
    stopped: Option<&'static str>,
    /// Upstream outages in a row, over all workers.
    outages: u32,
}

impl<J: Job> Shared<'_, J> {
    /// Claims and works batches until the work, the time or the upstream runs out.
    async fn worker(&self) -> Result<(), J::Error> {
        loop {
            if !self.going_on() {
                return Ok(());
            }
            let batch = self
                .job
                .claim()
                .await
                .inspect_err(|_| self.stop(STOPPED_BY_CLAIM))?;
            if batch.is_empty() {
                return Ok(());
            }
            let mut items = batch.into_iter();
            while let Some(item) = items.next() {
                // What is left of the batch is given back (the job's release).
                if !self.going_on() {
                    for left in std::iter::once(item).chain(items) {
                        self.job.release(left).await;
                    }
                    return Ok(());
                }
                let counted = self.job.work(item).await;
                self.count(counted);
            }
        }
    }

    /// False once the run has stopped (or its deadline has come: it stops then).
    fn going_on(&self) -> bool {
        let mut tally = self.tally();
        if tally.stopped.is_none() && Instant::now() >= self.limits.until {
            tally.stopped = Some(STOPPED_BY_DEADLINE);
        }
        tally.stopped.is_none()
    }

    fn stop(&self, why: &'static str) {
        self.tally().stopped.get_or_insert(why);
    }

    fn tally(&self) -> std::sync::MutexGuard<'_, Tally> {
        self.tally.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn count(&self, counted: Counted) {
        let mut tally = self.tally();
        *tally.counts.entry(counted.counter).or_insert(0) += 1;
        match counted.effect {
            Effect::Healthy => tally.outages = 0,
            Effect::Neutral => {}
            Effect::Outage(why) => {
                tally.outages += 1;
                if tally.outages >= self.limits.outages_to_stop {
                    tally.stopped.get_or_insert(why);
                }
            }
            Effect::Stop(why) => {
                tally.stopped.get_or_insert(why);
            }
        }
    }
}

#[cfg(test)]
mod tests;
