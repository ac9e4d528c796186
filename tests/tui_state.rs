//! Key events fed into the console state without a terminal: the resulting state and the
//! effects it asks for.

mod common_tui;

use common_tui::testdata;
use common_tui::*;
use ratatui::crossterm::event::KeyCode;
use tikwire::events::{Change, ChangeKind};
use tikwire::model::RotationState;
use tikwire::model::RouterStatus;
use tikwire::store::console_history::{FeedCursor, FeedEvent};
use tikwire::tui::app::{Dataset, Effect, Layer, Loaded, Msg, Outcome, Pane, Staging};
use tikwire::tui::data::{ScriptKind, SortKey};
use tikwire::tui::overlays::confirm::ConfirmTarget;

#[test]
fn provision_through_the_form_shows_a_pending_row_then_the_router() {
    let mut app = app();
    let effects = press(&mut app, [ch('n')]);
    assert!(effects.is_empty());
    assert!(matches!(app.layers.last(), Some(Layer::Form(_))));
    // name, then tenant (empty: nothing scoped), defaults for the rest
    let mut keys = typing("new-site");
    keys.push(key(KeyCode::Tab));
    keys.extend(typing("acme"));
    keys.push(key(KeyCode::Enter));
    let effects = press(&mut app, keys);
    let [Effect::Provision(req)] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    assert_eq!(req.spec.name.as_str(), "new-site");
    assert_eq!(req.tenant.as_str(), "acme");
    assert_eq!(req.spec.interface_name.as_str(), "wg-hotspot");
    assert_eq!(req.spec.keepalive, 25);
    assert_eq!(req.hub, None);
    assert!(app.layers.is_empty(), "form closed");
    assert_eq!(
        app.provisioning,
        vec![("acme".to_string(), "new-site".to_string())]
    );
    assert!(render(&app, 120, 40).contains("allocating…"));

    let mut router = testdata::routers(testdata::now(), 1).remove(0);
    router.id = 999;
    router.name = "new-site".into();
    router.status = RouterStatus::Pending;
    let effects = app.update(Msg::Done(Outcome::Provisioned {
        tenant: "acme".into(),
        name: "new-site".into(),
        result: Ok(router),
    }));
    assert!(app.provisioning.is_empty());
    assert_eq!(app.routers.selected().map(|r| &*r.name), Some("new-site"));
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::Load(Dataset::Subnets)))
    );
    assert!(app.toasts.last().unwrap().text.contains("provisioned"));
}

#[test]
fn the_only_tenant_is_filled_in_for_a_new_router() {
    let mut app = empty_app();
    let routers = testdata::routers(testdata::now(), 5);
    let only = testdata::tenants(&routers).remove(0);
    app.update(Msg::Loaded(Loaded::Hubs(Ok(testdata::hubs()))));
    app.update(Msg::Loaded(Loaded::Tenants(Ok(vec![only.clone()]))));
    let mut keys = vec![ch('n')];
    keys.extend(typing("first-site"));
    keys.push(key(KeyCode::Enter));
    let effects = press(&mut app, keys);
    let [Effect::Provision(req)] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    assert_eq!(req.tenant.as_str(), only.name);
}

#[test]
fn form_validates_as_you_type_and_refuses_bad_input() {
    let mut app = app();
    press(&mut app, [ch('n')]);
    press(&mut app, typing("bad name"));
    let Some(Layer::Form(form)) = app.layers.last() else {
        panic!()
    };
    let err = form.fields[0].error.as_deref().unwrap();
    assert!(err.contains("a space"), "{err}");
    // Enter with errors: nothing submitted, form stays open
    let effects = press(&mut app, [key(KeyCode::Enter)]);
    assert!(effects.is_empty());
    let Some(Layer::Form(form)) = app.layers.last() else {
        panic!()
    };
    assert!(
        form.fields[1]
            .error
            .as_deref()
            .unwrap()
            .contains("tenant name must not be empty")
    );
    // keepalive 0 is refused like on the command line
    let mut keys = vec![key(KeyCode::Tab), key(KeyCode::Tab), key(KeyCode::Tab)];
    keys.extend([key(KeyCode::Backspace), key(KeyCode::Backspace), ch('0')]);
    press(&mut app, keys);
    let Some(Layer::Form(form)) = app.layers.last() else {
        panic!()
    };
    assert!(
        form.fields[3]
            .error
            .as_deref()
            .unwrap()
            .contains("keepalive")
    );
    // a taken name is refused
    press(&mut app, [key(KeyCode::Esc)]);
    assert!(app.layers.is_empty(), "esc cancels the form");
    let taken = app.routers.all()[0].clone();
    press(&mut app, [ch('n')]);
    let mut keys = typing(&taken.name);
    keys.push(key(KeyCode::Tab));
    keys.extend(typing(&taken.tenant));
    keys.push(key(KeyCode::Enter));
    assert!(press(&mut app, keys).is_empty());
    let Some(Layer::Form(form)) = app.layers.last() else {
        panic!()
    };
    assert!(
        form.fields[0]
            .error
            .as_deref()
            .unwrap()
            .contains("already has a router")
    );
}

#[test]
fn filter_narrows_live_and_esc_clears() {
    let mut app = app();
    assert_eq!(app.focus, Pane::Routers);
    let all = app.routers.len();
    press(&mut app, [ch('/')]);
    press(&mut app, typing("kiosk"));
    assert!(app.routers.len() < all && !app.routers.is_empty());
    for i in 0..app.routers.len() {
        assert!(app.routers.get(i).unwrap().name.starts_with("kiosk"));
    }
    press(&mut app, [key(KeyCode::Enter)]);
    assert!(app.filter_edit.is_none());
    assert_eq!(app.routers.filter, "kiosk");
    // status filter
    press(&mut app, [ch('/')]);
    press(&mut app, (0..5).map(|_| key(KeyCode::Backspace)));
    press(&mut app, typing("stale"));
    assert!(
        (0..app.routers.len()).all(|i| app.routers.get(i).unwrap().status == RouterStatus::Stale)
    );
    press(&mut app, [key(KeyCode::Enter), key(KeyCode::Esc)]);
    assert_eq!(app.routers.len(), all);
    assert!(!app.quit, "esc never quits");
    press(&mut app, [key(KeyCode::Esc), key(KeyCode::Esc)]);
    assert!(!app.quit);
}

