//! Hostile names and hosts thrown at the validators and the generators: every value is either
//! refused with one error line, or printed so that it cannot change what the output does.

mod scripts_support;

use proptest::prelude::*;
use scripts_support::rsc::{Node, parse, paste_problems, skeleton, strings};
use scripts_support::*;
use tikwire::model::Endpoint;
use tikwire::scripts::quote::{
    MAX_LINE, comment_text, push_comment, routeros_string, routeros_string_chunks,
};
use tikwire::scripts::{
    HubConfigFormat, HubConfigInput, HubFirewallInput, HubPeerInput, HubTenantInput,
    RouterScriptInput, hub_config, hub_firewall, routeros_script, routeros_undo_script,
    wg_quick_compact, wg_quick_config,
};

/// Characters that mean something to RouterOS, a terminal, wg-quick, nft or a shell, plus
/// unicode look-alikes, controls and plain name characters.
fn hostile_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => prop::sample::select(vec![
            '"', '\\', '$', '[', ']', '{', '}', ';', '\n', '\r', '\t', '?', '#', ' ', '=', '/', ':',
            '\'', '`', '(', ')', '!', '*', '\0', '\u{7f}', '\u{e9}', '\u{202e}', '\u{ff3b}',
            '\u{1d11e}', '\u{2028}', '\u{feff}',
        ]),
        6 => prop::sample::select(
            "abcxyzABCXYZ0123456789-._".chars().collect::<Vec<_>>()
        ),
    ]
}

fn hostile_string() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => prop::collection::vec(hostile_char(), 0..24),
        1 => prop::collection::vec(hostile_char(), 60..70),
        1 => prop::collection::vec(hostile_char(), 250..300),
    ]
    .prop_map(String::from_iter)
}

/// Names the validators must accept: `[A-Za-z0-9._-]`, starting with a letter or digit.
fn valid_name(max: usize) -> impl Strategy<Value = String> {
    let first = prop::sample::select("aZ09".chars().collect::<Vec<_>>());
    let rest = prop::collection::vec(
        prop::sample::select("aZ09-._".chars().collect::<Vec<_>>()),
        0..max,
    );
    (first, rest).prop_map(|(f, r)| std::iter::once(f).chain(r).collect())
}

fn one_line(err: &tikwire::model::InvalidInput) {
    assert!(!err.0.is_empty());
    assert!(!err.0.contains(['\n', '\r']), "error spans lines: {err:?}");
    assert!(
        !err.0.chars().any(|c| c.is_control()),
        "control character in error: {err:?}"
    );
}

/// An accepted RouterOS script is paste-safe and has the baseline's exact structure: the value
/// only ever changed the contents of strings and comments.
fn same_routeros_shape(script: &str, baseline: &str) {
    let problems = paste_problems(script);
    assert!(problems.is_empty(), "{problems:#?}\n{script}");
    assert_eq!(
        skeleton(&parse(script).unwrap()),
        skeleton(&parse(baseline).unwrap())
    );
}

/// An accepted wg-quick or wg config has only section headers, `Key = value` lines with the
/// expected keys, comments and blank lines.
fn plain_wg_config(config: &str) {
    const KEYS: [&str; 10] = [
        "PrivateKey",
        "Address",
        "DNS",
        "ListenPort",
        "PublicKey",
        "PresharedKey",
        "Endpoint",
        "AllowedIPs",
        "PersistentKeepalive",
        "MTU",
    ];
    for line in config.lines() {
        assert!(!line.chars().any(|c| c.is_control()), "{line:?}");
        assert!(line.is_ascii(), "{line:?}");
        let ok = line.is_empty()
            || line.starts_with('#')
            || line == "[Interface]"
            || line == "[Peer]"
            || line.split_once(" = ").is_some_and(|(k, v)| {
                KEYS.contains(&k)
                    && !v.is_empty()
                    && !v.contains('#')
                    && (k == "DNS" || !v.contains(' '))
            });
        assert!(ok, "unexpected line {line:?} in\n{config}");
    }
}

