//! Alerts: the engine's work per poll at a full tenant (65,278 routers) with 1% of the routers
//! changing status each poll. Pure, no database.
//!
//! `cargo bench --bench alerts`
//!
//! The poll's write with its outbox rows is measured with the whole poll cycle in
//! benches/poll_cycle.rs.

use std::cell::Cell;
use std::hint::black_box;

use chrono::{DateTime, TimeDelta, Utc};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use tikwire::alerts::{AlertEngine, AlertRules, RouterChange};
use tikwire::model::RouterStatus;

const ROUTERS: usize = 65_278;
const BLOCK: usize = ROUTERS / 100;

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_795_538_650, 0).unwrap()
}

/// The engine alone: 653 routers drop and the previous 653 come back, each poll.
fn engine(c: &mut Criterion) {
    let mut engine = AlertEngine::new(AlertRules::default());
    engine.track((0..ROUTERS as i64).map(|id| (id, RouterStatus::Online)));
    let round = Cell::new(0usize);
    let mut group = c.benchmark_group("alert_engine");
    group.bench_function("65278_routers_1pct_changed", |b| {
        b.iter_batched(
            || {
                let r = round.get() + 1;
                round.set(r);
                let down = (r % 100) * BLOCK;
                let up = ((r + 99) % 100) * BLOCK;
                let mut changes: Vec<RouterChange> = (down..down + BLOCK)
                    .map(|id| RouterChange {
                        router: id as i64,
                        from: RouterStatus::Online,
                        to: RouterStatus::Stale,
                        first_handshake: false,
                    })
                    .collect();
                if r > 1 {
                    changes.extend((up..up + BLOCK).map(|id| RouterChange {
                        router: id as i64,
                        from: RouterStatus::Stale,
                        to: RouterStatus::Online,
                        first_handshake: false,
                    }));
                }
                (t0() + TimeDelta::seconds(200 * r as i64), changes)
            },
            |(at, changes)| black_box(engine.observe(at, &changes)),
            BatchSize::PerIteration,
        )
    });
    group.finish();
    let size = std::mem::size_of::<(i64, [u8; 12])>();
    println!(
        "alert engine memory: {} routers remembered, about {} bytes each plus the hash table's overhead",
        engine.remembered(),
        size
    );
}

criterion_group!(benches, engine);
criterion_main!(benches);
