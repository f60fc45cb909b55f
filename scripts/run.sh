#!/usr/bin/env bash
# make run: the local NH emulator (with demo installations) and the Azure
# Functions custom handler against it, on loopback, no Azure account needed.
# Prints curl commands to try and stops both on Ctrl-C.
# With --smoke it runs those commands itself, checks their answers and exits.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-bin}
NH_PORT=${NH_EMULATOR_PORT:-7443}
FN_PORT=${FUNCTIONS_CUSTOMHANDLER_PORT:-7071}
SMOKE=0
[ "${1:-}" = "--smoke" ] && SMOKE=1

command -v curl >/dev/null || { echo "make run needs curl for its examples (apt-get install curl)" >&2; exit 1; }
mkdir -p "$BIN"
go build -o "$BIN/nhemulator" ./cmd/nhemulator
go build -o "$BIN/handler" ./functions/azure

pids=()
stop() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap stop EXIT
trap 'echo; echo "stopping"; exit 0' INT TERM

"$BIN/nhemulator" -addr "127.0.0.1:$NH_PORT" -ca-out "$BIN/nh-ca.pem" \
	-installations scripts/demo-installations.json >"$BIN/emulator.env" 2>"$BIN/emulator.log" &
pids+=($!)
for _ in $(seq 100); do
	grep -q '^NH_HUB_NAME=' "$BIN/emulator.env" 2>/dev/null && break
	if ! kill -0 "${pids[0]}" 2>/dev/null; then cat "$BIN/emulator.log" >&2; echo "the emulator did not start (is port $NH_PORT free? set NH_EMULATOR_PORT)" >&2; exit 1; fi
	sleep 0.1
done
while IFS='=' read -r key value; do export "$key=$value"; done <"$BIN/emulator.env"
export FUNCTIONS_CUSTOMHANDLER_PORT=$FN_PORT

"$BIN/handler" 2>"$BIN/handler.log" &
pids+=($!)
api="http://127.0.0.1:$FN_PORT"
for _ in $(seq 100); do
	(echo >"/dev/tcp/127.0.0.1/$FN_PORT") 2>/dev/null && break
	if ! kill -0 "${pids[1]}" 2>/dev/null; then cat "$BIN/handler.log" >&2; echo "the handler did not start (is port $FN_PORT free? set FUNCTIONS_CUSTOMHANDLER_PORT)" >&2; exit 1; fi
	sleep 0.1
done

in5min=$(date -u -d '+5 minutes' +%Y-%m-%dT%H:%M:%SZ 2>/dev/null || date -u -v+5M +%Y-%m-%dT%H:%M:%SZ)
examples=(
	"a tag send (OR of tags)|201|-X POST $api/api/notifications -H 'Content-Type: application/json' -d '{\"platform\":\"apple\",\"payload\":{\"aps\":{\"alert\":\"Goal!\"}},\"tags\":[\"sports\"]}'"
	"a tag-expression test send: which devices it reached|201|-X POST $api/api/notifications -H 'Content-Type: application/json' -d '{\"platform\":\"fcmv1\",\"payload\":{\"notification\":{\"title\":\"Tor!\"}},\"tagExpression\":\"sports && lang:de\",\"test\":true}'"
	"a template test send to everyone with templates|201|-X POST $api/api/notifications -H 'Content-Type: application/json' -d '{\"platform\":\"template\",\"payload\":{\"title_de\":\"Eilmeldung\"},\"test\":true}'"
	"a direct send to one device handle|201|-X POST $api/api/notifications -H 'Content-Type: application/json' -d '{\"platform\":\"windows\",\"payload\":\"<toast><visual><binding template=\\\"ToastGeneric\\\"><text>Hi</text></binding></visual></toast>\",\"deviceHandle\":\"https://wns2-par02p.notify.windows.com/w/?token=other\"}'"
	"a scheduled send|202|-X POST $api/api/notifications -H 'Content-Type: application/json' -d '{\"platform\":\"apple\",\"payload\":{\"aps\":{\"alert\":\"Later\"}},\"tags\":[\"news\"],\"scheduleTime\":\"$in5min\"}'"
	"an installation, created|204|-X PUT $api/api/installations/gus-iphone -H 'Content-Type: application/json' -d '{\"platform\":\"apns\",\"pushChannel\":\"a1b2c3\",\"tags\":[\"sports\"]}'"
	"the installation, read back|200|$api/api/installations/gus-iphone"
	"a bad request: a 4xx naming the field|400|-X POST $api/api/notifications -H 'Content-Type: application/json' -d '{\"platform\":\"apple\",\"payload\":{\"aps\":{}},\"tags\":[\"not a tag\"]}'"
)

if [ "$SMOKE" = 1 ]; then
	fail=0
	for ex in "${examples[@]}"; do
		IFS='|' read -r what want args <<<"$ex"
		got=$(eval "curl -sS -o /dev/null -w '%{http_code}' $args")
		if [ "$got" = "$want" ]; then echo "ok   $got $what"; else echo "FAIL $got (want $want) $what"; fail=1; fi
	done
	sent=$(curl -sS --cacert "$BIN/nh-ca.pem" "https://127.0.0.1:$NH_PORT/_emulator/notifications" | grep -c '"kind"' || true)
	echo "the emulator accepted $sent notifications"
	[ "$sent" = 5 ] || { echo "FAIL: expected 5"; fail=1; }
	exit $fail
fi

cat <<EOT

nhpush is running against the local Notification Hubs emulator (no Azure account involved).
  custom handler: $api   (logs: $BIN/handler.log)
  NH emulator:    https://127.0.0.1:$NH_PORT, hub $NH_HUB_NAME (logs: $BIN/emulator.log)
  demo devices:   scripts/demo-installations.json

Try:
EOT
for ex in "${examples[@]}"; do
	IFS='|' read -r what _ args <<<"$ex"
	echo "# $what"
	echo "curl -i $args"
	echo
done
cat <<EOT
# what the emulator accepted, with the devices each notification reached and their payloads
curl --cacert $BIN/nh-ca.pem https://127.0.0.1:$NH_PORT/_emulator/notifications

Ctrl-C stops both.
EOT
wait
