#!/usr/bin/env bash
# Prepares a Google Cloud project for the avatar video jobs: APIs, the Cloud Tasks queue, the two
# service accounts and the roles DESIGN.md asks for. Safe to run twice: what exists is updated or
# left alone, never created again. Run it before infra/deploy.sh (see infra/README.md).
#
#   ./setup-cloud-tasks.sh PROJECT_ID REGION [QUEUE] [--dry-run] [--max-attempts=N] ...
set -euo pipefail
# shellcheck source=infra/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/infra/lib.sh"

USAGE="usage: ${0##*/} PROJECT_ID REGION [QUEUE] [--dry-run]
       [--max-concurrent-dispatches=N] [--max-dispatches-per-second=N] [--max-attempts=N]
       [--min-backoff=DURATION] [--max-backoff=DURATION] [--max-doublings=N]
       [--tasks-sa=NAME] [--runtime-sa=NAME]
  QUEUE defaults to video-generation-queue; durations are like 60s; --dry-run prints the
  gcloud commands without running any (existence is not checked: it shows a first run)."

# Defaults of the original plan. The worker fails a job on the queue's last attempt, so the
# services must see the same maxAttempts: infra/deploy.sh reads it back from the queue.
MAX_CONCURRENT_DISPATCHES=1000
MAX_DISPATCHES_PER_SECOND=100
MAX_ATTEMPTS=3
MIN_BACKOFF=60s
MAX_BACKOFF=3600s
MAX_DOUBLINGS=16
TASKS_SA_NAME=avatar-tasks
RUNTIME_SA_NAME=avatar-runtime
DRY_RUN=false

positional=()
for arg in "$@"; do
  case "$arg" in
    --dry-run) DRY_RUN=true ;;
    --max-concurrent-dispatches=*) MAX_CONCURRENT_DISPATCHES="${arg#*=}" ;;
    --max-dispatches-per-second=*) MAX_DISPATCHES_PER_SECOND="${arg#*=}" ;;
    --max-attempts=*) MAX_ATTEMPTS="${arg#*=}" ;;
    --min-backoff=*) MIN_BACKOFF="${arg#*=}" ;;
    --max-backoff=*) MAX_BACKOFF="${arg#*=}" ;;
    --max-doublings=*) MAX_DOUBLINGS="${arg#*=}" ;;
    --tasks-sa=*) TASKS_SA_NAME="${arg#*=}" ;;
    --runtime-sa=*) RUNTIME_SA_NAME="${arg#*=}" ;;
    -h | --help) echo "$USAGE"; exit 0 ;;
    -*) die_usage "unknown option $arg" ;;
    *) positional+=("$arg") ;;
  esac
