{{/*
gantry.labels renders the labels every object carries, given a dict with
"root" (the top-level context) and "name" (the component's name).
*/}}
{{- define "gantry.labels" -}}
{{ include "gantry.selectorLabels" . }}
app.kubernetes.io/part-of: gantry
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
gantry.selectorLabels renders the labels a workload selects its pods by.
*/}}
{{- define "gantry.selectorLabels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{/*
gantry.image renders repository:tag, the tag defaulting to appVersion.
*/}}
{{- define "gantry.image" -}}
{{ .image.repository }}:{{ .image.tag | default .root.Chart.AppVersion }}
{{- end -}}

{{/*
gantry.schedulerConfigEnabled is "true" when the scheduler's ConfigMap is
needed: by the scheduler, or by the autoscaler's simulation.
*/}}
{{- define "gantry.schedulerConfigEnabled" -}}
{{- if or .Values.scheduler.enabled (and .Values.autoscaler.enabled .Values.autoscaler.useSchedulerConfig) -}}
true
{{- end -}}
{{- end -}}
