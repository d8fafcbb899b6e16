{{/* Chart name, truncated to the 63 characters a DNS label allows. */}}
{{- define "numbat.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name; component suffixes ("-authorization") are appended by callers. */}}
{{- define "numbat.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "numbat.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels common to every object. */}}
{{- define "numbat.labels" -}}
helm.sh/chart: {{ include "numbat.chart" . }}
app.kubernetes.io/name: {{ include "numbat.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: numbat
{{- end }}

{{/* Selector labels of one component: call with (dict "root" $ "component" "authorization"). */}}
{{- define "numbat.selectorLabels" -}}
app.kubernetes.io/name: {{ include "numbat.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "numbat.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/* Name of the Secret holding numbat-pairwise and numbat-admin-token. */}}
{{- define "numbat.secretName" -}}
{{- if .Values.secrets.existingSecret }}
{{- .Values.secrets.existingSecret }}
{{- else }}
{{- printf "%s-secrets" (include "numbat.fullname" .) }}
{{- end }}
{{- end }}

{{/*
"true" when store.tls is on (store.tls.secretName set), "" when off; fails rendering on an
inconsistent store.tls. The Secret is mounted at /run/secrets/numbat-store-tls/ (deployment.yaml)
with its keys renamed to ca.crt, tls.crt and tls.key (numbat.storeTlsToml).
*/}}
{{- define "numbat.storeTlsEnabled" -}}
{{- $t := .Values.store.tls | default dict }}
{{- if $t.secretName }}
{{- if and $t.certKey (not $t.keyKey) }}
{{- fail "numbat: store.tls.certKey (client certificate) is set without store.tls.keyKey (its private key): set both (e.g. tls.crt and tls.key) or neither" }}
{{- end }}
{{- if and $t.keyKey (not $t.certKey) }}
{{- fail "numbat: store.tls.keyKey (client private key) is set without store.tls.certKey (its certificate): set both (e.g. tls.crt and tls.key) or neither" }}
{{- end }}
{{- if and (not $t.caKey) (not $t.certKey) }}
{{- fail "numbat: store.tls.secretName is set but names no file: set store.tls.caKey (CA bundle) and/or store.tls.certKey + store.tls.keyKey (client certificate)" }}
{{- end }}
{{- $urlSecret := "" }}
{{- with .Values.store.urlSecret }}{{ $urlSecret = .name }}{{ end }}
{{- if not $urlSecret }}
{{- $url := .Values.config.store.url | default "" }}
{{- if not (or (hasPrefix "rediss://" $url) (hasPrefix "rediss+cluster://" $url)) }}
{{- fail "numbat: store.tls needs a TLS store URL: config.store.url must start with rediss:// or rediss+cluster:// (numbat refuses TLS files with a plain redis:// URL)" }}
{{- end }}
{{- end }}
{{- "true" }}
{{- else if or $t.certKey $t.keyKey }}
{{- fail "numbat: store.tls.certKey/keyKey are set without store.tls.secretName (the Secret holding the client certificate and key)" }}
{{- end }}
{{- end }}

{{/* The [store] tls_*_file lines of every rendered numbat TOML; empty when store.tls is off. */}}
{{- define "numbat.storeTlsToml" -}}
{{- if include "numbat.storeTlsEnabled" . }}
{{- $t := .Values.store.tls }}
# store.tls: Secret {{ $t.secretName }}, mounted at /run/secrets/numbat-store-tls/.
{{- if $t.caKey }}
tls_ca_file = "/run/secrets/numbat-store-tls/ca.crt"
{{- end }}
{{- if $t.certKey }}
tls_cert_file = "/run/secrets/numbat-store-tls/tls.crt"
tls_key_file = "/run/secrets/numbat-store-tls/tls.key"
{{- end }}
{{- end }}
{{- end }}