#[test]
fn navigate_panes_tenants_and_sort() {
    let mut app = app();
    press(&mut app, [key(KeyCode::Tab)]);
    assert_eq!(app.focus, Pane::Peers);
    press(&mut app, [key(KeyCode::BackTab), key(KeyCode::BackTab)]);
    assert_eq!(app.focus, Pane::Subnets);
    press(&mut app, [ch('1'), ch('j'), ch('j'), key(KeyCode::Enter)]);
    assert_eq!(app.focus, Pane::Routers);
    assert_eq!(app.routers.tenant.as_deref(), Some("globex"));
    assert!((0..app.routers.len()).all(|i| &*app.routers.get(i).unwrap().tenant == "globex"));
    press(&mut app, [ch('G')]);
    assert_eq!(app.routers.cursor.selected, app.routers.len() - 1);
    press(&mut app, [ch('g'), ch('s')]);
    assert_eq!(app.routers.sort, SortKey::Address);
    press(&mut app, [key(KeyCode::Esc)]);
    assert_eq!(app.routers.tenant, None, "esc goes back to all tenants");
    // command line jumps
    press(&mut app, [ch(':')]);
    press(&mut app, typing("router umbrella/shop-002"));
    press(&mut app, [key(KeyCode::Enter)]);
    let r = app.routers.selected().unwrap();
    assert_eq!((&*r.tenant, &*r.name), ("umbrella", "shop-002"));
    press(&mut app, [ch(':')]);
    press(&mut app, typing("tenant nosuch"));
    press(&mut app, [key(KeyCode::Enter)]);
    assert!(app.toasts.last().unwrap().error);
}

#[test]
fn delete_router_asks_first_and_tenant_needs_its_name_typed() {
    let mut app = app();
    let r = app.routers.selected().unwrap().clone();
    press(&mut app, [ch('d')]);
    assert!(matches!(app.layers.last(), Some(Layer::Confirm(_))));
    assert!(press(&mut app, [key(KeyCode::Esc)]).is_empty());
    assert!(app.layers.is_empty());
    let effects = press(&mut app, [ch('d'), key(KeyCode::Enter)]);
    let [Effect::DeleteRouter { tenant, name }] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    assert_eq!((tenant.as_str(), name.as_str()), (&*r.tenant, &*r.name));
    app.update(Msg::Done(Outcome::RouterDeleted {
        tenant: r.tenant.to_string(),
        name: r.name.to_string(),
        result: Ok(()),
    }));
    assert!(!app.routers.all().iter().any(|x| x.id == r.id));

    // tenant: Enter alone does nothing, a wrong name does nothing, the exact name deletes
    press(&mut app, [ch('1'), ch('j'), ch('d')]);
    assert!(press(&mut app, [key(KeyCode::Enter)]).is_empty());
    press(&mut app, typing("acm"));
    assert!(press(&mut app, [key(KeyCode::Enter)]).is_empty());
    assert!(matches!(app.layers.last(), Some(Layer::Confirm(_))));
    let effects = press(&mut app, [ch('e'), key(KeyCode::Enter)]);
    assert!(matches!(effects.as_slice(), [Effect::DeleteTenant { name }] if name == "acme"));
}

#[test]
fn script_view_copy_reveal_qr_raw_save() {
    let mut app = app();
    let r = app.routers.selected().unwrap().clone();
    let effects = press(&mut app, [ch('c')]);
    assert!(
        matches!(effects.as_slice(), [Effect::LoadScripts { tenant, router }] if **tenant == *r.tenant && **router == *r.name)
    );
    // copy before the script arrived: told to wait, nothing copied
    assert!(press(&mut app, [ch('c')]).is_empty());
    app.update(Msg::Loaded(Loaded::Scripts {
        tenant: r.tenant.to_string(),
        router: r.name.to_string(),
        result: Ok(testdata::bundle()),
    }));
    let screen = render(&app, 80, 24);
    assert!(
        !screen.contains(testdata::PRIVATE_KEY),
        "masked until revealed"
    );
    let effects = press(&mut app, [ch('c')]);
    let [Effect::Copy { what, text }] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    assert!(what.contains("RouterOS script"));
    assert_eq!(
        text.as_str(),
        testdata::bundle().routeros.as_str(),
        "copies exactly the script"
    );
    press(&mut app, [ch('p')]);
    assert!(render(&app, 120, 40).contains(testdata::PRIVATE_KEY));
    press(&mut app, [key(KeyCode::Right), key(KeyCode::Right)]);
    let Some(Layer::Script(s)) = app.layers.last() else {
        panic!()
    };
    assert_eq!(s.kind, ScriptKind::WgQuick);
    press(&mut app, [ch('Q')]);
    assert!(matches!(app.layers.last(), Some(Layer::Qr(_))));
    press(&mut app, [key(KeyCode::Esc), ch('R')]);
    assert!(matches!(app.layers.last(), Some(Layer::Raw(_))));
    press(&mut app, [key(KeyCode::Esc), ch('s')]);
    assert!(matches!(app.layers.last(), Some(Layer::Save(_))));
    let effects = press(&mut app, [key(KeyCode::Enter)]);
    let [Effect::Save { path, text, .. }] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    assert!(path.to_string_lossy().ends_with(".conf"));
    assert!(text.contains(testdata::PRIVATE_KEY));
    press(&mut app, [key(KeyCode::Esc)]);
    assert!(app.layers.is_empty());
    assert!(!app.quit);
    assert!(matches!(
        press(&mut app, [ch('q')]).as_slice(),
        [Effect::Quit]
    ));
}

#[test]
fn ctrl_c_quits_from_anywhere_and_q_only_at_top_level() {
    let mut app = app();
    press(&mut app, [ch('n'), ch('q')]);
    assert!(!app.quit, "q is text inside a form");
    assert!(matches!(
        press(&mut app, [ctrl('c')]).as_slice(),
        [Effect::Quit]
    ));
    assert!(app.quit);
}

#[test]
fn enable_toggle_and_freeze() {
    let mut app = app();
    let r = app.routers.selected().unwrap().clone();
    let effects = press(&mut app, [ch('e')]);
    assert!(
        matches!(effects.as_slice(), [Effect::SetEnabled { enabled, .. }] if *enabled != r.enabled)
    );
    // The stored view has nothing to freeze: it changes only when the agent writes.
    press(&mut app, [ch('4'), ch('f')]);
    assert!(!app.peers.frozen);
    assert!(app.toasts.last().unwrap().text.contains("live"));

    let routers = testdata::routers(testdata::now(), 60);
    app.update(testdata::live_msg(testdata::live_snapshot(
        &routers,
        testdata::now(),
    )));
    assert!(app.peers.is_live());
    let first = peer_names(&app);
    assert!(
        first.contains(&"? unknown".to_string()),
        "the unknown peer is listed"
    );
    let enabled = routers.iter().filter(|r| r.enabled).count();
    assert_eq!(
        first.len(),
        enabled + 1,
        "the enabled routers and the unknown peer"
    );
    press(&mut app, [ch('f')]);
    assert!(app.peers.frozen);
    // A newer poll: every handshake just now, the unknown peer gone.
    let mut newer = testdata::live_snapshot(&routers, testdata::now());
    newer.peers.remove(&testdata::unknown_key());
    for p in newer.peers.values_mut() {
        p.last_handshake = Some(testdata::now());
    }
    app.update(testdata::live_msg(newer));
    assert_eq!(peer_names(&app), first, "frozen pane keeps its data");
    assert!(app.peers.held.is_some());
    assert!(render(&app, 120, 40).contains("FROZEN (newer data held)"));
    press(&mut app, [ch('f')]);
    assert_ne!(peer_names(&app), first, "unfreezing shows the newest data");
    assert!(!peer_names(&app).contains(&"? unknown".to_string()));
}

