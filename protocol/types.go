package protocol

import (
	"encoding/json"
	"math"
	"strconv"
)

// MessageType is the "type" of an AirbyteMessage.
type MessageType string

// The message types of the protocol.
const (
	TypeRecord           MessageType = "RECORD"
	TypeState            MessageType = "STATE"
	TypeLog              MessageType = "LOG"
	TypeSpec             MessageType = "SPEC"
	TypeConnectionStatus MessageType = "CONNECTION_STATUS"
	TypeCatalog          MessageType = "CATALOG"
	TypeTrace            MessageType = "TRACE"
	TypeControl          MessageType = "CONTROL"
)

// Known reports whether t is one of the protocol's message types.
func (t MessageType) Known() bool {
	switch t {
	case TypeRecord, TypeState, TypeLog, TypeSpec, TypeConnectionStatus, TypeCatalog, TypeTrace, TypeControl:
		return true
	}
	return false
}

// Message is one AirbyteMessage: one line of a source's output. Exactly the
// field matching Type is set.
type Message struct {
	Type             MessageType             `json:"type"`
	Record           *RecordMessage          `json:"record,omitempty"`
	State            *StateMessage           `json:"state,omitempty"`
	Log              *LogMessage             `json:"log,omitempty"`
	Spec             *ConnectorSpecification `json:"spec,omitempty"`
	ConnectionStatus *ConnectionStatus       `json:"connectionStatus,omitempty"`
	Catalog          *Catalog                `json:"catalog,omitempty"`
	Trace            *TraceMessage           `json:"trace,omitempty"`
	Control          *ControlMessage         `json:"control,omitempty"`
}

// RecordMessage is one row of one stream.
type RecordMessage struct {
	Namespace string `json:"namespace,omitempty"`
	Stream    string `json:"stream"`
	// Data is the record, a JSON object, kept undecoded.
	Data json.RawMessage `json:"data"`
	// EmittedAt is when the source emitted the record, in epoch milliseconds.
	EmittedAt int64       `json:"emitted_at"`
	Meta      *RecordMeta `json:"meta,omitempty"`
}

// RecordMeta describes changes a source made to a record while syncing it.
type RecordMeta struct {
	Changes []RecordMetaChange `json:"changes,omitempty"`
}

// RecordMetaChange is one field a source nulled or truncated.
type RecordMetaChange struct {
	Field  string `json:"field"`
	Change string `json:"change"` // NULLED, TRUNCATED
	Reason string `json:"reason"` // e.g. SOURCE_FIELD_SIZE_LIMITATION
}

// StateType says which field of a StateMessage holds the state.
type StateType string

// The state types. An empty type means LEGACY.
const (
	StateStream StateType = "STREAM"
	StateGlobal StateType = "GLOBAL"
	StateLegacy StateType = "LEGACY"
)

// StateMessage is a checkpoint: every record emitted before it is covered.
type StateMessage struct {
	Type   StateType    `json:"type,omitempty"`
	Stream *StreamState `json:"stream,omitempty"`
	Global *GlobalState `json:"global,omitempty"`
	// Data is the deprecated LEGACY state blob.
	Data             json.RawMessage `json:"data,omitempty"`
	SourceStats      *StateStats     `json:"sourceStats,omitempty"`
	DestinationStats *StateStats     `json:"destinationStats,omitempty"`
}

// StreamDescriptor names a stream.
type StreamDescriptor struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
}

// String returns "namespace.name", or "name" without a namespace.
func (d StreamDescriptor) String() string {
	if d.Namespace == "" {
		return d.Name
	}
	return d.Namespace + "." + d.Name
}

// StreamState is the state of one stream.
type StreamState struct {
	StreamDescriptor StreamDescriptor `json:"stream_descriptor"`
	StreamState      json.RawMessage  `json:"stream_state,omitempty"`
}

// GlobalState is a state shared by all streams plus per-stream states.
type GlobalState struct {
	SharedState  json.RawMessage `json:"shared_state,omitempty"`
	StreamStates []StreamState   `json:"stream_states"`
}

// StateStats counts the records a state message covers.
type StateStats struct {
	RecordCount float64 `json:"recordCount"`
}

// LogLevel is the level of a LOG message.
type LogLevel string

// The log levels.
const (
	LogFatal LogLevel = "FATAL"
	LogError LogLevel = "ERROR"
	LogWarn  LogLevel = "WARN"
	LogInfo  LogLevel = "INFO"
	LogDebug LogLevel = "DEBUG"
	LogTrace LogLevel = "TRACE"
)

