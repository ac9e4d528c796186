//! The Debian package: built by `contrib/build-deb.sh` from the binary under test, its contents
//! listed and checked (binary, units, man pages, completions, example config, dependencies),
//! its units through `systemd-analyze verify`, its bash completion loaded and asked to complete
//! `tikwire rou<TAB>`. Skipped, with the reason printed, without cargo-deb or dpkg-deb.

use std::path::{Path, PathBuf};
use std::process::Command;

fn available(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Builds the package once per test process from the binary cargo built for the tests.
fn build_package(out_dir: &Path) -> PathBuf {
    let root = env!("CARGO_MANIFEST_DIR");
    let bin = Path::new(env!("CARGO_BIN_EXE_tikwire"));
    // The script packages target/<profile>/tikwire; the tests' binary is the dev profile's.
    assert!(bin.ends_with("debug/tikwire"), "{}", bin.display());
    run(
        "bash",
        &[
            &format!("{root}/contrib/build-deb.sh"),
            "--profile",
            "dev",
            "--no-build",
            "--quiet",
            "--output",
            out_dir.to_str().unwrap(),
        ],
    );
    let debs: Vec<PathBuf> = std::fs::read_dir(out_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "deb"))
        .collect();
    assert_eq!(debs.len(), 1, "{debs:?}");
    debs[0].clone()
}

#[test]
fn the_package_holds_binary_units_man_pages_completions_and_verifies() {
    if !available("cargo", &["deb", "--version"]) {
        eprintln!(
            "SKIPPED package test: cargo-deb is not installed (cargo install cargo-deb --locked)"
        );
        return;
    }
    if !available("dpkg-deb", &["--version"]) {
        eprintln!("SKIPPED package test: dpkg-deb is not installed");
        return;
    }
    let work = std::env::temp_dir().join(format!("tikwire-package-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    let _guard = RemoveOnDrop(work.clone());
    let deb = build_package(&work.join("out"));
    let deb = deb.to_str().unwrap();

    let listing = run("dpkg-deb", &["--contents", deb]);
    let files: Vec<&str> = listing
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .collect();
    let expected = [
        "./usr/bin/tikwire",
        "./lib/systemd/system/tikwire-agent@.service",
        "./usr/share/man/man1/tikwire.1.gz",
        "./usr/share/man/man1/tikwire-doctor.1.gz",
        "./usr/share/man/man1/tikwire-router.1.gz",
        "./usr/share/man/man1/tikwire-router-diagnose.1.gz",
        "./usr/share/man/man1/tikwire-hub-firewall.1.gz",
        "./usr/share/man/man1/tikwire-agent.1.gz",
        "./usr/share/bash-completion/completions/tikwire",
        "./usr/share/zsh/vendor-completions/_tikwire",
        "./usr/share/fish/vendor_completions.d/tikwire.fish",
        "./usr/share/doc/tikwire/config.example.toml",
    ];
    for file in expected {
        assert!(files.contains(&file), "{file} in the package:\n{listing}");
    }
    // A serve unit comes along when contrib/ has one.
    if Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("contrib/tikwire-serve.service")
        .exists()
    {
        assert!(
            files.contains(&"./lib/systemd/system/tikwire-serve.service"),
            "{listing}"
        );
    }
    assert!(
        !files.iter().any(|f| f.ends_with(".1")),
        "man pages are compressed"
    );

    let depends = run("dpkg-deb", &["--field", deb, "Depends"]);
    assert!(depends.contains("wireguard-tools"), "{depends}");
    let recommends = run("dpkg-deb", &["--field", deb, "Recommends"]);
    assert!(recommends.contains("postgresql"), "{recommends}");

    // Installing starts nothing: the maintainer scripts enable and start no unit.
    let control = work.join("control");
    run("dpkg-deb", &["--control", deb, control.to_str().unwrap()]);
    for script in ["postinst", "postrm", "preinst", "prerm"] {
        let path = control.join(script);
        if let Ok(text) = std::fs::read_to_string(&path) {
            run("sh", &["-n", path.to_str().unwrap()]);
            for forbidden in ["enable", "systemctl start", "--now"] {
                assert!(
                    !text.contains(forbidden),
                    "{script} says {forbidden}:\n{text}"
                );
            }
        }
    }

    let root = work.join("root");
    run("dpkg-deb", &["--extract", deb, root.to_str().unwrap()]);
    let bin = root.join("usr/bin/tikwire");
    let version = run(bin.to_str().unwrap(), &["--version"]);
    assert!(
        version.starts_with(&format!("tikwire {} (commit ", env!("CARGO_PKG_VERSION"))),
        "{version}"
    );

    // The units, pointed at the extracted binary (verify checks that ExecStart exists).
    let units = root.join("lib/systemd/system");
    for entry in std::fs::read_dir(&units).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("ExecStart=/usr/bin/tikwire "),
            "{}: {text}",
            path.display()
        );
        if !available("systemd-analyze", &["--version"]) {
            eprintln!("systemd-analyze is not installed: units not verified");
            continue;
        }
        let name = path
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .replace("@.", "@hub1.");
        let copy = work.join(&name);
        std::fs::write(
            &copy,
            text.replace("/usr/bin/tikwire", bin.to_str().unwrap()),
        )
        .unwrap();
        // Documentation=man:… is checked with `man`: the package's pages first.
        let manpath = format!("{}:/usr/share/man", root.join("usr/share/man").display());
        let out = Command::new("systemd-analyze")
            .args(["verify", copy.to_str().unwrap()])
            .env("MANPATH", manpath)
            .current_dir(&work)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && stderr.trim().is_empty(),
            "{name}: {stderr}"
        );
    }

    // Bash loads the completion and completes `tikwire rou<TAB>` to `router`.
    let completion = root.join("usr/share/bash-completion/completions/tikwire");
    run("bash", &["-n", completion.to_str().unwrap()]);
    let script = format!(
        "source {}; complete -p tikwire >/dev/null || exit 3; \
         COMP_WORDS=(tikwire rou); COMP_CWORD=1; COMP_LINE='tikwire rou'; COMP_POINT=${{#COMP_LINE}}; \
         _tikwire tikwire rou tikwire; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        completion.display()
    );
    let completed = run("bash", &["-c", &script]);
    assert_eq!(completed.trim(), "router", "{completed}");
    for (shell, file) in [
        ("zsh", "usr/share/zsh/vendor-completions/_tikwire"),
        ("fish", "usr/share/fish/vendor_completions.d/tikwire.fish"),
    ] {
        let path = root.join(file);
        assert!(std::fs::metadata(&path).unwrap().len() > 0);
        if available(shell, &["-c", "true"]) {
            run(shell, &["-n", path.to_str().unwrap()]);
        }
    }
}

/// `tikwire completions SHELL` prints the same scripts without a database or config.
#[test]
fn completions_are_printed_for_each_shell() {
    let bin = env!("CARGO_BIN_EXE_tikwire");
    for (shell, marker) in [
        ("bash", "_tikwire()"),
        ("zsh", "#compdef tikwire"),
        ("fish", "complete -c tikwire"),
    ] {
        let out = Command::new(bin)
            .args(["completions", shell])
            .env("TIKWIRE_CONFIG", "/nonexistent/config.toml")
            .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{shell}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains(marker), "{shell}: {marker}");
        assert!(
            text.contains("diagnose") && text.contains("doctor"),
            "{shell}"
        );
    }
    let out = Command::new(bin)
        .args(["completions", "powershell"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
}