fn router_with<'a>(endpoint: &'a Endpoint, field: usize, value: &'a str) -> RouterScriptInput<'a> {
    let mut input = router_input(endpoint);
    match field {
        0 => input.tenant = value,
        1 => input.router = value,
        2 => input.hub = value,
        _ => input.interface = value,
    }
    input
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn router_generators_refuse_or_stay_inert(value in hostile_string(), field in 0usize..4) {
        let endpoint = endpoint();
        let baseline_input = router_input(&endpoint);
        let input = router_with(&endpoint, field, &value);
        match routeros_script(&input) {
            Err(err) => {
                one_line(&err);
                // Every format refuses the same input.
                prop_assert!(routeros_undo_script(&input).is_err());
                prop_assert!(wg_quick_config(&input).is_err());
                prop_assert!(wg_quick_compact(&input).is_err());
            }
            Ok(script) => {
                // The interface name is part of the script's find conditions only through
                // `$ifName`; everything else must keep the same shape as the baseline.
                same_routeros_shape(&script, &routeros_script(&baseline_input).unwrap());
                let undo = routeros_undo_script(&input).unwrap();
                same_routeros_shape(&undo, &routeros_undo_script(&baseline_input).unwrap());
                plain_wg_config(&wg_quick_config(&input).unwrap());
                plain_wg_config(&wg_quick_compact(&input).unwrap());
            }
        }
    }

    #[test]
    fn valid_names_are_accepted_and_inert(
        tenant in valid_name(62), router in valid_name(62), interface in valid_name(14)
    ) {
        let endpoint = endpoint();
        let input = RouterScriptInput {
            tenant: &tenant, router: &router, interface: &interface, ..router_input(&endpoint)
        };
        let script = routeros_script(&input).unwrap();
        same_routeros_shape(&script, &routeros_script(&router_input(&endpoint)).unwrap());
        // The names reach the commands only as the quoted interface name and tag.
        let literals = strings(&parse(&script).unwrap());
        prop_assert!(literals.contains(&interface.clone().into_bytes()));
        let tag = format!("tikwire:{interface}").into_bytes();
        prop_assert!(literals.contains(&tag), "tag missing");
    }

    #[test]
    fn hostile_endpoint_hosts_are_refused_or_inert(host in hostile_string()) {
        match Endpoint::parse(&format!("{host}:51820")) {
            Err(err) => one_line(&err),
            Ok(endpoint) => {
                let script = routeros_script(&router_input(&endpoint)).unwrap();
                let baseline = endpoint_baseline();
                same_routeros_shape(&script, &routeros_script(&router_input(&baseline)).unwrap());
                plain_wg_config(&wg_quick_config(&router_input(&endpoint)).unwrap());
            }
        }
    }

    /// Hand-built endpoints skip `Endpoint::parse`; the generators check them again.
    #[test]
    fn hand_built_endpoints_are_refused_or_inert(host in hostile_string(), port in any::<u16>()) {
        let endpoint = Endpoint { host: host.clone(), port };
        match routeros_script(&router_input(&endpoint)) {
            Err(err) => one_line(&err),
            Ok(script) => {
                prop_assert!(Endpoint::parse(&endpoint.to_string()).is_ok());
                let baseline = Endpoint { host: "vpn.example.com".into(), port };
                same_routeros_shape(&script, &routeros_script(&router_input(&baseline)).unwrap());
            }
        }
    }

    #[test]
    fn hub_generators_refuse_or_stay_inert(value in hostile_string(), field in 0usize..4) {
        let mut tenants = two_tenants();
        let mut peers = three_peers();
        let (mut hub, mut interface) = ("hub1", "wg0");
        match field {
            0 => hub = &value,
            1 => interface = &value,
            2 => { tenants[0].name = &value; peers[0].tenant = &value; peers[1].tenant = &value; }
            _ => peers[2].router = &value,
        }
        let input = HubConfigInput {
            hub, interface, private_key: HUB_PRIVATE, listen_port: 51820, tenants: &tenants, peers: &peers,
        };
        for format in [HubConfigFormat::WgQuick, HubConfigFormat::SetConf] {
            match hub_config(&input, format) {
                Err(err) => one_line(&err),
                Ok(config) => {
                    plain_wg_config(&config);
                    prop_assert_eq!(config.matches("[Peer]").count(), 2);
                }
            }
        }
        let firewall = HubFirewallInput { hub, interface, tenants: &tenants, allow_same_tenant: true };
        match hub_firewall(&firewall) {
            Err(err) => one_line(&err),
            Ok(rules) => {
                for line in rules.lines() {
                    prop_assert!(line.is_ascii() && !line.contains('\r'), "{:?}", line);
                    // Quoted names never carry a quote, so they cannot end their string early.
                    prop_assert!(line.starts_with('#') || line.matches('"').count() % 2 == 0, "{:?}", line);
                }
                prop_assert_eq!(rules.matches("drop").count(), 3);
            }
        }
    }

    /// The second wall: whatever string is quoted, RouterOS reads back exactly that string,
    /// as one string, and the quoted form is paste-safe.
    #[test]
    fn routeros_quoting_round_trips(value in prop_oneof![hostile_string(), any::<String>()]) {
        let quoted = routeros_string(&value);
        let line = format!(":put {quoted}\n");
        prop_assert!(quoted.is_ascii());
        let active = ['?', '$', ';', '[', ']', '{', '}', '#', '\n', '\t'];
        prop_assert!(!quoted.contains(active), "active character in {}", quoted);
        let statements = parse(&line).unwrap();
        prop_assert_eq!(
            statements,
            vec![vec![Node::Word(":put".into()), Node::Str(value.as_bytes().to_vec())]]
        );
        let chunks = routeros_string_chunks(&value, 72);
        prop_assert!(chunks.iter().all(|c| c.len() <= 72));
        let joined: Vec<u8> = chunks
            .iter()
            .flat_map(|c| match &parse(&format!(":put {c}\n")).unwrap()[0][1] {
                Node::Str(bytes) => bytes.clone(),
                other => panic!("{other:?}"),
            })
            .collect();
        prop_assert_eq!(joined, value.as_bytes().to_vec());
    }

    #[test]
    fn comments_stay_single_safe_lines(value in prop_oneof![hostile_string(), any::<String>()]) {
        let text = comment_text(&value);
        prop_assert!(text.chars().all(|c| c.is_ascii_graphic() || c == ' '));
        let active = ['?', '"', '\\', '$', '[', ']', '{', '}', ';'];
        prop_assert!(!text.contains(active), "active character in {}", text);
        let mut out = String::new();
        push_comment(&mut out, &value);
        for line in out.lines() {
            prop_assert!(line.starts_with('#') && line.len() <= MAX_LINE, "{:?}", line);
        }
    }
}

