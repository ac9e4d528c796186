//! Rendering speed of the generators: one RouterOS script, one wg-quick config, and a hub
//! config for a large fleet (validation included: every call checks its input first).

use std::hint::black_box;
use std::net::Ipv4Addr;

use criterion::{Criterion, criterion_group, criterion_main};
use tikwire::model::Endpoint;
use tikwire::scripts::{
    HubConfigFormat, HubConfigInput, HubPeerInput, HubTenantInput, RouterScriptInput, hub_config,
    routeros_script, wg_quick_compact, wg_quick_config,
};

const KEY: &str = "oMwQsGeaaLGaKyz8FL0frjTf3cYuTqh9UqEds+XK8Xk=";

fn router_input(endpoint: &Endpoint) -> RouterScriptInput<'_> {
    RouterScriptInput {
        tenant: "acme",
        router: "branch-01",
        hub: "hub1",
        interface: "wg-hotspot",
        router_private_key: KEY,
        hub_public_key: KEY.parse().unwrap(),
        preshared_key: KEY,
        router_ip: Ipv4Addr::new(10, 100, 1, 1),
        hub_ip: Ipv4Addr::new(10, 100, 0, 1),
        subnet: "10.100.0.0/16".parse().unwrap(),
        endpoint,
        keepalive: 25,
        dns: &[],
    }
}

fn router_formats(c: &mut Criterion) {
    let endpoint = Endpoint::parse("vpn.example.com:51820").unwrap();
    let input = router_input(&endpoint);
    c.bench_function("routeros_script", |b| {
        b.iter(|| routeros_script(black_box(&input)).unwrap())
    });
    c.bench_function("wg_quick_config", |b| {
        b.iter(|| wg_quick_config(black_box(&input)).unwrap())
    });
    c.bench_function("wg_quick_compact", |b| {
        b.iter(|| wg_quick_compact(black_box(&input)).unwrap())
    });
}

/// One full tenant (65,278 routers) on one hub. Public keys must differ: the generator refuses
/// duplicates, so make distinct canonical keys from the index.
fn hub_fleet(c: &mut Criterion) {
    use base64::Engine;
    let routers = 65_278usize;
    let keys: Vec<String> = (0..routers)
        .map(|i| {
            let mut bytes = [0u8; 32];
            bytes[..8].copy_from_slice(&(i as u64).to_le_bytes());
            base64::engine::general_purpose::STANDARD.encode(bytes)
        })
        .collect();
    let names: Vec<String> = (0..routers).map(|i| format!("router-{i:05}")).collect();
    let peers: Vec<HubPeerInput> = (0..routers)
        .map(|i| HubPeerInput {
            tenant: "acme",
            router: &names[i],
            public_key: keys[i].parse().unwrap(),
            preshared_key: KEY,
            vpn_ip: Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 100, 1, 1)) + i as u32),
            enabled: true,
        })
        .collect();
    let tenants = [HubTenantInput {
        name: "acme",
        subnet: "10.100.0.0/16".parse().unwrap(),
        hub_ip: Ipv4Addr::new(10, 100, 0, 1),
    }];
    let input = HubConfigInput {
        hub: "hub1",
        interface: "wg0",
        private_key: KEY,
        listen_port: 51820,
        tenants: &tenants,
        peers: &peers,
    };
    let mut group = c.benchmark_group("hub_config");
    group.sample_size(10);
    group.bench_function("setconf_65278_peers", |b| {
        b.iter(|| hub_config(black_box(&input), HubConfigFormat::SetConf).unwrap())
    });
    group.finish();
}

criterion_group!(benches, router_formats, hub_fleet);
criterion_main!(benches);
