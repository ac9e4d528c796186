//! Console speed with 100,000 routers: loading them to the first frame, drawing one frame,
//! one filter keystroke to the next frame; and the resident memory once loaded.

mod support;

use criterion::{Criterion, criterion_group, criterion_main};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use tikwire::store::PoolUsage;
use tikwire::store::console_history::{FeedCursor, FeedEvent};
use tikwire::tui::app::{App, Loaded, Msg};
use tikwire::tui::data::RouterRow;
use tikwire::tui::keymap::Keymap;
use tikwire::tui::peerview::LiveState;
use tikwire::tui::{Theme, ui};

#[path = "../tests/common_tui/testdata.rs"]
mod testdata;

const ROUTERS: usize = 100_000;

fn loaded_app(routers: Vec<RouterRow>, tenants: Vec<tikwire::model::Tenant>) -> App {
    let mut app = App::new(Keymap::default(), Theme::default(), testdata::now());
    app.update(Msg::Loaded(Loaded::Hubs(Ok(testdata::hubs()))));
    app.update(Msg::Loaded(Loaded::Subnets(Ok(testdata::subnets(
        &tenants,
    )))));
    app.update(Msg::Loaded(Loaded::Pool(Ok(PoolUsage {
        tenants_used: 5,
        tenants_capacity: 155,
        ..PoolUsage::default()
    }))));
    app.update(Msg::Loaded(Loaded::Tenants(Ok(tenants))));
    app.update(Msg::Loaded(Loaded::Routers {
        tenant: None,
        result: Ok(routers),
    }));
    app
}

fn key(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

fn bench(c: &mut Criterion) {
    let routers = testdata::routers(testdata::now(), ROUTERS);
    let tenants = testdata::tenants(&routers);
    let snapshot = std::sync::Arc::new(testdata::live_snapshot(&routers, testdata::now()));
    let rows = RouterRow::from_routers(&routers);
    drop(routers);
    let before = support::rss_mb("self");
    let app = loaded_app(rows.clone(), tenants.clone());
    eprintln!(
        "RSS with {ROUTERS} routers loaded: {:.1} MB (this process, fixtures included: {:.1} MB before loading; see the report for the real binary)",
        support::rss_mb("self"),
        before
    );
    drop(app);

    let mut group = c.benchmark_group("tui_100k");
    group.sample_size(10);
    group.bench_function("load_to_first_frame", |b| {
        b.iter_batched(
            || rows.clone(),
            |rows| {
                let app = loaded_app(rows, tenants.clone());
                let mut t = Terminal::new(TestBackend::new(120, 40)).unwrap();
                t.draw(|f| {
                    ui::draw(f, &app);
                })
                .unwrap();
            },
            criterion::BatchSize::LargeInput,
        )
    });

    let app = loaded_app(rows.clone(), tenants.clone());
    for (w, h) in [(120u16, 40u16), (80, 24)] {
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        group.bench_function(format!("frame_{w}x{h}"), |b| {
            b.iter(|| {
                t.draw(|f| {
                    ui::draw(f, &app);
                })
                .unwrap();
            })
        });
    }

    // A poll of the interface with every router on it: matched to the table, sorted, and
    // checked for a visible change.
    let mut live = loaded_app(rows.clone(), tenants.clone());
    group.bench_function("live_snapshot_100k_peers", |b| {
        b.iter(|| {
            live.update(Msg::Live {
                interface: "wg0".into(),
                state: LiveState::Ready(snapshot.clone()),
            });
        })
    });
    drop(live);

    let mut app = loaded_app(rows, tenants);
    app.update(key('/'));
    let mut t = Terminal::new(TestBackend::new(120, 40)).unwrap();
    let mut flip = false;
    group.bench_function("filter_keystroke_to_frame", |b| {
        b.iter(|| {
            // alternate typing and deleting a character: every iteration refilters 100k rows
            flip = !flip;
            let msg = if flip {
                key('7')
            } else {
                Msg::Key(KeyEvent::new(KeyCode::Backspace, KeyModifiers::NONE))
            };
            app.update(msg);
            t.draw(|f| {
                ui::draw(f, &app);
            })
            .unwrap();
        })
    });
    group.finish();
}

/// The monitoring views: a frame of a router's detail view (30 days of hourly traffic, 24
/// hours of 5-minute buckets) and of the events view holding its 500 events at 80x24, and a
/// live feed read of 5,000 routers going offline turned into one coalesced toast.
fn monitoring(c: &mut Criterion) {
    use tikwire::model::RouterStatus as S;
    let mut group = c.benchmark_group("tui_monitoring");
    let now = testdata::now();
    let mut detail = loaded_app(
        RouterRow::from_routers(&testdata::routers(now, 60)),
        testdata::tenants(&testdata::routers(now, 60)),
    );
    detail.update(Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)));
    let id = detail.routers.selected().map_or(0, |r| r.id);
    detail.update(Msg::Loaded(Loaded::Detail {
        router_id: id,
        result: Ok(Some(testdata::router_detail(now))),
    }));
    let mut t = Terminal::new(TestBackend::new(80, 24)).unwrap();
    group.bench_function("detail_frame_80x24", |b| {
        b.iter(|| {
            t.draw(|f| {
                ui::draw(f, &detail);
            })
            .unwrap();
        })
    });

    // A storm as the feed reads it: 5,000 transitions and the one alert folding them.
    let mut storm: Vec<FeedEvent> = (0..5000)
        .map(|i| {
            testdata::transition(
                i + 1,
                testdata::status_event(now, "acme", &format!("r{i}"), S::Online, S::Offline),
            )
        })
        .collect();
    storm.push(testdata::alert(
        now,
        1,
        tikwire::alerts::AlertKind::HubStorm,
        "",
        "",
        Some(5000),
    ));
    let mut events = loaded_app(Vec::new(), Vec::new());
    events.update(Msg::Loaded(Loaded::EventCursor(Ok(FeedCursor::default()))));
    events.update(key('E'));
    events.update(Msg::Loaded(Loaded::Events {
        tenant: None,
        result: Ok(storm[..500].to_vec()),
    }));
    let mut t = Terminal::new(TestBackend::new(80, 24)).unwrap();
    group.bench_function("events_frame_80x24_500_events", |b| {
        b.iter(|| {
            t.draw(|f| {
                ui::draw(f, &events);
            })
            .unwrap();
        })
    });
    group.bench_function("feed_read_5000_transitions_and_a_storm_to_one_toast", |b| {
        b.iter_batched(
            || {
                let mut app = loaded_app(Vec::new(), Vec::new());
                app.update(Msg::Loaded(Loaded::EventCursor(Ok(FeedCursor::default()))));
                (app, storm.clone())
            },
            |(mut app, storm)| {
                app.update(Msg::Loaded(Loaded::EventFeed {
                    after: FeedCursor::default(),
                    result: Ok(storm),
                }));
                app
            },
            criterion::BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench, monitoring);
criterion_main!(benches);
