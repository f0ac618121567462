#!/usr/bin/env bash
# scripts/vendor-ui.sh: fetch the console's vendored JavaScript with npm, at
# the pinned version, into node/ui/vendor/ (committed; the console loads
# nothing from a CDN). Run it to update the version; CI does not need it.
#
#   lightweight-charts (TradingView, Apache-2.0): the standalone production
#   build and its LICENSE, with the attribution the licence asks for in
#   node/ui/vendor/lightweight-charts/NOTICE.
set -euo pipefail
LWC_VERSION=5.3.0
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
command -v npm >/dev/null || { echo "vendor-ui: npm not found" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "lightweight-charts@$LWC_VERSION" >/dev/null && tar xzf "lightweight-charts-$LWC_VERSION.tgz")
dst="$ROOT/node/ui/vendor/lightweight-charts"
mkdir -p "$dst"
cp "$tmp/package/dist/lightweight-charts.standalone.production.js" "$dst/"
cp "$tmp/package/LICENSE" "$dst/LICENSE"
cat >"$dst/NOTICE" <<NOTICE
TradingView Lightweight Charts(TM) $LWC_VERSION
Copyright (c) TradingView, Inc. https://www.tradingview.com/
Licensed under the Apache License, Version 2.0 (see LICENSE in this folder).
Fetched with: npm pack lightweight-charts@$LWC_VERSION (scripts/vendor-ui.sh);
the file here is the package's dist/lightweight-charts.standalone.production.js, unmodified.
The console shows the attribution link to https://www.tradingview.com/ on its chart.
NOTICE
echo "vendor-ui: lightweight-charts $LWC_VERSION in $dst" >&2
