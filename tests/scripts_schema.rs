//! Every menu, command and argument the RouterOS scripts use exists in every RouterOS version
//! the script claims (its header says "Needs RouterOS X or later"), according to the v7 command
//! tree in tests/fixtures/routeros-v7-schema.json (7.9 to 7.24, from /console/inspect dumps;
//! a copy of shared/reference/routeros-v7-schema.json).

mod scripts_support;

use std::collections::BTreeSet;

use scripts_support::rsc::{Node, parse, paste_problems};
use scripts_support::*;
use serde_json::Value;
use tikwire::model::Endpoint;
use tikwire::scripts::{
    MIN_ROUTEROS_VERSION, RouterScriptInput, routeros_script, routeros_undo_script,
};

fn schema() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/routeros-v7-schema.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

type Version = Vec<u32>;

fn version(s: &str) -> Version {
    s.split('.').map(|p| p.parse().unwrap()).collect()
}

/// Checks statements against the schema for every version from `min` on.
struct Checker<'a> {
    schema: &'a Value,
    min: Version,
    errors: Vec<String>,
    /// `menu command` and `menu command arg` seen, to show the check was not vacuous.
    seen: BTreeSet<String>,
    /// Arguments given to the command being checked.
    given: BTreeSet<String>,
}

impl Checker<'_> {
    /// An item with first_seen/removed_by is there from `min` to the latest version.
    fn available(&self, item: &Value) -> Result<(), String> {
        if let Some(removed) = item["removed_by"].as_str() {
            return Err(format!("removed by {removed}"));
        }
        let first = item["first_seen"].as_str().ok_or("no first_seen")?;
        if version(first) > self.min {
            return Err(format!("first seen in {first}"));
        }
        Ok(())
    }

    fn error(&mut self, what: String) {
        self.errors.push(what);
    }

    fn statements(&mut self, statements: &[Vec<Node>]) {
        for statement in statements {
            self.statement(statement);
        }
    }

    fn statement(&mut self, nodes: &[Node]) {
        match nodes.first() {
            Some(Node::Word(w)) if w.starts_with('/') => self.menu_command(w, &nodes[1..]),
            Some(Node::Word(w)) if w.starts_with(':') => self.root_command(&w[1..], &nodes[1..]),
            // The whole script is one `{ ... }` block.
            Some(Node::Group('{', inner)) if nodes.len() == 1 => self.statements(inner),
            other => self.error(format!("statement starts with {other:?}")),
        }
    }

    /// Groups inside arguments and expressions are checked too.
    fn nested(&mut self, node: &Node) {
        match node {
            Node::Group('(', inner) => inner.iter().flatten().for_each(|n| self.nested(n)),
            Node::Group(_, inner) => self.statements(inner),
            _ => {}
        }
    }

    fn root_command(&mut self, name: &str, args: &[Node]) {
        let Some(known) = self.schema["root_commands"][name].as_array() else {
            return self.error(format!(":{name} is not a RouterOS command"));
        };
        let known: Vec<&str> = known.iter().filter_map(Value::as_str).collect();
        if let Some(window) = self.schema["root_command_windows"].get(name)
            && let Err(why) = self.available(window)
        {
            self.error(format!(":{name}: {why}"));
        }
        self.seen.insert(format!(":{name}"));
        for node in args {
            if let Node::Word(w) = node
                && let Some((key, _)) = w.split_once('=')
                && !known.contains(&key)
            {
                self.error(format!(":{name} has no argument {key}"));
            }
            self.nested(node);
        }
    }

    fn menu_command(&mut self, path: &str, args: &[Node]) {
        let (menu, command) = path[1..].rsplit_once('/').unwrap_or(("", &path[1..]));
        let Some(menu_entry) = self.schema["menus"].get(menu).cloned() else {
            return self.error(format!("menu /{menu} is not in the schema"));
        };
        let Some(entry) = menu_entry["commands"].get(command).cloned() else {
            return self.error(format!("/{menu} has no command {command}"));
        };
        if let Err(why) = self.available(&entry) {
            self.error(format!("/{menu}/{command}: {why}"));
        }
        self.seen.insert(format!("/{menu}/{command}"));
        let mut in_where = false;
        let outer_given = std::mem::take(&mut self.given);
        for (n, node) in args.iter().enumerate() {
            self.nested(node);
            let is_value = n > 0 && matches!(&args[n - 1], Node::Word(w) if w.ends_with('='));
            if matches!(node, Node::Group('[', _)) && !is_value && !in_where {
                // `remove [find ...]`: a positional item list.
                self.arg(menu, command, &entry, "numbers");
            }
            let Node::Word(word) = node else { continue };
            if word == "where" {
                self.arg(menu, command, &entry, "where");
                in_where = true;
            } else if in_where {
                self.where_term(menu, &menu_entry, word);
            } else if let Some((key, _)) = word.split_once('=') {
                self.arg(menu, command, &entry, key);
            } else if word.starts_with('$') {
                // A positional item list: the command must take `numbers`.
                self.arg(menu, command, &entry, "numbers");
            } else {
                self.error(format!("/{menu}/{command}: unexpected word {word}"));
            }
        }
        // Arguments RouterOS requires (from the 7.21.4 hints and the 7.22.1 probe of `add`).
        for list in ["required_7.21.4", "required_probe_7.22.1"] {
            for required in entry[list]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                if !self.given.contains(required) {
                    self.error(format!(
                        "/{menu}/{command} lacks the required argument {required}"
                    ));
                }
            }
        }
        self.given = outer_given;
    }

    fn arg(&mut self, menu: &str, command: &str, entry: &Value, key: &str) {
        self.given.insert(key.to_string());
        match entry["args"].get(key) {
            None => self.error(format!("/{menu}/{command} has no argument {key}")),
            Some(arg) => {
                if let Err(why) = self.available(arg) {
                    self.error(format!("/{menu}/{command} {key}: {why}"));
                }
                self.seen.insert(format!("/{menu}/{command} {key}"));
            }
        }
    }

    /// `prop=value` or `and` in a `find where` expression: the property must be one the menu's
    /// items have (an argument of `set`, or a property `print` can show).
    fn where_term(&mut self, menu: &str, menu_entry: &Value, word: &str) {
        if word == "and" {
            return;
        }
        let Some((prop, _)) = word.split_once('=') else {
            return self.error(format!("/{menu} find where: unexpected {word}"));
        };
        let commands = &menu_entry["commands"];
        if let Some(arg) = commands["set"]["args"].get(prop) {
            if let Err(why) = self.available(arg) {
                self.error(format!("/{menu} property {prop}: {why}"));
            }
        } else {
            let printable = commands["print"]["args"]["proplist"]["enum_7.21.4"]
                .as_array()
                .is_some_and(|props| props.iter().any(|p| p == prop));
            if !printable {
                self.error(format!("/{menu} items have no property {prop}"));
            }
        }
        self.seen.insert(format!("/{menu} where {prop}"));
    }
}

