#!/usr/bin/env bash
# check-config.sh — fail fast, with one message naming every missing setting,
# before a Pulumi workflow spends minutes compiling the program and then dies
# with an opaque authentication error.
#
# Reads (all passed through env by the workflow, never interpolated):
#   ARM_CLIENT_ID, ARM_TENANT_ID, ARM_SUBSCRIPTION_ID  Azure identity (repository variables)
#   STATE_BACKEND_URL   vars.PULUMI_BACKEND_URL; empty means Pulumi Cloud
#   HAVE_PULUMI_TOKEN   "true" when secrets.PULUMI_ACCESS_TOKEN is set
#   AZURE_STORAGE_ACCOUNT  vars.AZURE_STORAGE_ACCOUNT (azblob backend)
#   STACK_NAME          the stack the job operates on
set -euo pipefail

problems=()

[[ -n "${ARM_CLIENT_ID:-}" ]] ||
  problems+=("repository variable AZURE_CLIENT_ID (or AZURE_PREVIEW_CLIENT_ID for previews) is not set")
[[ -n "${ARM_TENANT_ID:-}" ]] ||
  problems+=("repository variable AZURE_TENANT_ID is not set")
[[ -n "${ARM_SUBSCRIPTION_ID:-}" ]] ||
  problems+=("repository variable AZURE_SUBSCRIPTION_ID is not set")

backend="${STATE_BACKEND_URL:-}"
case "$backend" in
  "")
    [[ "${HAVE_PULUMI_TOKEN:-false}" == "true" ]] ||
      problems+=("PULUMI_BACKEND_URL is empty (Pulumi Cloud) but the secret PULUMI_ACCESS_TOKEN is not set")
    ;;
  azblob://*)
    if [[ -z "${AZURE_STORAGE_ACCOUNT:-}" && "$backend" != *storage_account=* ]]; then
      problems+=("PULUMI_BACKEND_URL is azblob:// but neither the variable AZURE_STORAGE_ACCOUNT nor ?storage_account= in the URL names the storage account")
    fi
    ;;
  *) ;;
esac

if ((${#problems[@]} > 0)); then
  for p in "${problems[@]}"; do
    echo "::error title=CI configuration::$p"
  done
  echo "See docs/ci-cd.md (README section \"CI/CD\") for the one-time setup." >&2
  exit 1
fi

shown="${backend%%\?*}" # the query string may carry settings; the path is enough
echo "Stack: ${STACK_NAME:-<unset>}; state backend: ${shown:-Pulumi Cloud}"
