#!/usr/bin/env bash
# Side-by-side benchmark: Kamailio's msrp relay vs Parley's relay, and
# Kamailio's SIP proxy vs "parley serve", same load tool (internal/loadgen),
# loopback only. Takes several minutes; --smoke runs each scenario ~2 s
# (CI checks that the runner does not rot).
#
#   bench/side-by-side.sh                  full run, table on stdout
#   bench/side-by-side.sh --smoke          quick check
#   bench/side-by-side.sh --json out.json --only small-2hop,bulk-8k-2hop
#   bench/side-by-side.sh --only small-2hop,half-load-2hop,half-load-wire,light-wire
#                                          relay latency on the wire (needs dumpcap)
#
# Other flags: see `go run ./bench/sidebyside --help`.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v kamailio >/dev/null; then
	echo "side-by-side: kamailio is not installed (apt-get install -y kamailio)" >&2
	exit 1
fi
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/relayd" ./bench/relayd
go build -o "$bin/parley" ./cmd/parley
go build -o "$bin/sidebyside" ./bench/sidebyside
"$bin/sidebyside" --bin "$bin" "$@"
