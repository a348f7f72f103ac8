#!/usr/bin/env bash
# Removes what setup-cloud-tasks.sh and deploy.sh made: both Cloud Run services, the sweep's Cloud
# Scheduler job, the queue and the three service accounts; the bucket (with every stored video) only with --delete-bucket, the image
# repository only with --delete-images, the webhook signing secret only with
# --delete-webhook-secret (receivers verify with it; a new deploy would generate a different one).
# Asks first unless --yes. Safe to run twice: what is already gone is skipped. The Firestore
# database and the VisionStory key secret stay (the database holds the job history; the key is
# yours): the script prints how to remove them.
set -euo pipefail
# shellcheck source=infra/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

USAGE="usage: ${0##*/} PROJECT_ID REGION [--yes] [--dry-run] [--delete-bucket] [--delete-images]
       [--delete-webhook-secret] [--webhook-secret=NAME]
       [--queue=NAME] [--bucket=NAME] [--repository=NAME] [--api-service=NAME]
       [--worker-service=NAME] [--sweep-job=NAME] [--tasks-sa=NAME] [--api-sa=NAME]
       [--worker-sa=NAME]
  Same defaults as deploy.sh. --dry-run prints the commands without running any."

QUEUE=video-generation-queue
BUCKET=""
REPOSITORY=avatar
API_SERVICE=avatar-api
WORKER_SERVICE=avatar-worker
SWEEP_JOB=avatar-sweep
TASKS_SA_NAME=avatar-tasks
API_SA_NAME=avatar-api
WORKER_SA_NAME=avatar-worker
WEBHOOK_SECRET_NAME=webhook-secret
YES=false
DRY_RUN=false
# A dry run lists everything as if it existed (deleting what is there is the point).
DRY_RUN_EXISTS=true
DELETE_BUCKET=false
DELETE_IMAGES=false
DELETE_WEBHOOK_SECRET=false

positional=()
for arg in "$@"; do
  case "$arg" in
    --yes | -y) YES=true ;;
    --dry-run) DRY_RUN=true ;;
    --delete-bucket) DELETE_BUCKET=true ;;
    --delete-images) DELETE_IMAGES=true ;;
    --delete-webhook-secret) DELETE_WEBHOOK_SECRET=true ;;
    --webhook-secret=*) WEBHOOK_SECRET_NAME="${arg#*=}" ;;
    --queue=*) QUEUE="${arg#*=}" ;;
    --bucket=*) BUCKET="${arg#*=}" ;;
    --repository=*) REPOSITORY="${arg#*=}" ;;
    --api-service=*) API_SERVICE="${arg#*=}" ;;
    --worker-service=*) WORKER_SERVICE="${arg#*=}" ;;
    --tasks-sa=*) TASKS_SA_NAME="${arg#*=}" ;;
    --sweep-job=*) SWEEP_JOB="${arg#*=}" ;;
    --api-sa=*) API_SA_NAME="${arg#*=}" ;;
    --worker-sa=*) WORKER_SA_NAME="${arg#*=}" ;;
    -h | --help) echo "$USAGE"; exit 0 ;;
    -*) die_usage "unknown option $arg" ;;
    *) positional+=("$arg") ;;
  esac
