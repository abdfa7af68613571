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
{{- with .Values.secret.databaseServerURL }}
SILO_DATABASE_SERVER_URL: {{ . | b64enc | quote }}
{{- end }}
{{- end }}

{{/*
silo.env is the environment of every silo container. It takes a dict with "root" and "secretName".
The settings without credentials are plain values rather than a ConfigMap: a pre-install hook runs before
any ConfigMap of the chart exists, and a changed value changes the pod template, which rolls the pods.
*/}}
{{- define "silo.env" -}}
- name: SILO_CATALOG_URL
  valueFrom:
    secretKeyRef:
      name: {{ .secretName }}
      key: SILO_CATALOG_URL
- name: SILO_ENCRYPTION_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .secretName }}
      key: SILO_ENCRYPTION_KEY
- name: SILO_DATABASE_SERVER_URL
  valueFrom:
    secretKeyRef:
      name: {{ .secretName }}
      key: SILO_DATABASE_SERVER_URL
      optional: true
- name: SILO_HTTP_ADDR
  value: {{ printf "0.0.0.0:%s" (include "silo.containerPort" .root) | quote }}
- name: SILO_MIGRATE_ON_START
  value: "false"
- name: SILO_DELETE_GRACE_PERIOD
  value: {{ .root.Values.config.deleteGracePeriod | quote }}
- name: SILO_PROVISION_TIMEOUT
  value: {{ .root.Values.config.provisionTimeout | quote }}
- name: SILO_TENANT_CONNECTION_LIMIT
  value: {{ .root.Values.config.tenantConnectionLimit | int | quote }}
- name: SILO_LOG_LEVEL
  value: {{ .root.Values.config.logLevel | quote }}
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
