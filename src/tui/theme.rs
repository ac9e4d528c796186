//! Colour themes: `themes/*.toml` embedded in the binary, user themes in the XDG config dir
//! (`~/.config/tikwire/themes/NAME.toml`), and a colourless variant for `NO_COLOR`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;

use crate::error::{Error, Result};

/// Themes shipped inside the binary, by name.
pub const BUILTIN: [(&str, &str); 3] = [
    ("default", include_str!("../../themes/default.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
];

/// One style per thing the console draws; panes ask for a role, never for a colour.
#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub name: String,
    pub text: Style,
    pub muted: Style,
    pub border: Style,
    pub border_focused: Style,
    pub title: Style,
    pub header: Style,
    pub selected: Style,
    pub key: Style,
    pub accent: Style,
    pub online: Style,
    pub stale: Style,
    pub offline: Style,
    pub pending: Style,
    pub disabled: Style,
    pub unknown: Style,
    pub gauge: Style,
    pub gauge_full: Style,
    pub error: Style,
    pub ok: Style,
    pub banner: Style,
    pub toast: Style,
    pub toast_error: Style,
    pub input: Style,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleSpec {
    fg: Option<String>,
    bg: Option<String>,
    #[serde(default)]
    bold: bool,
    #[serde(default)]
    italic: bool,
    #[serde(default)]
    underline: bool,
    #[serde(default)]
    reversed: bool,
    #[serde(default)]
    dim: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    name: Option<String>,
    #[serde(default)]
    roles: BTreeMap<String, RoleSpec>,
}

fn parse_colour(theme: &str, role: &str, value: &str) -> Result<Color> {
    Color::from_str(value).map_err(|_| {
        Error::Config(format!(
            "theme {theme}: role {role} has colour {value:?}; use a name (red, lightblue), #rrggbb or 0-255"
        ))
    })
}

impl RoleSpec {
    fn style(&self, theme: &str, role: &str) -> Result<Style> {
        let mut style = Style::default();
        if let Some(fg) = &self.fg {
            style = style.fg(parse_colour(theme, role, fg)?);
        }
        if let Some(bg) = &self.bg {
            style = style.bg(parse_colour(theme, role, bg)?);
        }
        let flags = [
            (self.bold, Modifier::BOLD),
            (self.italic, Modifier::ITALIC),
            (self.underline, Modifier::UNDERLINED),
            (self.reversed, Modifier::REVERSED),
            (self.dim, Modifier::DIM),
        ];
        for (on, modifier) in flags {
            if on {
                style = style.add_modifier(modifier);
            }
        }
        Ok(style)
    }
}

/// Lists role names with a getter, so parsing and the colourless variant cover every role.
macro_rules! roles {
    ($($role:ident),* $(,)?) => {
        const ROLE_NAMES: &[&str] = &[$(stringify!($role)),*];
        impl Theme {
            fn role_mut(&mut self, role: &str) -> Option<&mut Style> {
                match role {
                    $(stringify!($role) => Some(&mut self.$role),)*
                    _ => None,
                }
            }
        }
    };
}
roles!(
    text,
    muted,
    border,
    border_focused,
    title,
    header,
    selected,
    key,
    accent,
    online,
    stale,
    offline,
    pending,
    disabled,
    unknown,
    gauge,
    gauge_full,
    error,
    ok,
    banner,
    toast,
    toast_error,
    input,
);

impl Default for Theme {
    fn default() -> Self {
        // The embedded default theme is tested to parse; the fallback only guards the build.
        Self::parse("default", BUILTIN[0].1).unwrap_or_else(|_| Self::plain("default"))
    }
}

impl Theme {
    /// Every role unstyled: the base a theme file fills in.
    fn plain(name: &str) -> Self {
        let s = Style::default();
        Theme {
            name: name.to_owned(),
            text: s,
            muted: s,
            border: s,
            border_focused: s,
            title: s,
            header: s,
            selected: s,
            key: s,
            accent: s,
            online: s,
            stale: s,
            offline: s,
            pending: s,
            disabled: s,
            unknown: s,
            gauge: s,
            gauge_full: s,
            error: s,
            ok: s,
            banner: s,
            toast: s,
            toast_error: s,
            input: s,
        }
    }

    /// Parses a theme file. Roles it leaves out keep the default theme's style.
    pub fn parse(name: &str, text: &str) -> Result<Self> {
        let file: ThemeFile = toml::from_str(text)
            .map_err(|e| Error::Config(format!("theme {name}: {}", first_line(&e.to_string()))))?;
        let mut theme = if name == "default" {
            Self::plain(name)
        } else {
            Self::default()
        };
        theme.name = file.name.unwrap_or_else(|| name.to_owned());
        for (role, spec) in &file.roles {
            let style = spec.style(name, role)?;
            let slot = theme.role_mut(role).ok_or_else(|| {
                Error::Config(format!(
                    "theme {name}: unknown role {role:?}; roles are {}",
                    ROLE_NAMES.join(", ")
                ))
            })?;
            *slot = style;
        }
        Ok(theme)
    }

    /// Finds a theme by name: the user's themes directory first, then the embedded ones.
    pub fn load(name: Option<&str>, user_dir: Option<&Path>) -> Result<Self> {
        let name = name.unwrap_or("default");
        if let Some(dir) = user_dir {
            let path = dir.join(format!("{name}.toml"));
            if path.is_file() {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| Error::io(format!("reading theme {}", path.display()), e))?;
                return Self::parse(name, &text);
            }
        }
        BUILTIN
            .iter()
            .find(|(builtin, _)| *builtin == name)
            .map(|(_, text)| Self::parse(name, text))
            .unwrap_or_else(|| {
                Err(Error::Config(format!(
                    "no theme named {name:?}; built in: {}{}",
                    BUILTIN.map(|(n, _)| n).join(", "),
                    user_dir
                        .map(|d| format!("; user themes go in {}", d.display()))
                        .unwrap_or_default()
                )))
            })
    }

    /// `~/.config/tikwire/themes`, where user themes live.
    pub fn user_dir() -> Option<PathBuf> {
        directories::ProjectDirs::from("", "", "tikwire").map(|p| p.config_dir().join("themes"))
    }

    /// The same theme without any colour (`NO_COLOR`): emphasis survives as bold, reverse
    /// and underline, so selection, banners and status stay readable.
    pub fn without_colour(mut self) -> Self {
        for role in ROLE_NAMES {
            if let Some(style) = self.role_mut(role) {
                style.fg = None;
                style.bg = None;
                style.underline_color = None;
            }
        }
        for style in [
            &mut self.selected,
            &mut self.banner,
            &mut self.toast,
            &mut self.toast_error,
        ] {
            *style = style.add_modifier(Modifier::REVERSED);
        }
        self.border_focused = self.border_focused.add_modifier(Modifier::BOLD);
        self.gauge = self.gauge.add_modifier(Modifier::REVERSED);
        self.gauge_full = self
            .gauge_full
            .add_modifier(Modifier::REVERSED | Modifier::BOLD);
        self
    }

    /// True when the `NO_COLOR` convention asks for no colour (set and not empty).
    pub fn no_color_requested() -> bool {
        std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_themes_parse_and_differ() {
        let themes: Vec<Theme> = BUILTIN
            .iter()
            .map(|(n, _)| Theme::load(Some(n), None).unwrap())
            .collect();
        assert_eq!(themes[0].online.fg, Some(Color::Green));
        assert_ne!(themes[0], themes[1]);
        assert_ne!(themes[1], themes[2]);
    }

    #[test]
    fn default_theme_uses_only_ansi_16() {
        let t = Theme::default();
        for role in ROLE_NAMES {
            let mut t = t.clone();
            let style = *t.role_mut(role).unwrap();
            for c in [style.fg, style.bg].into_iter().flatten() {
                assert!(
                    !matches!(c, Color::Rgb(..) | Color::Indexed(_)),
                    "{role} uses {c:?}"
                );
            }
        }
    }

    #[test]
    fn unknown_role_and_bad_colour_are_refused() {
        let err = Theme::parse("x", "[roles]\nbogus = { fg = \"red\" }").unwrap_err();
        assert!(err.to_string().contains("unknown role \"bogus\""), "{err}");
        let err = Theme::parse("x", "[roles]\ntext = { fg = \"reddish\" }").unwrap_err();
        assert!(err.to_string().contains("reddish"), "{err}");
        assert!(Theme::load(Some("nope"), None).is_err());
    }

    #[test]
    fn user_theme_overrides_builtin_and_keeps_missing_roles() {
        let dir = std::env::temp_dir().join(format!("tikwire-theme-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("mine.toml"),
            "[roles]\nonline = { fg = \"#00ff00\" }\n",
        )
        .unwrap();
        let t = Theme::load(Some("mine"), Some(&dir)).unwrap();
        assert_eq!(t.online.fg, Some(Color::Rgb(0, 255, 0)));
        assert_eq!(t.offline, Theme::default().offline);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn no_colour_strips_colours_but_keeps_selection_visible() {
        let t = Theme::default().without_colour();
        assert_eq!(t.online.fg, None);
        assert_eq!(t.selected.bg, None);
        assert!(t.selected.add_modifier.contains(Modifier::REVERSED));
    }
}
