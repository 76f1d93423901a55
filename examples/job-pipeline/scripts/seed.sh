#!/bin/sh
# One-shot: enqueues $SEED_JOBS jobs, unless jobs were seeded before.
set -eu
if [ -e /state/seeded ]; then
  echo "already seeded: $(cat /state/seeded) jobs"
  exit 0
fi
i=1
while [ "$i" -le "$SEED_JOBS" ]; do
  job=$(printf 'job-%03d' "$i")
  # write then rename, so a worker never claims half a job
  echo "customer=$((1000 + i)) amount=$((i * 17 % 100)).00" >"/state/queue/.$job"
  mv "/state/queue/.$job" "/state/queue/$job"
  i=$((i + 1))
done
echo "$SEED_JOBS" >/state/seeded
echo "seeded $SEED_JOBS jobs for $PIPELINE_NAME"
