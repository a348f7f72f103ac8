# shellcheck shell=bash
# Helpers shared by setup-cloud-tasks.sh, infra/deploy.sh and infra/teardown.sh. The script that
# sources this sets USAGE and DRY_RUN first, and PROJECT_ID before it calls gc or `run gc`.

die_usage() {
  [[ $# -gt 0 ]] && echo "error: $*" >&2
  echo "$USAGE" >&2
  exit 2
}

die() {
  echo "error: $*" >&2
  exit 1
}

# gcloud in this project.
gc() { gcloud "$@" --project="$PROJECT_ID"; }

# Prints a command (`run gc ...`: gcloud in this project), then runs it unless this is a dry run.
run() {
  if [[ "$1" == gc ]]; then
    shift
    set -- gcloud "$@" --project="$PROJECT_ID"
  fi
  printf '+'
  printf ' %q' "$@"
  printf '\n'
  if [[ "$DRY_RUN" == false ]]; then "$@"; fi
}

# True when the resource a read-only describe command names exists. A dry run makes no gcloud
# calls at all (it may run where nobody is logged in): it answers DRY_RUN_EXISTS, "false" unless
# the script says otherwise, so that it shows what a first run would do.
exists() {
  if [[ "$DRY_RUN" == true ]]; then
    [[ "${DRY_RUN_EXISTS:-false}" == true ]]
    return
  fi
  "$@" >/dev/null 2>&1
}

# The value a read-only describe command prints, or "" when the resource is missing (or in a
# dry run).
read_value() {
  [[ "$DRY_RUN" == false ]] || return 0
  "$@" 2>/dev/null || true
}
