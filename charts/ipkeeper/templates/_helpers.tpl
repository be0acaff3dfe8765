{{/* Names. */}}

{{- define "ipkeeper.name" -}}
{{- default .Chart.Name .Values.global.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
fullname: the release name when it already contains the chart's name (the
usual `helm install ipkeeper …`), else release-name.
*/}}
{{- define "ipkeeper.fullname" -}}
{{- $name := include "ipkeeper.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "ipkeeper.agent.fullname" -}}
{{- printf "%s-agent" (include "ipkeeper.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "ipkeeper.controller.fullname" -}}
{{- printf "%s-controller" (include "ipkeeper.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The Service the API server calls the webhooks through. */}}
{{- define "ipkeeper.webhook.service" -}}
{{- include "ipkeeper.controller.fullname" . -}}
{{- end -}}

{{/* Secret of the webhook certificate, by tls.method. */}}
{{- define "ipkeeper.webhook.secret" -}}
{{- $tls := .Values.spiderpoolController.tls -}}
{{- if eq $tls.method "provided" -}}
{{- printf "%s-webhook-provided-certs" (include "ipkeeper.fullname" .) -}}
{{- else if eq $tls.method "certmanager" -}}
{{- printf "%s-webhook-certmanager-certs" (include "ipkeeper.fullname" .) -}}
{{- else -}}
{{- printf "%s-webhook-certs" (include "ipkeeper.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* DNS names the webhook certificate is valid for. */}}
{{- define "ipkeeper.webhook.hosts" -}}
{{- $svc := include "ipkeeper.webhook.service" . -}}
{{- list $svc (printf "%s.%s" $svc .Release.Namespace) (printf "%s.%s.svc" $svc .Release.Namespace) | join "," -}}
{{- end -}}

{{/* Labels. */}}

{{- define "ipkeeper.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "ipkeeper.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: ipkeeper
{{- with .Values.global.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* metadata.annotations of every object, when there are any. */}}
{{- define "ipkeeper.annotations" -}}
{{- with .Values.global.commonAnnotations -}}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end -}}
{{- end -}}

{{- define "ipkeeper.agent.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ipkeeper.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: agent
{{- end -}}

{{- define "ipkeeper.controller.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ipkeeper.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end -}}

{{/* Images: registry/repository:tag or @digest; tag defaults to appVersion. */}}
{{- define "ipkeeper.image" -}}
{{- $img := .image -}}
{{- $registry := .root.Values.global.imageRegistryOverride | default $img.registry -}}
{{- $ref := $img.repository -}}
{{- if $registry -}}{{- $ref = printf "%s/%s" $registry $ref -}}{{- end -}}
{{- if $img.digest -}}
{{- printf "%s@%s" $ref $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $ref ($img.tag | default .root.Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{/* Environment both components get for clusters without kube-proxy. */}}
{{- define "ipkeeper.apiServerEnv" -}}
{{- if or .Values.k8sServiceHost .Values.k8sServicePort }}
{{- if not (and .Values.k8sServiceHost .Values.k8sServicePort) }}
{{- fail "k8sServiceHost and k8sServicePort go together: set both or neither" }}
{{- end }}
- name: KUBERNETES_SERVICE_HOST
  value: {{ .Values.k8sServiceHost | quote }}
- name: KUBERNETES_SERVICE_PORT
  value: {{ .Values.k8sServicePort | quote }}
{{- end }}
{{- end -}}

{{/* The shared configuration's checksum, so that a change rolls both components. */}}
{{- define "ipkeeper.configChecksum" -}}
{{- include (print .Template.BasePath "/configmap.yaml") . | sha256sum -}}
{{- end -}}

{{/* Checks that no single template owns. */}}
{{- define "ipkeeper.validate" -}}
{{- if not (or .Values.ipam.enableIPv4 .Values.ipam.enableIPv6) }}
{{- fail "ipam.enableIPv4 and ipam.enableIPv6 are both false: enable at least one family" }}
{{- end }}
{{- end -}}
