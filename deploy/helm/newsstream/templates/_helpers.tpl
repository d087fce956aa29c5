{{/* Names and labels. */}}
{{- define "newsstream.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "newsstream.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "newsstream.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "newsstream.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "newsstream.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "newsstream.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: newsstream
{{- end -}}

{{/* Selector labels of one component: (dict "root" $ "component" "worker"). */}}
{{- define "newsstream.selectorLabels" -}}
app.kubernetes.io/name: {{ include "newsstream.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "newsstream.componentLabels" -}}
{{ include "newsstream.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "newsstream.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "newsstream.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "newsstream.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* Where Kafka and Elasticsearch are: given, or the in-cluster ones of Strimzi and ECK. */}}
{{- define "newsstream.kafkaBootstrap" -}}
{{- if .Values.kafka.bootstrap -}}
{{- .Values.kafka.bootstrap -}}
{{- else if .Values.strimzi.enabled -}}
{{- printf "%s-kafka-bootstrap:9093" .Values.strimzi.clusterName -}}
{{- else -}}
{{- fail "set kafka.bootstrap (your brokers) or strimzi.enabled=true" -}}
{{- end -}}
{{- end -}}

{{- define "newsstream.kafkaProtocol" -}}
{{- if .Values.strimzi.enabled -}}SASL_SSL{{- else -}}{{ .Values.kafka.securityProtocol }}{{- end -}}
{{- end -}}

{{- define "newsstream.kafkaCaSecret" -}}
{{- if .Values.kafka.tls.caSecret -}}
{{- .Values.kafka.tls.caSecret -}}
{{- else if .Values.strimzi.enabled -}}
{{- printf "%s-cluster-ca-cert" .Values.strimzi.clusterName -}}
{{- end -}}
{{- end -}}

{{- define "newsstream.esUrl" -}}
{{- if .Values.elasticsearch.url -}}
{{- .Values.elasticsearch.url -}}
{{- else if .Values.eck.enabled -}}
{{- printf "https://%s-es-http:9200" .Values.eck.name -}}
{{- else -}}
{{- fail "set elasticsearch.url (your cluster) or eck.enabled=true" -}}
{{- end -}}
{{- end -}}

{{- define "newsstream.esCaSecret" -}}
{{- if .Values.elasticsearch.tls.caSecret -}}
{{- .Values.elasticsearch.tls.caSecret -}}
{{- else if .Values.eck.enabled -}}
{{- printf "%s-es-http-certs-public" .Values.eck.name -}}
{{- end -}}
{{- end -}}

{{/* The Secret holding a component's Kafka password: given, or the one Strimzi's User
     Operator writes for its KafkaUser (named after the user). */}}
{{- define "newsstream.kafkaPasswordSecret" -}}
{{- $user := index .root.Values.kafka.users .component -}}
{{- if $user.passwordSecret -}}
{{- $user.passwordSecret -}}
{{- else if .root.Values.strimzi.enabled -}}
{{- $user.username -}}
{{- end -}}
{{- end -}}

{{/* The Secret holding a component's Elasticsearch password: given, or the file-realm user
     this chart creates for ECK. */}}
{{- define "newsstream.esPasswordSecret" -}}
{{- $user := index .root.Values.elasticsearch.users .component -}}
{{- if $user.passwordSecret -}}
{{- $user.passwordSecret -}}
{{- else if .root.Values.eck.enabled -}}
{{- printf "%s-es-%s" (include "newsstream.fullname" .root) .component -}}
{{- end -}}
{{- end -}}

{{/*
The environment of one component: (dict "root" $ "kafkaUser" "worker" "esUser" "worker").
An empty kafkaUser or esUser leaves that connection out (the component does not use it).
*/}}
{{- define "newsstream.env" -}}
{{- $v := .root.Values -}}
- name: NEWSSTREAM_LOG_LEVEL
  value: {{ $v.logLevel | quote }}
- name: NEWSSTREAM_LOG_FORMAT
  value: {{ $v.logFormat | quote }}
- name: NEWSSTREAM_APP_ID
  value: {{ $v.appId | quote }}
- name: NEWSSTREAM_MAX_ARTICLE_BYTES
  value: {{ $v.maxArticleBytes | int | quote }}
- name: NEWSSTREAM_KIBANA_URL
  value: {{ default $v.kibana.url .kibanaUrl | quote }}
{{- if .kafkaUser }}
{{- $protocol := include "newsstream.kafkaProtocol" .root }}
- name: NEWSSTREAM_KAFKA_BOOTSTRAP
  value: {{ include "newsstream.kafkaBootstrap" .root | quote }}
- name: NEWSSTREAM_KAFKA_SECURITY_PROTOCOL
  value: {{ $protocol | quote }}
- name: NEWSSTREAM_TOPIC_RAW
  value: {{ $v.kafka.topics.raw | quote }}
- name: NEWSSTREAM_TOPIC_ENRICHED
  value: {{ $v.kafka.topics.enriched | quote }}
- name: NEWSSTREAM_TOPIC_DLQ
  value: {{ $v.kafka.topics.dlq | quote }}
- name: NEWSSTREAM_TOPIC_ALERTS
  value: {{ $v.kafka.topics.alerts | quote }}
- name: NEWSSTREAM_TOPIC_ALERTS_DLQ
  value: {{ $v.kafka.topics.alertsDlq | quote }}
- name: NEWSSTREAM_TOPIC_POLLER_STATE
  value: {{ $v.kafka.topics.pollerState | quote }}
- name: NEWSSTREAM_TOPIC_PARTITIONS
  value: {{ $v.kafka.topics.partitions | int | quote }}
- name: NEWSSTREAM_TOPIC_REPLICATION
  value: {{ $v.kafka.topics.replication | int | quote }}
{{- if hasPrefix "SASL_" $protocol }}
{{- $user := index $v.kafka.users .kafkaUser }}
{{- $secret := include "newsstream.kafkaPasswordSecret" (dict "root" .root "component" .kafkaUser) }}
{{- if not $secret }}
{{- fail (printf "kafka.users.%s.passwordSecret: the %s needs its SASL password (or strimzi.enabled=true)" .kafkaUser .kafkaUser) }}
{{- end }}
- name: NEWSSTREAM_KAFKA_SASL_MECHANISM
  value: {{ $v.kafka.saslMechanism | quote }}
- name: NEWSSTREAM_KAFKA_SASL_USERNAME
  value: {{ $user.username | quote }}
- name: NEWSSTREAM_KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $user.passwordKey }}
{{- end }}
{{- if include "newsstream.kafkaCaSecret" .root }}
- name: NEWSSTREAM_KAFKA_SSL_CAFILE
  value: /etc/newsstream/kafka-ca/ca.crt
{{- end }}
{{- with (index $v.kafka.users .kafkaUser).certSecret }}
# mTLS: the component's client certificate (Strimzi: the Secret of a `tls` KafkaUser).
- name: NEWSSTREAM_KAFKA_SSL_CERTFILE
  value: /etc/newsstream/kafka-client/tls.crt
- name: NEWSSTREAM_KAFKA_SSL_KEYFILE
  value: /etc/newsstream/kafka-client/tls.key
{{- end }}
- name: NEWSSTREAM_KAFKA_SSL_CHECK_HOSTNAME
  value: {{ $v.kafka.tls.checkHostname | quote }}
{{- end }}
{{- if .esUser }}
{{- $user := index $v.elasticsearch.users .esUser }}
- name: NEWSSTREAM_ES_URL
  value: {{ include "newsstream.esUrl" .root | quote }}
- name: NEWSSTREAM_ARTICLES_ALIAS
  value: {{ $v.elasticsearch.articlesAlias | quote }}
- name: NEWSSTREAM_ALERTS_INDEX
  value: {{ $v.elasticsearch.alertsIndex | quote }}
- name: NEWSSTREAM_FINGERPRINTS_INDEX
  value: {{ $v.elasticsearch.fingerprintsIndex | quote }}
- name: NEWSSTREAM_INDEX_SHARDS
  value: {{ $v.elasticsearch.shards | int | quote }}
- name: NEWSSTREAM_INDEX_REPLICAS
  value: {{ $v.elasticsearch.replicas | int | quote }}
{{- if $user.apiKeySecret }}
- name: NEWSSTREAM_ES_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $user.apiKeySecret }}
      key: {{ $user.apiKeyKey }}
{{- else }}
{{- $secret := include "newsstream.esPasswordSecret" (dict "root" .root "component" .esUser) }}
{{- if $secret }}
- name: NEWSSTREAM_ES_USERNAME
  value: {{ $user.username | quote }}
