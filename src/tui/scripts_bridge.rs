//! Turns a router's key material into the texts the script view shows. The generators live
//! in `crate::scripts`; this is the one place the console calls them, through the same
//! mapping `tikwire script` uses, so a copied script is byte for byte what the CLI prints.

use zeroize::Zeroizing;

use crate::provision::RouterMaterial;
use crate::scripts::{RouterDocument, render_router};
use crate::tui::data::{KeyDates, ScriptBundle};

/// Every text for one router, with its secrets listed for masking.
pub fn bundle(material: &RouterMaterial) -> Result<ScriptBundle, String> {
    let render = |document| render_router(material, document).map_err(|e| e.to_string());
    Ok(ScriptBundle {
        routeros: render(RouterDocument::RouterOs)?,
        undo: render(RouterDocument::RouterOsUndo)?,
        wg_quick: render(RouterDocument::WgQuick)?,
        qr_payload: render(RouterDocument::WgQuickCompact)?,
        secrets: vec![
            Zeroizing::new(material.private_key.as_str().to_owned()),
            Zeroizing::new(material.preshared_key.as_str().to_owned()),
        ],
        keys: KeyDates::of(&material.router),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::data::ScriptKind;
    use crate::tui::testdata;

    #[test]
    fn the_bundle_is_what_the_cli_renders_and_masks_every_key() {
        let material = testdata::material();
        let bundle = bundle(&material).unwrap();
        let cli = render_router(&material, RouterDocument::RouterOs).unwrap();
        assert_eq!(*bundle.routeros, *cli);
        assert!(bundle.routeros.contains(testdata::PRIVATE_KEY));
        assert!(bundle.qr_payload.contains("[Interface]"));
        assert!(
            !bundle.qr_payload.contains('#'),
            "no comments in the QR payload"
        );
        for kind in [ScriptKind::RouterOs, ScriptKind::Undo, ScriptKind::WgQuick] {
            let masked = bundle.masked(kind);
            assert!(!masked.contains(testdata::PRIVATE_KEY), "{kind:?}");
            assert!(!masked.contains(testdata::PRESHARED_KEY), "{kind:?}");
        }
    }
}