fn peer_names(app: &tikwire::tui::App) -> Vec<String> {
    (0..app.peers.len())
        .map(|i| {
            app.peers
                .line(&app.routers, app.peers.entry(i).unwrap())
                .unwrap()
                .router
                .unwrap_or_else(|| "? unknown".into())
        })
        .collect()
}

#[test]
fn notifications_reload_only_what_changed_and_db_outage_recovers() {
    let mut app = app();
    let effects = app.update(Msg::Changed(Some(
        Change::new(ChangeKind::RouterCreated).tenant(2),
    )));
    assert!(
        effects.iter().any(
            |e| matches!(e, Effect::Load(Dataset::Routers { tenant: Some(t) }) if t == "globex")
        )
    );
    let effects = app.update(Msg::Changed(Some(Change::new(ChangeKind::HubCreated))));
    assert!(matches!(effects.as_slice(), [Effect::Load(Dataset::Hubs)]));
    app.update(Msg::DbDown("cannot reach the database".into()));
    assert!(render(&app, 80, 24).contains("database unreachable"));
    let effects = app.update(Msg::DbUp);
    assert!(effects.len() >= 5, "everything reloaded");
    assert!(!render(&app, 80, 24).contains("database unreachable"));
}

/// The loop drains many events before it draws once: an event that changes nothing must not
/// cancel the frame an earlier one in the same batch asked for (a key was once drawn one
/// keypress late that way).
#[test]
fn a_no_op_event_keeps_a_pending_redraw() {
    let mut app = app();
    app.dirty = false;
    press(&mut app, [ch('2')]);
    assert!(app.dirty);
    press(&mut app, [key(KeyCode::F(12))]);
    assert!(app.dirty, "the focus change still has to be drawn");
    assert_eq!(app.focus, Pane::Subnets);

    app.dirty = false;
    press(&mut app, [key(KeyCode::F(12))]);
    assert!(!app.dirty, "nothing changed, nothing to draw");
}

/// A poll that changes nothing on screen must not draw; one that changes a visible row must.
#[test]
fn live_polls_redraw_only_when_something_visible_changed() {
    let mut app = app();
    app.update(Msg::Resize(120, 40)); // all four panes on screen
    let routers = testdata::routers(testdata::now(), 60);
    app.update(testdata::live_msg(testdata::live_snapshot(
        &routers,
        testdata::now(),
    )));
    render(&app, 120, 40); // records which rows are on screen
    app.dirty = false;

    // The same peers one poll later: the label stays "updated ≤10s ago", rows identical.
    let mut again = testdata::live_snapshot(&routers, testdata::now());
    again.taken_at = testdata::now();
    app.update(testdata::live_msg(again.clone()));
    assert!(!app.dirty, "an identical poll must not redraw");

    // Traffic of a peer far below the visible window.
    let last = (0..app.peers.len())
        .filter_map(|i| match app.peers.entry(i) {
            Some(tikwire::tui::peerview::PeerEntry::Router(r)) => Some(r),
            _ => None,
        })
        .last()
        .unwrap();
    let hidden_key = app.routers.row(last).unwrap().key;
    again.peers.get_mut(&hidden_key).unwrap().rx_bytes += 1;
    app.update(testdata::live_msg(again.clone()));
    assert!(!app.dirty, "a change off screen must not redraw");

    // Traffic of the first peer on screen.
    // (Unknown peers come first; the first router is the next row, still on screen.)
    let Some(first) = (0..3).find_map(|i| match app.peers.entry(i) {
        Some(tikwire::tui::peerview::PeerEntry::Router(r)) => Some(r),
        _ => None,
    }) else {
        panic!("a router among the first rows")
    };
    let shown_key = app.routers.row(first).unwrap().key;
    again.peers.get_mut(&shown_key).unwrap().rx_bytes += 10_000_000;
    app.update(testdata::live_msg(again));
    assert!(app.dirty, "a visible change redraws");

    // A failing poll says so, keeping the last good rows.
    app.dirty = false;
    app.update(Msg::Live {
        interface: "wg0".into(),
        state: tikwire::tui::peerview::LiveState::Error("interface wg0 does not exist".into()),
    });
    assert!(app.dirty);
    let screen = render(&app, 120, 40);
    assert!(
        screen.contains("✗ interface wg0 does not exist"),
        "{screen}"
    );
    assert!(app.peers.len() > 1, "last good rows kept");
}

/// Both panes show the stored status, the agent's verdict, as the command line and the API
/// do (issue 12): a router stored as online whose handshake is 9 minutes old reads online
/// everywhere (the agent saw its traffic since), whatever the console's clock says.
#[test]
fn both_panes_show_the_stored_status() {
    let now = testdata::now();
    let mut routers = testdata::routers(now, 60);
    for r in routers.iter_mut() {
        r.status = RouterStatus::Online;
        r.enabled = true;
        r.last_handshake_at = Some(now - chrono::Duration::minutes(9));
    }
    routers[0].last_handshake_at = None;
    routers[0].status = RouterStatus::Pending;
    routers[1].enabled = false;
    routers[1].status = RouterStatus::Disabled;
    let mut app = empty_app();
    app.update(Msg::Loaded(Loaded::Routers {
        tenant: None,
        result: Ok(tikwire::tui::data::RouterRow::from_routers(&routers)),
    }));
    let screen = render(&app, 120, 40);
    assert!(screen.contains("● online"), "{screen}");
    assert!(!screen.contains("◐ stale"), "{screen}");
    assert!(
        screen.contains("◌ pending") && screen.contains("⊘ disabled"),
        "{screen}"
    );
    // The clock moving on changes nothing: only the agent's next write does.
    app.update(Msg::Tick(now + chrono::Duration::hours(1)));
    let screen = render(&app, 120, 40);
    assert!(
        screen.contains("● online") && !screen.contains("offline"),
        "{screen}"
    );
    // The status filter matches the stored status too.
    press(&mut app, [ch('3'), ch('/')]);
    press(&mut app, typing("stale"));
    assert_eq!(app.routers.len(), 0);
    press(&mut app, (0..5).map(|_| key(KeyCode::Backspace)));
    press(&mut app, typing("online"));
    assert_eq!(app.routers.len(), 58);
    // The peer pane (at 80x24 on its own) agrees.
    press(&mut app, [key(KeyCode::Esc), key(KeyCode::Esc), ch('4')]);
    let screen = render(&app, 80, 24);
    assert!(
        screen.contains("● online") && !screen.contains("◐ stale"),
        "{screen}"
    );
}

