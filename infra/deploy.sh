#!/usr/bin/env bash
# Builds the image and deploys the two Cloud Run services: the worker (private, SERVICE_ROLE=worker)
# first, then the api (public, SERVICE_ROLE=api) pointed at the worker's URL, and the Cloud
# Scheduler job that calls the worker's sweep every 5 minutes. Also makes, when missing, the
# bucket, the Firestore database, the VisionStory key secret and the webhook signing secret
# (generated here, never printed), and deploys the Firestore rules
# and indexes. Safe to run again: each run deploys a new revision of both services, updates the
# sweep job, and creates nothing twice.
#
# Run ./setup-cloud-tasks.sh PROJECT_ID REGION first (queue, service accounts, image repository,
# roles).
set -euo pipefail
# shellcheck source=infra/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

USAGE="usage: ${0##*/} PROJECT_ID REGION [--dry-run] [--queue=NAME] [--bucket=NAME]
       [--image=IMAGE | --tag=TAG] [--repository=NAME] [--secret=NAME] [--webhook-secret=NAME]
       [--firestore-location=LOC]
       [--api-service=NAME] [--worker-service=NAME] [--tasks-sa=NAME] [--api-sa=NAME]
       [--worker-sa=NAME] [--sweep-job=NAME] [--dispatch-deadline=SECONDS]
       [--worker-timeout=SECONDS] [--worker-concurrency=N] [--max-instances=N]
  Defaults: queue video-generation-queue, bucket PROJECT_ID-avatar-videos, repository avatar,
  secret visionstory-api-key (created from \$VISIONSTORY_API_KEY when missing), webhook
  secret webhook-secret (WEBHOOK_SECRET, generated when missing and never shown), services
  avatar-api and avatar-worker run as the accounts of the same names, sweep job avatar-sweep,
  dispatch deadline 600 s, worker timeout 900 s, 10 instances, 20 requests per worker instance
  (the queue's max-concurrent-dispatches must not exceed instances x concurrency).
  --image deploys an existing image instead of building one; --dry-run prints the commands
  without running any (existence is not checked: it shows a first run)."

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"

QUEUE=video-generation-queue
BUCKET=""
IMAGE=""
TAG=""
REPOSITORY=avatar
SECRET=visionstory-api-key
WEBHOOK_SECRET_NAME=webhook-secret
FIRESTORE_LOCATION=""
API_SERVICE=avatar-api
WORKER_SERVICE=avatar-worker
TASKS_SA_NAME=avatar-tasks
API_SA_NAME=avatar-api
WORKER_SA_NAME=avatar-worker
SWEEP_JOB=avatar-sweep
# Cloud Scheduler calls the sweep this often; the sweep pages through overdue jobs, and each call
# may run this long (below the interval, so two sweeps do not overlap).
SWEEP_SCHEDULE='*/5 * * * *'
SWEEP_DEADLINE=240s
# Cloud Tasks waits this long for a worker answer (its default; allowed 15 s to 30 min).
DISPATCH_DEADLINE=600
# Above the dispatch deadline: Cloud Tasks, not Cloud Run, must be the one that gives up, so a
# slow step is retried instead of cut off mid-write by the platform.
WORKER_TIMEOUT=900
WORKER_CONCURRENCY=20
MAX_INSTANCES=10
DRY_RUN=false

positional=()
for arg in "$@"; do
  case "$arg" in
    --dry-run) DRY_RUN=true ;;
    --queue=*) QUEUE="${arg#*=}" ;;
    --bucket=*) BUCKET="${arg#*=}" ;;
    --image=*) IMAGE="${arg#*=}" ;;
    --tag=*) TAG="${arg#*=}" ;;
    --repository=*) REPOSITORY="${arg#*=}" ;;
    --secret=*) SECRET="${arg#*=}" ;;
    --webhook-secret=*) WEBHOOK_SECRET_NAME="${arg#*=}" ;;
    --firestore-location=*) FIRESTORE_LOCATION="${arg#*=}" ;;
    --api-service=*) API_SERVICE="${arg#*=}" ;;
    --worker-service=*) WORKER_SERVICE="${arg#*=}" ;;
    --tasks-sa=*) TASKS_SA_NAME="${arg#*=}" ;;
    --api-sa=*) API_SA_NAME="${arg#*=}" ;;
    --worker-sa=*) WORKER_SA_NAME="${arg#*=}" ;;
    --sweep-job=*) SWEEP_JOB="${arg#*=}" ;;
    --dispatch-deadline=*) DISPATCH_DEADLINE="${arg#*=}" ;;
    --worker-timeout=*) WORKER_TIMEOUT="${arg#*=}" ;;
    --worker-concurrency=*) WORKER_CONCURRENCY="${arg#*=}" ;;
    --max-instances=*) MAX_INSTANCES="${arg#*=}" ;;
    -h | --help) echo "$USAGE"; exit 0 ;;
    -*) die_usage "unknown option $arg" ;;
    *) positional+=("$arg") ;;
  esac
