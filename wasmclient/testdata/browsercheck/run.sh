#!/usr/bin/env bash
# Manual check of the browser client in headless Chromium, loopback only:
#
#   wasmclient/testdata/browsercheck/run.sh
#
# 1. builds switchboard.wasm into a temporary site directory with frontend/
#    and wasm_exec.js, pre-compressed with internal/precompress;
# 2. builds a switchboard binary with that site embedded (from a copy of
#    the working tree: the repository's assets/dist is left alone) and
#    starts it on 127.0.0.1:$SB_PORT, allowing the site's origin;
# 3. serves the site with python3 -m http.server on 127.0.0.1:$SITE_PORT
#    (another origin, as an embedding page would be);
# 4. in Chromium (over the DevTools protocol, cdp.mjs): api.js exercises
#    the API between two clients, encryption included; embed.js uses
#    frontend/embed-example.html cross-origin like a person would;
#    startup.js times load() cold, five times from each origin.
#
# It stops only the processes it started. Needs chromium, python3, node.
set -euo pipefail
SB_PORT=${SB_PORT:-18943}
SITE_PORT=${SITE_PORT:-18942}
CDP_PORT=${CDP_PORT:-18944}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
tmp=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$tmp" 2>/dev/null || { sleep 1; rm -rf "$tmp"; }
}
trap cleanup EXIT

echo "== build (in $tmp)"
mkdir -p "$tmp/site" "$tmp/repo"
(cd "$repo" && tar --exclude=./node_modules --exclude=./.git -cf - .) | tar -xf - -C "$tmp/repo"
cd "$tmp/repo"
GOOS=js GOARCH=wasm go build -trimpath -ldflags='-s -w' -o "$tmp/site/switchboard.wasm" ./wasmclient
cp -R frontend/. "$tmp/site/"
cp "$(go env GOROOT)/lib/wasm/wasm_exec.js" "$here/check.html" "$tmp/site/"
go run ./internal/precompress "$tmp/site/switchboard.wasm"
find assets/dist -mindepth 1 ! -name .gitkeep -delete
cp -R "$tmp/site/." assets/dist/
go build -trimpath -o "$tmp/switchboard" ./cmd/switchboard

echo "== start the server, the site and Chromium"
"$tmp/switchboard" serve --addr "127.0.0.1:$SB_PORT" --allowed-origins "127.0.0.1:$SITE_PORT" >"$tmp/server.log" 2>&1 &
pids+=($!)
python3 -m http.server "$SITE_PORT" --bind 127.0.0.1 --directory "$tmp/site" >"$tmp/site.log" 2>&1 &
pids+=($!)
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$tmp/profile" --remote-debugging-address=127.0.0.1 --remote-debugging-port="$CDP_PORT" \
  about:blank >"$tmp/chromium.log" 2>&1 &
pids+=($!)
for url in "http://127.0.0.1:$SB_PORT/healthz" "http://127.0.0.1:$SITE_PORT/check.html" "http://127.0.0.1:$CDP_PORT/json/version"; do
  for _ in $(seq 100); do curl -fs -o /dev/null "$url" && break; sleep 0.1; done
  curl -fs -o /dev/null "$url" || { echo "not up: $url"; cat "$tmp"/*.log; exit 1; }
done

cdp() { node --experimental-websocket "$here/cdp.mjs" "$CDP_PORT" "$@"; }
site="http://127.0.0.1:$SITE_PORT"
echo "== the API in Chromium (api.js)"
cdp "$site/check.html?ws=ws://127.0.0.1:$SB_PORT/ws" "$here/api.js"
echo "== embed-example.html, cross-origin (embed.js)"
cdp "$site/embed-example.html?server=http://127.0.0.1:$SB_PORT" "$here/embed.js"
echo "== start-up, cold cache: raw wasm from the site, then brotli from the server (startup.js)"
for base in "./" "http://127.0.0.1:$SB_PORT/"; do
  for _ in 1 2 3 4 5; do
    NOCACHE=1 cdp "$site/check.html?base=$base" "$here/startup.js" | tr -d ' \n'
    echo
  done
done