- name: NEWSSTREAM_ES_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $user.passwordKey }}
{{- end }}
{{- end }}
{{- if include "newsstream.esCaSecret" .root }}
- name: NEWSSTREAM_ES_CA_CERTS
  value: /etc/newsstream/es-ca/ca.crt
{{- end }}
- name: NEWSSTREAM_ES_VERIFY_CERTS
  value: {{ $v.elasticsearch.tls.verify | quote }}
{{- end }}
{{- with $v.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- with .extra }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Volumes every pod has: a writable /tmp (the root file system is read-only) and the CAs. */}}
{{- define "newsstream.volumes" -}}
- name: tmp
  emptyDir: {}
{{- if and .kafka (include "newsstream.kafkaCaSecret" .root) }}
- name: kafka-ca
  secret:
    secretName: {{ include "newsstream.kafkaCaSecret" .root }}
    items:
      - key: {{ .root.Values.kafka.tls.caKey }}
        path: ca.crt
{{- end }}
{{- if .kafka }}
{{- with index .root.Values.kafka.users .kafka }}
{{- if .certSecret }}
- name: kafka-client
  secret:
    secretName: {{ .certSecret }}
    items:
      - {key: {{ .certKey | default "user.crt" }}, path: tls.crt}
      - {key: {{ .keyKey | default "user.key" }}, path: tls.key}
{{- end }}
{{- end }}
{{- end }}
{{- if and .es (include "newsstream.esCaSecret" .root) }}
- name: es-ca
  secret:
    secretName: {{ include "newsstream.esCaSecret" .root }}
    items:
      - key: {{ .root.Values.elasticsearch.tls.caKey }}
        path: ca.crt
{{- end }}
{{- end -}}

