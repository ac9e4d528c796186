//! Turns a router's key material into the texts the script view shows. The generators live
//! in `crate::scripts`; this is the one place the console calls them.

use crate::provision::RouterMaterial;
use crate::tui::data::ScriptBundle;

/// Every text for one router, with its secrets listed for masking.
pub fn bundle(_material: &RouterMaterial) -> Result<ScriptBundle, String> {
    // Wired to crate::scripts (routeros_script, routeros_undo_script, wg_quick_config,
    // wg_quick_compact) once that module is on main.
    Err("script generation is not built yet".into())
}