done
[[ ${#positional[@]} -eq 2 ]] || die_usage "PROJECT_ID and REGION are required"
PROJECT_ID="${positional[0]}"
REGION="${positional[1]}"
[[ -n "$PROJECT_ID" && -n "$REGION" ]] || die_usage "PROJECT_ID and REGION must not be empty"
BUCKET="${BUCKET:-${PROJECT_ID}-avatar-videos}"
TASKS_SA="${TASKS_SA_NAME}@${PROJECT_ID}.iam.gserviceaccount.com"
API_SA="${API_SA_NAME}@${PROJECT_ID}.iam.gserviceaccount.com"
WORKER_SA="${WORKER_SA_NAME}@${PROJECT_ID}.iam.gserviceaccount.com"

cat <<EOF
Project ${PROJECT_ID}, region ${REGION}$([[ "$DRY_RUN" == true ]] && echo ' (dry run: nothing changes)')
About to DELETE:
  - Cloud Scheduler job ${SWEEP_JOB} (the sweep)
  - Cloud Run services ${API_SERVICE} and ${WORKER_SERVICE}
  - Cloud Tasks queue ${QUEUE} with its pending tasks (its name cannot be used again for 7 days)
  - service accounts ${TASKS_SA}, ${API_SA} and ${WORKER_SA}
$([[ "$DELETE_BUCKET" == true ]] && echo "  - bucket gs://${BUCKET} and EVERY uploaded photo, recording and video in it" || echo "  (keeping bucket gs://${BUCKET}: add --delete-bucket to delete it)")
$([[ "$DELETE_IMAGES" == true ]] && echo "  - image repository ${REPOSITORY}" || echo "  (keeping image repository ${REPOSITORY}: add --delete-images to delete it)")
$([[ "$DELETE_WEBHOOK_SECRET" == true ]] && echo "  - the webhook signing secret ${WEBHOOK_SECRET_NAME} (receivers can no longer verify old deliveries)" || echo "  (keeping the webhook secret ${WEBHOOK_SECRET_NAME}: add --delete-webhook-secret to delete it)")
EOF

if [[ "$YES" == false && "$DRY_RUN" == false ]]; then
  # Typing the project id, not "y": this is the one script here that destroys data.
  answer=""
  read -r -p "Type the project id (${PROJECT_ID}) to continue: " answer || true
  if [[ "$answer" != "$PROJECT_ID" ]]; then
    echo "Aborted: nothing was deleted." >&2
    exit 1
  fi
fi

# The sweep first: it would call a worker that is going away.
if exists gc scheduler jobs describe "$SWEEP_JOB" --location="$REGION"; then
  run gc scheduler jobs delete "$SWEEP_JOB" --location="$REGION" --quiet
else
  echo "Sweep job ${SWEEP_JOB} is already gone."
fi

for service in "$API_SERVICE" "$WORKER_SERVICE"; do
  if exists gc run services describe "$service" --region="$REGION"; then
    run gc run services delete "$service" --region="$REGION" --quiet
  else
    echo "Service ${service} is already gone."
  fi
done

if exists gc tasks queues describe "$QUEUE" --location="$REGION"; then
  run gc tasks queues delete "$QUEUE" --location="$REGION" --quiet
else
  echo "Queue ${QUEUE} is already gone."
fi

for sa in "$TASKS_SA" "$API_SA" "$WORKER_SA"; do
  if exists gc iam service-accounts describe "$sa"; then
    run gc iam service-accounts delete "$sa" --quiet
  else
    echo "Service account ${sa} is already gone."
  fi
done

# --- retention: lifecycle rules and TTL (begin) --------------------------------------------------
# What deploy.sh set up for retention: the bucket's lifecycle rules (when the bucket stays) and the
# TTL policy on avatarJobs.expireAt.
if [[ "$DELETE_BUCKET" != true ]] && exists gc storage buckets describe "gs://${BUCKET}"; then
  run gc storage buckets update "gs://${BUCKET}" --clear-lifecycle
fi
ttl_collection="${FIRESTORE_COLLECTION:-avatarJobs}"
ttl_state="$(read_value gc firestore indexes fields describe expireAt --collection-group="$ttl_collection" --format='value(ttlConfig.state)')"
if [[ -n "$ttl_state" || "$DRY_RUN" == true ]]; then
  run gc firestore fields ttls update expireAt --collection-group="$ttl_collection" --disable-ttl --async --quiet
else
  echo "No TTL policy on ${ttl_collection}.expireAt."
fi
# --- retention: lifecycle rules and TTL (end) ----------------------------------------------------

if [[ "$DELETE_BUCKET" == true ]]; then
  if exists gc storage buckets describe "gs://${BUCKET}"; then
    # --recursive on a bucket URL deletes its objects, then the bucket.
    run gc storage rm --recursive "gs://${BUCKET}"
  else
    echo "Bucket gs://${BUCKET} is already gone."
  fi
fi

if [[ "$DELETE_IMAGES" == true ]]; then
  if exists gc artifacts repositories describe "$REPOSITORY" --location="$REGION"; then
    run gc artifacts repositories delete "$REPOSITORY" --location="$REGION" --quiet
  else
    echo "Image repository ${REPOSITORY} is already gone."
  fi
fi

if [[ "$DELETE_WEBHOOK_SECRET" == true ]]; then
  if exists gc secrets describe "$WEBHOOK_SECRET_NAME"; then
    run gc secrets delete "$WEBHOOK_SECRET_NAME" --quiet
  else
    echo "Secret ${WEBHOOK_SECRET_NAME} is already gone."
  fi
fi

cat <<EOF
Done. Left in place on purpose:
  - the Firestore database (job history). Delete the jobs in the Firebase console, or the whole
    database with: gcloud firestore databases delete --database='(default)' --project=${PROJECT_ID}
  - the VisionStory key: gcloud secrets delete visionstory-api-key --project=${PROJECT_ID}
$([[ "$DELETE_WEBHOOK_SECRET" == true ]] || echo "  - the webhook secret (add --delete-webhook-secret, or: gcloud secrets delete ${WEBHOOK_SECRET_NAME} --project=${PROJECT_ID})")
  - the enabled APIs (they cost nothing unused)
  - the build source bucket gs://${PROJECT_ID}_cloudbuild and the roles setup gave the Cloud Build
    account (artifactregistry.writer on the repository, storage.objectViewer on that bucket,
    logging.logWriter on the project)
EOF