/// Without a live poller: the agent's heartbeat and the unknown peers it stored.
#[test]
fn stored_view_shows_the_agent_heartbeat_and_unknown_peers() {
    use tikwire::tui::peerview::{AgentBeat, AgentReport, StoredUnknown};
    let now = testdata::now();
    let mut app = app();
    let report = |last_poll: chrono::Duration, error: Option<&str>| AgentReport {
        beats: vec![AgentBeat {
            hub: "main".into(),
            last_poll_at: Some(now - last_poll),
            last_error: error.map(Into::into),
        }],
        unknown: vec![StoredUnknown {
            hub: "main".into(),
            public_key: testdata::unknown_key(),
            endpoint: Some("198.51.100.7:51999".into()),
            allowed_ips: "10.250.0.9/32".into(),
            last_handshake: Some(now),
        }],
    };
    let effects = app.update(Msg::Loaded(Loaded::Agent(Ok(report(
        chrono::Duration::seconds(4),
        None,
    )))));
    assert!(effects.is_empty());
    assert!(
        app.agent_due.is_some(),
        "the heartbeat is reloaded while shown"
    );
    press(&mut app, [ch('4')]);
    let screen = render(&app, 80, 24);
    assert!(
        screen.contains("as stored by the agent · agent last poll ≤15s ago"),
        "{screen}"
    );
    assert!(
        screen.contains("? unknown VU5LTk9X… 10.250.0.9"),
        "{screen}"
    );

    // Reloading an unchanged heartbeat changes nothing on screen: no frame.
    app.dirty = false;
    let effects = app.update(Msg::RefreshAgent);
    assert!(matches!(effects.as_slice(), [Effect::Load(Dataset::Agent)]));
    app.update(Msg::Loaded(Loaded::Agent(Ok(report(
        chrono::Duration::seconds(2),
        None,
    )))));
    assert!(!app.dirty);
    // Each load also reports the database reachable: no frame for that either.
    app.update(Msg::DbUp);
    assert!(!app.dirty);

    app.update(Msg::Loaded(Loaded::Agent(Ok(report(
        chrono::Duration::minutes(3),
        None,
    )))));
    assert!(app.dirty);
    assert!(render(&app, 80, 24).contains("agent last poll 3m ago (late)"));
    app.update(Msg::Loaded(Loaded::Agent(Ok(report(
        chrono::Duration::minutes(3),
        Some("interface wg0 does not exist"),
    )))));
    assert!(render(&app, 80, 24).contains("agent on main: ✗ interface wg0"));
    // A status change announced by the agent reloads the routers and the heartbeat.
    let effects = app.update(Msg::Changed(Some(Change::new(ChangeKind::StatusUpdated))));
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::Load(Dataset::Agent)))
    );
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::Load(Dataset::Routers { tenant: None })))
    );
}

/// The peer pane keeps one order from poll to poll: unknown peers first, then the routers in
/// the routers pane's order, following its sort key and direction.
#[test]
fn peer_order_is_stable_and_follows_the_router_sort() {
    use tikwire::tui::peerview::PeerEntry;
    let mut app = app();
    let now = testdata::now();
    let routers = testdata::routers(now, 60);
    app.update(testdata::live_msg(testdata::live_snapshot(&routers, now)));
    let order = |app: &tikwire::tui::App| -> Vec<String> {
        (0..app.peers.len())
            .map(|i| match app.peers.entry(i) {
                Some(PeerEntry::Router(r)) => {
                    let row = app.routers.row(r).unwrap();
                    format!("{}/{}", row.tenant, row.name)
                }
                Some(PeerEntry::Unknown(_)) => "?".to_owned(),
                None => unreachable!(),
            })
            .collect()
    };
    let router_order = |app: &tikwire::tui::App| -> Vec<String> {
        (0..app.routers.len())
            .filter_map(|i| app.routers.view_index(i))
            .map(|r| app.routers.row(r).unwrap())
            .filter(|row| row.enabled)
            .map(|row| format!("{}/{}", row.tenant, row.name))
            .collect()
    };
    let before = order(&app);
    assert_eq!(before[0], "?", "unknown peers first");
    assert_eq!(before[1..], router_order(&app)[..]);

    // A later poll where handshakes moved in a different order: same list.
    let mut later = testdata::live_snapshot(&routers, now);
    for (i, stats) in later.peers.values_mut().enumerate() {
        stats.last_handshake = Some(now - chrono::Duration::seconds(i as i64 * 7 % 50));
        stats.rx_bytes += i as u64;
    }
    later.taken_at = now + chrono::Duration::seconds(10);
    app.update(testdata::live_msg(later));
    assert_eq!(order(&app), before, "the order does not jump after a poll");

    // Sorting the routers pane sorts the peers the same way.
    press(&mut app, [ch('3'), ch('s'), ch('S')]);
    let sorted = order(&app);
    assert_ne!(sorted, before);
    assert_eq!(sorted[1..], router_order(&app)[..]);
}

/// Text from the database reaches the terminal escaped: a router or tenant name written
/// with psql holding ESC and BEL is shown as `\x1b`…`\x07`, never sent raw.
#[test]
fn control_characters_from_the_database_are_shown_escaped() {
    let now = testdata::now();
    let mut routers = testdata::routers(now, 5);
    routers[0].name = "r1\u{1b}]0;PWNED\u{7}".into();
    routers[1].tenant = "t\u{9b}2J".into();
    let mut app = empty_app();
    let tenants = testdata::tenants(&routers);
    app.update(Msg::Loaded(Loaded::Tenants(Ok(tenants))));
    app.update(Msg::Loaded(Loaded::Routers {
        tenant: None,
        result: Ok(tikwire::tui::data::RouterRow::from_routers(&routers)),
    }));
    for (w, h) in [(120, 40), (80, 24)] {
        let screen = render(&app, w, h);
        assert!(
            !screen.chars().any(|c| c.is_control() && c != '\n'),
            "a control character reached the screen:\n{screen:?}"
        );
        assert!(screen.contains("r1\\x1b]0;PWNED\\x07"), "{screen}");
        assert!(screen.contains("t\\u{9b}2J"), "{screen}");
    }
}

