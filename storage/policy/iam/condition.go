package iam

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Tri is a three-valued truth: whether a statement or condition holds for a
// request whose context is partly unknown.
type Tri int

const (
	False Tri = iota
	Unknown
	True
)

func (t Tri) String() string { return [...]string{"false", "unknown", "true"}[t] }

func and(a, b Tri) Tri { return min(a, b) }
func or(a, b Tri) Tri  { return max(a, b) }
func not(a Tri) Tri    { return True - a }

// KeyState says whether a request carries a condition key.
type KeyState int

const (
	// Absent: the request does not carry the key.
	Absent KeyState = iota
	// Present: the request carries the key with the values given.
	Present
	// UnknownValue: the key may be present, with values lakeport cannot know.
	UnknownValue
)

// Context is the request context's condition keys.
type Context interface {
	// Key returns a key's values and state; key is given in lower case
	// (condition key names are case-insensitive).
	Key(key string) ([]string, KeyState)
}

// Keys is a Context from a map: listed keys are present, others absent.
// Key names are matched case-insensitively.
type Keys map[string][]string

// Key implements Context.
func (k Keys) Key(key string) ([]string, KeyState) {
	for name, v := range k {
		if strings.EqualFold(name, key) {
			return v, Present
		}
	}
	return nil, Absent
}

// operator is a parsed condition operator: a base comparison, an optional
// set qualifier (ForAllValues:/ForAnyValue:) and an optional IfExists.
type operator struct {
	base     string // canonical name, e.g. "StringLike"
	forAll   bool
	forAny   bool
	ifExists bool
}

type opInfo struct {
	negated bool
	kind    string // string, like, fold, numeric, date, bool, binary, ip, arn, null
	cmp     string // numeric/date comparisons: eq, lt, le, gt, ge
}

var operators = map[string]opInfo{
	"StringEquals":              {kind: "string"},
	"StringNotEquals":           {kind: "string", negated: true},
	"StringEqualsIgnoreCase":    {kind: "fold"},
	"StringNotEqualsIgnoreCase": {kind: "fold", negated: true},
	"StringLike":                {kind: "like"},
	"StringNotLike":             {kind: "like", negated: true},
	"NumericEquals":             {kind: "numeric", cmp: "eq"},
	"NumericNotEquals":          {kind: "numeric", cmp: "eq", negated: true},
	"NumericLessThan":           {kind: "numeric", cmp: "lt"},
	"NumericLessThanEquals":     {kind: "numeric", cmp: "le"},
	"NumericGreaterThan":        {kind: "numeric", cmp: "gt"},
	"NumericGreaterThanEquals":  {kind: "numeric", cmp: "ge"},
	"DateEquals":                {kind: "date", cmp: "eq"},
	"DateNotEquals":             {kind: "date", cmp: "eq", negated: true},
	"DateLessThan":              {kind: "date", cmp: "lt"},
	"DateLessThanEquals":        {kind: "date", cmp: "le"},
	"DateGreaterThan":           {kind: "date", cmp: "gt"},
	"DateGreaterThanEquals":     {kind: "date", cmp: "ge"},
	"Bool":                      {kind: "bool"},
	"BinaryEquals":              {kind: "binary"},
	"IpAddress":                 {kind: "ip"},
	"NotIpAddress":              {kind: "ip", negated: true},
	"ArnEquals":                 {kind: "arn"},
	"ArnLike":                   {kind: "arn"},
	"ArnNotEquals":              {kind: "arn", negated: true},
	"ArnNotLike":                {kind: "arn", negated: true},
	"Null":                      {kind: "null"},
}

func parseOperator(name string) (operator, error) {
	var op operator
	rest := name
	if q, r, ok := strings.Cut(rest, ":"); ok {
		switch {
		case strings.EqualFold(q, "ForAllValues"):
			op.forAll = true
		case strings.EqualFold(q, "ForAnyValue"):
			op.forAny = true
		default:
			return op, fmt.Errorf("%q is not a set qualifier (ForAllValues: or ForAnyValue:)", q)
		}
		rest = r
	}
	if b, ok := cutSuffixFold(rest, "IfExists"); ok && b != "" {
		op.ifExists = true
		rest = b
	}
	for canon := range operators {
		if strings.EqualFold(canon, rest) {
			op.base = canon
		}
	}
	switch {
	case op.base == "":
		return op, fmt.Errorf("%q is not a condition operator (StringEquals, StringLike, ArnLike, Bool, IpAddress, Null, ...)", name)
	case op.base == "Null" && (op.ifExists || op.forAll || op.forAny):
		return op, fmt.Errorf("Null cannot take IfExists or a set qualifier")
	}
	return op, nil
}

func cutSuffixFold(s, suffix string) (string, bool) {
	if len(s) >= len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix) {
		return s[:len(s)-len(suffix)], true
	}
	return s, false
}

// Negated reports whether the operator is a negated match (StringNotEquals,
// ArnNotLike, NotIpAddress, ...): true when the key is absent.
func (c Condition) Negated() bool { return operators[c.op.base].negated }

// Base is the operator without qualifier and IfExists ("StringLike").
func (c Condition) Base() string { return c.op.base }

// IfExists reports whether the operator ends in IfExists.
func (c Condition) IfExists() bool { return c.op.ifExists }

