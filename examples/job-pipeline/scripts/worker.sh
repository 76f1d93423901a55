#!/bin/sh
# A worker: registers itself, then claims queued jobs one at a time. The
# claim is a rename into running/ (atomic: of two workers renaming the
# same job, one fails and moves on). Each result is signed with the secret
# signing key: sha256(key + payload).
set -u
. /etc/pipeline/pipeline.conf
key_file=/run/secrets/signing_key
[ -r "$key_file" ] || { echo "no signing key at $key_file" >&2; exit 1; }
me=$(hostname)
touch "/state/workers/$me"
echo "worker $me ready for $PIPELINE_NAME (schema $SCHEMA_VERSION)"
trap 'echo "worker $me stopping"; exit 0' TERM INT
while :; do
  claimed=""
  for job in /state/queue/job-*; do
    [ -e "$job" ] || break
    name=${job##*/}
    if mv "$job" "/state/running/$name" 2>/dev/null; then
      claimed=$name
      break
    fi
  done
  if [ -z "$claimed" ]; then
    sleep 1 &
    wait $!
    continue
  fi
  payload=$(cat "/state/running/$claimed")
  sleep "$WORK_SECONDS"
  signature=$( { cat "$key_file"; echo "$payload"; } | sha256sum | cut -d' ' -f1)
  printf '%s-%s %s worker=%s sig=%s\n' "$RESULT_PREFIX" "$claimed" "$payload" "$me" "$signature" \
    >"/state/done/.$claimed"
  mv "/state/done/.$claimed" "/state/done/$claimed"
  rm -f "/state/running/$claimed"
  echo "done $claimed"
done
