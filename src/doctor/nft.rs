//! Reading `nft -j` output: does the input path let the WireGuard port in, and is the tenant
//! isolation table what `hub firewall` prints. Pure functions over the JSON.

use serde_json::Value;

/// What the host's input chains do with a packet to the hub's UDP port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputVerdict {
    /// No input chain filters anything.
    Open,
    /// An input chain accepts the port explicitly (the chain named).
    Accepted(String),
    /// An input chain drops it: a drop policy or rule with nothing accepting the port first.
    Dropped(String),
    /// An input chain has rules this reading does not follow (jumps, named sets, ...).
    Unclear(String),
}

/// The objects of an `nft -j` document (`{"nftables": [...]}`), metainfo left out.
fn objects(doc: &Value) -> impl Iterator<Item = (&str, &Value)> {
    doc.get("nftables")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|item| item.as_object()?.iter().next())
        .map(|(kind, body)| (kind.as_str(), body))
        .filter(|(kind, _)| *kind != "metainfo")
}

fn str_field<'a>(body: &'a Value, key: &str) -> &'a str {
    body.get(key).and_then(Value::as_str).unwrap_or("")
}

/// What one rule means for a UDP packet to `port` arriving on the underlay.
#[derive(Debug, PartialEq, Eq)]
enum RuleEffect {
    /// Does not apply to the packet (or does not decide it).
    Pass,
    Accept,
    Drop,
    Unclear,
}

fn port_in(right: &Value, port: u16) -> Option<bool> {
    let port = u64::from(port);
    match right {
        Value::Number(n) => Some(n.as_u64() == Some(port)),
        Value::Object(o) if o.contains_key("range") => {
            let range = o.get("range")?.as_array()?;
            Some(range.first()?.as_u64()? <= port && port <= range.get(1)?.as_u64()?)
        }
        Value::Object(o) if o.contains_key("set") => {
            let items = o.get("set")?.as_array()?;
            let mut any = false;
            for item in items {
                any |= port_in(item, port.try_into().ok()?)?;
            }
            Some(any)
        }
        _ => None,
    }
}

fn rule_effect(expr: &[Value], port: u16, wg_interface: &str) -> RuleEffect {
    let mut port_matched = false;
    let mut other_matches = 0;
    for item in expr {
        let Some((kind, body)) = item.as_object().and_then(|o| o.iter().next()) else {
            continue;
        };
        match kind.as_str() {
            "match" => {
                let op = str_field(body, "op");
                let left = body.get("left").unwrap_or(&Value::Null);
                let right = body.get("right").unwrap_or(&Value::Null);
                let field = left
                    .get("payload")
                    .map(|p| (str_field(p, "protocol"), str_field(p, "field")));
                let meta = left.get("meta").map(|m| str_field(m, "key"));
                match (field, meta) {
                    (Some(("udp" | "th", "dport")), _) => match (op, port_in(right, port)) {
                        ("==" | "in", Some(true)) => port_matched = true,
                        ("==" | "in", Some(false)) => return RuleEffect::Pass,
                        _ => return RuleEffect::Unclear,
                    },
                    (Some(("tcp", _)), _) => return RuleEffect::Pass,
                    (_, Some("iifname" | "iif"))
                        if op == "==" && right.as_str() == Some(wg_interface) =>
                    {
                        return RuleEffect::Pass;
                    }
                    (_, Some("iifname" | "iif")) if right.as_str() == Some("lo") => {
                        return RuleEffect::Pass;
                    }
                    (_, Some("l4proto" | "nfproto")) => {
                        // `meta l4proto udp` narrows to what we ask about; other protocols pass.
                        let names_udp = right.as_str() == Some("udp")
                            || right.as_u64() == Some(17)
                            || right.as_str().is_some_and(|p| p.starts_with("ip"));
                        if op == "==" && !names_udp {
                            return RuleEffect::Pass;
                        }
                    }
                    _ if left.get("ct").is_some() => {
                        // `ct state established,related` or `invalid`: a router's first
                        // handshake is new, so these do not decide it.
                        return RuleEffect::Pass;
                    }
                    _ => other_matches += 1,
                }
            }
            "accept" if other_matches == 0 => return RuleEffect::Accept,
            "accept" if port_matched => return RuleEffect::Accept,
            "accept" => return RuleEffect::Pass,
            "drop" | "reject" if other_matches == 0 => return RuleEffect::Drop,
            "drop" | "reject" => return RuleEffect::Unclear,
            "jump" | "goto" => return RuleEffect::Unclear,
            _ => {}
        }
    }
    RuleEffect::Pass
}

