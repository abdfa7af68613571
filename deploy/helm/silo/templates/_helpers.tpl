{{/*
silo.name is the chart name, or nameOverride when set.
*/}}
{{- define "silo.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
silo.fullname is the prefix of every object name. Kubernetes limits Service names to 63 characters.
*/}}
{{- define "silo.fullname" -}}
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

{{/*
silo.componentName is the object name of one component, "<fullname>-<component>". It takes a dict with
"root" (the top-level context) and "component". It shortens the fullname rather than the suffix, so two
components never end up with the same name.
*/}}
{{- define "silo.componentName" -}}
{{- $maxPrefix := sub 62 (len .component) | int }}
{{- $prefix := include "silo.fullname" .root | trunc $maxPrefix | trimSuffix "-" }}
{{- printf "%s-%s" $prefix .component }}
{{- end }}

{{/*
silo.chart is the value of the helm.sh/chart label.
*/}}
{{- define "silo.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
silo.selectorLabels are the labels that select the pods of one release.
*/}}
{{- define "silo.selectorLabels" -}}
app.kubernetes.io/name: {{ include "silo.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
silo.labels are the labels of every object the chart creates.
*/}}
{{- define "silo.labels" -}}
helm.sh/chart: {{ include "silo.chart" . }}
{{ include "silo.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
silo.componentSelectorLabels select the pods of one component. It takes a dict with "root" and "component".
*/}}
{{- define "silo.componentSelectorLabels" -}}
{{ include "silo.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
silo.componentLabels are the labels of the objects of one component. It takes a dict with "root" and "component".
*/}}
{{- define "silo.componentLabels" -}}
{{ include "silo.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
silo.image is the container image reference. The tag defaults to the chart's appVersion.
*/}}
{{- define "silo.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/*
silo.containerPort is the port silo listens on inside every container.
*/}}
{{- define "silo.containerPort" -}}
8080
{{- end }}

{{/*
silo.secretName is the Secret that the Deployments read credentials from.
*/}}
{{- define "silo.secretName" -}}
{{- .Values.secret.existingSecret | default (include "silo.fullname" .) }}
{{- end }}

{{/*
silo.migrationSecretName is the Secret that the migration Job reads credentials from. Without existingSecret,
it is a hook Secret of its own, because Helm runs pre-install hooks before it creates the chart's Secret.
*/}}
{{- define "silo.migrationSecretName" -}}
{{- .Values.secret.existingSecret | default (include "silo.componentName" (dict "root" . "component" "migrate")) }}
{{- end }}

{{/*
silo.secretData is the data section of the chart-managed Secrets, with keys named after the environment
variables. The Deployments hash it into a pod annotation, so that changed credentials roll the pods.
*/}}
{{- define "silo.secretData" -}}
SILO_CATALOG_URL: {{ required "secret.catalogURL is required unless secret.existingSecret is set" .Values.secret.catalogURL | b64enc | quote }}
SILO_ENCRYPTION_KEY: {{ required "secret.encryptionKey is required unless secret.existingSecret is set" .Values.secret.encryptionKey | b64enc | quote }}
SILO_TOKEN_SIGNING_KEY: {{ required "secret.tokenSigningKey is required unless secret.existingSecret is set; generate one with: head -c 32 /dev/urandom | base64" .Values.secret.tokenSigningKey | b64enc | quote }}
SILO_SERVICE_TOKEN: {{ required "secret.serviceToken is required unless secret.existingSecret is set; generate one with: head -c 32 /dev/urandom | base64" .Values.secret.serviceToken | b64enc | quote }}
{{- with .Values.secret.databaseServerURL }}
SILO_DATABASE_SERVER_URL: {{ . | b64enc | quote }}
{{- end }}
{{- with .Values.secret.authHMACKey }}
SILO_AUTH_HMAC_KEY: {{ . | b64enc | quote }}
{{- end }}
{{- end }}

{{/*
silo.validateValues fails the render on combinations of values that values.schema.json cannot express.
It renders nothing.
*/}}
{{- define "silo.validateValues" -}}
{{- $config := .Values.config }}
{{- if not (or .Values.secret.existingSecret .Values.secret.authHMACKey $config.authJWKSURL) }}
{{- fail "set config.authJWKSURL (production) or secret.authHMACKey (development), so silo can verify user tokens" }}
{{- end }}
{{- if eq $config.tokenIssuer $config.authIssuer }}
{{- fail (printf "config.tokenIssuer (%q) must differ from config.authIssuer, so a user token cannot pass as a tenant-scoped token" $config.tokenIssuer) }}
{{- end }}
{{- $poolConnections := mul (int $config.poolCacheSize) (int $config.poolMaxConns) }}
{{- if lt (int $config.poolConnectionBudget) (int $poolConnections) }}
{{- fail (printf "config.poolConnectionBudget (%d) must be at least config.poolCacheSize (%d) times config.poolMaxConns (%d) = %d; raise the budget or lower one of them" (int $config.poolConnectionBudget) (int $config.poolCacheSize) (int $config.poolMaxConns) (int $poolConnections)) }}
{{- end }}
{{- end }}

