#!/usr/bin/env bash
# Makes `promtool` available for the PrometheusRule tests (packages/generate): Debian's `prometheus`
# package ships it. As root on Debian/Ubuntu it installs the package when promtool is missing; otherwise it
# says what to do and the tests that need promtool skip with that message.
set -euo pipefail
if command -v promtool >/dev/null; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "ensure-promtool: promtool is missing; install Debian's prometheus package (apt-get install prometheus) or the PrometheusRule tests skip"
  exit 0
fi
echo "ensure-promtool: installing Debian's prometheus package for promtool"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends prometheus >/dev/null 2>&1; then
  apt-get update -qq >/dev/null
  apt-get install -y --no-install-recommends prometheus >/dev/null
fi
command -v promtool >/dev/null
