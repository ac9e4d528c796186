//! Full-screen QR code of the wg-quick config (for phones and laptops; RouterOS does not
//! scan). Dense1x2 half blocks, inverted and painted white on black explicitly so it scans
//! whatever the terminal's colours; error correction L keeps it small.

use qrcode::render::unicode::Dense1x2;
use qrcode::{EcLevel, QrCode};
use ratatui::Frame;
use ratatui::crossterm::event::KeyEvent;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};
use zeroize::Zeroizing;

use super::{Canvas, Env, Overlay, Reply};
use crate::tui::keymap::{Action, Context};
use crate::tui::theme::Theme;

pub struct QrView {
    pub label: String,
    /// The rendered code, one string per terminal row (it encodes the private key).
    rows: Zeroizing<Vec<String>>,
    pub width: u16,
    pub height: u16,
}

impl QrView {
    pub fn new(label: &str, payload: &str) -> Result<Self, String> {
        let code = QrCode::with_error_correction_level(payload.as_bytes(), EcLevel::L)
            .map_err(|e| format!("cannot make a QR code of this config: {e}"))?;
        // Inverted: dark modules drawn as light cells, for a light-on-dark code.
        let text: Zeroizing<String> = Zeroizing::new(
            code.render::<Dense1x2>()
                .dark_color(Dense1x2::Light)
                .light_color(Dense1x2::Dark)
                .quiet_zone(true)
                .build(),
        );
        let rows: Vec<String> = text.lines().map(str::to_owned).collect();
        let width = rows.iter().map(|r| r.chars().count()).max().unwrap_or(0) as u16;
        let height = rows.len() as u16;
        Ok(QrView {
            label: label.to_owned(),
            rows: Zeroizing::new(rows),
            width,
            height,
        })
    }

    /// Terminal size the view needs: the code plus one line for its caption.
    pub fn needs(&self) -> (u16, u16) {
        (self.width, self.height + 1)
    }

    pub fn rows(&self) -> &[String] {
        &self.rows
    }
}

impl Overlay for QrView {
    fn contexts(&self) -> &'static [Context] {
        &[Context::Nav, Context::Always]
    }

    fn on_key(&mut self, _key: KeyEvent, action: Option<Action>, _env: &Env) -> Reply {
        match action {
            Some(Action::Back) => Reply::close(),
            _ => Reply::stay(false),
        }
    }

    fn render(&self, frame: &mut Frame, canvas: &Canvas) {
        render(self, frame, canvas.screen, canvas.theme);
    }

    fn full_screen(&self) -> bool {
        true
    }
}

pub fn render(view: &QrView, frame: &mut Frame, area: Rect, theme: &Theme) {
    frame.render_widget(Clear, area);
    let (need_w, need_h) = view.needs();
    if area.width < need_w || area.height < need_h {
        let text = vec![
            Line::from(Span::styled("The QR code does not fit.", theme.error)),
            Line::default(),
            Line::from(format!(
                "It needs a terminal of at least {need_w}x{need_h}; this one is {}x{}.",
                area.width, area.height
            )),
            Line::from(
                "Enlarge the window (or zoom out), or go back with esc and copy the config.",
            ),
        ];
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), area);
        return;
    }
    let qr_style = Style::default().fg(Color::White).bg(Color::Black);
    let x = area.x + (area.width - view.width) / 2;
    let y = area.y + (area.height - need_h) / 2;
    let code_area = Rect {
        x,
        y,
        width: view.width,
        height: view.height,
    };
    let lines: Vec<Line> = view
        .rows
        .iter()
        .map(|r| Line::from(Span::styled(r.as_str(), qr_style)))
        .collect();
    frame.render_widget(Paragraph::new(lines), code_area);
    let caption = format!("wg-quick config of {} · esc back", view.label);
    let caption_area = Rect {
        x: area.x,
        y: y + view.height,
        width: area.width,
        height: 1,
    };
    frame.render_widget(
        Paragraph::new(Span::styled(caption, theme.muted))
            .alignment(ratatui::layout::Alignment::Center),
        caption_area,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::testdata;

    #[test]
    fn qr_of_a_wg_quick_config_fits_the_documented_size() {
        let b = testdata::bundle();
        let v = QrView::new("acme/hq-000", &b.qr_payload).unwrap();
        let (w, h) = v.needs();
        assert!(w <= 81 && h <= 42, "{w}x{h}");
        assert!(v.rows().iter().all(|r| r.chars().count() as u16 == v.width));
    }
}
