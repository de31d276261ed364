//! The hot paths of authkit-sqlx beside their floors, on PostgreSQL
//! (`AUTHKIT_TEST_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/test`) and on
//! MariaDB/MySQL (`AUTHKIT_TEST_MYSQL_URL`, default `mysql://root@127.0.0.1:3306/test`),
//! each in a schema (PostgreSQL) or database (MariaDB) of its own, created at the start
//! and dropped at the end. A database that cannot be reached fails the run with a message
//! naming its variable; nothing is skipped.
//!
//! ```text
//! cargo bench -p authkit-sqlx --features mysql --bench hot_paths -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! Groups, each at 1 and 16 tasks (`<group>/<database>/<contender>/<tasks>`):
//! - `session_auth`: `Auth::authenticate_session` with no slide due
//!   (`session.touch_step` one hour), a bare sqlx `SELECT` of the same columns by hash and
//!   liveness, and the peer: tower-sessions' sqlx store `load`, on its own sqlx 0.8 pool,
//!   over as many records (1024) carrying a comparable payload; beside them the bare
//!   `SELECT` sent through the peer's sqlx 0.8 pool, which tells the driver's share of a
//!   gap to the peer from the store's;
//! - `session_slide_due`: `Auth::authenticate_session` with `session.touch_step` zero
//!   and the system clock, so every call writes the slid deadline, beside a bare
//!   `UPDATE … RETURNING` of the same row by hash (PostgreSQL); MariaDB has no
//!   `UPDATE … RETURNING`, so there the floor is the least that reads the session and
//!   writes its slide, a bare `SELECT` by hash then an `UPDATE` by id on one connection,
//!   and beside it the bare `UPDATE` by hash alone, which reads nothing back;
//! - `api_key_verify`: `Auth::verify_api_key` round-robin over 1,000 keys, over 3 hot
//!   keys, and over 1,000 keys limited to 10,000 a second (never reached), each with its
//!   usage writes inside the timing (`Auth::flush_key_usage` closes every measured batch),
//!   beside a bare `SELECT` of the same key rows by hash;
//! - `lookups`: `user_by_email`, a store call, at 1 task;
//! - purging 100,000 expired sessions through `Auth::purge_expired` (printed).
//!
//! Like is compared with like:
//! - one tokio runtime (multi-thread, 2 workers) for everything;
//! - one shape for every contender ([`drive`]): N spawned tasks each running a loop of
//!   calls, then the contender's end-of-batch step, all inside the timing;
//! - one set of pool options per database for every contender: 16 connections, all
//!   opened up front, and `test_before_acquire(false)`, set here explicitly so that
//!   a change of sqlx's or the store's defaults moves no contender alone. The store gets
//!   a pool built from those options (`PgStore::new(pool, StoreOptions::default())`), the
//!   floors run on that same pool, and the peer's sqlx 0.8 pool is built with the same
//!   settings.
//!
//! Criterion reports each contender's throughput. At the end a plain summary follows: per
//! group and task count, interleaved rounds of a fixed duration (every contender of the
//! group in turn, each beside its floor), the median throughput of each contender and of
//! its floor, and their ratio. `AUTHKIT_BENCH_ROUNDS` sets the number of rounds (default
//! 5) and `AUTHKIT_BENCH_ROUND_MS` a round's duration (default 300, which keeps the whole
//! run, both databases, near 6 minutes with the flags above).
//!
//! Round length matters for `api_key_verify`: every round ends with a flush of the usage
//! it buffered, which writes a row per key used whatever the round's length. Over 1,000
//! keys that flush weighs on a 300 ms round (the ratio to the floor read 0.81–0.93 there,
//! on both databases, and 0.92–1.05 in rounds of 1.5 s and 2 s); in an application the
//! flush runs every `usage_flush_interval` (10 s by default) or every `usage_flush_uses`
//! uses (10,000), so the long rounds are the closer picture.
//! Measure that group with `AUTHKIT_BENCH_ROUND_MS=2000 AUTHKIT_BENCH_ROUNDS=9 … --
//! api_key_verify`.
//!
//! The rounds follow criterion's filter: a contender is run in rounds only when
//! criterion ran it, and not at all under `--test` or `--list`. Criterion's plots are
//! off (they cost about 4 s a bench here); `--plotting-backend plotters` brings them
//! back.
// Bench harness code: a failed unwrap is a failed run.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]
// `hot_paths/backend.rs` is mounted once per database on purpose, each time over that
// database's types, as the store's own files are (see `src/pg.rs`).
#![allow(clippy::duplicate_mod)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use tokio::runtime::Runtime;