/// Follows every input-hook chain (except tikwire's own table, which only filters traffic
/// from the tunnel) for a new UDP packet to `port`.
pub fn input_verdict(
    ruleset: &Value,
    port: u16,
    own_table: &str,
    wg_interface: &str,
) -> InputVerdict {
    let mut unclear = None;
    let mut accepted = None;
    for (kind, chain) in objects(ruleset) {
        if kind != "chain" || str_field(chain, "hook") != "input" {
            continue;
        }
        let (table, name) = (str_field(chain, "table"), str_field(chain, "name"));
        if table == own_table {
            continue;
        }
        let label = format!("{} {table} {name}", str_field(chain, "family"));
        let mut decided = None;
        let mut chain_unclear = false;
        for (kind, rule) in objects(ruleset) {
            if kind != "rule"
                || str_field(rule, "table") != table
                || str_field(rule, "chain") != name
            {
                continue;
            }
            let expr = rule
                .get("expr")
                .and_then(Value::as_array)
                .map(Vec::as_slice);
            match rule_effect(expr.unwrap_or(&[]), port, wg_interface) {
                RuleEffect::Pass => {}
                RuleEffect::Unclear => chain_unclear = true,
                RuleEffect::Accept => {
                    decided = Some(true);
                    break;
                }
                RuleEffect::Drop => {
                    decided = Some(false);
                    break;
                }
            }
        }
        let decided = decided.or_else(|| match str_field(chain, "policy") {
            "drop" => Some(false),
            _ => None,
        });
        match decided {
            Some(false) if !chain_unclear => return InputVerdict::Dropped(label),
            Some(false) => unclear = Some(label),
            Some(true) => accepted = Some(label),
            None if chain_unclear => unclear = Some(label),
            None => {}
        }
    }
    match (unclear, accepted) {
        (Some(label), _) => InputVerdict::Unclear(label),
        (None, Some(label)) => InputVerdict::Accepted(label),
        (None, None) => InputVerdict::Open,
    }
}

/// The objects of one table listing with their handles removed, in order: two listings of
/// the same rules compare equal.
pub fn table_objects(doc: &Value) -> Vec<Value> {
    objects(doc)
        .map(|(kind, body)| {
            let mut body = body.clone();
            if let Some(map) = body.as_object_mut() {
                map.remove("handle");
            }
            serde_json::json!({ kind: body })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ruleset(policy: &str, rules: Vec<Value>) -> Value {
        let mut items = vec![
            json!({"metainfo": {"version": "1.0.6"}}),
            json!({"table": {"family": "inet", "name": "filter", "handle": 1}}),
            json!({"chain": {"family": "inet", "table": "filter", "name": "input", "handle": 1,
                "type": "filter", "hook": "input", "prio": 0, "policy": policy}}),
        ];
        for expr in rules {
            items.push(json!({"rule": {"family": "inet", "table": "filter", "chain": "input", "expr": expr}}));
        }
        json!({ "nftables": items })
    }

    fn udp_dport(right: Value) -> Value {
        json!({"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": right}})
    }

    #[test]
    fn empty_ruleset_is_open() {
        assert_eq!(
            input_verdict(&json!({"nftables": []}), 51820, "tikwire_wg0", "wg0"),
            InputVerdict::Open
        );
    }

    #[test]
    fn drop_policy_without_accept_drops() {
        let rules = vec![json!([udp_dport(json!(53)), {"accept": null}])];
        assert!(matches!(
            input_verdict(&ruleset("drop", rules), 51820, "t", "wg0"),
            InputVerdict::Dropped(_)
        ));
    }

    #[test]
    fn accept_by_port_set_or_range() {
        for right in [
            json!(51820),
            json!({"set": [22, 51820]}),
            json!({"range": [51000, 52000]}),
        ] {
            let rules = vec![json!([udp_dport(right), {"accept": null}])];
            assert!(matches!(
                input_verdict(&ruleset("drop", rules), 51820, "t", "wg0"),
                InputVerdict::Accepted(_)
            ));
        }
    }

    #[test]
    fn established_and_tunnel_rules_do_not_decide() {
        let rules = vec![
            json!([{"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}}, {"accept": null}]),
            json!([{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "wg0"}}, {"drop": null}]),
        ];
        assert_eq!(
            input_verdict(&ruleset("accept", rules.clone()), 51820, "t", "wg0"),
            InputVerdict::Open
        );
        assert!(matches!(
            input_verdict(&ruleset("drop", rules), 51820, "t", "wg0"),
            InputVerdict::Dropped(_)
        ));
    }

    #[test]
    fn unknown_drop_or_jump_is_unclear() {
        let rules = vec![
            json!([{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "eth0"}}, {"drop": null}]),
        ];
        assert!(matches!(
            input_verdict(&ruleset("accept", rules), 51820, "t", "wg0"),
            InputVerdict::Unclear(_)
        ));
        let rules = vec![json!([{"jump": {"target": "x"}}])];
        assert!(matches!(
            input_verdict(&ruleset("accept", rules), 51820, "t", "wg0"),
            InputVerdict::Unclear(_)
        ));
    }

    #[test]
    fn own_table_is_ignored() {
        let rules = vec![json!([{"drop": null}])];
        assert_eq!(
            input_verdict(&ruleset("drop", rules), 51820, "filter", "wg0"),
            InputVerdict::Open
        );
    }

    #[test]
    fn table_objects_drop_handles_and_metainfo() {
        let a = json!({"nftables": [{"metainfo": {"v": 1}}, {"rule": {"chain": "c", "handle": 4, "expr": []}}]});
        let b = json!({"nftables": [{"rule": {"chain": "c", "handle": 9, "expr": []}}]});
        assert_eq!(table_objects(&a), table_objects(&b));
        assert_eq!(table_objects(&a).len(), 1);
    }
}