/// The runs of underlined text on screen (the marked column headers).
fn underlined(app: &tikwire::tui::App) -> Vec<String> {
    use ratatui::style::Modifier;
    let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(120, 40)).unwrap();
    terminal
        .draw(|f| {
            tikwire::tui::ui::draw(f, app);
        })
        .unwrap();
    let buf = terminal.backend().buffer();
    let mut runs = Vec::new();
    for y in 0..buf.area.height {
        let mut run = String::new();
        for x in 0..buf.area.width {
            let cell = &buf[(x, y)];
            if cell.modifier.contains(Modifier::UNDERLINED) {
                run.push_str(cell.symbol());
            } else if !run.is_empty() {
                runs.push(std::mem::take(&mut run).trim().to_owned());
            }
        }
        if !run.is_empty() {
            runs.push(run.trim().to_owned());
        }
    }
    runs
}

#[test]
fn the_header_of_the_sorted_column_is_marked() {
    let mut app = app();
    assert_eq!(app.routers.sort, SortKey::Name);
    assert_eq!(underlined(&app), ["Name"]);
    press(&mut app, [ch('3'), ch('s')]);
    assert_eq!(app.routers.sort, SortKey::Address);
    assert_eq!(underlined(&app), ["Address"]);
    press(&mut app, [ch('s'), ch('s'), ch('s')]);
    assert_eq!(app.routers.sort, SortKey::Traffic);
    assert_eq!(underlined(&app), ["Rx", "Tx"]);
}

/// The tenant and name of the router under the cursor.
fn selected_router(app: &tikwire::tui::App) -> (String, String) {
    let r = app.routers.selected().expect("a router is selected");
    (r.tenant.to_string(), r.name.to_string())
}

/// The router whose diagnosis `effects` (only that) ask for.
fn diagnosis_asked(effects: Vec<Effect>) -> (String, String) {
    match effects.as_slice() {
        [Effect::Diagnose { tenant, router }] => (tenant.clone(), router.clone()),
        _ => panic!("{effects:?}"),
    }
}

fn diagnosis_text(app: &tikwire::tui::App) -> String {
    match app.layers.last() {
        Some(Layer::Diagnosis(v)) => v.text(),
        _ => panic!("the diagnosis is not on top"),
    }
}

#[test]
fn a_diagnosis_runs_once_in_the_background_and_shows_its_checks() {
    let mut app = app();
    let (tenant, router) = selected_router(&app);
    assert_eq!(
        diagnosis_asked(press(&mut app, [ch('D')])),
        (tenant.clone(), router.clone())
    );
    assert!(diagnosis_text(&app).contains("running the checks"));

    // Pressed again while it runs, or closed and asked for again: no second run; the view
    // comes back and waits for the first.
    assert!(press(&mut app, [ch('D')]).is_empty());
    press(&mut app, [key(KeyCode::Esc)]);
    assert!(app.layers.is_empty(), "esc closes the diagnosis");
    assert!(press(&mut app, [ch('D')]).is_empty());
    assert!(diagnosis_text(&app).contains("running the checks"));

    app.update(Msg::Done(Outcome::Diagnosed {
        tenant: tenant.clone(),
        router: router.clone(),
        result: Ok(testdata::never_connected_checks(&tenant, &router)),
    }));
    assert!(app.diagnosing.is_empty());
    let text = diagnosis_text(&app);
    assert!(
        text.contains("✗ fail  handshake  never connected; provisioned 3m ago"),
        "{text}"
    );
    assert!(
        text.contains("/interface wireguard peers print detail where interface=\"wg-hotspot\""),
        "{text}"
    );
    assert!(text.contains("/system clock print"), "{text}");
    let screen = render(&app, 120, 40);
    assert!(screen.contains("never connected"), "{screen}");

    // Scrolls with the one scroll type (as tall as the last frame), to the last fix line.
    let screen = render(&app, 80, 24);
    assert!(!screen.contains("tcp/8729"), "{screen}");
    press(&mut app, [ch('G')]);
    let screen = render(&app, 80, 24);
    assert!(screen.contains("tcp/8729"), "{screen}");

    // Done: asking again runs it again.
    press(&mut app, [key(KeyCode::Esc)]);
    assert_eq!(
        diagnosis_asked(press(&mut app, [ch('D')])),
        (tenant, router)
    );
}

#[test]
fn the_script_view_diagnoses_its_router_and_esc_goes_back_to_it() {
    let mut app = app();
    let (tenant, router) = selected_router(&app);
    press(&mut app, [ch('c')]);
    assert!(matches!(app.layers.last(), Some(Layer::Script(_))));
    assert_eq!(
        diagnosis_asked(press(&mut app, [ch('D')])),
        (tenant.clone(), router.clone())
    );
    assert!(matches!(app.layers.last(), Some(Layer::Diagnosis(_))));
    press(&mut app, [key(KeyCode::Esc)]);
    assert!(matches!(app.layers.last(), Some(Layer::Script(_))));
}

#[test]
fn a_diagnosis_that_ends_after_its_view_closed_is_told_in_a_toast() {
    let mut app = app();
    let (tenant, router) = selected_router(&app);
    press(&mut app, [ch('D'), key(KeyCode::Esc)]);
    app.update(Msg::Done(Outcome::Diagnosed {
        tenant: tenant.clone(),
        router: router.clone(),
        result: Ok(testdata::never_connected_checks(&tenant, &router)),
    }));
    let toast = &app.toasts.last().expect("a toast").text;
    assert!(
        toast.contains(&format!("diagnosis of {tenant}/{router}: 6 fail, 1 warn")),
        "{toast}"
    );
}

/// The fixture router `tenant/name` as the store would hand it back.
fn fixture_router(tenant: &str, name: &str) -> tikwire::model::Router {
    testdata::routers(testdata::now(), 60)
        .into_iter()
        .find(|r| r.tenant == tenant && r.name == name)
        .unwrap_or_else(|| panic!("no fixture router {tenant}/{name}"))
}

fn confirm_target(app: &tikwire::tui::App) -> ConfirmTarget {
    match app.layers.last() {
        Some(Layer::Confirm(c)) => c.target.clone(),
        _ => panic!("no confirmation open"),
    }
}

fn staged(app: &tikwire::tui::App, tenant: &str, name: &str) -> bool {
    let row = app
        .routers
        .find(tenant, name)
        .expect("the router is loaded");
    row.keys.rotation_state() == RotationState::Staged
}