{{/*
silo.secretEnv is one environment variable read from the key of the same name in a Secret. It takes a
dict with "name", "secretName" and, for keys the Secret may lack, "optional".
*/}}
{{- define "silo.secretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .secretName }}
      key: {{ .name }}
      {{- if .optional }}
      optional: true
      {{- end }}
{{- end }}

{{/*
silo.env is the environment of one silo container. It takes a dict with "root", "secretName" and
"component" (controlplane, dataplane or migrate). The data plane gets no catalog or database server
credentials: it resolves tenants through the control plane at SILO_CONTROL_PLANE_URL. It still gets
SILO_ENCRYPTION_KEY, because it decrypts tenant role passwords, and SILO_TOKEN_SIGNING_KEY, because it
verifies tenant-scoped tokens and silo rejects a start without it. The settings without credentials are
plain values rather than a ConfigMap: a pre-install hook runs before any ConfigMap of the chart exists,
and a changed value changes the pod template, which rolls the pods.
*/}}
{{- define "silo.env" -}}
{{- $config := .root.Values.config }}
{{- $dataplane := eq .component "dataplane" }}
{{- if not $dataplane }}
{{ include "silo.secretEnv" (dict "name" "SILO_CATALOG_URL" "secretName" .secretName) }}
{{ include "silo.secretEnv" (dict "name" "SILO_DATABASE_SERVER_URL" "secretName" .secretName "optional" true) }}
{{- end }}
{{ include "silo.secretEnv" (dict "name" "SILO_ENCRYPTION_KEY" "secretName" .secretName) }}
{{ include "silo.secretEnv" (dict "name" "SILO_TOKEN_SIGNING_KEY" "secretName" .secretName) }}
{{ include "silo.secretEnv" (dict "name" "SILO_SERVICE_TOKEN" "secretName" .secretName) }}
{{ include "silo.secretEnv" (dict "name" "SILO_AUTH_HMAC_KEY" "secretName" .secretName "optional" true) }}
- name: SILO_AUTH_ISSUER
  value: {{ $config.authIssuer | quote }}
- name: SILO_AUTH_AUDIENCE
  value: {{ $config.authAudience | quote }}
{{- with $config.authJWKSURL }}
- name: SILO_AUTH_JWKS_URL
  value: {{ . | quote }}
{{- end }}
- name: SILO_AUTH_ADMIN_CLAIM
  value: {{ $config.authAdminClaim | quote }}
- name: SILO_TOKEN_ISSUER
  value: {{ $config.tokenIssuer | quote }}
- name: SILO_TENANT_TOKEN_TTL
  value: {{ $config.tenantTokenTTL | quote }}
- name: SILO_MAX_REQUEST_BYTES
  value: {{ $config.maxRequestBytes | int64 | quote }}
- name: SILO_HTTP_ADDR
  value: {{ printf "0.0.0.0:%s" (include "silo.containerPort" .root) | quote }}
- name: SILO_MIGRATE_ON_START
  value: "false"
- name: SILO_LOG_LEVEL
  value: {{ $config.logLevel | quote }}
{{- if $dataplane }}
- name: SILO_CONTROL_PLANE_URL
  value: {{ printf "http://%s.%s.svc:%d" (include "silo.componentName" (dict "root" .root "component" "controlplane")) .root.Release.Namespace (.root.Values.service.port | int) | quote }}
- name: SILO_POOL_CACHE_SIZE
  value: {{ $config.poolCacheSize | int | quote }}
- name: SILO_POOL_MAX_CONNS
  value: {{ $config.poolMaxConns | int | quote }}
- name: SILO_POOL_CONNECTION_BUDGET
  value: {{ $config.poolConnectionBudget | int | quote }}
- name: SILO_POOL_IDLE_TTL
  value: {{ $config.poolIdleTTL | quote }}
- name: SILO_RESOLVE_STALE_TTL
  value: {{ $config.resolveStaleTTL | quote }}
{{- else }}
- name: SILO_DELETE_GRACE_PERIOD
  value: {{ $config.deleteGracePeriod | quote }}
- name: SILO_PROVISION_TIMEOUT
  value: {{ $config.provisionTimeout | quote }}
- name: SILO_TENANT_CONNECTION_LIMIT
  value: {{ $config.tenantConnectionLimit | int | quote }}
{{- end }}
{{- end }}

{{/*
silo.podScheduling is the scheduling part of every pod spec: node selector, tolerations and affinity.
*/}}
{{- define "silo.podScheduling" -}}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
