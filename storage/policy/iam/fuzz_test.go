package iam_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/lakeport/lakeport/storage/policy/iam"
)

// FuzzParse: any input either parses into a policy every statement of which
// can be evaluated, or fails with ErrInvalid; never a panic. A parsed policy
// marshals back to JSON that parses again to the same statements.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		`{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:root","arn:aws:iam::111122223333:role/w"]},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"lp-1"}}}]}`,
		`{"Statement":{"Effect":"Deny","NotAction":"s3:*","NotResource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],"Principal":"*","Condition":{"Bool":{"aws:SecureTransport":false},"ForAnyValue:StringLikeIfExists":{"aws:TagKeys":["a*"]}}}}`,
		`{"Statement":[{"Effect":"Allow","Action":["s3:Get*"],"Resource":"arn:aws:s3:::b/${aws:username}/*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"},"Null":{"aws:SourceVpce":"true"},"NumericLessThan":{"s3:max-keys":10}}}]}`,
		`{"Statement":[{"Effect":"Allow","Effect":"Allow","Action":"*"}]}`,
		`{"Statement":[]}`, `[`, `{}`, `""`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		p, err := iam.Parse(doc)
		if err != nil {
			if !errors.Is(err, iam.ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		req := iam.Request{
			Principal: iam.Principal{Account: "123456789012", ARN: "arn:aws:iam::123456789012:role/r"},
			Action:    "s3:PutObject", Resource: "arn:aws:s3:::b/k",
			Context: iam.Keys{"aws:SecureTransport": {"true"}, "aws:username": {"u"}, "aws:TagKeys": {"a", "b"}},
		}
		r := iam.Evaluate(p, req)
		if n := len(r.Denies) + len(r.Allows) + len(r.MaybeDenies) + len(r.MaybeAllows) + len(r.Others); n != len(p.Statements) {
			t.Fatalf("evaluated %d of %d statements", n, len(p.Statements))
		}
		again, err := iam.Parse(roundTrip(t, p))
		if err != nil {
			t.Fatalf("a parsed policy written back does not parse: %v", err)
		}
		if len(again.Statements) != len(p.Statements) || iam.Evaluate(again, req).Decision != r.Decision {
			t.Fatalf("round trip changed the policy")
		}
	})
}

// roundTrip writes a parsed policy back as a document.
func roundTrip(t *testing.T, p iam.Policy) []byte {
	var stmts []map[string]any
	for _, s := range p.Statements {
		m := map[string]any{"Effect": s.Effect}
		if s.Sid != "" {
			m["Sid"] = s.Sid
		}
		put := func(k string, v []string) {
			if v != nil {
				m[k] = v
			}
		}
		put("Action", s.Action)
		put("NotAction", s.NotAction)
		put("Resource", s.Resource)
		put("NotResource", s.NotResource)
		for k, ps := range map[string]*iam.Principals{"Principal": s.Principal, "NotPrincipal": s.NotPrincipal} {
			if ps == nil {
				continue
			}
			if ps.All {
				m[k] = "*"
				continue
			}
			pm := map[string][]string{}
			for name, v := range map[string][]string{"AWS": ps.AWS, "Service": ps.Service, "Federated": ps.Federated, "CanonicalUser": ps.CanonicalUser} {
				if v != nil {
					pm[name] = v
				}
			}
			m[k] = pm
		}
		if len(s.Conditions) > 0 {
			cm := map[string]map[string][]string{}
			for _, c := range s.Conditions {
				if cm[c.Operator] == nil {
					cm[c.Operator] = map[string][]string{}
				}
				cm[c.Operator][c.Key] = c.Values
			}
			m["Condition"] = cm
		}
		stmts = append(stmts, m)
	}
	out, err := json.Marshal(map[string]any{"Statement": stmts})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
