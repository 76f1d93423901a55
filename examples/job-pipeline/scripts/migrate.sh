#!/bin/sh
# One-shot: lays out the state volume for schema $SCHEMA_VERSION. Safe to
# run again: an existing layout of the same version is kept.
set -eu
current=$(cat /state/schema 2>/dev/null || echo 0)
if [ "$current" = "$SCHEMA_VERSION" ]; then
  echo "state already at schema $current"
  exit 0
fi
mkdir -p /state/queue /state/running /state/done /state/workers
echo "$PIPELINE_NAME" >/state/pipeline
echo "$SCHEMA_VERSION" >/state/schema
echo "migrated state from schema $current to $SCHEMA_VERSION"