done
[[ ${#positional[@]} -eq 2 ]] || die_usage "PROJECT_ID and REGION are required"
PROJECT_ID="${positional[0]}"
REGION="${positional[1]}"
[[ -n "$PROJECT_ID" && -n "$REGION" ]] || die_usage "PROJECT_ID and REGION must not be empty"
for n in "$DISPATCH_DEADLINE" "$WORKER_TIMEOUT" "$WORKER_CONCURRENCY" "$MAX_INSTANCES"; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || die_usage "expected a positive whole number, got '$n'"
done
((DISPATCH_DEADLINE >= 15 && DISPATCH_DEADLINE <= 1800)) || die_usage "--dispatch-deadline must be 15 to 1800 seconds"
((WORKER_TIMEOUT > DISPATCH_DEADLINE && WORKER_TIMEOUT <= 3600)) ||
  die_usage "--worker-timeout must be above the dispatch deadline (${DISPATCH_DEADLINE}) and at most 3600"
[[ -z "$IMAGE" || -z "$TAG" ]] || die_usage "--image and --tag exclude each other"

BUCKET="${BUCKET:-${PROJECT_ID}-avatar-videos}"
FIRESTORE_LOCATION="${FIRESTORE_LOCATION:-$REGION}"
TASKS_SA="${TASKS_SA_NAME}@${PROJECT_ID}.iam.gserviceaccount.com"
API_SA="${API_SA_NAME}@${PROJECT_ID}.iam.gserviceaccount.com"
WORKER_SA="${WORKER_SA_NAME}@${PROJECT_ID}.iam.gserviceaccount.com"
WORKER_CAPACITY=$((MAX_INSTANCES * WORKER_CONCURRENCY))
if [[ -z "$IMAGE" ]]; then
  if [[ -z "$TAG" ]]; then
    TAG="$(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo build)-$(date -u +%Y%m%d%H%M%S)"
  fi
  IMAGE="${REGION}-docker.pkg.dev/${PROJECT_ID}/${REPOSITORY}/avatar-video-jobs:${TAG}"
  BUILD=true
else
  BUILD=false
fi

cat <<EOF
Project ${PROJECT_ID}, region ${REGION}$([[ "$DRY_RUN" == true ]] && echo ' (dry run: nothing changes)')
About to:
  - make, if missing: bucket gs://${BUCKET}, the Firestore database (${FIRESTORE_LOCATION}),
    secret ${SECRET} (readable by ${WORKER_SA} only), the webhook secret ${WEBHOOK_SECRET_NAME}
    (generated; readable by ${API_SA} and ${WORKER_SA}); deploy Firestore rules and indexes
  - $([[ "$BUILD" == true ]] && echo "build ${IMAGE} with Cloud Build" || echo "use the image ${IMAGE}")
  - deploy ${WORKER_SERVICE} as ${WORKER_SA} (private, SERVICE_ROLE=worker, timeout
    ${WORKER_TIMEOUT}s, ${MAX_INSTANCES} instances x ${WORKER_CONCURRENCY} requests) and give ${TASKS_SA} run.invoker on it
  - create or update the Cloud Scheduler job ${SWEEP_JOB}: POST <worker>/worker/sweep every
    5 minutes with an OIDC token of ${TASKS_SA}
  - deploy ${API_SERVICE} as ${API_SA} (public, SERVICE_ROLE=api, no provider key) with
    WORKER_URL set to the worker's URL
EOF

# --- what setup-cloud-tasks.sh makes ----------------------------------------------------------
# The worker fails a job on the queue's last attempt, so it must know the queue's maxAttempts:
# read it from the queue rather than trusting two settings to agree.
MAX_ATTEMPTS=3
if [[ "$DRY_RUN" == false ]]; then
  MAX_ATTEMPTS="$(read_value gc tasks queues describe "$QUEUE" --location="$REGION" \
    --format='value(retryConfig.maxAttempts)')"
  [[ -n "$MAX_ATTEMPTS" ]] || die "queue ${QUEUE} not found in ${REGION}: run ./setup-cloud-tasks.sh ${PROJECT_ID} ${REGION} ${QUEUE} first"
  # More dispatches at once than the worker can take would be answered 429 by Cloud Run, each
  # refusal using up one of a task's few attempts.
  dispatches="$(read_value gc tasks queues describe "$QUEUE" --location="$REGION" \
    --format='value(rateLimits.maxConcurrentDispatches)')"
  if [[ -n "$dispatches" ]] && ((dispatches > WORKER_CAPACITY)); then
    die "queue ${QUEUE} dispatches up to ${dispatches} tasks at once, but the worker takes only ${MAX_INSTANCES} instances x ${WORKER_CONCURRENCY} requests = ${WORKER_CAPACITY}.
  Lower the queue: ./setup-cloud-tasks.sh ${PROJECT_ID} ${REGION} ${QUEUE} --worker-max-instances=${MAX_INSTANCES} --worker-concurrency=${WORKER_CONCURRENCY}
  or raise the worker: --max-instances=N --worker-concurrency=N with N x N >= ${dispatches}"
  fi
  echo "Queue ${QUEUE}: max-attempts ${MAX_ATTEMPTS}, max-concurrent-dispatches ${dispatches:-?} (the worker takes ${WORKER_CAPACITY})."
  for sa in "$TASKS_SA" "$API_SA" "$WORKER_SA"; do
    exists gc iam service-accounts describe "$sa" || die "service account ${sa} not found: run ./setup-cloud-tasks.sh first"
  done
  if [[ "$BUILD" == true ]]; then
    exists gc artifacts repositories describe "$REPOSITORY" --location="$REGION" ||
      die "image repository ${REPOSITORY} not found in ${REGION}: run ./setup-cloud-tasks.sh ${PROJECT_ID} ${REGION} --repository=${REPOSITORY} first"
  fi
fi

# --- the VisionStory key, only ever in Secret Manager -----------------------------------------
if exists gc secrets describe "$SECRET"; then
  echo "Secret ${SECRET} exists (rotate it with: gcloud secrets versions add ${SECRET} --data-file=-)."
elif [[ -n "${VISIONSTORY_API_KEY:-}" ]]; then
  # On stdin, so the key never shows in a process list or in this script's output.
  printf '+ gcloud secrets create %q --replication-policy=automatic --data-file=- --project=%q  # the key on stdin\n' "$SECRET" "$PROJECT_ID"
  if [[ "$DRY_RUN" == false ]]; then
    printf '%s' "$VISIONSTORY_API_KEY" | gc secrets create "$SECRET" --replication-policy=automatic --data-file=-
  fi
elif [[ "$DRY_RUN" == true ]]; then
  echo "+ (would stop here unless VISIONSTORY_API_KEY is set or secret ${SECRET} exists)"
else
  die "secret ${SECRET} not found. Set VISIONSTORY_API_KEY in the environment and run again, or create it:
  printf %s \"\$KEY\" | gcloud secrets create ${SECRET} --data-file=- --project=${PROJECT_ID}"
fi
# Only the worker calls VisionStory, so only its account may read the key.
run gc secrets add-iam-policy-binding "$SECRET" \
  --member="serviceAccount:${WORKER_SA}" --role=roles/secretmanager.secretAccessor --format=none

# --- the webhook signing secret (WEBHOOK_SECRET), only ever in Secret Manager ---------------------
# whsec_ + base64 of 32 random bytes (Standard Webhooks). Made here when missing and never shown:
# it goes from the generator straight to gcloud on stdin. An existing one is kept, since receivers
# verify signatures with it.
generate_webhook_secret() {
  local random
  if command -v openssl >/dev/null 2>&1; then
    random="$(openssl rand -base64 32)" || return 1
  else
    random="$(node -e 'process.stdout.write(require("node:crypto").randomBytes(32).toString("base64"))')" || return 1
  fi
  [[ ${#random} -eq 44 ]] || die "could not generate the webhook secret (no openssl or node)"
  printf 'whsec_%s' "$random"
}
if exists gc secrets describe "$WEBHOOK_SECRET_NAME"; then
  echo "Secret ${WEBHOOK_SECRET_NAME} exists (receivers verify with it; rotate with: printf 'whsec_%s' \"\$(openssl rand -base64 32)\" | gcloud secrets versions add ${WEBHOOK_SECRET_NAME} --data-file=-)."
else
  printf '+ gcloud secrets create %q --replication-policy=automatic --data-file=- --project=%q  # a generated whsec_ secret on stdin\n' "$WEBHOOK_SECRET_NAME" "$PROJECT_ID"
  if [[ "$DRY_RUN" == false ]]; then
    generate_webhook_secret | gc secrets create "$WEBHOOK_SECRET_NAME" --replication-policy=automatic --data-file=-
  fi
  echo "Read it for your webhook receivers with: gcloud secrets versions access latest --secret=${WEBHOOK_SECRET_NAME} --project=${PROJECT_ID}"
fi
# The api refuses a callbackUrl unless it has the secret; the worker signs and sends. Both read it.
for sa in "$API_SA" "$WORKER_SA"; do
  run gc secrets add-iam-policy-binding "$WEBHOOK_SECRET_NAME" \
    --member="serviceAccount:${sa}" --role=roles/secretmanager.secretAccessor --format=none
done

# --- storage and Firestore ---------------------------------------------------------------------
if exists gc storage buckets describe "gs://${BUCKET}"; then
  echo "Bucket gs://${BUCKET} exists."
else
  # Uniform access and public access prevention: objects are only ever read through V4 signed URLs.
  run gc storage buckets create "gs://${BUCKET}" --location="$REGION" \
    --uniform-bucket-level-access --public-access-prevention
fi
# The api stores uploads and signs reads of the video; the worker reads the media, signs the
# provider's reads and stores the video.
for sa in "$API_SA" "$WORKER_SA"; do
  run gc storage buckets add-iam-policy-binding "gs://${BUCKET}" \
    --member="serviceAccount:${sa}" --role=roles/storage.objectAdmin --format=none
done

if exists gc firestore databases describe --database='(default)'; then
  echo "Firestore database (default) exists."
else
  run gc firestore databases create --database='(default)' --location="$FIRESTORE_LOCATION" --type=firestore-native
fi

# Rules and indexes: the Firebase CLI deploys both from the files in infra/. Without it, gcloud
# creates the indexes (it has no command for security rules) and we say how to deploy the rules.
if command -v firebase >/dev/null 2>&1; then
  run firebase deploy --only firestore:rules,firestore:indexes --project="$PROJECT_ID" \
    --config="$SCRIPT_DIR/firebase.json" --non-interactive
else
  # One line per index: the collection group, the query scope, then field-path=...,order=...
  # Firestore appends __name__ in the last field's direction by itself, so that entry is left out.
  # shellcheck disable=SC2016 # JavaScript template literals, not shell expansions
  index_lines="$(node -e '
    const spec = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    for (const index of spec.indexes) {
      const fields = [...index.fields];
      const last = fields[fields.length - 1];
      if (last && last.fieldPath === "__name__" && fields.length > 1 && fields[fields.length - 2].order === last.order) fields.pop();
      const configs = fields.map((f) => `field-path=${f.fieldPath},` + (f.order ? `order=${f.order.toLowerCase()}` : `array-config=${String(f.arrayConfig).toLowerCase()}`));
      console.log([index.collectionGroup, (index.queryScope || "COLLECTION").toLowerCase(), ...configs].join("\t"));
    }' "$SCRIPT_DIR/firestore.indexes.json")"
  while IFS=$'\t' read -r -a parts; do
    [[ ${#parts[@]} -ge 3 ]] || continue
    field_args=()
    for config in "${parts[@]:2}"; do field_args+=(--field-config="$config"); done
    cmd=(gcloud firestore indexes composite create --collection-group="${parts[0]}" --query-scope="${parts[1]}"
      "${field_args[@]}" --async --project="$PROJECT_ID")
    printf '+'
    printf ' %q' "${cmd[@]}"
    printf '\n'
    if [[ "$DRY_RUN" == false ]]; then
      # gcloud has no "create if missing" for indexes: an existing one answers ALREADY_EXISTS.
      if ! output="$("${cmd[@]}" 2>&1)"; then
        if [[ "$output" == *ALREADY_EXISTS* ]]; then
          echo "Index exists already."
        else
          echo "$output" >&2
          exit 1
        fi
      fi
    fi
  done <<<"$index_lines"
  cat <<EOF
NOTE: the Firebase CLI is not installed, so the Firestore security rules were NOT deployed, and
until they are, the Flutter app cannot read its jobs. Deploy them with:
  npx firebase-tools deploy --only firestore:rules --project=${PROJECT_ID} --config=${SCRIPT_DIR}/firebase.json
or paste infra/firestore.rules into the Firebase console (Firestore, Rules) and publish.
EOF
fi

# --- retention: lifecycle rules and TTL (begin) --------------------------------------------------
# Uploads, videos and job documents are deleted a set number of days after the job ended. The
# worker sets each object's customTime when its job ends, so the rules count from the job's end
# (daysSinceCustomTime), not from the upload; an age rule is the backstop for objects whose job
# never ended. Firestore deletes a document once its expireAt (set at the job's end) has passed.
UPLOAD_RETENTION_DAYS="${UPLOAD_RETENTION_DAYS:-7}"
VIDEO_RETENTION_DAYS="${VIDEO_RETENTION_DAYS:-30}"
JOB_RETENTION_DAYS="${JOB_RETENTION_DAYS:-90}"
for days in "$UPLOAD_RETENTION_DAYS" "$VIDEO_RETENTION_DAYS" "$JOB_RETENTION_DAYS"; do
  [[ "$days" =~ ^[1-9][0-9]*$ ]] || die "retention days must be whole numbers of days (got ${days})"
done
backstop_days=$(( JOB_RETENTION_DAYS > VIDEO_RETENTION_DAYS ? JOB_RETENTION_DAYS : VIDEO_RETENTION_DAYS ))
backstop_days=$(( backstop_days + 2 ))
lifecycle_file="$(mktemp)"
trap 'rm -f "$lifecycle_file"' EXIT
cat >"$lifecycle_file" <<JSON
{"rule": [
  {"action": {"type": "Delete"}, "condition": {"daysSinceCustomTime": ${UPLOAD_RETENTION_DAYS}, "matchesPrefix": ["uploads/"]}},
  {"action": {"type": "Delete"}, "condition": {"daysSinceCustomTime": ${VIDEO_RETENTION_DAYS}, "matchesPrefix": ["videos/"]}},
  {"action": {"type": "Delete"}, "condition": {"age": ${backstop_days}, "matchesPrefix": ["uploads/", "videos/"]}}
]}
JSON
echo "Lifecycle rules on gs://${BUCKET}: uploads ${UPLOAD_RETENTION_DAYS} days, videos ${VIDEO_RETENTION_DAYS} days after the job ended (backstop: ${backstop_days} days after upload)."
run gc storage buckets update "gs://${BUCKET}" --lifecycle-file="$lifecycle_file"
run gc firestore fields ttls update expireAt --collection-group="${FIRESTORE_COLLECTION:-avatarJobs}" --enable-ttl --async --quiet
# --- retention: lifecycle rules and TTL (end) ----------------------------------------------------

# --- the image -----------------------------------------------------------------------------------
if [[ "$BUILD" == true ]]; then
  # .dockerignore doubles as the upload filter: the build context stays small (no node_modules).
  # The staging bucket is the one setup-cloud-tasks.sh made and let the build account read.
  run gc builds submit "$REPO_ROOT" --tag="$IMAGE" --ignore-file=.dockerignore \
    --gcs-source-staging-dir="gs://${PROJECT_ID}_cloudbuild/source"
fi

# --- the services --------------------------------------------------------------------------------
common_env="GOOGLE_CLOUD_PROJECT=${PROJECT_ID},CLOUD_TASKS_LOCATION=${REGION},CLOUD_TASKS_QUEUE=${QUEUE}"
common_env+=",TASKS_SERVICE_ACCOUNT=${TASKS_SA},GCS_BUCKET=${BUCKET},PROVIDER=visionstory"
common_env+=",TASK_MAX_ATTEMPTS=${MAX_ATTEMPTS},TASK_DISPATCH_DEADLINE=${DISPATCH_DEADLINE}"
# retention (begin): the same days the lifecycle rules and TTL use
common_env+=",UPLOAD_RETENTION_DAYS=${UPLOAD_RETENTION_DAYS},VIDEO_RETENTION_DAYS=${VIDEO_RETENTION_DAYS},JOB_RETENTION_DAYS=${JOB_RETENTION_DAYS}"
# retention (end)
common_flags=(--image="$IMAGE" --region="$REGION" --min-instances=0 --cpu=1 --memory=512Mi --quiet)

# The worker enqueues each next step, so it needs its own URL too (and checks the OIDC audience
# against it). A service's URL exists only once the service does: on the very first deploy the
# worker starts without it and is updated right after; later deploys know it up front.
worker_base="$(read_value gc run services describe "$WORKER_SERVICE" --region="$REGION" --format='value(status.url)')"
worker_env() { echo "WORKER_URL=$1/worker/process-avatar,WORKER_AUDIENCE=$1"; }
worker_deploy_env="SERVICE_ROLE=worker,${common_env}"
[[ -z "$worker_base" ]] || worker_deploy_env+=",$(worker_env "$worker_base")"
run gc run deploy "$WORKER_SERVICE" "${common_flags[@]}" --service-account="$WORKER_SA" \
  --set-secrets="VISIONSTORY_API_KEY=${SECRET}:latest,WEBHOOK_SECRET=${WEBHOOK_SECRET_NAME}:latest" --set-env-vars="$worker_deploy_env" \
  --no-allow-unauthenticated --timeout="$WORKER_TIMEOUT" --concurrency="$WORKER_CONCURRENCY" \
  --max-instances="$MAX_INSTANCES"
if [[ -z "$worker_base" ]]; then
  worker_base="$(read_value gc run services describe "$WORKER_SERVICE" --region="$REGION" --format='value(status.url)')"
  if [[ "$DRY_RUN" == true ]]; then
    worker_base="https://WORKER-URL"
  fi
  [[ -n "$worker_base" ]] || die "could not read the URL of ${WORKER_SERVICE}"
  run gc run services update "$WORKER_SERVICE" --region="$REGION" --update-env-vars="$(worker_env "$worker_base")" --quiet
fi
# Private: only the tasks account may call it (the token Cloud Tasks attaches is checked by Cloud
# Run's front end before a request reaches the container).
run gc run services add-iam-policy-binding "$WORKER_SERVICE" --region="$REGION" \
  --member="serviceAccount:${TASKS_SA}" --role=roles/run.invoker --format=none

# The sweep: a task lost outside the worker's sight (refused on every attempt, queue purged)
# leaves its job waiting for ever, so Cloud Scheduler asks the worker every 5 minutes to rescue
# overdue jobs. The token is the tasks account's, for the same audience as the tasks' tokens, so
# Cloud Run's front end and the worker accept it like any task.
sweep_flags=(--location="$REGION" --schedule="$SWEEP_SCHEDULE" --time-zone=Etc/UTC
  --uri="${worker_base}/worker/sweep" --http-method=post
  --message-body='{}'
  --oidc-service-account-email="$TASKS_SA" --oidc-token-audience="$worker_base"
  --attempt-deadline="$SWEEP_DEADLINE"
  --description="Rescues avatar jobs whose next step is overdue (${WORKER_SERVICE} /worker/sweep)")
if exists gc scheduler jobs describe "$SWEEP_JOB" --location="$REGION"; then
  echo "Sweep job ${SWEEP_JOB} exists: updating it."
  # update spells the headers flag --update-headers; create spells it --headers.
  run gc scheduler jobs update http "$SWEEP_JOB" "${sweep_flags[@]}" --update-headers=Content-Type=application/json
else
  run gc scheduler jobs create http "$SWEEP_JOB" "${sweep_flags[@]}" --headers=Content-Type=application/json
fi

# The api streams SSE for a job's whole life: allow Cloud Run's longest request. Uploads reach
# 40 MB (10 MB photo + 30 MB audio) and Cloud Run refuses HTTP/1 requests over 32 MiB, so the api
# runs HTTP/2 end-to-end (--use-http2) and the container speaks h2c (HTTP2_CLEARTEXT=true).
# --set-secrets replaces the whole list: the api gets only the webhook secret (it refuses a
# callbackUrl without it) and never the provider key, which it never uses (a revision deployed
# before the accounts were split loses it).
run gc run deploy "$API_SERVICE" "${common_flags[@]}" --service-account="$API_SA" \
  --set-secrets="WEBHOOK_SECRET=${WEBHOOK_SECRET_NAME}:latest" \
  --set-env-vars="SERVICE_ROLE=api,HTTP2_CLEARTEXT=true,${common_env},$(worker_env "$worker_base")" \
  --allow-unauthenticated --use-http2 --timeout=3600 --concurrency=80 --max-instances="$MAX_INSTANCES"

api_url="$(read_value gc run services describe "$API_SERVICE" --region="$REGION" --format='value(status.url)')"
cat <<EOF
Deployed.
  api:    ${api_url:-<api url>}   (try: curl ${api_url:-<api url>}/health)
  worker: ${worker_base}
Logs:   gcloud logging read 'resource.type="cloud_run_revision" AND resource.labels.service_name=("${API_SERVICE}" OR "${WORKER_SERVICE}")' --project=${PROJECT_ID} --limit=50 --freshness=1h
EOF
