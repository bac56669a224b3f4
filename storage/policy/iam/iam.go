// Package iam reads IAM policy documents and evaluates requests against them
// offline, following AWS's documented evaluation logic: a statement applies
// when its principal, action, resource and every condition match; an
// applicable Deny beats any Allow (explicit deny); with no applicable Allow
// the request is refused (implicit deny).
//
// What lakeport cannot know about a request (the platform's exact IAM ARN, the
// customer's organization ID, a source IP) is an Unknown context value, so a
// statement can apply, not apply, or "maybe" apply: Evaluate answers with the
// statements of each kind, and callers say "depends on" rather than guess.
package iam

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
)

// MaxDocumentBytes bounds a document Parse accepts. IAM's own limits are
// smaller (a key policy is at most 32 KB, a bucket policy 20 KB).
const MaxDocumentBytes = 64 << 10

// maxDepth bounds JSON nesting; a policy needs four levels.
const maxDepth = 16

// ErrInvalid is wrapped by every error Parse returns.
var ErrInvalid = errors.New("invalid policy document")

// Effect is Allow or Deny.
type Effect string

const (
	Allow Effect = "Allow"
	Deny  Effect = "Deny"
)

// Policy is a parsed policy document.
type Policy struct {
	Version    string // "2012-10-17", "2008-10-17", or "" when absent
	ID         string
	Statements []Statement
}

// Statement is one statement. Exactly one of Action/NotAction is set; at most
// one of Resource/NotResource and of Principal/NotPrincipal.
type Statement struct {
	Index        int // position in the document, from 0
	Sid          string
	Effect       Effect
	Principal    *Principals
	NotPrincipal *Principals
	Action       []string
	NotAction    []string
	Resource     []string
	NotResource  []string
	HasResource  bool // Resource or NotResource was given
	Conditions   []Condition
}

// Ref names the statement for people: its Sid, or its position.
func (s Statement) Ref() string {
	if s.Sid != "" {
		return s.Sid
	}
	return fmt.Sprintf("#%d", s.Index+1)
}

// Principals is a Principal (or NotPrincipal) element.
type Principals struct {
	All           bool // "Principal": "*"
	AWS           []string
	Service       []string
	Federated     []string
	CanonicalUser []string
}

// Condition is one operator/key pair of a Condition block with its values.
type Condition struct {
	Operator string // as written, e.g. "ForAnyValue:StringLikeIfExists"
	Key      string // as written; keys compare case-insensitively
	Values   []string
	op       operator
}