#[test]
fn k_stages_new_keys_after_confirmation_and_aborts_a_staged_rotation() {
    let mut app = app();
    let (tenant, name) = selected_router(&app);
    assert!(!staged(&app, &tenant, &name));

    // Esc cancels: nothing asked for, nothing open.
    press(&mut app, [ch('K')]);
    assert_eq!(
        confirm_target(&app),
        ConfirmTarget::StageRotation {
            tenant: tenant.clone(),
            name: name.clone()
        }
    );
    assert!(render(&app, 80, 24).contains("the hub cuts over on the first handshake"));
    assert!(press(&mut app, [key(KeyCode::Esc)]).is_empty());
    assert!(app.layers.is_empty());

    let effects = press(&mut app, [ch('K'), key(KeyCode::Enter)]);
    let [Effect::StageRotation { tenant: t, name: n }] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    assert_eq!((t.as_str(), n.as_str()), (tenant.as_str(), name.as_str()));
    assert!(app.layers.is_empty());

    let mut router = fixture_router(&tenant, &name);
    router.rotation_state = RotationState::Staged;
    router.rotation_staged_at = Some(testdata::now());
    router.pending_public_key = Some(testdata::router_key(99_999));
    let effects = app.update(Msg::Done(Outcome::RotationStaged {
        tenant: tenant.clone(),
        name: name.clone(),
        result: Ok((router.clone(), Staging::New)),
    }));
    assert!(effects.is_empty(), "no script view open: nothing to reload");
    assert!(staged(&app, &tenant, &name), "the row shows it at once");
    let toast = &app.toasts.last().expect("a toast").text;
    assert!(toast.contains("new keys staged"), "{toast}");
    assert!(render(&app, 80, 24).contains("staged"));
    // Staged twice (another console was first): the rotation staged is kept, and said so.
    app.update(Msg::Done(Outcome::RotationStaged {
        tenant: tenant.clone(),
        name: name.clone(),
        result: Ok((router.clone(), Staging::AlreadyStaged)),
    }));
    let toast = &app.toasts.last().expect("a toast").text;
    assert!(
        toast.contains("already has new keys staged; kept them"),
        "{toast}"
    );

    // Staged now: the same key offers to abort.
    press(&mut app, [ch('K')]);
    assert!(matches!(
        confirm_target(&app),
        ConfirmTarget::AbortRotation { .. }
    ));
    assert!(press(&mut app, [key(KeyCode::Esc)]).is_empty());
    let effects = press(&mut app, [ch('K'), key(KeyCode::Enter)]);
    assert!(
        matches!(effects.as_slice(), [Effect::AbortRotation { tenant: t, name: n }] if *t == tenant && *n == name),
        "{effects:?}"
    );
    router.rotation_state = RotationState::None;
    router.rotation_staged_at = None;
    router.pending_public_key = None;
    app.update(Msg::Done(Outcome::RotationAborted {
        tenant: tenant.clone(),
        name: name.clone(),
        result: Ok(router),
    }));
    assert!(!staged(&app, &tenant, &name));
    let toast = &app.toasts.last().expect("a toast").text;
    assert!(toast.contains("aborted"), "{toast}");

    // A failure is told, and changes nothing.
    app.update(Msg::Done(Outcome::RotationAborted {
        tenant: tenant.clone(),
        name: name.clone(),
        result: Err("no key rotation is staged for this router".into()),
    }));
    let toast = app.toasts.last().expect("a toast");
    assert!(
        toast.text.contains("no key rotation is staged"),
        "{}",
        toast.text
    );
}

#[test]
fn k_on_a_router_with_a_rotation_staged_offers_to_abort_it() {
    let mut app = app();
    // The second row is the fixture's staged router (globex/branch-001).
    press(&mut app, [ch('j'), ch('K')]);
    assert_eq!(
        confirm_target(&app),
        ConfirmTarget::AbortRotation {
            tenant: "globex".into(),
            name: "branch-001".into()
        }
    );
    // K means nothing inside the confirmation: it owns its keys.
    assert!(press(&mut app, [ch('K')]).is_empty());
    assert!(matches!(app.layers.last(), Some(Layer::Confirm(_))));
}

#[test]
fn the_script_view_rotates_its_router_and_shows_the_new_keys() {
    let mut app = app();
    let (tenant, name) = selected_router(&app);
    press(&mut app, [ch('c')]);
    press(&mut app, [ch('K')]);
    assert!(matches!(
        confirm_target(&app),
        ConfirmTarget::StageRotation { .. }
    ));
    let effects = press(&mut app, [key(KeyCode::Enter)]);
    assert!(
        matches!(effects.as_slice(), [Effect::StageRotation { .. }]),
        "{effects:?}"
    );
    assert!(
        matches!(app.layers.last(), Some(Layer::Script(_))),
        "back in the script view"
    );
    let mut router = fixture_router(&tenant, &name);
    router.rotation_state = RotationState::Staged;
    router.rotation_staged_at = Some(testdata::now());
    let effects = app.update(Msg::Done(Outcome::RotationStaged {
        tenant: tenant.clone(),
        name: name.clone(),
        result: Ok((router, Staging::New)),
    }));
    assert!(
        matches!(effects.as_slice(), [Effect::LoadScripts { tenant: t, router: r }] if *t == tenant && *r == name),
        "the open script reloads with the staged keys: {effects:?}"
    );
}

#[test]
fn a_rotation_made_elsewhere_reloads_the_routers_and_the_open_script() {
    let mut app = app();
    let row = app.routers.selected().unwrap().clone();
    press(&mut app, [ch('c')]);
    let effects = app.update(Msg::Changed(Some(
        Change::new(ChangeKind::RotationStaged).tenant(1).id(row.id),
    )));
    assert!(
        effects.iter().any(
            |e| matches!(e, Effect::Load(Dataset::Routers { tenant: Some(t) }) if t == "acme")
        ),
        "{effects:?}"
    );
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::LoadScripts { router, .. } if **router == *row.name)),
        "{effects:?}"
    );
}

/// The effects that load router `id`'s detail view.
fn detail_loads(effects: &[Effect], id: i64) -> usize {
    effects
        .iter()
        .filter(|e| matches!(e, Effect::Load(Dataset::Detail { router_id }) if *router_id == id))
        .count()
}