// LogMessage is a line of the connector's log.
type LogMessage struct {
	Level      LogLevel `json:"level"`
	Message    string   `json:"message"`
	StackTrace string   `json:"stack_trace,omitempty"`
}

// TraceType is the kind of a TRACE message.
type TraceType string

// The trace types.
const (
	TraceError        TraceType = "ERROR"
	TraceEstimate     TraceType = "ESTIMATE"
	TraceStreamStatus TraceType = "STREAM_STATUS"
	TraceAnalytics    TraceType = "ANALYTICS"
)

// TraceMessage reports errors, estimates, stream status or analytics.
type TraceMessage struct {
	Type TraceType `json:"type"`
	// EmittedAt is in epoch milliseconds (a number, not always an integer, on the wire).
	EmittedAt    float64            `json:"emitted_at"`
	Error        *ErrorTrace        `json:"error,omitempty"`
	Estimate     *EstimateTrace     `json:"estimate,omitempty"`
	StreamStatus *StreamStatusTrace `json:"stream_status,omitempty"`
	Analytics    *AnalyticsTrace    `json:"analytics,omitempty"`
}

// FailureType classifies an ErrorTrace.
type FailureType string

// The failure types.
const (
	FailureSystem    FailureType = "system_error"
	FailureConfig    FailureType = "config_error"
	FailureTransient FailureType = "transient_error"
)

// ErrorTrace is a connector's account of why it failed.
type ErrorTrace struct {
	Message          string            `json:"message"`
	InternalMessage  string            `json:"internal_message,omitempty"`
	StackTrace       string            `json:"stack_trace,omitempty"`
	FailureType      FailureType       `json:"failure_type,omitempty"`
	StreamDescriptor *StreamDescriptor `json:"stream_descriptor,omitempty"`
}

// EstimateType says whether an estimate is for one stream or the whole sync.
type EstimateType string

// The estimate types.
const (
	EstimateStream EstimateType = "STREAM"
	EstimateSync   EstimateType = "SYNC"
)

// EstimateTrace is a guess at how much a sync will produce.
type EstimateTrace struct {
	Name         string       `json:"name"`
	Type         EstimateType `json:"type"`
	Namespace    string       `json:"namespace,omitempty"`
	RowEstimate  int64        `json:"row_estimate,omitempty"`
	ByteEstimate int64        `json:"byte_estimate,omitempty"`
}

// StreamStatus is where a stream is in a sync.
type StreamStatus string

// The stream statuses.
const (
	StreamStarted    StreamStatus = "STARTED"
	StreamRunning    StreamStatus = "RUNNING"
	StreamComplete   StreamStatus = "COMPLETE"
	StreamIncomplete StreamStatus = "INCOMPLETE"
)

// StreamStatusTrace reports a stream's status.
type StreamStatusTrace struct {
	StreamDescriptor StreamDescriptor     `json:"stream_descriptor"`
	Status           StreamStatus         `json:"status"`
	Reasons          []StreamStatusReason `json:"reasons,omitempty"`
}

// StreamStatusReason explains a status, e.g. RATE_LIMITED.
type StreamStatusReason struct {
	Type        string             `json:"type"`
	RateLimited *RateLimitedReason `json:"rate_limited,omitempty"`
}

// RateLimitedReason says when an API quota resets (epoch milliseconds).
type RateLimitedReason struct {
	QuotaReset int64 `json:"quota_reset,omitempty"`
}

// AnalyticsTrace is a connector-specific usage event.
type AnalyticsTrace struct {
	Type  string `json:"type"`
	Value string `json:"value,omitempty"`
}

// ControlType is the kind of a CONTROL message.
type ControlType string

// ControlConnectorConfig asks the platform to persist an updated config.
const ControlConnectorConfig ControlType = "CONNECTOR_CONFIG"

// ControlMessage is a request from the connector to the platform.
type ControlMessage struct {
	Type            ControlType            `json:"type"`
	EmittedAt       float64                `json:"emitted_at"`
	ConnectorConfig *ConnectorConfigUpdate `json:"connectorConfig,omitempty"`
}

// ConnectorConfigUpdate holds the config fields to update.
type ConnectorConfigUpdate struct {
	Config json.RawMessage `json:"config"`
}

// Status is the outcome of a check.
type Status string

// The check outcomes.
const (
	StatusSucceeded Status = "SUCCEEDED"
	StatusFailed    Status = "FAILED"
)

// ConnectionStatus is the answer to `check`.
type ConnectionStatus struct {
	Status  Status `json:"status"`
	Message string `json:"message,omitempty"`
}

// SyncMode is how a source reads a stream.
type SyncMode string

