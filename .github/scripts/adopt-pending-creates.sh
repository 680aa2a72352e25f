#!/usr/bin/env bash
# adopt-pending-creates.sh — repair a stack whose update was killed mid-create
# (a CI runner lost, Ctrl-C twice), without leaving a twin in Azure.
#
#   adopt-pending-creates.sh STATE.json                  list the pending creates
#   adopt-pending-creates.sh STATE.json OUT.json [URN ID]...
#
# STATE.json is `pulumi stack export`'s output. A killed update leaves each create
# that was in flight as a pending operation: Pulumi does not know whether Azure
# made the resource. Azure usually did (ARM had accepted the request), and a plain
# `pulumi up` would then create a second one under a new random name. For every
# URN given with the resource's ARM ID, OUT.json holds the resource as created
# (Azure has it); every other pending create is dropped (Azure does not have it).
# Then `pulumi stack import --file OUT.json`, `pulumi refresh` reads the adopted
# resources' real state, and `pulumi up` finishes the update (README,
# "Troubleshooting"). `pulumi refresh --import-pending-creates` would be the tool
# for this, but Pulumi 3.274 drops the pending creates it marks instead of
# importing them (the rehearsal shows it), so the state is edited here.
set -euo pipefail

if [[ $# -eq 1 ]]; then
  # URN, type and the Azure name the create used: look each up with
  #   az resource list --name <name> --query '[].id' -o tsv
  jq -r '.deployment.pending_operations[]? | select(.type == "creating") | .resource |
    [.urn, .type, (.inputs.resourceName // .inputs.registryName // .inputs.roleAssignmentName // .inputs.resourceGroupName // "")] | @tsv' "$1"
  exit 0
fi
if [[ $# -lt 2 || $(( ($# - 2) % 2 )) -ne 0 ]]; then
  echo "usage: $0 STATE.json [OUT.json [URN ID]...]" >&2
  exit 2
fi
in=$1 out=$2
shift 2
ids='{}'
while [[ $# -gt 0 ]]; do
  ids=$(jq -c --arg urn "$1" --arg id "$2" '. + {($urn): $id}' <<<"$ids")
  shift 2
done

# A resource that was being created has no dependents in the state yet, so it can
# go at the end of the resource list, after everything it depends on.
jq --argjson ids "$ids" '
  ([.deployment.pending_operations[]? | select(.type == "creating") | .resource.urn]) as $pending
  | ($ids | keys - $pending) as $unknown
  | if ($unknown | length) > 0 then error("not a pending create: \($unknown | join(", "))") else . end
  | .deployment.resources += [.deployment.pending_operations[]?
      | select(.type == "creating" and $ids[.resource.urn] != null)
      | .resource + {id: $ids[.resource.urn]}]
  | .deployment.pending_operations = [.deployment.pending_operations[]? | select(.type != "creating")]
' "$in" >"$out"
