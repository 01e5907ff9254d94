#!/usr/bin/env bash
# Rebuild the explorer's vendored network bundle (sigma.js + graphology) from pinned npm packages.
#
# Why vendored: the explorer must make no request to any other host and work offline, so the JavaScript it
# needs is committed as one minified file (package data) with the licence texts of everything in it. This
# script is only for maintainers who update the pinned versions in scripts/js/package.json: it installs
# exactly what scripts/js/package-lock.json pins from the npm registry, bundles scripts/js/entry.js with
# esbuild into src/echoscope/explorer/static/vendor/graph.min.js and writes graph.LICENSES.txt beside it.
# Nothing runs at install or run time. Needs node >= 18 and npm.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
out="$root/src/echoscope/explorer/static/vendor"
cd "$here/js"
# --ignore-scripts: esbuild's binary comes from its platform package (@esbuild/<os>-<cpu>) in the lock file
npm ci --no-audit --no-fund --ignore-scripts
mkdir -p "$out"
versions="$(node -e 'const l=require("./package-lock.json").packages; console.log(["sigma","graphology","graphology-layout","graphology-layout-forceatlas2"].map(n=>n+" "+l["node_modules/"+n].version).join(", "))')"
node_modules/.bin/esbuild entry.js --bundle --minify --format=iife --target=es2019 --legal-comments=none \
  --metafile=meta.json --outfile="$out/graph.min.js" \
  --banner:js="/*! echoscope explorer vendor bundle: ${versions}; licences in graph.LICENSES.txt */"
node licenses.mjs meta.json > "$out/graph.LICENSES.txt"
rm -f meta.json
echo "wrote $out/graph.min.js ($(wc -c < "$out/graph.min.js") bytes) and graph.LICENSES.txt"