{{- define "newsstream.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if and .kafka (include "newsstream.kafkaCaSecret" .root) }}
- name: kafka-ca
  mountPath: /etc/newsstream/kafka-ca
  readOnly: true
{{- end }}
{{- if and .kafka (index .root.Values.kafka.users .kafka).certSecret }}
- name: kafka-client
  mountPath: /etc/newsstream/kafka-client
  readOnly: true
{{- end }}
{{- if and .es (include "newsstream.esCaSecret" .root) }}
- name: es-ca
  mountPath: /etc/newsstream/es-ca
  readOnly: true
{{- end }}
{{- end -}}

{{/* The pod-level parts every workload shares. */}}
{{- define "newsstream.podSpecCommon" -}}
serviceAccountName: {{ include "newsstream.serviceAccountName" . }}
# No workload talks to the Kubernetes API: no token in the pods.
automountServiceAccountToken: false
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.image.pullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* The largest number of workers that can hold a partition. */}}
{{- define "newsstream.maxReplicas" -}}
{{- $partitions := int .Values.kafka.topics.partitions -}}
{{- $max := int (default $partitions .Values.autoscaling.maxReplicas) -}}
{{- if gt $max $partitions -}}
{{- fail (printf "autoscaling.maxReplicas=%d exceeds kafka.topics.partitions=%d: the extra workers would get no partition" $max $partitions) -}}
{{- end -}}
{{- $max -}}
{{- end -}}