fn endpoint_baseline() -> Endpoint {
    endpoint()
}

/// A few fixed cases worth naming, beside the random ones.
#[test]
fn named_hostile_values_are_refused() {
    let endpoint = endpoint();
    for value in [
        "x\" ; /system reset-configuration",
        "x\n/user add name=evil group=full",
        "$(reboot)",
        "[/system reboot]",
        "{x}",
        "caf\u{e9}",
        "a?b",
        "a#b",
        "",
        &"a".repeat(64),
    ] {
        for field in 0..4 {
            let err = routeros_script(&router_with(&endpoint, field, value)).unwrap_err();
            one_line(&err);
            assert!(
                err.0.contains("allowed") || err.0.contains("empty") || err.0.contains("at most"),
                "the error says what is allowed: {err}"
            );
        }
    }
    let peers: Vec<HubPeerInput> = three_peers()
        .into_iter()
        .map(|p| HubPeerInput {
            preshared_key: "bad\"key",
            ..p
        })
        .collect();
    let tenants: Vec<HubTenantInput> = two_tenants();
    let input = HubConfigInput {
        hub: "hub1",
        interface: "wg0",
        private_key: HUB_PRIVATE,
        listen_port: 51820,
        tenants: &tenants,
        peers: &peers,
    };
    let err = hub_config(&input, HubConfigFormat::SetConf).unwrap_err();
    one_line(&err);
    assert!(!err.0.contains("bad\"key"), "keys are never echoed: {err}");
}