#[test]
fn enter_opens_the_detail_view_which_loads_reloads_on_its_hub_and_opens_scripts() {
    let mut app = app();
    let row = app.routers.selected().unwrap().clone();
    let effects = press(&mut app, [key(KeyCode::Enter)]);
    assert_eq!(detail_loads(&effects, row.id), 1, "{effects:?}");
    let Some(Layer::Detail(view)) = app.layers.last() else {
        panic!("enter opens the detail view");
    };
    assert!(view.detail.is_none(), "loading until the history arrives");
    app.update(Msg::Loaded(Loaded::Detail {
        router_id: row.id,
        result: Ok(Some(testdata::router_detail(testdata::now()))),
    }));
    assert!(app.dirty);
    let Some(Layer::Detail(view)) = app.layers.last() else {
        panic!()
    };
    assert_eq!(view.hub_id(), Some(1));
    // Another router's history never lands here.
    app.update(Msg::Loaded(Loaded::Detail {
        router_id: row.id + 1,
        result: Ok(None),
    }));
    let Some(Layer::Detail(view)) = app.layers.last() else {
        panic!()
    };
    assert!(view.error.is_none());

    // A poll of its hub reloads it; one of another hub does not.
    let effects = app.update(Msg::Changed(Some(
        Change::new(ChangeKind::StatusUpdated).hub(1),
    )));
    assert_eq!(detail_loads(&effects, row.id), 1, "{effects:?}");
    let effects = app.update(Msg::Changed(Some(
        Change::new(ChangeKind::StatusUpdated).hub(2),
    )));
    assert_eq!(detail_loads(&effects, row.id), 0, "{effects:?}");

    // Scrolling the lists, then s: the scripts on top; esc comes back to the detail.
    press(&mut app, [ch('j')]);
    let effects = press(&mut app, [ch('s')]);
    assert!(
        matches!(effects.as_slice(), [Effect::LoadScripts { tenant, router }] if **tenant == *row.tenant && **router == *row.name),
        "{effects:?}"
    );
    assert!(matches!(app.layers.last(), Some(Layer::Script(_))));
    press(&mut app, [key(KeyCode::Esc)]);
    assert!(matches!(app.layers.last(), Some(Layer::Detail(_))));
    // D diagnoses the router from here.
    assert_eq!(
        diagnosis_asked(press(&mut app, [ch('D')])),
        (row.tenant.to_string(), row.name.to_string())
    );
    press(&mut app, [key(KeyCode::Esc), key(KeyCode::Esc)]);
    assert!(app.layers.is_empty());

    // A router deleted meanwhile: the view says so.
    press(&mut app, [key(KeyCode::Enter)]);
    app.update(Msg::Loaded(Loaded::Detail {
        router_id: row.id,
        result: Ok(None),
    }));
    let Some(Layer::Detail(view)) = app.layers.last() else {
        panic!()
    };
    assert!(view.error.as_deref().unwrap().contains("gone"));
}

/// The feed's events: `n` routers of acme going offline, transition ids from `first`.
fn offline_events(first: i64, n: usize) -> Vec<FeedEvent> {
    (0..n)
        .map(|i| {
            testdata::transition(
                first + i as i64,
                testdata::status_event(
                    testdata::now(),
                    "acme",
                    &format!("r{i}"),
                    RouterStatus::Online,
                    RouterStatus::Offline,
                ),
            )
        })
        .collect()
}

fn cursor(transitions: i64, alerts: i64) -> FeedCursor {
    FeedCursor {
        transitions,
        alerts,
    }
}

#[test]
fn the_live_feed_reads_after_its_cursors_and_toasts_alerts_coalesced() {
    use tikwire::alerts::AlertKind;
    let mut app = app();
    // Until its start is known, a poll asks for the start, never for the past.
    let effects = app.update(Msg::Changed(Some(
        Change::new(ChangeKind::StatusUpdated).hub(1),
    )));
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::Load(Dataset::EventCursor))),
        "{effects:?}"
    );
    app.update(Msg::Loaded(Loaded::EventCursor(Ok(cursor(40, 7)))));
    assert_eq!(app.event_cursor, Some(cursor(40, 7)));
    let effects = app.update(Msg::Changed(Some(
        Change::new(ChangeKind::StatusUpdated).hub(1),
    )));
    assert!(
        effects.iter().any(|e| matches!(
            e,
            Effect::Load(Dataset::EventFeed { after }) if *after == cursor(40, 7)
        )),
        "{effects:?}"
    );
    // 37 routers down in one read, and the storm alert the engine folded them into: one
    // toast, the storm's, as bad news; both cursors move past what was read.
    let toasts = app.toasts.len();
    let mut read = offline_events(41, 37);
    read.push(testdata::alert(
        testdata::now(),
        8,
        AlertKind::HubStorm,
        "",
        "",
        Some(37),
    ));
    app.dirty = false;
    app.update(Msg::Loaded(Loaded::EventFeed {
        after: cursor(40, 7),
        result: Ok(read.clone()),
    }));
    assert!(app.dirty);
    assert_eq!(app.toasts.len(), toasts + 1);
    let toast = app.toasts.last().unwrap();
    assert_eq!(toast.text, "storm on main: 37 routers dropped");
    assert!(toast.error);
    assert_eq!(app.event_cursor, Some(cursor(77, 8)));
    // A late read of the same events (started before the cursors moved) tells nothing again.
    app.update(Msg::Loaded(Loaded::EventFeed {
        after: cursor(40, 7),
        result: Ok(read),
    }));
    assert_eq!(app.toasts.len(), toasts + 1);
    // Raw transitions alone (a router flapping, held back by the engine): no toast.
    app.update(Msg::Loaded(Loaded::EventFeed {
        after: cursor(77, 8),
        result: Ok(offline_events(78, 3)),
    }));
    assert_eq!(app.toasts.len(), toasts + 1);
    assert_eq!(app.event_cursor, Some(cursor(80, 8)));
    // More alerts while the storm's toast shows: they join it, newest first, counted.
    app.update(Msg::Loaded(Loaded::EventFeed {
        after: cursor(80, 8),
        result: Ok(vec![
            testdata::alert(
                testdata::now(),
                9,
                AlertKind::RouterOnline,
                "globex",
                "hq-1",
                None,
            ),
            testdata::alert(
                testdata::now(),
                10,
                AlertKind::RouterFlapping,
                "acme",
                "r2",
                None,
            ),
        ]),
    }));
    assert_eq!(app.toasts.len(), toasts + 1, "joined, not stacked");
    let toast = app.toasts.last().unwrap();
    assert_eq!(
        toast.text,
        "3 alerts: acme/r2 flapping on main · globex/hq-1 back online on main \
         · storm on main: 37 routers dropped"
    );
    assert!(toast.error);
    assert_eq!(app.event_cursor, Some(cursor(80, 10)));
    // Once it is gone, good news alone is told by name, not as an error.
    app.update(Msg::Tick(testdata::now() + chrono::Duration::minutes(1)));
    app.update(Msg::Loaded(Loaded::EventFeed {
        after: cursor(80, 10),
        result: Ok(vec![testdata::alert(
            testdata::now(),
            11,
            AlertKind::RouterFirstHandshake,
            "globex",
            "hq-2",
            None,
        )]),
    }));
    let toast = app.toasts.last().unwrap();
    assert_eq!(
        toast.text,
        "globex/hq-2 connected for the first time on main"
    );
    assert!(!toast.error);
}

