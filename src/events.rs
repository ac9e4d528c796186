//! The vocabulary of what happens in tikwire: change events (announced on `NOTIFY`, streamed
//! to consoles and, later, the API) and audit actions (recorded in `audit_log`).
//!
//! Each name is written once, in the `named!` list below; serialisation, parsing and display
//! all come from it, so renaming a variant cannot leave a stale string behind.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A closed set of names: the enum, `ALL`, `as_str`, `Display`, `FromStr` and serde, from one
/// list of `Variant => "name"` pairs.
macro_rules! named {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The name as it is stored, sent and shown.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownName;

            fn from_str(text: &str) -> Result<Self, UnknownName> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == text)
                    .ok_or_else(|| UnknownName(text.to_owned()))
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = std::borrow::Cow::<str>::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

/// A name that is not one of the known ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown name {0:?}")]
pub struct UnknownName(pub String);

named! {
    /// What changed, as an operator reads it in an event stream.
    pub enum ChangeKind {
        TenantCreated => "tenant.created",
        TenantDeleted => "tenant.deleted",
        HubCreated => "hub.created",
        /// A hub's capacity or management address changed (`hub set`).
        HubUpdated => "hub.updated",
        /// One router provisioned.
        RouterCreated => "router.created",
        /// Several routers provisioned at once (a bulk import).
        RoutersImported => "router.imported",
        RouterDeleted => "router.deleted",
        RouterEnabled => "router.enabled",
        RouterDisabled => "router.disabled",
        /// New keys staged beside routers' current ones (one router, or many of a tenant).
        RotationStaged => "router.rotation_staged",
        RotationAborted => "router.rotation_aborted",
        /// The hub's agent cut a router over to its staged keys on their first handshake.
        RouterRotated => "router.rotated",
        /// The agent recorded new handshakes, endpoints, counters or unknown peers on a hub.
        StatusUpdated => "status.updated",
    }
}

named! {
    /// What an operator did, as recorded in the audit log.
    pub enum AuditAction {
        TenantAdd => "tenant.add",
        TenantRm => "tenant.rm",
        HubAdd => "hub.add",
        HubSet => "hub.set",
        RouterAdd => "router.add",
        RouterImport => "router.import",
        RouterRm => "router.rm",
        RouterEnable => "router.enable",
        RouterDisable => "router.disable",
        /// A rotation staged (one router, or a tenant's with `--all` / `--due`).
        RouterRotate => "router.rotate",
        RouterRotateAbort => "router.rotate.abort",
        /// The hub's agent made the staged keys the router's keys.
        RouterRotateCutOver => "router.rotate.cutover",
        /// The RouterOS script downloaded through the API.
        VpnDownloadMikrotik => "vpn.download.mikrotik",
        /// The wg-quick config downloaded through the API.
        VpnDownloadLinux => "vpn.download.linux",
        TokenAdd => "token.add",
        TokenRm => "token.rm",
        /// A webhook endpoint registered (its name and host; never the URL's path or secret).
        WebhookAdd => "webhook.add",
        WebhookRm => "webhook.rm",
    }
}

/// One change event: what changed and which rows it touched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub kind: ChangeKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hub_id: Option<i64>,
    /// The row the event is about (tenant, hub or router id), when it is about one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
}

impl Change {
    pub fn new(kind: ChangeKind) -> Self {
        Self {
            kind,
            tenant_id: None,
            hub_id: None,
            id: None,
        }
    }

    pub fn tenant(mut self, tenant_id: i64) -> Self {
        self.tenant_id = Some(tenant_id);
        self
    }

    pub fn hub(mut self, hub_id: i64) -> Self {
        self.hub_id = Some(hub_id);
        self
    }

    pub fn id(mut self, id: i64) -> Self {
        self.id = Some(id);
        self
    }

    /// The wire form (JSON), as sent on `NOTIFY` and in event streams.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| {
            // Unreachable: the fields are an enum and integers; keep the kind regardless.
            format!("{{\"kind\":\"{}\"}}", self.kind)
        })
    }

    /// Reads the wire form; `None` for a payload this version cannot read (a newer writer).
    pub fn from_json(payload: &str) -> Option<Self> {
        serde_json::from_str(payload).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_reads_back_as_itself() {
        for kind in ChangeKind::ALL {
            assert_eq!(kind.as_str().parse::<ChangeKind>(), Ok(*kind));
        }
        for action in AuditAction::ALL {
            assert_eq!(action.as_str().parse::<AuditAction>(), Ok(*action));
        }
    }

    #[test]
    fn names_are_distinct() {
        let mut names: Vec<&str> = ChangeKind::ALL.iter().map(|k| k.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ChangeKind::ALL.len());
    }

    #[test]
    fn a_change_travels_as_dotted_json() {
        let change = Change::new(ChangeKind::RouterCreated)
            .tenant(2)
            .hub(1)
            .id(7);
        let json = change.to_json();
        assert_eq!(
            json,
            r#"{"kind":"router.created","tenant_id":2,"hub_id":1,"id":7}"#
        );
        assert_eq!(Change::from_json(&json), Some(change));
    }

    #[test]
    fn an_unknown_kind_is_not_read_as_another() {
        assert_eq!(Change::from_json(r#"{"kind":"router.renamed"}"#), None);
        assert_eq!(
            Change::from_json(r#"{"kind":"router","op":"insert"}"#),
            None
        );
        assert!("router".parse::<ChangeKind>().is_err());
    }
}
