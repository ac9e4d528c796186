//! Shared by the console tests: an App filled with in-memory rows, key helpers, and a
//! renderer into ratatui's TestBackend.
#![allow(dead_code)]

pub mod testdata;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use tikwire::store::PoolUsage;
use tikwire::tui::app::{App, Effect, Loaded, Msg};
use tikwire::tui::data::RouterRow;
use tikwire::tui::keymap::Keymap;
use tikwire::tui::panes::RenderInfo;
use tikwire::tui::{Theme, ui};

pub fn empty_app() -> App {
    App::new(Keymap::default(), Theme::default(), testdata::now())
}

/// An app as it is once everything loaded: one hub, five tenants, `n` routers.
pub fn app_with(n: usize) -> App {
    let mut app = empty_app();
    let now = testdata::now();
    let routers = testdata::routers(now, n);
    let tenants = testdata::tenants(&routers);
    let subnets = testdata::subnets(&tenants);
    app.update(Msg::Loaded(Loaded::Hubs(Ok(testdata::hubs()))));
    app.update(Msg::Loaded(Loaded::Pool(Ok(PoolUsage {
        tenants_used: tenants.len() as i64,
        tenants_capacity: 155,
        ..PoolUsage::default()
    }))));
    app.update(Msg::Loaded(Loaded::Tenants(Ok(tenants))));
    app.update(Msg::Loaded(Loaded::Subnets(Ok(subnets))));
    app.update(Msg::Loaded(Loaded::Routers {
        tenant: None,
        result: Ok(RouterRow::from_routers(&routers)),
    }));
    app
}

pub fn app() -> App {
    app_with(60)
}

pub fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

pub fn ch(c: char) -> Msg {
    key(KeyCode::Char(c))
}

pub fn ctrl(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
}

/// Feeds keys; returns every effect they produced.
pub fn press(app: &mut App, msgs: impl IntoIterator<Item = Msg>) -> Vec<Effect> {
    msgs.into_iter().flat_map(|m| app.update(m)).collect()
}

pub fn typing(text: &str) -> Vec<Msg> {
    text.chars().map(ch).collect()
}

/// Draws one frame and returns it as text, one line per row, trailing blanks trimmed.
pub fn render(app: &App, width: u16, height: u16) -> String {
    render_info(app, width, height).0
}

pub fn render_info(app: &App, width: u16, height: u16) -> (String, RenderInfo) {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    let mut info = RenderInfo::default();
    terminal.draw(|f| info = ui::draw(f, app)).unwrap();
    let buf = terminal.backend().buffer();
    let mut out = String::new();
    for y in 0..buf.area.height {
        let mut line = String::new();
        for x in 0..buf.area.width {
            line.push_str(buf[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    (out, info)
}