#[test]
fn the_events_view_loads_its_tenant_follows_the_feed_and_cycles_tenants() {
    let mut app = app();
    app.update(Msg::Loaded(Loaded::EventCursor(Ok(FeedCursor::default()))));
    // Scoped to acme: the view starts with the console's scope.
    press(&mut app, [ch('1'), ch('j'), key(KeyCode::Enter)]);
    assert_eq!(app.routers.tenant.as_deref(), Some("acme"));
    let effects = press(&mut app, [ch('E')]);
    assert!(
        matches!(effects.as_slice(), [Effect::Load(Dataset::Events { tenant: Some(t) })] if t == "acme"),
        "{effects:?}"
    );
    let events_view = |app: &tikwire::tui::App| match app.layers.last() {
        Some(Layer::Events(v)) => (v.tenant.clone(), v.loading, v.log.len()),
        _ => panic!("the events view is open"),
    };
    assert_eq!(events_view(&app), (Some("acme".into()), true, 0));
    // A load for another filter (one that moved on) is ignored.
    app.update(Msg::Loaded(Loaded::Events {
        tenant: None,
        result: Ok(offline_events(1, 3)),
    }));
    assert_eq!(events_view(&app), (Some("acme".into()), true, 0));
    app.update(Msg::Loaded(Loaded::Events {
        tenant: Some("acme".into()),
        result: Ok(offline_events(1, 3)),
    }));
    assert_eq!(events_view(&app), (Some("acme".into()), false, 3));
    // Live: acme's new event joins, globex's does not; ids already held are not doubled.
    let mut live = offline_events(3, 2);
    live.push(testdata::transition(
        5,
        testdata::status_event(
            testdata::now(),
            "globex",
            "hq-1",
            RouterStatus::Online,
            RouterStatus::Stale,
        ),
    ));
    app.update(Msg::Loaded(Loaded::EventFeed {
        after: FeedCursor::default(),
        result: Ok(live),
    }));
    assert_eq!(events_view(&app), (Some("acme".into()), false, 4));
    // t: the next tenant after acme (globex), loaded afresh.
    let effects = press(&mut app, [ch('t')]);
    assert!(
        matches!(effects.as_slice(), [Effect::Load(Dataset::Events { tenant: Some(t) })] if t == "globex"),
        "{effects:?}"
    );
    assert_eq!(events_view(&app), (Some("globex".into()), true, 0));
    // Past the last tenant: all tenants.
    for _ in 0..3 {
        press(&mut app, [ch('t')]);
    }
    let effects = press(&mut app, [ch('t')]);
    assert!(
        matches!(
            effects.as_slice(),
            [Effect::Load(Dataset::Events { tenant: None })]
        ),
        "{effects:?}"
    );
    press(&mut app, [key(KeyCode::Esc)]);
    assert!(app.layers.is_empty());
}

/// The window reads its state asks for, with their tickets.
fn window_reads(effects: &[Effect]) -> Vec<(u64, tikwire::tui::window::Fetch)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::FetchWindow { ticket, fetch, .. } => Some((*ticket, fetch.clone())),
            _ => None,
        })
        .collect()
}

/// With a database the router list is a window: the fleet is never loaded, moves within
/// the loaded rows read nothing, `G` reads the list's end, a burst of changes re-reads the
/// window once, and a sort or a filter re-reads it with the new spec.
#[test]
fn a_windowed_list_reads_windows_never_the_fleet() {
    use tikwire::store::RouterLink;
    use tikwire::store::window::ListSpec;
    use tikwire::tui::app::startup;
    use tikwire::tui::window::{COUNT_CAP, Fetch, Fetched, RouterWindow};

    let now = testdata::now();
    let mut app = empty_app();
    app.window = Some(RouterWindow::new(ListSpec::all_by_name()));
    app.update(Msg::Resize(80, 24));
    let effects = app.route(startup());
    assert!(
        !effects
            .iter()
            .any(|e| matches!(e, Effect::Load(Dataset::Routers { .. }))),
        "{effects:?}"
    );
    let [(ticket, Fetch::First)] = window_reads(&effects)[..] else {
        panic!("{effects:?}")
    };
    // The first 60 rows of a longer list, in the list's order (by name).
    let mut routers = testdata::routers(now, 60);
    routers.sort_by(|a, b| (&a.name, &a.tenant).cmp(&(&b.name, &b.tenant)));
    let answer = |ticket, selected, at_start, at_end| Fetched {
        ticket,
        rows: routers.iter().map(RouterLink::from).collect(),
        selected,
        at_start,
        at_end,
        count: 1_234,
    };
    app.dirty = false;
    let effects = app.update(Msg::Loaded(Loaded::Window {
        ticket,
        result: Ok(answer(ticket, 0, true, false)),
    }));
    assert!(effects.is_empty() && app.dirty);
    assert_eq!(app.routers.len(), 60);
    assert_eq!(
        app.routers.selected().map(|r| &*r.name),
        Some(&*routers[0].name)
    );
    assert!(
        render(&app, 80, 24).contains("1,234"),
        "the database's count"
    );

    // Within the loaded rows: no read.
    assert!(window_reads(&press(&mut app, [ch('j'), ch('j')])).is_empty());
    assert_eq!(app.routers.cursor.selected, 2);
    // Past them: the list's end.
    let reads = window_reads(&press(&mut app, [ch('G')]));
    let [(last, Fetch::Last)] = reads[..] else {
        panic!("{reads:?}")
    };
    // A stale answer is dropped; the latest lands with its selection.
    app.update(Msg::Loaded(Loaded::Window {
        ticket,
        result: Ok(answer(ticket, 5, true, false)),
    }));
    assert_eq!(app.routers.cursor.selected, 59);
    app.update(Msg::Loaded(Loaded::Window {
        ticket: last,
        result: Ok(answer(last, 59, false, true)),
    }));
    assert_eq!(app.routers.cursor.selected, 59);

    // Changes re-read the window (one read for a burst), not the fleet.
    let change = || Msg::Changed(Some(Change::new(ChangeKind::StatusUpdated)));
    let reads = window_reads(&app.update(change()));
    let [(reread, Fetch::Around { .. })] = reads[..] else {
        panic!("{reads:?}")
    };
    assert!(window_reads(&app.update(change())).is_empty());
    let follow = app.update(Msg::Loaded(Loaded::Window {
        ticket: reread,
        result: Ok(answer(reread, 59, false, true)),
    }));
    assert_eq!(
        window_reads(&follow).len(),
        1,
        "the change that came meanwhile"
    );

    // A sort and a filter read with the new spec.
    let effects = press(&mut app, [ch('s')]);
    let Some(Effect::FetchWindow { spec, .. }) = effects.last() else {
        panic!("{effects:?}")
    };
    assert_eq!(spec.sort, SortKey::Name.next());
    let mut keys = vec![ch('/')];
    keys.extend(typing("x"));
    let effects = press(&mut app, keys);
    let Some(Effect::FetchWindow { spec, .. }) = effects.last() else {
        panic!("{effects:?}")
    };
    assert_eq!(spec.filter, "x");
    // A capped filtered count reads "10,000+".
    let reads = window_reads(&effects);
    let (ticket, _) = reads.last().unwrap().clone();
    let mut capped = answer(ticket, 0, true, true);
    capped.count = COUNT_CAP;
    app.update(Msg::Loaded(Loaded::Window {
        ticket,
        result: Ok(capped),
    }));
    assert!(render(&app, 80, 24).contains("10,000+"));
}
