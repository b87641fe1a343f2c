#!/bin/sh
# The topology page's graph library, from the npm registry, into the Python package:
# scripts/vendor-ui.sh 3.34.4 (then update naas_sdn/ui/static/vendor/README.md).
set -eu
version=${1:?usage: scripts/vendor-ui.sh VERSION}
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent "cytoscape@$version" >/dev/null
sha256sum "cytoscape-$version.tgz"
tar xzf "cytoscape-$version.tgz"
cp package/dist/cytoscape.min.js "$here/naas_sdn/ui/static/vendor/cytoscape.min.js"
cp package/LICENSE "$here/naas_sdn/ui/static/vendor/cytoscape.LICENSE"
