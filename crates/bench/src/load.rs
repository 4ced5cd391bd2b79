//! A closed-loop load driver: a fixed number of workers, each sending its
//! next call as soon as the previous one answered, for a fixed time or a
//! fixed number of calls; latencies in an HDR histogram.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// What one measured run did.
#[derive(Debug, Clone)]
pub struct Measurement {
    /// Calls answered OK.
    pub calls: u64,
    /// What the throughput counts (robots, calls), over the OK calls.
    pub units: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub elapsed: Duration,
    /// Latency of OK calls, in microseconds.
    pub latency: Histogram<u64>,
}

impl Measurement {
    fn empty() -> Self {
        Self {
            calls: 0,
            units: 0,
            errors: 0,
            first_error: None,
            elapsed: Duration::ZERO,
            latency: histogram(),
        }
    }

    /// Units a second.
    pub fn rate(&self) -> f64 {
        self.units as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// A latency quantile in milliseconds.
    pub fn quantile_ms(&self, quantile: f64) -> f64 {
        self.latency.value_at_quantile(quantile) as f64 / 1_000.0
    }

    pub fn p50_ms(&self) -> f64 {
        self.quantile_ms(0.50)
    }

    pub fn p99_ms(&self) -> f64 {
        self.quantile_ms(0.99)
    }

    pub fn max_ms(&self) -> f64 {
        self.latency.max() as f64 / 1_000.0
    }
}

/// When a run stops.
#[derive(Debug, Clone, Copy)]
pub enum Until {
    /// Workers start no call after this long.
    Elapsed(Duration),
    /// This many calls in all, shared among the workers.
    Calls(u64),
}

/// An empty histogram for latencies in microseconds, 1 µs to 10 minutes,
/// three significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

/// Runs `workers` closed loops of `call(worker, index)` until `until`.
/// `index` counts calls over all workers from 0, so callers can give each
/// call its own robot. A call answers how many units it did.
pub async fn run<F, Fut>(workers: usize, until: Until, call: F) -> Measurement
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<u64, String>> + Send + 'static,
{
    let call = Arc::new(call);
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = match until {
        Until::Elapsed(duration) => Some(started + duration),
        Until::Calls(_) => None,
    };
    let limit = match until {
        Until::Calls(count) => count,
        Until::Elapsed(_) => u64::MAX,
    };
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..workers {
        let call = Arc::clone(&call);
        let next = Arc::clone(&next);
        tasks.spawn(async move {
            let mut latency = histogram();
            let (mut calls, mut units, mut errors) = (0_u64, 0_u64, 0_u64);
            let mut first_error = None;
            loop {
                if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                    break;
                }
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= limit {
                    break;
                }
                let sent = Instant::now();
                match call(worker, index).await {
                    Ok(done) => {
                        latency.saturating_record(sent.elapsed().as_micros() as u64);
                        calls += 1;
                        units += done;
                    }
                    Err(error) => {
                        errors += 1;
                        first_error.get_or_insert(error);
                    }
                }
            }
            (latency, calls, units, errors, first_error, Instant::now())
        });
    }
    let mut total = Measurement::empty();
    let mut last_done = started;
    while let Some(done) = tasks.join_next().await {
        let (latency, calls, units, errors, first_error, finished) =
            done.expect("a load worker panicked");
        total
            .latency
            .add(latency)
            .expect("histograms of one shape add");
        total.calls += calls;
        total.units += units;
        total.errors += errors;
        if total.first_error.is_none() {
            total.first_error = first_error;
        }
        last_done = last_done.max(finished);
    }
    // Until the last call answered: calls still in flight at the deadline
    // count, and so does the time they took.
    total.elapsed = last_done - started;
    total
}

/// Starts `call(index)` at a fixed `rate` a second for `duration`, whether
/// or not earlier calls answered (an open loop), and measures each call
/// from when it was due, so that a stall counts against every call it
/// delayed. Unlike [`run`], where latency is the concurrency over the
/// throughput by construction, this shows the latency a caller sees below
/// saturation.
pub async fn run_paced<F, Fut>(rate: f64, duration: Duration, call: F) -> Measurement
where
    F: Fn(u64) -> Fut,
    Fut: Future<Output = Result<u64, String>> + Send + 'static,
{
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut total = Measurement::empty();
    let account =
        |total: &mut Measurement, (took, result): (Duration, Result<u64, String>)| match result {
            Ok(units) => {
                total.latency.saturating_record(took.as_micros() as u64);
                total.calls += 1;
                total.units += units;
            }
            Err(error) => {
                total.errors += 1;
                total.first_error.get_or_insert(error);
            }
        };
    let started = Instant::now();
    let mut calls = tokio::task::JoinSet::new();
    let mut index = 0;
    while started.elapsed() < duration {
        let due = ticker.tick().await;
        let answered = call(index);
        index += 1;
        calls.spawn(async move {
            let result = answered.await;
            (due.elapsed(), result)
        });
        while let Some(done) = calls.try_join_next() {
            account(&mut total, done.expect("a paced call panicked"));
        }
    }
    while let Some(done) = calls.join_next().await {
        account(&mut total, done.expect("a paced call panicked"));
    }
    total.elapsed = started.elapsed();
    total
}

/// A small, fast pseudo-random sequence (SplitMix64) so that workers pick
/// robots spread over the whole registry without a shared generator.
pub fn spread(index: u64) -> u64 {
    let mut z = index.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn counts_every_call_once_and_keeps_errors_apart() {
        let measured = run(3, Until::Calls(100), |_, index| async move {
            if index % 10 == 0 {
                Err(format!("call {index} failed"))
            } else {
                Ok(2)
            }
        })
        .await;
        assert_eq!(measured.calls, 90);
        assert_eq!(measured.units, 180);
        assert_eq!(measured.errors, 10);
        assert_eq!(measured.latency.len(), 90);
        assert!(measured.first_error.unwrap().ends_with("failed"));
    }

    #[tokio::test]
    async fn stops_at_the_deadline() {
        let measured = run(2, Until::Elapsed(Duration::from_millis(50)), |_, _| async {
            tokio::time::sleep(Duration::from_millis(5)).await;
            Ok(1)
        })
        .await;
        assert!(measured.calls >= 2, "{measured:?}");
        assert!(measured.elapsed >= Duration::from_millis(50));
        assert!(measured.elapsed < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn paces_calls_and_measures_from_when_they_were_due() {
        let measured = run_paced(200.0, Duration::from_millis(200), |_| async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok(1)
        })
        .await;
        // 40 due in 200 ms; the slow answers do not hold the next ones back.
        assert!((35..=45).contains(&measured.calls), "{measured:?}");
        assert!(measured.latency.min() >= 20_000, "{measured:?}");
        assert!(measured.elapsed < Duration::from_secs(2));
    }

    #[test]
    fn spread_covers_a_range_evenly() {
        let mut buckets = [0_u32; 10];
        for i in 0..10_000 {
            buckets[(spread(i) % 10) as usize] += 1;
        }
        assert!(
            buckets.iter().all(|&n| (800..1_200).contains(&n)),
            "{buckets:?}"
        );
    }
}
