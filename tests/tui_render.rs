//! Render snapshots (insta) of every pane, form, overlay and the too-small message, at 80x24
//! and 120x40, with the injected clock of `testdata::now()`.

mod common_tui;

use common_tui::testdata;
use common_tui::*;
use ratatui::crossterm::event::KeyCode;
use tikwire::tui::app::{Loaded, Msg};

fn both(name: &str, app: &tikwire::tui::App) {
    insta::assert_snapshot!(format!("{name}_80x24"), render(app, 80, 24));
    insta::assert_snapshot!(format!("{name}_120x40"), render(app, 120, 40));
}

#[test]
fn main_screen_all_panes() {
    let mut app = app();
    app.update(testdata::live_msg(testdata::live_snapshot(
        &testdata::routers(testdata::now(), 60),
        testdata::now(),
    )));
    insta::assert_snapshot!("main_120x40", render(&app, 120, 40));
    for (key, pane) in [
        ('1', "tenants"),
        ('2', "subnets"),
        ('3', "routers"),
        ('4', "peers"),
    ] {
        press(&mut app, [ch(key)]);
        insta::assert_snapshot!(format!("pane_{pane}_80x24"), render(&app, 80, 24));
    }
}

#[test]
fn routers_filtered_and_scoped() {
    let mut app = app();
    press(&mut app, [ch('1'), ch('j'), key(KeyCode::Enter), ch('/')]);
    press(&mut app, typing("shop"));
    both("routers_filter", &app);
}

#[test]
fn first_run_guides_the_operator() {
    let mut app = empty_app();
    app.update(Msg::Loaded(Loaded::Hubs(Ok(Vec::new()))));
    app.update(Msg::Loaded(Loaded::Tenants(Ok(Vec::new()))));
    app.update(Msg::Loaded(Loaded::Subnets(Ok(Vec::new()))));
    app.update(Msg::Loaded(Loaded::Routers {
        tenant: None,
        result: Ok(Vec::new()),
    }));
    both("first_run", &app);
}

#[test]
fn forms() {
    let mut app = app();
    press(&mut app, [ch('n')]);
    press(&mut app, typing("site 1"));
    both("form_router", &app);
    press(&mut app, [key(KeyCode::Esc), ch('t')]);
    press(&mut app, typing("acme"));
    both("form_tenant", &app);
    press(&mut app, [key(KeyCode::Esc), ch('H')]);
    press(&mut app, typing("main2"));
    press(&mut app, [key(KeyCode::Tab)]);
    press(&mut app, typing("vpn.example.net"));
    both("form_hub", &app);
}

fn open_script(app: &mut tikwire::tui::App) {
    let id = app.routers.selected().unwrap().id;
    let r = testdata::routers(testdata::now(), 60)
        .into_iter()
        .find(|x| x.id == id)
        .unwrap();
    press(app, [ch('c')]);
    app.update(Msg::Loaded(Loaded::Scripts {
        result: Ok(testdata::bundle_for(&r)),
        tenant: r.tenant.clone(),
        router: r.name.clone(),
    }));
}

#[test]
fn script_views() {
    let mut app = app();
    open_script(&mut app);
    both("script_routeros_masked", &app);
    press(&mut app, [ch('p')]);
    both("script_routeros_revealed", &app);
    press(&mut app, [ch(']')]);
    both("script_undo", &app);
    press(&mut app, [ch(']'), ch('p')]);
    both("script_wg_quick", &app);
    press(&mut app, [ch('R')]);
    both("script_raw", &app);
    press(&mut app, [key(KeyCode::Esc), ch('s')]);
    both("script_save", &app);
}

#[test]
fn qr_view_and_its_size_message() {
    let mut app = app();
    open_script(&mut app);
    press(&mut app, [ch('Q')]);
    let screen = render(&app, 120, 40);
    assert!(
        screen.contains('▀') || screen.contains('▄'),
        "a code is drawn"
    );
    insta::assert_snapshot!("qr_120x40", screen);
    let small = render(&app, 80, 24);
    assert!(small.contains("It needs a terminal of at least"), "{small}");
    insta::assert_snapshot!("qr_too_small_80x24", small);
}

#[test]
fn help_confirm_command_toast() {
    let mut app = app();
    press(&mut app, [ch('?')]);
    both("help", &app);
    press(&mut app, [key(KeyCode::Esc), ch('d')]);
    both("confirm_router", &app);
    press(&mut app, [key(KeyCode::Esc), ch('1'), ch('j'), ch('d')]);
    press(&mut app, typing("acm"));
    both("confirm_tenant", &app);
    press(&mut app, [key(KeyCode::Esc), ch(':')]);
    press(&mut app, typing("tenant ac"));
    both("command_line", &app);
    press(&mut app, [key(KeyCode::Esc)]);
    app.update(Msg::DbDown(
        "cannot reach the database (connection refused)".into(),
    ));
    app.update(Msg::Done(tikwire::tui::app::Outcome::Copied {
        what: "RouterOS script of acme/hq-000".into(),
        result: Ok("sent to the tmux buffer".into()),
    }));
    both("banner_and_toast", &app);
}