// The sync modes.
const (
	FullRefresh SyncMode = "full_refresh"
	Incremental SyncMode = "incremental"
)

// DestinationSyncMode is how the destination writes a stream.
type DestinationSyncMode string

// The destination sync modes.
const (
	Append      DestinationSyncMode = "append"
	Overwrite   DestinationSyncMode = "overwrite"
	AppendDedup DestinationSyncMode = "append_dedup"
)

// ConnectorSpecification is the answer to `spec`.
type ConnectorSpecification struct {
	DocumentationURL string `json:"documentationUrl,omitempty"`
	ChangelogURL     string `json:"changelogUrl,omitempty"`
	// ConnectionSpecification is the JSON schema of the connector's config.
	ConnectionSpecification       json.RawMessage       `json:"connectionSpecification"`
	SupportsIncremental           bool                  `json:"supportsIncremental,omitempty"`
	SupportsNormalization         bool                  `json:"supportsNormalization,omitempty"`
	SupportsDBT                   bool                  `json:"supportsDBT,omitempty"`
	SupportedDestinationSyncModes []DestinationSyncMode `json:"supported_destination_sync_modes,omitempty"`
	AdvancedAuth                  json.RawMessage       `json:"advanced_auth,omitempty"`
	ProtocolVersion               string                `json:"protocol_version,omitempty"`
}

// Catalog is the answer to `discover`: the streams a source offers.
type Catalog struct {
	Streams []Stream `json:"streams"`
}

// Find returns the stream with the given name and namespace, or nil.
func (c *Catalog) Find(name, namespace string) *Stream {
	if c == nil {
		return nil
	}
	for i := range c.Streams {
		if c.Streams[i].Name == name && c.Streams[i].Namespace == namespace {
			return &c.Streams[i]
		}
	}
	return nil
}

// Stream is one stream a source offers.
type Stream struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
	// JSONSchema is the JSON schema of the stream's records.
	JSONSchema              json.RawMessage `json:"json_schema"`
	SupportedSyncModes      []SyncMode      `json:"supported_sync_modes"`
	SourceDefinedCursor     bool            `json:"source_defined_cursor,omitempty"`
	DefaultCursorField      []string        `json:"default_cursor_field,omitempty"`
	SourceDefinedPrimaryKey [][]string      `json:"source_defined_primary_key,omitempty"`
	IsResumable             bool            `json:"is_resumable,omitempty"`
}

// Descriptor returns the stream's descriptor.
func (s *Stream) Descriptor() StreamDescriptor {
	return StreamDescriptor{Name: s.Name, Namespace: s.Namespace}
}

// Supports reports whether the stream supports sync mode m.
func (s *Stream) Supports(m SyncMode) bool {
	for _, x := range s.SupportedSyncModes {
		if x == m {
			return true
		}
	}
	return false
}

// ConfiguredCatalog is what a source is asked to read.
type ConfiguredCatalog struct {
	Streams []ConfiguredStream `json:"streams"`
}

// Find returns the configured stream with the given name and namespace, or nil.
func (c *ConfiguredCatalog) Find(name, namespace string) *ConfiguredStream {
	if c == nil {
		return nil
	}
	for i := range c.Streams {
		if c.Streams[i].Stream.Name == name && c.Streams[i].Stream.Namespace == namespace {
			return &c.Streams[i]
		}
	}
	return nil
}

// ConfiguredStream is one stream to read and how.
type ConfiguredStream struct {
	Stream              Stream              `json:"stream"`
	SyncMode            SyncMode            `json:"sync_mode"`
	CursorField         []string            `json:"cursor_field,omitempty"`
	DestinationSyncMode DestinationSyncMode `json:"destination_sync_mode"`
	PrimaryKey          [][]string          `json:"primary_key,omitempty"`
	// GenerationID, MinimumGenerationID and SyncID are nil when the platform
	// does not support refreshes.
	GenerationID        *int64 `json:"generation_id,omitempty"`
	MinimumGenerationID *int64 `json:"minimum_generation_id,omitempty"`
	SyncID              *int64 `json:"sync_id,omitempty"`
}

// MarshalJSON writes recordCount with a decimal point ("100.0"), as the
// protocol asks, so that readers typed on a double accept it.
func (s StateStats) MarshalJSON() ([]byte, error) {
	b := append([]byte(nil), `{"recordCount":`...)
	b = strconv.AppendFloat(b, s.RecordCount, 'f', -1, 64)
	if s.RecordCount == math.Trunc(s.RecordCount) && !math.IsInf(s.RecordCount, 0) {
		b = append(b, ".0"...)
	}
	return append(b, '}'), nil
}