fn check(script: &str) -> Checker<'static> {
    let schema: &'static Value = Box::leak(Box::new(schema()));
    let claimed = script
        .lines()
        .find_map(|l| {
            l.strip_prefix("# Needs RouterOS ")?
                .split_once(" or later")
                .map(|(v, _)| v.to_string())
        })
        .expect("the header states the minimum RouterOS version");
    assert_eq!(claimed, MIN_ROUTEROS_VERSION);
    let mut checker = Checker {
        schema,
        min: version(&claimed),
        errors: Vec::new(),
        seen: BTreeSet::new(),
        given: BTreeSet::new(),
    };
    let statements = parse(script).unwrap();
    checker.statements(&statements);
    checker
}

fn inputs(endpoints: &[Endpoint; 3]) -> Vec<RouterScriptInput<'_>> {
    vec![
        router_input(&endpoints[0]),
        RouterScriptInput {
            tenant: LONG_TENANT,
            router: LONG_ROUTER,
            hub: LONG_HUB,
            interface: LONG_INTERFACE,
            ..router_input(&endpoints[1])
        },
        RouterScriptInput {
            interface: "9",
            keepalive: 1,
            ..router_input(&endpoints[2])
        },
    ]
}

fn endpoints() -> [Endpoint; 3] {
    [
        endpoint(),
        Endpoint::parse(&format!("{}:65535", long_host())).unwrap(),
        Endpoint::parse("[2001:db8::1]:1").unwrap(),
    ]
}