#[test]
fn too_small_terminal_says_what_it_needs() {
    let app = app();
    let screen = render(&app, 50, 12);
    assert!(
        screen.contains("at least 60x15; this one is 50x12"),
        "{screen}"
    );
    insta::assert_snapshot!("too_small_50x12", screen);
}

#[test]
fn relative_ages_schedule_the_next_redraw() {
    let app = app();
    let (_, info) = render_info(&app, 120, 40);
    assert_eq!(info.wake_in_secs, Some(1), "online routers show seconds");
    let mut idle = empty_app();
    idle.update(Msg::Loaded(Loaded::Routers {
        tenant: None,
        result: Ok(Vec::new()),
    }));
    let (_, info) = render_info(&idle, 120, 40);
    assert_eq!(
        info.wake_in_secs, None,
        "stored peer status arrives by NOTIFY: no age ticks, an idle console draws nothing"
    );
    let mut live = empty_app();
    let mut snapshot = testdata::live_snapshot(&[], testdata::now());
    snapshot.peers.clear();
    live.update(testdata::live_msg(snapshot));
    let (screen, info) = render_info(&live, 120, 40);
    assert!(
        screen.contains("live from wg0 · updated ≤10s ago"),
        "{screen}"
    );
    assert_eq!(
        info.wake_in_secs,
        Some(8),
        "polls on time keep the label; the loop wakes only when the poll would be late (3 s old, late after 10 s)"
    );
    press(&mut idle, [ch('1')]);
    let (_, info) = render_info(&idle, 80, 24);
    assert_eq!(info.wake_in_secs, None, "nothing ages on screen: no tick");
}

#[test]
fn no_color_theme_is_still_readable() {
    let mut app = app();
    app.theme = tikwire::tui::Theme::default().without_colour();
    let screen = render(&app, 80, 24);
    assert!(screen.contains("● online") && screen.contains("◌ pending"));
    assert!(
        screen.contains("120d due") && screen.contains("120d staged"),
        "rotation markers are words: {screen}"
    );
}

#[test]
fn diagnosis_of_a_router_that_never_connected() {
    let mut app = app();
    press(&mut app, [ch('D')]);
    insta::assert_snapshot!("diagnosis_running_80x24", render(&app, 80, 24));
    let r = app.routers.selected().unwrap();
    let (tenant, router) = (r.tenant.to_string(), r.name.to_string());
    app.update(Msg::Done(tikwire::tui::app::Outcome::Diagnosed {
        result: Ok(testdata::never_connected_checks(&tenant, &router)),
        tenant,
        router,
    }));
    both("diagnosis", &app);
}

#[test]
fn key_rotation_confirmations_and_the_staged_script() {
    let mut app = app();
    press(&mut app, [ch('K')]);
    both("confirm_stage_rotation", &app);
    // The second row is the fixture's staged router (globex/branch-001).
    press(&mut app, [key(KeyCode::Esc), ch('j'), ch('K')]);
    both("confirm_abort_rotation", &app);
    press(&mut app, [key(KeyCode::Esc)]);
    open_script(&mut app);
    let screen = render(&app, 80, 24);
    assert!(
        screen.contains("staged keys (staged 2h ago) — the hub cuts over on their first handshake"),
        "{screen}"
    );
    both("script_staged", &app);
    press(&mut app, [ch(']')]);
    assert!(
        !render(&app, 80, 24).contains("staged keys"),
        "the undo script holds no keys, staged or not"
    );
}

/// With several hubs the router list names each router's hub (its tenant's home hub), and a
/// tenant's list says which hub its routers live on; with one hub neither is shown.
#[test]
fn several_hubs_show_each_routers_hub() {
    let mut app = app();
    press(&mut app, [ch('3')]);
    assert!(
        !render(&app, 120, 40).contains(" Hub "),
        "one hub: no hub column"
    );
    let mut hubs = testdata::hubs();
    let mut second = hubs[0].clone();
    second.id = 2;
    second.name = "north".into();
    hubs.push(second);
    let routers = testdata::routers(testdata::now(), 60);
    let mut tenants = testdata::tenants(&routers);
    tenants[1].hub = Some("north".into());
    let second_tenant = tenants[1].name.clone();
    app.update(Msg::Loaded(Loaded::Hubs(Ok(hubs))));
    app.update(Msg::Loaded(Loaded::Tenants(Ok(tenants))));
    let screen = render(&app, 120, 40);
    assert!(screen.contains("Hub"), "{screen}");
    let row = screen
        .lines()
        .find(|l| l.contains(&*second_tenant) && l.contains("10."))
        .unwrap_or_else(|| panic!("no row of {second_tenant}:\n{screen}"));
    assert!(row.contains("north"), "{row}");
    assert!(
        screen
            .lines()
            .any(|l| l.contains("main") && l.contains("10.")),
        "{screen}"
    );
}

