//! Key events fed into the console state without a terminal: the resulting state and the
//! effects it asks for.

mod common_tui;

use common_tui::*;
use ratatui::crossterm::event::KeyCode;
use tikwire::model::RouterStatus;
use tikwire::tui::app::{Dataset, Effect, Layer, Loaded, Msg, Outcome, Pane};
use tikwire::tui::data::{ScriptKind, SortKey};
use tikwire::tui::testdata;

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
    assert_eq!(req.name.as_str(), "new-site");
    assert_eq!(req.tenant.as_str(), "acme");
    assert_eq!(req.interface_name.as_str(), "wg-hotspot");
    assert_eq!(req.keepalive, 25);
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
    assert_eq!(
        app.routers.selected().map(|r| r.name.as_str()),
        Some("new-site")
    );
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::Load(Dataset::Subnets)))
    );
    assert!(app.toasts.last().unwrap().text.contains("provisioned"));
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
    assert!(app.routers.len() < all && app.routers.len() > 0);
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
    assert!((0..app.routers.len()).all(|i| app.routers.get(i).unwrap().tenant == "globex"));
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
    assert_eq!(
        (r.tenant.as_str(), r.name.as_str()),
        ("umbrella", "shop-002")
    );
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
    assert_eq!((tenant, name), (&r.tenant, &r.name));
    app.update(Msg::Done(Outcome::RouterDeleted {
        tenant: r.tenant.clone(),
        name: r.name.clone(),
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
    let effects = press(&mut app, [key(KeyCode::Enter)]);
    assert!(
        matches!(effects.as_slice(), [Effect::LoadScripts { tenant, router }] if *tenant == r.tenant && *router == r.name)
    );
    // copy before the script arrived: told to wait, nothing copied
    assert!(press(&mut app, [ch('c')]).is_empty());
    app.update(Msg::Loaded(Loaded::Scripts {
        tenant: r.tenant.clone(),
        router: r.name.clone(),
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
    let [Effect::Save { path, text }] = effects.as_slice() else {
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
        matches!(effects.as_slice(), [Effect::SetEnabled { enabled, .. }] if *enabled == !r.enabled)
    );
    press(&mut app, [ch('4'), ch('f')]);
    assert!(app.peers.frozen);
    let before = app.peers.shown.clone();
    app.update(Msg::Peers(testdata::live_peers(
        app.routers.all(),
        testdata::now(),
    )));
    assert_eq!(app.peers.shown, before, "frozen pane keeps its data");
    press(&mut app, [ch('f')]);
    assert_ne!(app.peers.shown, before, "unfreezing shows the newest data");
    assert!(
        app.peers.get(0).unwrap().router.is_none(),
        "unknown peer listed"
    );
}

#[test]
fn notifications_reload_only_what_changed_and_db_outage_recovers() {
    let mut app = app();
    let effects = app.update(Msg::Changed {
        kind: "router".into(),
        op: "insert".into(),
        tenant_id: Some(2),
    });
    assert!(
        effects.iter().any(
            |e| matches!(e, Effect::Load(Dataset::Routers { tenant: Some(t) }) if t == "globex")
        )
    );
    let effects = app.update(Msg::Changed {
        kind: "hub".into(),
        op: "insert".into(),
        tenant_id: None,
    });
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
