#!/bin/sh
# The publisher: copies the static pages into the shared volume once, then
# every $PUBLISH_INTERVAL seconds asks the api for its stats (by service
# name) and publishes them as status.json, replaced atomically so the web
# server never serves half a file.
set -u
trap 'echo "publisher stopping"; exit 0' TERM INT
cp -R /public/. /site/
sequence=0
while :; do
  sequence=$((sequence + 1))
  if stats=$(wget -qO- "$API_URL/cgi-bin/stats"); then
    printf '{"sequence":%d,"published_at":"%s","publisher":"%s","api":%s}\n' \
      "$sequence" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(hostname)" "$stats" >/site/.status.json.tmp
    mv /site/.status.json.tmp /site/status.json
    echo "published status #$sequence"
  else
    echo "the api at $API_URL did not answer; keeping the last status" >&2
  fi
  # in the background, so that a stop signal is handled at once
  sleep "$PUBLISH_INTERVAL" &
  wait $!
done