#[test]
fn router_detail_view() {
    let mut app = app();
    let id = app.routers.selected().unwrap().id;
    press(&mut app, [key(KeyCode::Enter)]);
    insta::assert_snapshot!("detail_loading_80x24", render(&app, 80, 24));
    app.update(Msg::Loaded(Loaded::Detail {
        router_id: id,
        result: Ok(Some(testdata::router_detail(testdata::now()))),
    }));
    both("detail", &app);
}

/// A router provisioned a minute ago, no transition yet: its status dates from then, not
/// "no change in 30 days" (seen in a fresh-clone walk-through).
#[test]
fn a_new_routers_detail_dates_its_status_from_provisioning() {
    let mut app = app();
    let id = app.routers.selected().unwrap().id;
    press(&mut app, [key(KeyCode::Enter)]);
    let now = testdata::now();
    let mut detail = testdata::router_detail(now);
    detail.month.transitions.clear();
    detail.now.created_at = now - chrono::Duration::seconds(61);
    assert_eq!(detail.status_since(), Some(detail.now.created_at));
    app.update(Msg::Loaded(Loaded::Detail {
        router_id: id,
        result: Ok(Some(detail.clone())),
    }));
    let screen = render(&app, 80, 24);
    assert!(screen.contains("(1m ago)"), "{screen}");
    assert!(!screen.contains("no change"), "{screen}");
    // Provisioned before the span and never changed: that is what it says.
    detail.now.created_at = now - chrono::Duration::days(31);
    assert_eq!(detail.status_since(), None);
}

#[test]
fn events_view_with_alerts_and_an_alert_toast() {
    use tikwire::alerts::AlertKind as A;
    use tikwire::model::RouterStatus as S;
    use tikwire::store::console_history::FeedCursor;
    let mut app = app();
    app.update(Msg::Loaded(Loaded::EventCursor(Ok(FeedCursor::default()))));
    press(&mut app, [ch('E')]);
    let now = testdata::now();
    let first_handshake = now - chrono::Duration::hours(2);
    let stale = now - chrono::Duration::minutes(30);
    let events = vec![
        testdata::transition(
            1,
            tikwire::history::FleetEvent::FirstHandshake {
                at: first_handshake,
                tenant: "globex".into(),
                router: "hq-1".into(),
                hub: "main".into(),
            },
        ),
        testdata::alert(
            first_handshake,
            1,
            A::RouterFirstHandshake,
            "globex",
            "hq-1",
            None,
        ),
        testdata::transition(
            2,
            testdata::status_event(stale, "acme", "branch-1", S::Online, S::Stale),
        ),
        testdata::alert(stale, 2, A::RouterStale, "acme", "branch-1", None),
        testdata::alert(
            now - chrono::Duration::minutes(10),
            3,
            A::HubDown,
            "",
            "",
            None,
        ),
    ];
    app.update(Msg::Loaded(Loaded::Events {
        tenant: None,
        result: Ok(events),
    }));
    // A storm: twelve routers drop in one poll, and the engine folds them into one alert.
    let mut storm: Vec<_> = (0..12)
        .map(|i| {
            testdata::transition(
                10 + i,
                testdata::status_event(
                    now - chrono::Duration::seconds(1),
                    "acme",
                    &format!("shop-{i:03}"),
                    S::Online,
                    S::Offline,
                ),
            )
        })
        .collect();
    storm.push(testdata::alert(now, 4, A::HubStorm, "", "", Some(12)));
    app.update(Msg::Loaded(Loaded::EventFeed {
        after: FeedCursor::default(),
        result: Ok(storm),
    }));
    let screen = render(&app, 80, 24);
    let lines: Vec<&str> = screen.lines().collect();
    assert!(
        lines[2].contains("hub-wide") && lines[2].contains("▲ hub.storm ×12"),
        "{screen}"
    );
    assert!(
        lines[3].contains("acme/shop-011") && lines[3].contains("online → ○ offline"),
        "{screen}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("hub-wide") && l.contains("▲ hub.down")),
        "{screen}"
    );
    assert!(
        screen.contains("▲ storm on main: 12 routers dropped"),
        "{screen}"
    );
    assert!(
        !screen.contains("went offline"),
        "transitions are not toasted: {screen}"
    );
    both("events", &app);
}
