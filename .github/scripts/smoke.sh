#!/usr/bin/env bash
# smoke.sh — post-deploy smoke check of the guestbook behind the stack's
# exported guestbookUrl:
#   1. GET  /healthz      until 200 "ok" (bounded retries: a new LoadBalancer IP
#                         and fresh pods can take a minute or two)
#   2. POST /entries      a uniquely tagged entry, expect 201 echoing it
#   3. GET  /api/entries  expect 200 and the tagged entry in the list
# On failure it names the step and prints the last HTTP status and body.
#
# Environment (passed by deploy.yml through env:, never interpolated):
#   GUESTBOOK_URL   http://<ip> from `pulumi stack output guestbookUrl`;
#                   empty (ClusterIP stacks) means skip with a notice
#   SMOKE_TAG       unique marker for the entry, e.g. the workflow run id
#   SMOKE_ATTEMPTS  health-check attempts (default 30)
#   SMOKE_DELAY     seconds between attempts (default 10)
#
# Locally: GUESTBOOK_URL=$(pulumi stack output guestbookUrl) .github/scripts/smoke.sh
set -euo pipefail

readonly MAX_TIME=10 # seconds per request, connect included
readonly CONNECT_TIMEOUT=5

base="${GUESTBOOK_URL:-}"
tag="${SMOKE_TAG:-local-$(date +%s)-$$}"
attempts="${SMOKE_ATTEMPTS:-30}"
delay="${SMOKE_DELAY:-10}"

# notice/error print GitHub workflow annotations (plain lines elsewhere). The
# message is escaped so server-controlled text cannot start a new line and
# thereby a workflow command of its own.
escape() {
  local s="$1"
  s="${s//'%'/%25}"
  s="${s//$'\r'/%0D}"
  s="${s//$'\n'/%0A}"
  printf '%s' "$s"
}
notice() { echo "::notice title=Smoke check::$(escape "$1")"; }

status="" # last HTTP status ("000" when no response at all)
body=""   # last response body

# request METHOD PATH [JSON] — sets status and body; never exits on failure.
request() {
  local method="$1" path="$2" data="${3:-}" out
  out="$(mktemp)"
  local args=(--silent --show-error --max-time "$MAX_TIME" --connect-timeout "$CONNECT_TIMEOUT"
    --request "$method" --output "$out" --write-out '%{http_code}')
  if [[ -n "$data" ]]; then
    args+=(--header 'Content-Type: application/json' --data "$data")
  fi
  status="$(curl "${args[@]}" "$base$path" 2>"$out.err")" || status="${status:-000}"
  body="$(head -c 2000 "$out")"
  if [[ "$status" == "000" ]]; then
    body="$(head -c 500 "$out.err")"
  fi
  rm -f "$out" "$out.err"
}

fail() {
  local step="$1" why="$2"
  # (No ':' or ',' in the title: those would need escaping as properties.)
  echo "::error title=Smoke check failed in $step::$(escape "$step: $why; last HTTP status ${status:-none}; body: ${body:0:500}")"
  # Body lines are prefixed so none of them can be read as a workflow command.
  echo "--- last response (status ${status:-none}) ---"
  printf '%s\n' "$body" | sed 's/^/| /'
  exit 1
}

if [[ ! "$attempts" =~ ^[1-9][0-9]*$ || ! "$delay" =~ ^[0-9]+$ ]]; then
  echo "SMOKE_ATTEMPTS must be a positive integer and SMOKE_DELAY a non-negative one" >&2
  exit 2
fi
if [[ -z "$base" ]]; then
  notice "guestbookUrl is empty (Service is not a LoadBalancer); skipping the smoke check."
  exit 0
fi
if [[ ! "$base" =~ ^https?://[^[:space:]/]+/?$ ]]; then
  fail "input" "guestbookUrl '$base' is not of the form http(s)://host"
fi
base="${base%/}"
echo "Smoke-checking $base (tag $tag)"

# 1. Health, with bounded retries.
healthy=false
for ((i = 1; i <= attempts; i++)); do
  request GET /healthz
  if [[ "$status" == "200" && "$(printf '%s' "$body" | tr -d '[:space:]')" == "ok" ]]; then
    healthy=true
    echo "healthz: 200 ok (attempt $i/$attempts)"
    break
  fi
  echo "healthz: attempt $i/$attempts got status $status"
  if ((i < attempts)); then sleep "$delay"; fi
done
$healthy || fail "GET /healthz" "not healthy after $attempts attempts ${delay}s apart"

# 2. Write a uniquely tagged entry (jq builds the JSON, so the tag needs no
# quoting care). A few retries cover a pod restarting behind the LB; a repeat
# only adds a duplicate entry with the same tag, which step 3 tolerates.
name="ci-smoke"
message="smoke $tag"
payload="$(jq -cn --arg name "$name" --arg message "$message" '{name: $name, message: $message}')"
for ((i = 1; i <= 3; i++)); do
  request POST /entries "$payload"
  if [[ "$status" == "201" ]]; then break; fi
  echo "POST /entries: attempt $i/3 got status $status"
  if ((i < 3)); then sleep 5; fi
done
[[ "$status" == "201" ]] || fail "POST /entries" "expected 201"
printf '%s' "$body" | jq -e --arg m "$message" '.message == $m' >/dev/null 2>&1 ||
  fail "POST /entries" "201 but the response does not echo the entry's message"
echo "POST /entries: 201"

# 3. Read it back: newest first, at most 100, so a fresh entry must be there.
found=false
for ((i = 1; i <= 3; i++)); do
  request GET /api/entries
  if [[ "$status" == "200" ]] &&
    printf '%s' "$body" | jq -e --arg m "$message" 'any(.entries[]?; .message == $m)' >/dev/null 2>&1; then
    found=true
    break
  fi
  echo "GET /api/entries: attempt $i/3 got status $status without the entry"
  if ((i < 3)); then sleep 3; fi
done
$found || fail "GET /api/entries" "the entry posted in step 2 ('$message') is not in the list"
echo "GET /api/entries: 200, entry found"

notice "guestbook at $base is healthy and round-trips an entry (tag $tag)."
