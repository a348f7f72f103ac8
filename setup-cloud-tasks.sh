#!/usr/bin/env bash
# Prepares a Google Cloud project for the avatar video jobs: APIs, the Cloud Tasks queue, the
# service accounts, the image repository and the roles DESIGN.md asks for, each account with only
# what it uses. Safe to run twice: what exists is updated or left alone, never created again. Run
# it before infra/deploy.sh (see infra/README.md).
#
#   ./setup-cloud-tasks.sh PROJECT_ID REGION [QUEUE] [--dry-run] [--max-attempts=N] ...
set -euo pipefail
# shellcheck source=infra/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/infra/lib.sh"

USAGE="usage: ${0##*/} PROJECT_ID REGION [QUEUE] [--dry-run]
       [--worker-max-instances=N] [--worker-concurrency=N] [--max-concurrent-dispatches=N]
       [--max-dispatches-per-second=N] [--max-attempts=N]
       [--min-backoff=DURATION] [--max-backoff=DURATION] [--max-doublings=N]
       [--tasks-sa=NAME] [--api-sa=NAME] [--worker-sa=NAME] [--repository=NAME] [--build-sa=EMAIL]
  QUEUE defaults to video-generation-queue; durations are like 60s. The queue dispatches at
  most --worker-max-instances x --worker-concurrency tasks at once (10 x 20 = 200, deploy.sh's
  defaults); a larger --max-concurrent-dispatches is refused. --build-sa defaults to the
  project's default Cloud Build account. --dry-run prints the gcloud commands without running
  any (existence is not checked: it shows a first run)."

# Defaults of the original plan. The worker fails a job on the queue's last attempt, so the
# services must see the same maxAttempts: infra/deploy.sh reads it back from the queue.
MAX_CONCURRENT_DISPATCHES=""
WORKER_MAX_INSTANCES=10
WORKER_CONCURRENCY=20
MAX_DISPATCHES_PER_SECOND=100
MAX_ATTEMPTS=3
MIN_BACKOFF=60s
MAX_BACKOFF=3600s
MAX_DOUBLINGS=16
TASKS_SA_NAME=avatar-tasks
API_SA_NAME=avatar-api
WORKER_SA_NAME=avatar-worker
REPOSITORY=avatar
BUILD_SA=""
DRY_RUN=false

positional=()
for arg in "$@"; do
  case "$arg" in
    --dry-run) DRY_RUN=true ;;
    --max-concurrent-dispatches=*) MAX_CONCURRENT_DISPATCHES="${arg#*=}" ;;
    --worker-max-instances=*) WORKER_MAX_INSTANCES="${arg#*=}" ;;
    --worker-concurrency=*) WORKER_CONCURRENCY="${arg#*=}" ;;
    --max-dispatches-per-second=*) MAX_DISPATCHES_PER_SECOND="${arg#*=}" ;;
    --max-attempts=*) MAX_ATTEMPTS="${arg#*=}" ;;
    --min-backoff=*) MIN_BACKOFF="${arg#*=}" ;;
    --max-backoff=*) MAX_BACKOFF="${arg#*=}" ;;
    --max-doublings=*) MAX_DOUBLINGS="${arg#*=}" ;;
    --tasks-sa=*) TASKS_SA_NAME="${arg#*=}" ;;
    --api-sa=*) API_SA_NAME="${arg#*=}" ;;
    --worker-sa=*) WORKER_SA_NAME="${arg#*=}" ;;
    --repository=*) REPOSITORY="${arg#*=}" ;;
    --build-sa=*) BUILD_SA="${arg#*=}" ;;
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
for n in "$WORKER_MAX_INSTANCES" "$WORKER_CONCURRENCY"; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || die_usage "expected a positive whole number, got '$n'"
done
# The queue must never send more requests at once than the worker can take: beyond that Cloud
# Run answers 429, and every refusal uses up one of the task's few attempts.
WORKER_CAPACITY=$((WORKER_MAX_INSTANCES * WORKER_CONCURRENCY))
MAX_CONCURRENT_DISPATCHES="${MAX_CONCURRENT_DISPATCHES:-$WORKER_CAPACITY}"
for n in "$MAX_CONCURRENT_DISPATCHES" "$MAX_DOUBLINGS"; do
  [[ "$n" =~ ^[0-9]+$ ]] || die_usage "expected a whole number, got '$n'"
