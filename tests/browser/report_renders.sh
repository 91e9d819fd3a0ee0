#!/usr/bin/env bash
# The page of `tpc report` renders in headless Chromium: every chart drawn, no script error.
#
# Usage: report_renders.sh TPC SOURCE_DIR OUT_DIR
# Writes reports of every kind for programs/mlp2_tanh.tp into OUT_DIR, the page
# (OUT_DIR/report.html) and a screenshot of it (OUT_DIR/report.png), then reads the page's
# own self-check from the DOM Chromium dumps: body data-charts="rendered/expected" and
# data-errors (docs/report.md). Exit 0 pass, 1 fail, 77 skipped (no Chromium).
set -euo pipefail

if [[ $# -ne 3 ]]; then
  echo "usage: $0 TPC SOURCE_DIR OUT_DIR" >&2
  exit 2
fi
tpc=$1
src=$2
chromium=${CHROMIUM:-/usr/bin/chromium}
if [[ ! -x $chromium ]]; then
  echo "SKIP: $chromium is not installed (Debian package chromium), so the page cannot be rendered"
  exit 77
fi
mkdir -p "$3"
out=$(cd "$3" && pwd)  # absolute: it becomes a file:// URL
rm -f "$out"/*.json "$out/report.html" "$out/report.png" "$out/dom.html"

fail() {
  echo "FAIL: $*"
  exit 1
}

# 1. Reports of every kind, small enough to take a few seconds.
cd "$src"
prog=programs/mlp2_tanh.tp
data=programs/data/mlp2_tanh.json
run() { "$tpc" "$@" >/dev/null || fail "tpc $*"; }
for p in sp ntk mup; do run classify $prog --param $p --json "$out/classify_$p.json"; done
run classify $prog --param mup --sweep 'W2.a+b=0:1:1/4' --sweep 'c=-1:1:1/2' --json "$out/sweep.json"
run limit $prog --param mup --data $data --steps 3 --samples 4096 --json "$out/limit_mup.json"
run limit $prog --param ntk --data $data --steps 3 --json "$out/limit_ntk.json"
for w in 64 256; do
  run simulate $prog --param mup --data $data --steps 3 --width $w --seeds 4 --json "$out/sim_mup_$w.json"
done
run coordcheck $prog --param mup --data $data --steps 2 --widths 32,64,128 --seeds 2 --json "$out/cc_mup.json"
run report "$out"/classify_{sp,ntk,mup}.json "$out/sweep.json" "$out"/limit_{mup,ntk}.json \
  "$out"/sim_mup_{64,256}.json "$out/cc_mup.json" -o "$out/report.html"

expected=$(grep -o '<svg class="chart"' "$out/report.html" | wc -l)
[[ $expected -gt 0 ]] || fail "the page has no charts"

# 2. Chromium, with a profile of its own (it refuses to share one) and a time limit. It
# prints D-Bus and GPU noise on stderr; that goes to a log, shown only on failure.
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
flags=(--headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run
  --user-data-dir="$profile" --hide-scrollbars)
url="file://$out/report.html"
if ! timeout 120 "$chromium" "${flags[@]}" --dump-dom "$url" >"$out/dom.html" 2>"$out/chromium.log"; then
  tail -20 "$out/chromium.log"
  fail "chromium --dump-dom did not finish"
fi

# 3. The self-check's verdict: every chart rendered, no script error.
body=$(grep -o '<body[^>]*>' "$out/dom.html" | head -1 || true)
[[ -n $body ]] || fail "no <body> in the DOM Chromium dumped (see $out/dom.html)"
charts=$(sed -n 's/.*data-charts="\([0-9]*\/[0-9]*\)".*/\1/p' <<<"$body")
[[ -n $charts ]] || fail "the self-check did not run: $body"
[[ $charts == "$expected/$expected" ]] || fail "charts rendered/expected = $charts, the page has $expected"
domCharts=$(grep -o '<svg class="chart"' "$out/dom.html" | wc -l)
[[ $domCharts -eq $expected ]] || fail "the DOM has $domCharts charts, the page $expected"
[[ $body == *'data-errors=""'* ]] || fail "script errors: $body"
echo "rendered $charts charts, no script errors"

# 4. A screenshot for people to look at; it must be a PNG with more than a blank page in it.
if ! timeout 120 "$chromium" "${flags[@]}" --screenshot="$out/report.png" --window-size=1280,4000 "$url" \
  >>"$out/chromium.log" 2>&1; then
  tail -20 "$out/chromium.log"
  fail "chromium --screenshot did not finish"
fi
[[ -f $out/report.png ]] || fail "no screenshot written"
[[ $(head -c 8 "$out/report.png" | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]] || fail "the screenshot is not a PNG"
size=$(stat -c %s "$out/report.png")
[[ $size -gt 30000 ]] || fail "the screenshot is only $size bytes: a blank page?"
echo "screenshot: $out/report.png ($size bytes)"