#[test]
fn install_and_undo_scripts_use_only_what_every_claimed_version_has() {
    let endpoints = endpoints();
    let mut seen = BTreeSet::new();
    for input in inputs(&endpoints) {
        for script in [
            routeros_script(&input).unwrap().to_string(),
            routeros_undo_script(&input).unwrap(),
        ] {
            let checker = check(&script);
            assert!(checker.errors.is_empty(), "{:#?}\n{script}", checker.errors);
            seen.extend(checker.seen);
        }
    }
    // The check looked at what matters, down to arguments and `where` properties.
    for expected in [
        "/interface/wireguard/add name",
        "/interface/wireguard/set private-key",
        "/interface/wireguard/peers/set persistent-keepalive",
        "/interface/wireguard/peers/set preshared-key",
        "/interface/wireguard/peers/set endpoint-address",
        "/interface/wireguard/peers/find where",
        "/interface/wireguard/peers where comment",
        "/ip/address/add network",
        "/ip/firewall/filter/move destination",
        "/ip/firewall/filter where dynamic",
        "/interface/wireguard/remove numbers",
        ":local",
        ":if",
        ":error",
        ":set",
        ":pick",
    ] {
        assert!(
            seen.contains(expected),
            "never checked {expected}: {seen:#?}"
        );
    }
}

#[test]
fn scripts_are_paste_safe() {
    let endpoints = endpoints();
    for input in inputs(&endpoints) {
        for script in [
            routeros_script(&input).unwrap().to_string(),
            routeros_undo_script(&input).unwrap(),
        ] {
            let problems = paste_problems(&script);
            assert!(problems.is_empty(), "{problems:#?}\n{script}");
        }
    }
}

/// The checker itself catches what it is there to catch.
#[test]
fn checker_rejects_unknown_or_too_new_syntax() {
    let bad = [
        (
            "/interface/wireguard/peers/add name=\"x\" interface=wg0",
            "first seen in 7.15",
        ),
        (
            "/ip/firewall/filter/add chain=input bogus=1",
            "has no argument bogus",
        ),
        (
            "/interface/wireguard/peer/add interface=wg0",
            "not in the schema",
        ),
        ("/ip/address/frobnicate", "has no command"),
        (":range 1 2", "first seen in 7.17"),
        (":frob", "not a RouterOS command"),
        (
            "/interface/wireguard/peers/find where colour=\"red\"",
            "no property colour",
        ),
        (
            "/interface/wireguard/peers/set $p is-responder=yes",
            "removed by 7.17",
        ),
        (
            "/interface/wireguard/peers/add interface=wg0",
            "lacks the required argument allowed-address",
        ),
        (
            "/ip/address/set address=10.0.0.1/32",
            "lacks the required argument numbers",
        ),
    ];
    for (line, why) in bad {
        let script = format!("# Needs RouterOS {MIN_ROUTEROS_VERSION} or later\n{line}\n");
        let checker = check(&script);
        assert!(
            checker.errors.iter().any(|e| e.contains(why)),
            "{line}: expected an error containing {why:?}, got {:?}",
            checker.errors
        );
    }
}

#[test]
fn paste_check_rejects_what_breaks_a_paste() {
    for bad in [
        "/ip/address/print \\ \n",
        "/ip/address/print # note\n",
        "/ip/address/print\twhere\n",
        "/ip/address/print ?\n",
        "# caf\u{e9}\n",
        "/ip/address/print\r\n",
        ":put \"$x\"\n",
    ] {
        assert!(!paste_problems(bad).is_empty(), "{bad:?}");
    }
}