#[path = "hot_paths/mysql.rs"]
mod mysql;
#[path = "hot_paths/postgres.rs"]
mod postgres;

type Call = Arc<dyn Fn(usize) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// One contender of a group.
struct Contender {
    name: String,
    /// The `i`-th call of a batch.
    call: Call,
    /// Run once after each batch's calls, inside its timing (called with 0).
    finish: Option<Call>,
    /// The contender of the same group this one is divided by in the summary.
    floor: Option<&'static str>,
}

fn boxed<F>(call: impl Fn(usize) -> F + Send + Sync + 'static) -> Call
where
    F: Future<Output = ()> + Send + 'static,
{
    Arc::new(move |i| Box::pin(call(i)))
}

impl Contender {
    fn new<F>(name: &str, call: impl Fn(usize) -> F + Send + Sync + 'static) -> Self
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let (name, call) = (name.to_owned(), boxed(call));
        Contender {
            name,
            call,
            finish: None,
            floor: None,
        }
    }

    fn against(mut self, floor: &'static str) -> Self {
        self.floor = Some(floor);
        self
    }

    fn finishing<F>(mut self, finish: impl Fn(usize) -> F + Send + Sync + 'static) -> Self
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.finish = Some(boxed(finish));
        self
    }
}

struct Group {
    name: &'static str,
    tasks: &'static [usize],
    contenders: Vec<Contender>,
}

#[derive(Clone, Copy)]
enum Budget {
    Calls(u64),
    For(Duration),
}

/// The one shape every contender runs in: `tasks` tasks spawned on `rt`, each a loop of
/// calls (task `t` makes calls `t`, `t + tasks`, `t + 2·tasks`, …) until `budget` is
/// spent, then the contender's `finish`. Returns the calls made and the wall time of it
/// all.
fn drive(rt: &Runtime, tasks: usize, budget: Budget, c: &Contender) -> (u64, Duration) {
    rt.block_on(async {
        let start = Instant::now();
        let handles: Vec<_> = (0..tasks)
            .map(|t| {
                let call = Arc::clone(&c.call);
                tokio::spawn(async move {
                    let mut i = t;
                    while match budget {
                        Budget::Calls(n) => (i as u64) < n,
                        Budget::For(d) => start.elapsed() < d,
                    } {
                        call(i).await;
                        i += tasks;
                    }
                    ((i - t) / tasks) as u64
                })
            })
            .collect();
        let mut calls = 0;
        for handle in handles {
            calls += handle.await.unwrap();
        }
        if let Some(finish) = &c.finish {
            finish(0).await;
        }
        (calls, start.elapsed())
    })
}

/// One line of the summary.
struct Line {
    db: &'static str,
    group: &'static str,
    tasks: usize,
    name: String,
    floor: String,
    /// Median calls per second of the contender and of its floor.
    median: f64,
    floor_median: f64,
    /// The lowest and highest ratio of a round to its floor's round.
    ratios: (f64, f64),
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Whether criterion measures (not `--test`, `--list`): only then are rounds run.
fn measuring() -> bool {
    let args: Vec<String> = std::env::args().collect();
    let has = |flag: &str| args.iter().any(|a| a == flag);
    has("--bench") && !has("--test") && !has("--list")
}

/// Interleaved rounds per contender in the summary (`AUTHKIT_BENCH_ROUNDS`, default 5).
fn rounds() -> usize {
    std::env::var("AUTHKIT_BENCH_ROUNDS").map_or(5, |v| {
        v.parse().expect("AUTHKIT_BENCH_ROUNDS: a number of rounds")
    })
}

fn round_duration() -> Duration {
    let ms = std::env::var("AUTHKIT_BENCH_ROUND_MS").map_or(300, |v| {
        v.parse()
            .expect("AUTHKIT_BENCH_ROUND_MS: a number of milliseconds")
    });
    Duration::from_millis(ms)
}

/// Runs `group` under criterion, then (per task count) the interleaved rounds of every
/// contender criterion ran, and adds their lines to `summary`.
fn run_group(
    criterion: &mut Criterion,
    rt: &Runtime,
    db: &'static str,
    group: Group,
    summary: &mut Vec<Line>,
) {
    let mut g = criterion.benchmark_group(format!("{}/{db}", group.name));
    g.throughput(Throughput::Elements(1));
    for &tasks in group.tasks {
        let mut ran = vec![false; group.contenders.len()];
        for (c, ran) in group.contenders.iter().zip(&mut ran) {
            g.bench_function(BenchmarkId::new(&c.name, tasks), |bench| {
                *ran = true;
                bench.iter_custom(|iters| drive(rt, tasks, Budget::Calls(iters), c).1)
            });
        }
        // (contender, floor) pairs criterion ran both of; the rounds run each member once.
        let floor_of = |c: &Contender| {
            let floor = c.floor?;
            let found = group.contenders.iter().position(|f| f.name == floor);
            Some(found.unwrap_or_else(|| panic!("{}: no floor {floor:?}", group.name)))
        };
        let pairs: Vec<(usize, usize)> = (group.contenders.iter().enumerate())
            .filter_map(|(k, c)| Some((k, floor_of(c)?)))
            .filter(|&(k, f)| ran[k] && ran[f])
            .collect();
        let in_rounds: Vec<usize> = (0..ran.len())
            .filter(|&k| pairs.iter().any(|&(c, f)| c == k || f == k))
            .collect();
        if in_rounds.is_empty() || !measuring() {
            continue;
        }
        let round = Budget::For(round_duration());
        let mut seen = vec![Vec::new(); ran.len()];
        for _ in 0..rounds() {
            for &k in &in_rounds {
                let (calls, took) = drive(rt, tasks, round, &group.contenders[k]);
                seen[k].push(calls as f64 / took.as_secs_f64());
            }
        }
        for (k, f) in pairs {
            let per_round: Vec<f64> = seen[k].iter().zip(&seen[f]).map(|(a, b)| a / b).collect();
            let lowest = per_round.iter().copied().fold(f64::MAX, f64::min);
            let highest = per_round.iter().copied().fold(f64::MIN, f64::max);
            summary.push(Line {
                db,
                group: group.name,
                tasks,
                name: group.contenders[k].name.clone(),
                floor: group.contenders[f].name.clone(),
                median: median(&seen[k]),
                floor_median: median(&seen[f]),
                ratios: (lowest, highest),
            });
        }
    }
    g.finish();
}

fn print_summary(summary: &[Line]) {
    if summary.is_empty() {
        return;
    }
    println!(
        "\nInterleaved medians: {} rounds of {:?} per contender, each beside its \
         floor; calls/s (ratio = contender / floor; [lowest, highest] round-by-round)",
        rounds(),
        round_duration()
    );
    for l in summary {
        println!(
            "{:<8} {:<17} {:>2}  {:<38} {:>8.0}  vs {:<26} {:>8.0}  = {:.2} [{:.2}, {:.2}]",
            l.db,
            l.group,
            l.tasks,
            l.name,
            l.median,
            l.floor,
            l.floor_median,
            l.median / l.floor_median,
            l.ratios.0,
            l.ratios.1,
        );
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut criterion = Criterion::default().without_plots().configure_from_args();
    let mut summary = Vec::new();
    postgres::run(&mut criterion, &rt, &mut summary);
    mysql::run(&mut criterion, &rt, &mut summary);
    criterion.final_summary();
    print_summary(&summary);
}
