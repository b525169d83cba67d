{{/* The chart's name, or nameOverride. */}}
{{- define "gpool.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-qualified name; the release name alone when it already contains the chart's. */}}
{{- define "gpool.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* The coordinator's Deployment and Service; workers and clients dial this name. The suffix
     is kept whole, so a long release name is cut before it. */}}
{{- define "gpool.coordinatorName" -}}
{{- printf "%s-coordinator" (include "gpool.fullname" . | trunc 51 | trimSuffix "-") }}
{{- end }}

{{- define "gpool.workerName" -}}
{{- printf "%s-worker" (include "gpool.fullname" . | trunc 56 | trimSuffix "-") }}
{{- end }}

{{- define "gpool.workerMetricsName" -}}
{{- printf "%s-worker-metrics" (include "gpool.fullname" . | trunc 48 | trimSuffix "-") }}
{{- end }}

{{- define "gpool.secretName" -}}
{{- default (printf "%s-credentials" (include "gpool.fullname" .)) .Values.tls.secretName }}
{{- end }}

{{- define "gpool.image" -}}
{{- printf "%s:%s" .Values.image.repository (toString (default .Chart.AppVersion .Values.image.tag)) }}
{{- end }}

{{- define "gpool.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: gpool
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
{{- end }}

{{/* Selector labels of one component ("coordinator" or "worker"): never change them in an
     upgrade, a Deployment's selector is immutable. */}}
{{- define "gpool.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gpool.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* The pod's security settings: the image's non-root user (uid 10001), nothing else. */}}
{{- define "gpool.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "gpool.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
{{- end }}

{{/* Refuses plain text unless acknowledged (values.yaml, insecureAcknowledged). */}}
{{- define "gpool.checkTls" -}}
{{- if and (not .Values.tls.enabled) (not .Values.insecureAcknowledged) }}
{{- fail "tls.enabled=false serves plain text to the whole cluster network (anyone who reaches a pod can submit jobs and forge results); set insecureAcknowledged=true to do it anyway" }}
{{- end }}
{{- if and .Values.metrics.serviceMonitor.enabled (not .Values.metrics.enabled) }}
{{- fail "metrics.serviceMonitor.enabled needs metrics.enabled" }}
{{- end }}
{{- if and .Values.autoscaling.enabled .Values.autoscaling.busySlots.enabled (not .Values.metrics.enabled) }}
{{- fail "autoscaling.busySlots.enabled needs metrics.enabled (the adapter reads the workers' metrics)" }}
{{- end }}
{{- if and .Values.autoscaling.enabled (not .Values.autoscaling.busySlots.enabled) (not .Values.autoscaling.targetCPUUtilizationPercentage) }}
{{- fail "autoscaling.enabled needs autoscaling.busySlots.enabled or autoscaling.targetCPUUtilizationPercentage" }}
{{- end }}
{{- end }}

{{/* The exec probe: `gpool health` against the daemon in this container, over loopback.
     With TLS it presents the pod's own role certificate, mounted a second time as the
     client.crt/client.key that `gpool health --credentials` reads (health answers every role
     of the cluster). args: root, port, component, serving ("any": SERVING or NOT_SERVING). */}}
{{- define "gpool.healthCommand" -}}
{{- $cmd := printf "gpool health --connect_timeout=%ds" (max 1 (sub (int .probes.timeoutSeconds) 1)) }}
{{- if .root.Values.tls.enabled }}
{{- $cmd = printf "%s --credentials=/etc/gpool/probe" $cmd }}
{{- end }}
{{- $cmd = printf "%s 127.0.0.1:%d" $cmd (int .port) }}
{{- if eq .serving "any" }}
command: ["sh", "-c", {{ printf "%s | grep -q SERVING" $cmd | quote }}]
{{- else }}
command: {{ splitList " " $cmd | toJson }}
{{- end }}
{{- end }}

{{/* The Secret's files for one role: the daemon's own directory, and the probe's. */}}
{{- define "gpool.credentialVolumes" -}}
- name: credentials
  secret:
    secretName: {{ include "gpool.secretName" .root }}
    # 0440: readable by the pod's group (fsGroup 10001). In decimal: YAML 1.1 reads 0440 as
    # octal, YAML 1.2 as decimal.
    defaultMode: 288
    items:
      - {key: ca.crt, path: ca.crt}
      - {key: {{ .role }}.crt, path: {{ .role }}.crt}
      - {key: {{ .role }}.key, path: {{ .role }}.key}
- name: probe-credentials
  secret:
    secretName: {{ include "gpool.secretName" .root }}
    # 0440: readable by the pod's group (fsGroup 10001). In decimal: YAML 1.1 reads 0440 as
    # octal, YAML 1.2 as decimal.
    defaultMode: 288
    items:
      - {key: ca.crt, path: ca.crt}
      - {key: {{ .role }}.crt, path: client.crt}
      - {key: {{ .role }}.key, path: client.key}
{{- end }}
