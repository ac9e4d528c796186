#!/usr/bin/env bash
# Builds target/debian/tikwire_<version>_<arch>.deb with cargo-deb (cargo install cargo-deb --locked).
# The man pages and shell completions are generated from the binary's own clap definitions and
# the systemd units are taken from contrib/ (pointed at /usr/bin/tikwire), all into
# target/deb-assets/, which Cargo.toml's [package.metadata.deb] assets name.
#
# Usage: contrib/build-deb.sh [--profile release|dev] [--no-build] [other cargo-deb options]
set -euo pipefail
cd "$(dirname "$0")/.."

profile=release
build=1
passthrough=()
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) profile="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    *) passthrough+=("$1"); shift ;;
  esac
done
case "$profile" in
  dev) dir=debug ;;
  *) dir="$profile" ;;
esac

if [ "$build" = 1 ]; then
  cargo build --profile "$profile" --bin tikwire
fi
bin="target/$dir/tikwire"
[ -x "$bin" ] || { echo "error: $bin is missing (build it, or drop --no-build)" >&2; exit 1; }

assets=target/deb-assets
rm -rf "$assets"
mkdir -p "$assets/man" "$assets/completions" "$assets/units"
"$bin" man "$assets/man"
gzip -9n "$assets"/man/*.1
"$bin" completions bash > "$assets/completions/tikwire"
"$bin" completions zsh > "$assets/completions/_tikwire"
"$bin" completions fish > "$assets/completions/tikwire.fish"
for unit in contrib/*.service; do
  name=$(basename "$unit")
  # A unit that uses the instance name (%i) is a template: tikwire-agent@.service.
  if grep -q '%i' "$unit"; then
    name="${name%.service}@.service"
  fi
  sed 's#/usr/local/bin/tikwire#/usr/bin/tikwire#g' "$unit" > "$assets/units/$name"
done

args=(--no-build)
if [ "$profile" != release ]; then
  args+=(--profile "$profile")
fi
cargo deb "${args[@]}" "${passthrough[@]}"