// Parse reads a policy document. It accepts what IAM's grammar accepts
// (single values or arrays for Action, Resource, principals and condition
// values; Statement as one object or an array) and refuses the rest with an
// error naming the element, wrapping ErrInvalid.
func Parse(doc []byte) (Policy, error) {
	if len(doc) > MaxDocumentBytes {
		return Policy{}, invalid("", "the document is %d bytes; IAM policies are at most a few KB (this reader takes up to %d)", len(doc), MaxDocumentBytes)
	}
	if len(bytes.TrimSpace(doc)) == 0 {
		return Policy{}, invalid("", "the document is empty; paste the policy's JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	root, err := readValue(dec, 0)
	if err != nil {
		return Policy{}, invalid("", "not valid JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Policy{}, invalid("", "there is more after the policy's closing brace; paste one JSON document")
	}
	obj, ok := root.v.([]member)
	if !ok {
		return Policy{}, invalid("", "a policy is a JSON object {\"Version\": ..., \"Statement\": [...]}, not %s", root.kind())
	}
	var p Policy
	var stmts *value
	for _, m := range obj {
		switch m.name {
		case "Version":
			s, ok := m.val.v.(string)
			if !ok || (s != "2012-10-17" && s != "2008-10-17") {
				return Policy{}, invalid("Version", "must be \"2012-10-17\" (or the old \"2008-10-17\")")
			}
			p.Version = s
		case "Id":
			s, ok := m.val.v.(string)
			if !ok {
				return Policy{}, invalid("Id", "must be a string")
			}
			p.ID = s
		case "Statement":
			stmts = &m.val
		default:
			return Policy{}, invalid(m.name, "is not a policy element (element names are case-sensitive: Version, Id, Statement)")
		}
	}
	if stmts == nil {
		return Policy{}, invalid("Statement", "is missing: a policy needs at least one statement")
	}
	var list []value
	switch v := stmts.v.(type) {
	case []value:
		list = v
	case []member:
		list = []value{*stmts}
	default:
		return Policy{}, invalid("Statement", "must be an object or an array of objects")
	}
	if len(list) == 0 {
		return Policy{}, invalid("Statement", "is empty: a policy needs at least one statement")
	}
	for i, sv := range list {
		st, err := parseStatement(i, sv)
		if err != nil {
			return Policy{}, err
		}
		p.Statements = append(p.Statements, st)
	}
	return p, nil
}

func parseStatement(i int, sv value) (Statement, error) {
	at := func(field string) string {
		if field == "" {
			return fmt.Sprintf("Statement[%d]", i)
		}
		return fmt.Sprintf("Statement[%d].%s", i, field)
	}
	obj, ok := sv.v.([]member)
	if !ok {
		return Statement{}, invalid(at(""), "must be an object, not %s", sv.kind())
	}
	st := Statement{Index: i}
	var err error
	for _, m := range obj {
		switch m.name {
		case "Sid":
			s, ok := m.val.v.(string)
			if !ok {
				return Statement{}, invalid(at("Sid"), "must be a string")
			}
			st.Sid = s
		case "Effect":
			s, _ := m.val.v.(string)
			if s != string(Allow) && s != string(Deny) {
				return Statement{}, invalid(at("Effect"), "must be \"Allow\" or \"Deny\" (case-sensitive)")
			}
			st.Effect = Effect(s)
		case "Principal", "NotPrincipal":
			p, err := parsePrincipals(at(m.name), m.val)
			if err != nil {
				return Statement{}, err
			}
			if m.name == "Principal" {
				st.Principal = p
			} else {
				st.NotPrincipal = p
			}
		case "Action":
			if st.Action, err = stringList(at(m.name), m.val); err != nil {
				return Statement{}, err
			}
		case "NotAction":
			if st.NotAction, err = stringList(at(m.name), m.val); err != nil {
				return Statement{}, err
			}
		case "Resource":
			if st.Resource, err = stringList(at(m.name), m.val); err != nil {
				return Statement{}, err
			}
			st.HasResource = true
		case "NotResource":
			if st.NotResource, err = stringList(at(m.name), m.val); err != nil {
				return Statement{}, err
			}
			st.HasResource = true
		case "Condition":
			if st.Conditions, err = parseConditions(at("Condition"), m.val); err != nil {
				return Statement{}, err
			}
		default:
			return Statement{}, invalid(at(m.name), "is not a statement element (element names are case-sensitive: Sid, Effect, Principal, NotPrincipal, Action, NotAction, Resource, NotResource, Condition)")
		}
	}
	switch {
	case st.Effect == "":
		return Statement{}, invalid(at("Effect"), "is missing: every statement says \"Allow\" or \"Deny\"")
	case st.Action == nil && st.NotAction == nil:
		return Statement{}, invalid(at("Action"), "is missing: every statement has Action or NotAction")
	case st.Action != nil && st.NotAction != nil:
		return Statement{}, invalid(at("NotAction"), "a statement has Action or NotAction, not both")
	case st.Resource != nil && st.NotResource != nil:
		return Statement{}, invalid(at("NotResource"), "a statement has Resource or NotResource, not both")
	case st.Principal != nil && st.NotPrincipal != nil:
		return Statement{}, invalid(at("NotPrincipal"), "a statement has Principal or NotPrincipal, not both")
	}
	return st, nil
}

func parsePrincipals(at string, v value) (*Principals, error) {
	if s, ok := v.v.(string); ok {
		if s != "*" {
			return nil, invalid(at, "as a string it can only be \"*\"; name principals as {\"AWS\": \"arn:aws:iam::111122223333:root\"}")
		}
		return &Principals{All: true}, nil
	}
	obj, ok := v.v.([]member)
	if !ok {
		return nil, invalid(at, "must be \"*\" or an object like {\"AWS\": [...]}")
	}
	p := &Principals{}
	for _, m := range obj {
		list, err := stringList(at+"."+m.name, m.val)
		if err != nil {
			return nil, err
		}
		switch m.name {
		case "AWS":
			p.AWS = list
		case "Service":
			p.Service = list
		case "Federated":
			p.Federated = list
		case "CanonicalUser":
			p.CanonicalUser = list
		default:
			return nil, invalid(at+"."+m.name, "is not a principal type (AWS, Service, Federated or CanonicalUser; case-sensitive)")
		}
	}
	if len(obj) == 0 {
		return nil, invalid(at, "is empty: name at least one principal")
	}
	return p, nil
}

func parseConditions(at string, v value) ([]Condition, error) {
	obj, ok := v.v.([]member)
	if !ok {
		return nil, invalid(at, "must be an object {\"Operator\": {\"key\": \"value\"}}")
	}
	var out []Condition
	for _, opm := range obj {
		op, err := parseOperator(opm.name)
		if err != nil {
			return nil, invalid(at+"."+opm.name, "%v", err)
		}
		keys, ok := opm.val.v.([]member)
		if !ok {
			return nil, invalid(at+"."+opm.name, "must be an object {\"key\": value}")
		}
		if len(keys) == 0 {
			return nil, invalid(at+"."+opm.name, "is empty: name a condition key")
		}
		seen := map[string]bool{}
		for _, km := range keys {
			if seen[strings.ToLower(km.name)] {
				// Key names are case-insensitive: "aws:SourceIp" and "AWS:sourceip" are one key.
				return nil, invalid(at+"."+opm.name+"."+km.name, "the key appears twice under this operator (key names are case-insensitive)")
			}
			seen[strings.ToLower(km.name)] = true
			if km.name == "" {
				return nil, invalid(at+"."+opm.name, "has an empty condition key")
			}
			vals, err := scalarList(at+"."+opm.name+"."+km.name, km.val)
			if err != nil {
				return nil, err
			}
			if op.base == "Null" {
				for _, x := range vals {
					if !strings.EqualFold(x, "true") && !strings.EqualFold(x, "false") {
						return nil, invalid(at+"."+opm.name+"."+km.name, "Null takes \"true\" (the key is absent) or \"false\" (present)")
					}
				}
			}
			out = append(out, Condition{Operator: opm.name, Key: km.name, Values: vals, op: op})
		}
	}
	return out, nil
}

// stringList reads a string or a non-empty array of strings.
func stringList(at string, v value) ([]string, error) {
	switch x := v.v.(type) {
	case string:
		return []string{x}, nil
	case []value:
		if len(x) == 0 {
			return nil, invalid(at, "is an empty array; give at least one value")
		}
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.v.(string)
			if !ok {
				return nil, invalid(at, "must hold strings, not %s", e.kind())
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, invalid(at, "must be a string or an array of strings, not %s", v.kind())
}

// scalarList reads a condition value: a string, number or boolean, or an
// array of them, as strings.
func scalarList(at string, v value) ([]string, error) {
	one := func(e value) (string, bool) {
		switch x := e.v.(type) {
		case string:
			return x, true
		case json.Number:
			return x.String(), true
		case bool:
			if x {
				return "true", true
			}
			return "false", true
		}
		return "", false
	}
	if arr, ok := v.v.([]value); ok {
		if len(arr) == 0 {
			return nil, invalid(at, "is an empty array; give at least one value")
		}
		out := make([]string, 0, len(arr))
		for _, e := range arr {
			s, ok := one(e)
			if !ok {
				return nil, invalid(at, "condition values are strings, numbers or booleans, not %s", e.kind())
			}
			out = append(out, s)
		}
		return out, nil
	}
	s, ok := one(v)
	if !ok {
		return nil, invalid(at, "condition values are strings, numbers or booleans, not %s", v.kind())
	}
	return []string{s}, nil
}

func invalid(at, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if at != "" {
		msg = at + ": " + msg
	}
	return fmt.Errorf("%w: %s", ErrInvalid, msg)
}

// value is one JSON value; objects keep their members in order so duplicate
// names can be refused (IAM's grammar: "Individual elements must not contain
// multiple instances of the same key").
type value struct{ v any } // string, json.Number, bool, nil, []value, []member

type member struct {
	name string
	val  value
}

func (v value) kind() string {
	switch v.v.(type) {
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	case []value:
		return "an array"
	case []member:
		return "an object"
	}
	return "an unknown value"
}

func readValue(dec *json.Decoder, depth int) (value, error) {
	if depth > maxDepth {
		return value{}, fmt.Errorf("nested deeper than %d levels", maxDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return value{}, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			var obj []member
			for dec.More() {
				nt, err := dec.Token()
				if err != nil {
					return value{}, err
				}
				name, _ := nt.(string)
				if slices.ContainsFunc(obj, func(m member) bool { return m.name == name }) {
					return value{}, fmt.Errorf("%q appears twice in one object", name)
				}
				v, err := readValue(dec, depth+1)
				if err != nil {
					return value{}, err
				}
				obj = append(obj, member{name, v})
			}
			if _, err := dec.Token(); err != nil {
				return value{}, err
			}
			if obj == nil {
				obj = []member{}
			}
			return value{obj}, nil
		case '[':
			arr := []value{}
			for dec.More() {
				v, err := readValue(dec, depth+1)
				if err != nil {
					return value{}, err
				}
				arr = append(arr, v)
			}
			if _, err := dec.Token(); err != nil {
				return value{}, err
			}
			return value{arr}, nil
		}
		return value{}, fmt.Errorf("unexpected %v", t)
	default:
		return value{t}, nil
	}
}

// Accounts returns the 12-digit account IDs the AWS principals of the
// statements with effect e name (an account ID, an account root, or any IAM
// or STS ARN), sorted and without duplicates.
func (p Policy) Accounts(e Effect) []string {
	set := map[string]bool{}
	for _, st := range p.Statements {
		if st.Effect != e || st.Principal == nil {
			continue
		}
		for _, a := range st.Principal.AWS {
			if acct := principalAccount(a); acct != "" {
				set[acct] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for a := range set {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}
