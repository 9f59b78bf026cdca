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

{{/*
gantry.agentAffinity renders the node agent's affinity: the user's
"affinity" with the node-affinity requirement "expression" added to every
node selector term (terms are ORed, so each must carry it), given a dict
with "affinity" and "expression". It is how the device-plugin DaemonSet
keeps off the nodes in DRA mode whatever affinity the user adds.
*/}}
{{- define "gantry.agentAffinity" -}}
{{- $aff := deepCopy (.affinity | default dict) -}}
{{- $na := get $aff "nodeAffinity" | default dict -}}
{{- $req := get $na "requiredDuringSchedulingIgnoredDuringExecution" | default dict -}}
{{- $terms := list -}}
{{- range (get $req "nodeSelectorTerms" | default (list dict)) -}}
{{- $t := deepCopy . -}}
{{- $_ := set $t "matchExpressions" (append (get $t "matchExpressions" | default list) $.expression) -}}
{{- $terms = append $terms $t -}}
{{- end -}}
{{- $_ := set $req "nodeSelectorTerms" $terms -}}
{{- $_ := set $na "requiredDuringSchedulingIgnoredDuringExecution" $req -}}
{{- $_ := set $aff "nodeAffinity" $na -}}
{{- toYaml $aff -}}
{{- end -}}
