package document

import (
	"sort"
	"strconv"
	"strings"
)

// defaults are the component types the CDK's schema implies for a field
// when the manifest gives none.
var defaults = map[string]string{
	"streams":               "DeclarativeStream",
	"stream":                "DeclarativeStream",
	"retriever":             "SimpleRetriever",
	"requester":             "HttpRequester",
	"login_requester":       "HttpRequester",
	"record_selector":       "RecordSelector",
	"extractor":             "DpathExtractor",
	"paginator":             "DefaultPaginator",
	"page_token_option":     "RequestOption",
	"page_size_option":      "RequestOption",
	"start_time_option":     "RequestOption",
	"end_time_option":       "RequestOption",
	"request_option":        "RequestOption",
	"inject_into":           "RequestOption",
	"incremental_sync":      "DatetimeBasedCursor",
	"error_handler":         "DefaultErrorHandler",
	"response_filters":      "HttpResponseFilter",
	"record_filter":         "RecordFilter",
	"parent_stream_configs": "ParentStreamConfig",
	"check":                 "CheckStream",
	"spec":                  "Spec",
	"schema_loader":         "JsonFileSchemaLoader",
	"decoder":               "JsonDecoder",
	"fields":                "AddedFieldDefinition",
	"start_datetime":        "MinMaxDatetime",
	"end_datetime":          "MinMaxDatetime",
}

func defaultType(parentType, field string) string {
	if field == "fields" && parentType != "AddFields" {
		return ""
	}
	if field == "inject_into" && !strings.HasSuffix(parentType, "Authenticator") {
		return ""
	}
	return defaults[field]
}

// opaque fields hold data, not components: nothing below them is a
// component and $parameters do not reach into them.
var opaque = map[string]bool{
	"schema": true, "connection_specification": true, "request_body_json": true, "request_body_data": true,
	"request_parameters": true, "request_headers": true, "refresh_request_body": true, "values": true,
	"metadata": true, "advanced_auth": true, "$parameters": true, "authenticators": false,
}

// propagate fills in default types and hands $parameters down: a
// component's own $parameters override its parent's, and a parameter fills
// a field the component leaves unset.
func propagate(v any, field, defType string, params map[string]any) any {
	switch x := v.(type) {
	case []any:
		for i, e := range x {
			x[i] = propagate(e, field, defType, params)
		}
		return x
	case map[string]any:
		t, _ := x["type"].(string)
		if !isComponentType(t) {
			t = ""
		}
		if t == "" && defType != "" {
			t = defType
			x["type"] = t
		}
		if t == "" {
			// Not a component (e.g. the authenticators map of a
			// SelectiveAuthenticator): look inside with the same parameters.
			for k, e := range x {
				if !opaque[k] {
					x[k] = propagate(e, k, "", params)
				}
			}
			return x
		}
		current := map[string]any{}
		for k, e := range params {
			current[k] = e
		}
		own, _ := x["$parameters"].(map[string]any)
		if own == nil {
			own, _ = x["$options"].(map[string]any) // the CDK's older name
		}
		for k, e := range own {
			current[k] = e
		}
		for k, e := range current {
			if cur, ok := x[k]; !ok || cur == nil || cur == "" {
				if k != "type" && k != "$parameters" && k != "$options" {
					x[k] = e
				}
			}
		}
		if len(current) > 0 {
			x["$parameters"] = current
		}
		for k, e := range x {
			if opaque[k] || k == "type" {
				continue
			}
			switch e.(type) {
			case map[string]any, []any:
				x[k] = propagate(e, k, defaultType(t, k), current)
			}
		}
		return x
	}
	return v
}

// inventory lists the components of the resolved streams, check and spec.
func (d *Document) inventory() {
	var walk func(v any, path string)
	walk = func(v any, path string) {
		switch x := v.(type) {
		case []any:
			for i, e := range x {
				walk(e, join(path, strconv.Itoa(i)))
			}
		case map[string]any:
			t, _ := x["type"].(string)
			if isComponentType(t) {
				d.Components = append(d.Components, Component{Type: t, Path: path})
				if t == "ApiKeyAuthenticator" {
					if _, ok := x["header"]; ok {
						d.Deprecated = append(d.Deprecated, Component{Type: t, Path: join(path, "header"), Note: "use inject_into: {type: RequestOption, inject_into: header, field_name: …}"})
					}
				}
			}
			if _, ok := x["$options"]; ok {
				d.Deprecated = append(d.Deprecated, Component{Type: t, Path: join(path, "$options"), Note: "renamed $parameters"})
			}
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if opaque[k] {
					continue
				}
				walk(x[k], join(path, k))
			}
		}
	}
	for _, key := range []string{"streams", "check", "spec"} {
		walk(d.Root[key], key)
	}
}

// isComponentType tells a component's type (DeclarativeStream) from a JSON
// schema's (object, string): component types are capitalised.
func isComponentType(t string) bool { return t != "" && t[0] >= 'A' && t[0] <= 'Z' }
