package source_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/lakeport/lakeport/protocol"
	"github.com/lakeport/lakeport/source"
)

const specJSON = `{
  "$schema": "http://json-schema.org/draft-07/schema#",
  "type": "object",
  "required": ["start_date", "credentials"],
  "properties": {
    "start_date": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$", "order": 0},
    "page_size": {"type": "integer", "minimum": 1, "maximum": 1000},
    "credentials": {
      "type": "object",
      "oneOf": [
        {"title": "API key", "required": ["api_key"], "properties": {"auth_type": {"const": "key"}, "api_key": {"type": "string", "airbyte_secret": true}}},
        {"title": "OAuth", "required": ["client_id", "client_secret"], "properties": {"auth_type": {"const": "oauth"}, "client_id": {"type": "string"}, "client_secret": {"type": "string", "airbyte_secret": true}, "refresh_token": {"type": "string", "airbyte_secret": true}}}
      ]
    },
    "webhooks": {"type": "array", "items": {"type": "object", "properties": {"url": {"type": "string"}, "signing_key": {"type": "string", "airbyte_secret": true}}}},
    "password": {"type": "string", "airbyte_secret": true}
  }
}`

func spec() *protocol.ConnectorSpecification {
	return &protocol.ConnectorSpecification{ConnectionSpecification: json.RawMessage(specJSON)}
}

func TestValidateConfig(t *testing.T) {
	tests := []struct {
		name   string
		config string
		want   []string // fields named in the error; nil for valid
	}{
		{"valid key", `{"start_date":"2024-01-01","credentials":{"auth_type":"key","api_key":"k"}}`, nil},
		{"valid oauth", `{"start_date":"2024-01-01","credentials":{"auth_type":"oauth","client_id":"c","client_secret":"s"},"page_size":10}`, nil},
		{"missing fields", `{}`, []string{"field start_date: is required", "field credentials: is required"}},
		{"bad pattern and range", `{"start_date":"yesterday","page_size":0,"credentials":{"auth_type":"key","api_key":"k"}}`, []string{"field start_date:", "field page_size:"}},
		{"wrong type", `{"start_date":5,"credentials":{"auth_type":"key","api_key":"k"}}`, []string{"field start_date:", "string"}},
		{"nested missing", `{"start_date":"2024-01-01","credentials":{"auth_type":"oauth","client_id":"c"}}`, []string{"credentials"}},
		{"not JSON", `{`, []string{"not valid JSON"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := source.ValidateConfig(spec(), json.RawMessage(tt.config))
			if tt.want == nil {
				if err != nil {
					t.Fatalf("ValidateConfig = %v", err)
				}
				return
			}
			var ce *source.ConfigError
			if !errors.As(err, &ce) || !errors.Is(err, source.ErrInvalidConfig) {
				t.Fatalf("err = %v, want a ConfigError", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestValidateConfigBadSpecs(t *testing.T) {
	for _, s := range []string{``, `{`, `{"type":"nope"}`, `{"$ref":"file:///etc/passwd"}`, `{"$ref":"https://example.com/schema.json"}`} {
		err := source.ValidateConfig(&protocol.ConnectorSpecification{ConnectionSpecification: json.RawMessage(s)}, json.RawMessage(`{}`))
		if !errors.Is(err, source.ErrInvalidSpec) {
			t.Errorf("spec %q: err = %v, want ErrInvalidSpec", s, err)
		}
	}
}

func TestSecretPathsAndRedact(t *testing.T) {
	paths, err := source.SecretPaths(spec())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range paths {
		got = append(got, p.String())
	}
	want := "credentials.api_key credentials.client_secret credentials.refresh_token password webhooks.*.signing_key"
	if strings.Join(got, " ") != want {
		t.Fatalf("SecretPaths = %v\nwant %s", got, want)
	}
	config := `{"start_date":"2024-01-01","credentials":{"auth_type":"oauth","client_id":"c","client_secret":"s3cret"},"webhooks":[{"url":"u","signing_key":"k1"},{"url":"v"}],"page_size":10}`
	red, err := source.Redact(json.RawMessage(config), paths)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(red), "s3cret") || strings.Contains(string(red), "k1") {
		t.Errorf("Redact left a secret: %s", red)
	}
	for _, keep := range []string{`"client_id":"c"`, `"page_size":10`, `{"url":"v"}`, `"client_secret":"**********"`} {
		if !strings.Contains(string(red), keep) {
			t.Errorf("Redact = %s, want it to contain %s", red, keep)
		}
	}
}