done
[[ ${#positional[@]} -ge 2 && ${#positional[@]} -le 3 ]] || die_usage "PROJECT_ID and REGION are required"
PROJECT_ID="${positional[0]}"
REGION="${positional[1]}"
QUEUE="${positional[2]:-video-generation-queue}"
[[ -n "$PROJECT_ID" && -n "$REGION" && -n "$QUEUE" ]] || die_usage "PROJECT_ID, REGION and QUEUE must not be empty"
[[ "$MAX_ATTEMPTS" =~ ^(-1|[1-9][0-9]*)$ ]] || die_usage "--max-attempts must be a positive number or -1 (unlimited)"
for n in "$MAX_CONCURRENT_DISPATCHES" "$MAX_DOUBLINGS"; do
  [[ "$n" =~ ^[0-9]+$ ]] || die_usage "expected a whole number, got '$n'"
done
[[ "$MAX_DISPATCHES_PER_SECOND" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die_usage "--max-dispatches-per-second must be a number"
for d in "$MIN_BACKOFF" "$MAX_BACKOFF"; do
  [[ "$d" =~ ^[0-9]+(\.[0-9]+)?[smhd]$ ]] || die_usage "expected a duration like 60s, got '$d'"
done

TASKS_SA="${TASKS_SA_NAME}@${PROJECT_ID}.iam.gserviceaccount.com"
RUNTIME_SA="${RUNTIME_SA_NAME}@${PROJECT_ID}.iam.gserviceaccount.com"

cat <<EOF
Project ${PROJECT_ID}, region ${REGION}$([[ "$DRY_RUN" == true ]] && echo ' (dry run: nothing changes)')
About to:
  - enable the Cloud Tasks, Cloud Run, Firestore, Cloud Storage, IAM, IAM Credentials,
    Artifact Registry, Cloud Build and Secret Manager APIs
  - create or update the queue ${QUEUE}: max-concurrent-dispatches ${MAX_CONCURRENT_DISPATCHES},
    max-dispatches-per-second ${MAX_DISPATCHES_PER_SECOND}, max-attempts ${MAX_ATTEMPTS},
    min-backoff ${MIN_BACKOFF}, max-backoff ${MAX_BACKOFF}, max-doublings ${MAX_DOUBLINGS}
  - create, if missing, the service accounts ${TASKS_SA} (signs the tasks' OIDC tokens)
    and ${RUNTIME_SA} (runs both Cloud Run services)
  - grant ${RUNTIME_SA}: cloudtasks enqueuer, taskDeleter and viewer on the queue,
    iam.serviceAccountUser on ${TASKS_SA}, datastore.user on the project,
    iam.serviceAccountTokenCreator on itself (V4 signed URLs through signBlob, no key file)
EOF

run gcloud services enable \
  cloudtasks.googleapis.com run.googleapis.com firestore.googleapis.com storage.googleapis.com \
  iam.googleapis.com iamcredentials.googleapis.com artifactregistry.googleapis.com \
  cloudbuild.googleapis.com secretmanager.googleapis.com \
  --project="$PROJECT_ID"

queue_settings=(
  --location="$REGION" --project="$PROJECT_ID"
  --max-concurrent-dispatches="$MAX_CONCURRENT_DISPATCHES"
  --max-dispatches-per-second="$MAX_DISPATCHES_PER_SECOND"
  --max-attempts="$MAX_ATTEMPTS"
  --min-backoff="$MIN_BACKOFF" --max-backoff="$MAX_BACKOFF" --max-doublings="$MAX_DOUBLINGS"
)
if exists gcloud tasks queues describe "$QUEUE" --location="$REGION" --project="$PROJECT_ID"; then
  echo "Queue ${QUEUE} exists: updating its settings."
  run gcloud tasks queues update "$QUEUE" "${queue_settings[@]}"
else
  echo "Queue ${QUEUE} not found: creating it."
  run gcloud tasks queues create "$QUEUE" "${queue_settings[@]}"
fi

ensure_service_account() {
  local name="$1" email="$2" display="$3"
  if exists gcloud iam service-accounts describe "$email" --project="$PROJECT_ID"; then
    echo "Service account ${email} exists."
  else
    run gcloud iam service-accounts create "$name" --display-name="$display" --project="$PROJECT_ID"
  fi
}
ensure_service_account "$TASKS_SA_NAME" "$TASKS_SA" "Cloud Tasks OIDC identity for the avatar worker"
ensure_service_account "$RUNTIME_SA_NAME" "$RUNTIME_SA" "Runtime of the avatar api and worker services"

# Adding a binding that exists already changes nothing, so these run every time.
# --format=none: gcloud would otherwise print the whole policy after each binding.
for role in roles/cloudtasks.enqueuer roles/cloudtasks.taskDeleter roles/cloudtasks.viewer; do
  # enqueuer: create the first and the next tasks; taskDeleter: cancel deletes the pending task;
  # viewer: /health reads the queue.
  run gcloud tasks queues add-iam-policy-binding "$QUEUE" --location="$REGION" --project="$PROJECT_ID" \
    --member="serviceAccount:${RUNTIME_SA}" --role="$role" --format=none
done
# Whoever creates a task with an OIDC token for the tasks account must be allowed to act as it.
run gcloud iam service-accounts add-iam-policy-binding "$TASKS_SA" --project="$PROJECT_ID" \
  --member="serviceAccount:${RUNTIME_SA}" --role=roles/iam.serviceAccountUser --format=none
# Firestore job documents (firebase-admin).
run gcloud projects add-iam-policy-binding "$PROJECT_ID" \
  --member="serviceAccount:${RUNTIME_SA}" --role=roles/datastore.user --condition=None --format=none
# On Cloud Run there is no private key: @google-cloud/storage signs V4 URLs by calling
# iamcredentials signBlob as the runtime account, which needs the token creator role on itself.
run gcloud iam service-accounts add-iam-policy-binding "$RUNTIME_SA" --project="$PROJECT_ID" \
  --member="serviceAccount:${RUNTIME_SA}" --role=roles/iam.serviceAccountTokenCreator --format=none

cat <<EOF
Done. The tasks account gets run.invoker on the worker service when infra/deploy.sh deploys it
(the service must exist first). Next:
  infra/deploy.sh ${PROJECT_ID} ${REGION} --queue=${QUEUE}
EOF