{{/*
The Kafka ACLs of one component (Strimzi's KafkaUser form); deploy/README.md lists the same.
Each component gets what it uses and nothing more.
*/}}
{{- define "newsstream.kafkaAcls" -}}
{{- $t := .root.Values.kafka.topics -}}
{{- $leader := printf "%s-__assignor-__leader" .root.Values.appId -}}
{{- if eq .component "setup" }}
# Lists the topics (Describe) and creates the missing ones.
{{- range $name := list $t.raw $t.enriched $t.alerts $t.dlq $t.alertsDlq $t.pollerState $leader }}
- resource: {type: topic, name: {{ $name | quote }}, patternType: literal}
  operations: [Create, Describe]
{{- end }}
{{- else if eq .component "worker" }}
# /readyz's Kafka probe is a metadata request: no right on the cluster needed.
- resource: {type: topic, name: {{ $t.raw | quote }}, patternType: literal}
  operations: [Read, Describe]
{{- range $name := list $t.enriched $t.alerts }}
- resource: {type: topic, name: {{ $name | quote }}, patternType: literal}
  operations: [Read, Write, Describe]
{{- end }}
# Faust only consumes its leader topic (the group leader is who gets its one partition).
- resource: {type: topic, name: {{ $leader | quote }}, patternType: literal}
  operations: [Read, Describe]
{{- range $name := list $t.dlq $t.alertsDlq }}
- resource: {type: topic, name: {{ $name | quote }}, patternType: literal}
  operations: [Write, Describe]
{{- end }}
- resource: {type: group, name: {{ .root.Values.appId | quote }}, patternType: literal}
  operations: [Read, Describe]
{{- else if eq .component "poller" }}
- resource: {type: topic, name: {{ $t.raw | quote }}, patternType: literal}
  operations: [Write, Describe]
- resource: {type: topic, name: {{ $t.pollerState | quote }}, patternType: literal}
  operations: [Read, Write, Describe]
{{- else if eq .component "api" }}
- resource: {type: topic, name: {{ $t.raw | quote }}, patternType: literal}
  operations: [Write, Describe]
{{- end }}
{{- end -}}

{{/*
The Elasticsearch roles of newsstream's components (roles.yml form); deploy/README.md
lists the same. The index patterns cover the aliases and the indices behind them.
*/}}
{{- define "newsstream.esRoles" -}}
{{- $es := .Values.elasticsearch -}}
{{- $articles := printf "%s*" $es.articlesAlias -}}
{{- $alerts := printf "%s*" $es.alertsIndex -}}
{{- $fingerprints := printf "%s*" $es.fingerprintsIndex -}}
newsstream_setup:
  # Templates, the ILM policy, the first articles index and its alias.
  cluster: [monitor, manage_index_templates, manage_ilm]
  indices:
    - names: [{{ $articles | quote }}, {{ $alerts | quote }}, {{ $fingerprints | quote }}]
      privileges: [create_index, manage, view_index_metadata]
newsstream_worker:
  # cluster.health for /readyz; documents in, duplicate and alert-history look-ups out;
  # view_index_metadata to check at start that set-up made the alias and indices.
  cluster: [monitor]
  indices:
    - names: [{{ $articles | quote }}, {{ $alerts | quote }}, {{ $fingerprints | quote }}]
      privileges: [index, read, view_index_metadata]
newsstream_lifecycle:
  # Roll the write alias over, delete articles indices past retention, and delete old
  # alerts and fingerprints (search, then bulk delete).
  cluster: []
  indices:
    - names: [{{ $articles | quote }}]
      privileges: [manage, delete_index, view_index_metadata]
    - names: [{{ $alerts | quote }}, {{ $fingerprints | quote }}]
      privileges: [read, delete]
{{- end -}}
