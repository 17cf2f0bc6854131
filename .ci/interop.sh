#!/bin/sh
# Install the third-party peers that ./interop tests run against, on a
# fresh Debian (12) machine: Kamailio (MSRP relay), SIPp and tshark.
# Idempotent: does nothing when they are already installed. The lead's
# .ci/run calls this, then `CI=true go test ./interop/...` (with CI=true a
# missing peer fails the tests instead of skipping them).
set -eu

missing=""
command -v kamailio >/dev/null 2>&1 || missing="$missing kamailio"
command -v sipp >/dev/null 2>&1 || missing="$missing sip-tester"
command -v tshark >/dev/null 2>&1 || missing="$missing tshark"

if [ -z "$missing" ]; then
	echo "interop.sh: kamailio, sipp and tshark already installed"
	exit 0
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then
	SUDO="sudo"
fi
echo "interop.sh: installing:$missing"
$SUDO apt-get update
# noninteractive: tshark's debconf question (may non-root users capture?)
# takes its default, no.
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y kamailio sip-tester tshark

# The tests capture on the loopback interface with tshark, which needs root
# or the capture capabilities on dumpcap.
if [ "$(id -u)" != 0 ]; then
	echo "interop.sh: note: run the interop tests as root, or grant dumpcap capture rights" \
		"(sudo setcap cap_net_raw,cap_net_admin+eip \$(command -v dumpcap))" >&2
fi
