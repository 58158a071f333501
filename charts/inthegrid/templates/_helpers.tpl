{{/*
Names and labels shared by every template. Other templates (operator-rbac.yaml included) rely on:
  inthegrid.fullname, inthegrid.labels, inthegrid.selectorLabels,
  inthegrid.operator.serviceAccountName, inthegrid.image
*/}}

{{- define "inthegrid.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "inthegrid.fullname" -}}
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

{{- define "inthegrid.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every resource. */}}
{{- define "inthegrid.labels" -}}
helm.sh/chart: {{ include "inthegrid.chart" . }}
{{ include "inthegrid.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: inthegrid
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "inthegrid.selectorLabels" -}}
app.kubernetes.io/name: {{ include "inthegrid.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of one component: call with (dict "ctx" $ "component" "gateway"). */}}
{{- define "inthegrid.componentLabels" -}}
{{ include "inthegrid.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "inthegrid.componentSelectorLabels" -}}
{{ include "inthegrid.selectorLabels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* The one image of every InTheGrid component. */}}
{{- define "inthegrid.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* Must match templates/operator-rbac.yaml, which creates this ServiceAccount. */}}
{{- define "inthegrid.operator.serviceAccountName" -}}
{{- .Values.operator.serviceAccountName | default (printf "%s-operator" (include "inthegrid.fullname" .) | trunc 63 | trimSuffix "-") }}
{{- end }}

{{/* NATS: the bundled StatefulSet unless nats.external.url is set. */}}
{{- define "inthegrid.nats.bundled" -}}
{{- if not .Values.nats.external.url }}true{{ end }}
{{- end }}

{{/* What services connect to: the external URL, the one bundled server's Service, or every member of
the bundled cluster by its stable name (comma-separated, as INTHEGRID_NATS_URL takes it), so a client
knows them all from the start and fails over to a survivor without asking a Service to pick one. */}}
{{- define "inthegrid.nats.url" -}}
{{- $fullname := include "inthegrid.fullname" . }}
{{- if .Values.nats.external.url }}
{{- .Values.nats.external.url }}
{{- else if gt (int .Values.nats.replicas) 1 }}
{{- $urls := list }}
{{- range $i := until (int .Values.nats.replicas) }}
{{- $urls = append $urls (printf "nats://%s-nats-%d.%s-nats-headless:4222" $fullname $i $fullname) }}
{{- end }}
{{- join "," $urls }}
{{- else }}
{{- printf "nats://%s-nats:4222" $fullname }}
{{- end }}
{{- end }}

{{/* JetStream replicas of the streams: the cluster size, at most 3 (bundled), else the value given. */}}
{{- define "inthegrid.nats.streamReplicas" -}}
{{- if .Values.nats.external.url }}
{{- .Values.nats.external.streamReplicas }}
{{- else }}
{{- min 3 .Values.nats.replicas }}
{{- end }}
{{- end }}

{{/* Database: the bundled TimescaleDB unless database.external.existingSecret is set. */}}
{{- define "inthegrid.database.bundled" -}}
{{- if not .Values.database.external.existingSecret }}true{{ end }}
{{- end }}

{{/* Secret (and key) holding the database URL the recorder and the gateway read. */}}
{{- define "inthegrid.database.secretName" -}}
{{- if .Values.database.external.existingSecret }}
{{- .Values.database.external.existingSecret }}
{{- else if .Values.database.bundled.existingSecret }}
{{- .Values.database.bundled.existingSecret }}
{{- else }}
{{- printf "%s-database" (include "inthegrid.fullname" .) }}
{{- end }}
{{- end }}

{{- define "inthegrid.database.secretKey" -}}
{{- if .Values.database.external.existingSecret }}
{{- .Values.database.external.key }}
{{- else -}}
url
{{- end }}
{{- end }}

{{- define "inthegrid.database.host" -}}
{{- printf "%s-timescaledb" (include "inthegrid.fullname" .) }}
{{- end }}

{{/* Secret holding the ENTSO-E token ("" when there is none). */}}
{{- define "inthegrid.entsoe.secretName" -}}
{{- .Values.entsoe.existingSecret | default (printf "%s-entsoe" (include "inthegrid.fullname" .)) }}
{{- end }}

{{/* Secret whose key `apiKeys` holds the gateway's API keys: the user's, else the generated one. */}}
{{- define "inthegrid.gateway.apiKeysSecretName" -}}
{{- if .Values.gateway.apiKeysSecret }}
{{- .Values.gateway.apiKeysSecret }}
{{- else }}
{{- printf "%s-api-keys" (include "inthegrid.fullname" .) }}
{{- end }}
{{- end }}

{{/* Environment every InTheGrid process shares. */}}
{{- define "inthegrid.commonEnv" -}}
- name: INTHEGRID_NATS_URL
  value: {{ include "inthegrid.nats.url" . | quote }}
- name: INTHEGRID_STREAM_REPLICAS
  value: {{ include "inthegrid.nats.streamReplicas" . | quote }}
- name: INTHEGRID_LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
- name: INTHEGRID_LOG_FORMAT
  value: json
- name: INTHEGRID_METRICS_PORT
  value: {{ .Values.metricsPort | quote }}
{{- /* A read-only root filesystem: everything that writes goes to the /tmp emptyDir. */}}
- name: HOME
  value: /tmp
- name: TMPDIR
  value: /tmp
{{- end }}

{{/* Pod and container security of every InTheGrid container (restricted Pod Security Standard). */}}
{{- define "inthegrid.podSecurityContext" -}}
{{ toYaml .Values.podSecurityContext }}
{{- end }}

{{- define "inthegrid.containerSecurityContext" -}}
{{ toYaml .Values.containerSecurityContext }}
{{- end }}

{{/* Scheduling fields of a component: call with (dict "ctx" $ "values" .Values.gateway). */}}
{{- define "inthegrid.scheduling" -}}
{{- with (default .ctx.Values.nodeSelector .values.nodeSelector) }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with (default .ctx.Values.tolerations .values.tolerations) }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .ctx.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* JetStream file storage per server in MiB (the schema allows Mi, Gi and Ti). */}}
{{- define "inthegrid.nats.storageMiB" -}}
{{- $size := toString .Values.nats.jetstream.storageSize }}
{{- $number := regexReplaceAll "[A-Za-z]+$" $size "" | atoi }}
{{- if hasSuffix "Ti" $size }}{{ mul $number 1048576 }}
{{- else if hasSuffix "Gi" $size }}{{ mul $number 1024 }}
{{- else }}{{ $number }}{{ end }}
{{- end }}

{{/* The services' streams reserve their byte limits in JetStream's file store when they are created
(PRICES 1 GiB, OPPORTUNITIES 512 MiB, DEADLETTER 128 MiB, CAPACITIES 64 MiB: 1,728 MiB, the defaults of
INTHEGRID_*_STREAM_MAX_BYTES), and JetStream refuses a stream that does not fit ("insufficient storage
resources available"), which the services could only retry. A smaller volume is refused here instead. */}}
{{- define "inthegrid.nats.checkStorage" -}}
{{- if lt (include "inthegrid.nats.storageMiB" . | atoi) 2048 }}
{{- fail (printf "nats.jetstream.storageSize %s is too small: the services' streams keep up to 1,728 MiB (prices 1 GiB, opportunities 512 MiB, dead letters 128 MiB, capacities 64 MiB) and JetStream refuses streams that do not fit; give it at least 2Gi" (toString .Values.nats.jetstream.storageSize)) }}
{{- end }}
{{- end }}

{{/* nats.conf of the bundled NATS servers. */}}
{{- define "inthegrid.nats.config" -}}
{{- $fullname := include "inthegrid.fullname" . }}
{{- $replicas := int .Values.nats.replicas }}
server_name: $POD_NAME
pid_file: /var/run/nats/nats.pid
port: 4222
http_port: 8222
max_payload: 1MB
{{- /* nats-server refuses less than 30s ("invalid lame_duck_duration", seen on kind); the pod's
terminationGracePeriodSeconds leaves room for it. */}}
lame_duck_duration: 30s
{{- /* Per-service users with least permissions on the data subjects: a feed publishes prices (and
their dead letters) only, a calculator opportunity events only, the recorder and the gateway no data
at all. Every service also needs the JetStream API (it creates its streams and consumers) and its
inbox. Passwords come from the generated Secret <release>-nats-users through the environment. */}}
authorization {
  users: [
    {{- range $user := list "feed" "calculator" "recorder" "gateway" }}
    {user: {{ $user }}, password: ${{ upper $user }}_PASSWORD, permissions: {{ include "inthegrid.nats.permissions" $user }}}
    {{- end }}
  ]
}
jetstream {
  store_dir: /data
  max_memory_store: {{ .Values.nats.jetstream.maxMemory | replace "Mi" "M" | replace "Gi" "G" }}
  max_file_store: {{ .Values.nats.jetstream.storageSize | replace "Mi" "M" | replace "Gi" "G" | replace "Ti" "T" }}
}
{{- if gt $replicas 1 }}
cluster {
  name: {{ $fullname }}
  port: 6222
  routes: [
    {{- range $i := until $replicas }}
    nats://{{ $fullname }}-nats-{{ $i }}.{{ $fullname }}-nats-headless:6222
    {{- end }}
  ]
  connect_retries: 120
}
{{- end }}
{{- end }}

{{/* Environment of the bundled TimescaleDB containers: (dict "ctx" $ "secret" NAME "primary" HOST). */}}
{{- define "inthegrid.timescaledb.env" -}}
- name: POD_NAME
  valueFrom: {fieldRef: {fieldPath: metadata.name}}
- name: PRIMARY_HOST
  value: {{ .primary }}
- name: POSTGRES_USER
  value: {{ .ctx.Values.database.bundled.user | quote }}
- name: POSTGRES_DB
  value: {{ .ctx.Values.database.bundled.database | quote }}
- name: POSTGRES_PASSWORD
  valueFrom: {secretKeyRef: {name: {{ .secret }}, key: password}}
- name: REPLICATION_PASSWORD
  valueFrom: {secretKeyRef: {name: {{ .secret }}, key: replication-password}}
- name: PGDATA
  value: /home/postgres/pgdata/data
- name: HOME
  value: /tmp
{{- end }}

{{- define "inthegrid.timescaledb.mounts" -}}
- {name: data, mountPath: /home/postgres/pgdata}
- {name: scripts, mountPath: /docker-entrypoint-initdb.d/10-replication.sh, subPath: 10-replication.sh}
- {name: scripts, mountPath: /scripts}
- {name: run, mountPath: /var/run/postgresql}
- {name: tmp, mountPath: /tmp}
- {name: shm, mountPath: /dev/shm}
{{- end }}


{{/* NATS permissions of one service user (see inthegrid.nats.config). */}}
{{- define "inthegrid.nats.permissions" -}}
{{- $publish := dict
  "feed" (list "inthegrid.prices.>" "inthegrid.deadletter.prices.>" "$KV.INTHEGRID_FEEDS.>")
  "calculator" (list "inthegrid.opportunities.>" "inthegrid.deadletter.prices.>" "$KV.INTHEGRID_RULES.>" "$JS.ACK.PRICES.>")
  "recorder" (list "inthegrid.deadletter.prices.>" "inthegrid.deadletter.opportunities.>" "$JS.ACK.PRICES.>" "$JS.ACK.OPPORTUNITIES.>")
  "gateway" (list "$JS.FC.>")
-}}
{{- $allow := concat (list "$JS.API.>") (get $publish .) -}}
{{- /* The JetStream API minus everything that destroys stored data or moves the cluster: no service
deletes or purges a stream, deletes a message or a consumer, snapshots, restores, or steps a leader down,
so a compromised pod can at worst add data its user may publish, never erase history. Updating a stream
can erase too (a smaller limit drops messages): only the recorder, the streams' owner, may; the others
leave a stream whose configuration differs as it is (platform/bus.py ensure_streams). */ -}}
{{- $deny := list "$JS.API.STREAM.DELETE.>" "$JS.API.STREAM.PURGE.>" "$JS.API.STREAM.MSG.DELETE.>" "$JS.API.STREAM.SNAPSHOT.>" "$JS.API.STREAM.RESTORE.>" "$JS.API.STREAM.PEER.>" "$JS.API.STREAM.LEADER.>" "$JS.API.CONSUMER.DELETE.>" "$JS.API.CONSUMER.LEADER.>" "$JS.API.META.>" "$JS.API.SERVER.>" "$JS.API.ACCOUNT.>" -}}
{{- if ne . "recorder" }}{{ $deny = append $deny "$JS.API.STREAM.UPDATE.>" }}{{ end -}}
{{- /* A calculator deletes its own rule's durables of an old shard layout (calculator/shard_consumers.py):
it may delete consumers of PRICES, but not the recorder's ("recorder-prices"), nor any of another stream.
Deny wins over allow in NATS and a consumer name is one subject token, so the other streams are denied by
name: those of platform/bus.py and the KV buckets. */ -}}
{{- if eq . "calculator" }}
{{- $deny = without $deny "$JS.API.CONSUMER.DELETE.>" }}
{{- range $stream := list "OPPORTUNITIES" "DEADLETTER" "CAPACITIES" "KV_INTHEGRID_RULES" "KV_INTHEGRID_FEEDS" }}
{{- $deny = append $deny (printf "$JS.API.CONSUMER.DELETE.%s.>" $stream) }}
{{- end }}
{{- $deny = append $deny "$JS.API.CONSUMER.DELETE.PRICES.recorder-prices" }}
{{- end -}}
{publish: {allow: [{{ range $i, $subject := $allow }}{{ if $i }}, {{ end }}"{{ $subject }}"{{ end }}], deny: [{{ range $i, $subject := $deny }}{{ if $i }}, {{ end }}"{{ $subject }}"{{ end }}]}, subscribe: {allow: ["_INBOX.>"]}}
{{- end }}

{{/* The Secret with the NATS users' passwords (generated once, kept across upgrades). */}}
{{- define "inthegrid.nats.usersSecretName" -}}
{{- .Values.nats.usersSecret | default (printf "%s-nats-users" (include "inthegrid.fullname" .)) }}
{{- end }}

{{/* NATS credentials of one service, from that Secret: (dict "ctx" $ "user" NAME); none for an external NATS. */}}
{{- define "inthegrid.nats.credentialsEnv" -}}
{{- if include "inthegrid.nats.bundled" .ctx }}
- name: INTHEGRID_NATS_USER
  value: {{ .user }}
- name: INTHEGRID_NATS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "inthegrid.nats.usersSecretName" .ctx }}
      key: {{ .user }}-password
{{- end }}
{{- end }}

{{/* Who may scrape the metrics ports: networkPolicy.metricsFrom, and the bundled Prometheus when it
runs (an empty metricsFrom already lets anyone in). */}}
{{- define "inthegrid.metricsFrom" -}}
{{- $from := .Values.networkPolicy.metricsFrom }}
{{- if and $from .Values.monitoring.prometheus.bundled.enabled }}
{{- $labels := include "inthegrid.componentSelectorLabels" (dict "ctx" . "component" "prometheus") | fromYaml }}
{{- $from = append $from (dict "podSelector" (dict "matchLabels" $labels)) }}
{{- end }}
{{- toYaml $from }}
{{- end }}

{{/* The bundled Prometheus' configuration: what the ServiceMonitor and PodMonitor (monitoring.yaml)
select, with the same job names (inthegrid-<component>, which the InTheGridComponentDown alert
matches) and honor_labels (the metrics' own `service` label stays). */}}
{{- define "inthegrid.prometheus.config" -}}
{{- $interval := .Values.monitoring.prometheus.bundled.scrapeInterval -}}
global:
  scrape_interval: {{ $interval }}
  evaluation_interval: {{ $interval }}
rule_files: [/etc/prometheus/inthegrid.rules.yml]
scrape_configs:
  # The operator, recorder and gateway: their Services labelled inthegrid.io/metrics, ports metrics or http.
  - job_name: inthegrid-services
    honor_labels: true
    kubernetes_sd_configs:
      - role: endpoints
        namespaces: {names: [{{ .Release.Namespace }}]}
    relabel_configs:
      - {source_labels: [__meta_kubernetes_service_label_inthegrid_io_metrics], regex: "true", action: keep}
      - {source_labels: [__meta_kubernetes_service_label_app_kubernetes_io_instance], regex: {{ .Release.Name | quote }}, action: keep}
      - {source_labels: [__meta_kubernetes_endpoint_port_name], regex: metrics|http, action: keep}
      - {source_labels: [__meta_kubernetes_service_label_app_kubernetes_io_component], target_label: job, replacement: inthegrid-$1}
      - {source_labels: [__meta_kubernetes_namespace], target_label: namespace}
      - {source_labels: [__meta_kubernetes_pod_name], target_label: pod}
  # Feeds and calculators: the operator's pods, port metrics.
  - job_name: inthegrid-workloads
    honor_labels: true
    kubernetes_sd_configs:
      - role: pod
        namespaces: {names: [{{ .Release.Namespace }}]}
    relabel_configs:
      - {source_labels: [__meta_kubernetes_pod_label_app_kubernetes_io_part_of], regex: inthegrid, action: keep}
      - {source_labels: [__meta_kubernetes_pod_label_app_kubernetes_io_component], regex: feed|calculator, action: keep}
      - {source_labels: [__meta_kubernetes_pod_container_port_name], regex: metrics, action: keep}
      - {source_labels: [__meta_kubernetes_pod_phase], regex: Pending|Succeeded|Failed, action: drop}
      - {source_labels: [__meta_kubernetes_pod_label_app_kubernetes_io_component], target_label: job, replacement: inthegrid-$1}
      - {source_labels: [__meta_kubernetes_namespace], target_label: namespace}
      - {source_labels: [__meta_kubernetes_pod_name], target_label: pod}
{{- end }}