done
((MAX_CONCURRENT_DISPATCHES >= 1 && MAX_CONCURRENT_DISPATCHES <= WORKER_CAPACITY)) ||
  die_usage "--max-concurrent-dispatches=${MAX_CONCURRENT_DISPATCHES} must be 1 to ${WORKER_CAPACITY}: the worker takes at most ${WORKER_MAX_INSTANCES} instances x ${WORKER_CONCURRENCY} requests"
[[ "$MAX_DISPATCHES_PER_SECOND" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die_usage "--max-dispatches-per-second must be a number"
for d in "$MIN_BACKOFF" "$MAX_BACKOFF"; do
  [[ "$d" =~ ^[0-9]+(\.[0-9]+)?[smhd]$ ]] || die_usage "expected a duration like 60s, got '$d'"
done

TASKS_SA="${TASKS_SA_NAME}@${PROJECT_ID}.iam.gserviceaccount.com"
API_SA="${API_SA_NAME}@${PROJECT_ID}.iam.gserviceaccount.com"
WORKER_SA="${WORKER_SA_NAME}@${PROJECT_ID}.iam.gserviceaccount.com"
# gcloud builds submit stages the source here (deploy.sh passes it as --gcs-source-staging-dir).
BUILD_SOURCE_BUCKET="${PROJECT_ID}_cloudbuild"

cat <<EOF
Project ${PROJECT_ID}, region ${REGION}$([[ "$DRY_RUN" == true ]] && echo ' (dry run: nothing changes)')
About to:
  - enable the Cloud Tasks, Cloud Scheduler, Cloud Run, Firestore, Cloud Storage, IAM,
    IAM Credentials, Artifact Registry, Cloud Build, Cloud Logging, Secret Manager and Firebase
    Cloud Messaging APIs
  - create or update the queue ${QUEUE}: max-concurrent-dispatches ${MAX_CONCURRENT_DISPATCHES}
    (the worker takes ${WORKER_MAX_INSTANCES} instances x ${WORKER_CONCURRENCY} requests = ${WORKER_CAPACITY}),
    max-dispatches-per-second ${MAX_DISPATCHES_PER_SECOND}, max-attempts ${MAX_ATTEMPTS},
    min-backoff ${MIN_BACKOFF}, max-backoff ${MAX_BACKOFF}, max-doublings ${MAX_DOUBLINGS}
  - create, if missing, the service accounts ${TASKS_SA} (signs the OIDC tokens
    of tasks and of the sweep), ${API_SA} (runs the api) and ${WORKER_SA} (runs the worker)
  - grant the api and worker accounts: cloudtasks enqueuer and viewer on the queue,
    iam.serviceAccountUser on ${TASKS_SA}, datastore.user on the project,
    iam.serviceAccountTokenCreator on itself (V4 signed URLs through signBlob, no key file);
    the worker alone also cloudtasks taskDeleter on the queue and firebasecloudmessaging.admin on
    the project (it sends the job-end push notifications)
  - create, if missing, the image repository ${REPOSITORY} and the build source bucket
    gs://${BUILD_SOURCE_BUCKET}; grant the Cloud Build account artifactregistry.writer on
    ${REPOSITORY}, storage.objectViewer on gs://${BUILD_SOURCE_BUCKET} and logging.logWriter
EOF

run gcloud services enable \
  cloudtasks.googleapis.com cloudscheduler.googleapis.com run.googleapis.com firestore.googleapis.com \
  storage.googleapis.com iam.googleapis.com iamcredentials.googleapis.com artifactregistry.googleapis.com \
  cloudbuild.googleapis.com logging.googleapis.com secretmanager.googleapis.com fcm.googleapis.com \
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
ensure_service_account "$TASKS_SA_NAME" "$TASKS_SA" "OIDC identity of the avatar tasks and sweep"
ensure_service_account "$API_SA_NAME" "$API_SA" "Runtime of the avatar api service"
ensure_service_account "$WORKER_SA_NAME" "$WORKER_SA" "Runtime of the avatar worker service"

# Adding a binding that exists already changes nothing, so these run every time.
# --format=none: gcloud would otherwise print the whole policy after each binding.
grant_runtime() {
  local sa="$1"
  shift
  local role
  for role in "$@"; do
    run gcloud tasks queues add-iam-policy-binding "$QUEUE" --location="$REGION" --project="$PROJECT_ID" \
      --member="serviceAccount:${sa}" --role="$role" --format=none
  done
  # Whoever creates a task with an OIDC token for the tasks account must be allowed to act as it.
  run gcloud iam service-accounts add-iam-policy-binding "$TASKS_SA" --project="$PROJECT_ID" \
    --member="serviceAccount:${sa}" --role=roles/iam.serviceAccountUser --format=none
  # Firestore job documents (firebase-admin).
  run gcloud projects add-iam-policy-binding "$PROJECT_ID" \
    --member="serviceAccount:${sa}" --role=roles/datastore.user --condition=None --format=none
  # On Cloud Run there is no private key: @google-cloud/storage signs V4 URLs by calling
  # iamcredentials signBlob as the service's own account, which needs the token creator role on
  # itself (the api redirects to the video, the worker hands the provider the uploaded media).
  run gcloud iam service-accounts add-iam-policy-binding "$sa" --project="$PROJECT_ID" \
    --member="serviceAccount:${sa}" --role=roles/iam.serviceAccountTokenCreator --format=none
}
# Both enqueue: the api the first task of a job and a cancel, the worker each next step.
# viewer: /health reads the queue. taskDeleter: only the worker deletes a cancelled job's task.
grant_runtime "$API_SA" roles/cloudtasks.enqueuer roles/cloudtasks.viewer
grant_runtime "$WORKER_SA" roles/cloudtasks.enqueuer roles/cloudtasks.viewer roles/cloudtasks.taskDeleter
# The worker sends the job-end push through the FCM HTTP v1 API (scope firebase.messaging), whose
# messages:send needs cloudmessaging.messages.create: FCM has no narrower predefined role than
# this one, and it can only be granted on the project. The api sends no push.
run gcloud projects add-iam-policy-binding "$PROJECT_ID" \
  --member="serviceAccount:${WORKER_SA}" --role=roles/firebasecloudmessaging.admin --condition=None --format=none

# --- the build ------------------------------------------------------------------------------------
# On projects created recently the default Cloud Build account is no longer an Editor (it is often
# the Compute Engine default account, with no role at all), so `gcloud builds submit` fails unless
# it may read the uploaded source, push the image and write its log. Exactly those, nothing more.
if [[ -z "$BUILD_SA" ]]; then
  if [[ "$DRY_RUN" == true ]]; then
    BUILD_SA="DEFAULT-BUILD-ACCOUNT"
  else
    # Answers projects/PROJECT/serviceAccounts/EMAIL.
    BUILD_SA="$(gcloud builds get-default-service-account --project="$PROJECT_ID" --format='value(serviceAccountEmail)')"
    BUILD_SA="${BUILD_SA##*/}"
    [[ -n "$BUILD_SA" ]] || die "could not read the default Cloud Build account: pass --build-sa=EMAIL"
  fi
fi
echo "Cloud Build runs as ${BUILD_SA}."

if exists gcloud artifacts repositories describe "$REPOSITORY" --location="$REGION" --project="$PROJECT_ID"; then
  echo "Image repository ${REPOSITORY} exists."
else
  run gcloud artifacts repositories create "$REPOSITORY" --location="$REGION" --repository-format=docker \
    --description="Avatar video jobs images" --project="$PROJECT_ID"
fi
run gcloud artifacts repositories add-iam-policy-binding "$REPOSITORY" --location="$REGION" --project="$PROJECT_ID" \
  --member="serviceAccount:${BUILD_SA}" --role=roles/artifactregistry.writer --format=none

if exists gcloud storage buckets describe "gs://${BUILD_SOURCE_BUCKET}" --project="$PROJECT_ID"; then
  echo "Build source bucket gs://${BUILD_SOURCE_BUCKET} exists."
else
  run gcloud storage buckets create "gs://${BUILD_SOURCE_BUCKET}" --location="$REGION" \
    --uniform-bucket-level-access --public-access-prevention --project="$PROJECT_ID"
fi
run gcloud storage buckets add-iam-policy-binding "gs://${BUILD_SOURCE_BUCKET}" --project="$PROJECT_ID" \
  --member="serviceAccount:${BUILD_SA}" --role=roles/storage.objectViewer --format=none
run gcloud projects add-iam-policy-binding "$PROJECT_ID" \
  --member="serviceAccount:${BUILD_SA}" --role=roles/logging.logWriter --condition=None --format=none

cat <<EOF
Done. infra/deploy.sh grants the rest once the resources exist: the tasks account run.invoker on
the worker service, the worker alone the VisionStory key secret, both accounts the webhook secret
and the bucket. Next:
  infra/deploy.sh ${PROJECT_ID} ${REGION} --queue=${QUEUE} --max-instances=${WORKER_MAX_INSTANCES} --worker-concurrency=${WORKER_CONCURRENCY}
EOF