// Eval decides the condition for a request context, following IAM's rules:
// a key absent from the request makes a condition false, or true for a
// negated operator; ...IfExists is true when the key is absent; Null tests
// presence; several values of one key are ORed (NOR for a negated operator);
// ForAnyValue/ForAllValues compare every request value; a key whose value is
// unknown makes the condition Unknown.
func (c Condition) Eval(ctx Context) Tri {
	info := operators[c.op.base]
	vals, state := ctx.Key(strings.ToLower(c.Key))
	if info.kind == "null" {
		if state == UnknownValue {
			return Unknown
		}
		wantAbsent := strings.EqualFold(c.Values[0], "true")
		if len(c.Values) > 1 {
			return Unknown // "true" and "false" together: always true, but written oddly
		}
		if (state == Absent) == wantAbsent {
			return True
		}
		return False
	}
	switch {
	case state == UnknownValue:
		return Unknown
	case state == Absent || (len(vals) == 0 && !c.op.forAll && !c.op.forAny):
		switch {
		case c.op.ifExists:
			return True
		case c.op.forAll:
			// "If the key values in the request resolve to an empty data set
			// ... ForAllValues returns true, and ForAnyValue returns false."
			return True
		case c.op.forAny:
			return False
		case info.negated:
			return True
		}
		return False
	case len(vals) == 0 && c.op.forAll:
		return True
	case len(vals) == 0 && c.op.forAny:
		return False
	}
	// matches: does request value r match any policy value (positively)?
	matches := func(r string) Tri {
		res := False
		for _, pv := range c.Values {
			res = or(res, matchValue(info, pv, r, ctx))
		}
		return res
	}
	// per is the condition for one request value: matched, or for a
	// negated operator matched by none of the policy's values (NOR).
	per := func(r string) Tri {
		if info.negated {
			return not(matches(r))
		}
		return matches(r)
	}
	if c.op.forAll {
		res := True
		for _, r := range vals {
			res = and(res, per(r))
		}
		return res
	}
	// ForAnyValue, and a plain operator on a key with several values.
	res := False
	for _, r := range vals {
		res = or(res, per(r))
	}
	return res
}

// matchValue compares one policy value with one request value (positively:
// negation is applied by the caller).
func matchValue(info opInfo, pv, r string, ctx Context) Tri {
	if strings.Contains(pv, "${") && (info.kind == "string" || info.kind == "fold" || info.kind == "like" || info.kind == "arn" || info.kind == "bool") {
		resolved, t := expandVariables(pv, ctx)
		if t != True {
			return t
		}
		pv = resolved
	}
	switch info.kind {
	case "string":
		return tri(pv == r)
	case "fold":
		return tri(strings.EqualFold(pv, r))
	case "like":
		return tri(glob(pv, r, false))
	case "arn":
		return tri(arnMatches(pv, r))
	case "bool":
		return tri(strings.EqualFold(pv, r))
	case "numeric":
		a, err1 := strconv.ParseFloat(pv, 64)
		b, err2 := strconv.ParseFloat(r, 64)
		if err1 != nil || err2 != nil || math.IsNaN(a) || math.IsNaN(b) {
			return False
		}
		return tri(compare(info.cmp, b, a))
	case "date":
		a, ok1 := parseDate(pv)
		b, ok2 := parseDate(r)
		if !ok1 || !ok2 {
			return False
		}
		return tri(compare(info.cmp, float64(b.UnixNano()), float64(a.UnixNano())))
	case "binary":
		a, err1 := base64.StdEncoding.DecodeString(pv)
		b, err2 := base64.StdEncoding.DecodeString(r)
		return tri(err1 == nil && err2 == nil && bytes.Equal(a, b))
	case "ip":
		pfx, err := parsePrefix(pv)
		addr, err2 := netip.ParseAddr(r)
		return tri(err == nil && err2 == nil && pfx.Contains(addr.Unmap()))
	}
	return False
}

// compare applies cmp to the request value r and the policy value p.
func compare(cmp string, r, p float64) bool {
	switch cmp {
	case "eq":
		return r == p
	case "lt":
		return r < p
	case "le":
		return r <= p
	case "gt":
		return r > p
	case "ge":
		return r >= p
	}
	return false
}

func tri(b bool) Tri {
	if b {
		return True
	}
	return False
}

// parsePrefix reads a CIDR, or an address (IAM's default prefix is /32).
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return p, err
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// parseDate reads an ISO 8601 date (W3C profile) or epoch seconds.
func parseDate(s string) (time.Time, bool) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0), true
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// expandVariables replaces ${key} policy variables with the request's
// single value of key; ${*}, ${?} and ${$} stand for those characters. A
// variable whose key is absent makes the value match nothing (False); an
// unknown one, Unknown.
func expandVariables(pv string, ctx Context) (string, Tri) {
	var b strings.Builder
	for {
		i := strings.Index(pv, "${")
		if i < 0 {
			b.WriteString(pv)
			return b.String(), True
		}
		j := strings.IndexByte(pv[i:], '}')
		if j < 0 {
			b.WriteString(pv)
			return b.String(), True
		}
		b.WriteString(pv[:i])
		name := pv[i+2 : i+j]
		pv = pv[i+j+1:]
		switch name {
		case "*", "?", "$":
			// In a wildcard match these become wildcards again; lakeport's
			// checks never need to tell the two apart.
			b.WriteString(name)
			continue
		}
		// "${key, 'default'}" form: take the key part.
		if k, _, ok := strings.Cut(name, ","); ok {
			name = strings.TrimSpace(k)
		}
		vals, st := ctx.Key(strings.ToLower(name))
		switch {
		case st == UnknownValue:
			return "", Unknown
		case st == Absent || len(vals) != 1:
			return "", False
		}
		b.WriteString(vals[0])
	}
}
