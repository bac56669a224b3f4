package iam_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/lakeport/lakeport/storage/policy/iam"
)

func mustParse(t *testing.T, doc string) iam.Policy {
	t.Helper()
	p, err := iam.Parse([]byte(doc))
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, doc)
	}
	return p
}

func TestParseSingleValuesAndArrays(t *testing.T) {
	// The grammar: "If the element takes an array ... but only one value is
	// included, the brackets are optional", and Statement may be one object.
	p := mustParse(t, `{"Version":"2012-10-17","Statement":{"Sid":"One","Effect":"Allow",
		"Principal":{"AWS":"111122223333"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*",
		"Condition":{"Bool":{"aws:SecureTransport":true},"NumericLessThan":{"s3:max-keys":10},"StringEquals":{"sts:ExternalId":["a","b"]}}}}`)
	st := p.Statements[0]
	if st.Ref() != "One" || st.Effect != iam.Allow || st.Action[0] != "s3:GetObject" || st.Resource[0] != "arn:aws:s3:::b/*" || st.Principal.AWS[0] != "111122223333" {
		t.Fatalf("statement = %+v", st)
	}
	got := map[string]string{}
	for _, c := range st.Conditions {
		got[c.Key] = strings.Join(c.Values, ",")
	}
	if got["aws:SecureTransport"] != "true" || got["s3:max-keys"] != "10" || got["sts:ExternalId"] != "a,b" {
		t.Fatalf("conditions = %v", got)
	}
	p = mustParse(t, `{"Statement":[{"Effect":"Deny","NotAction":["s3:*"],"NotResource":"*","NotPrincipal":{"AWS":["arn:aws:iam::111122223333:root"]}},{"Effect":"Allow","Action":"*","Principal":"*"}]}`)
	if len(p.Statements) != 2 || p.Statements[1].Ref() != "#2" || !p.Statements[1].Principal.All || p.Statements[0].NotResource[0] != "*" {
		t.Fatalf("policy = %+v", p)
	}
}

func TestParseErrorsNameTheElement(t *testing.T) {
	for _, c := range []struct{ doc, want string }{
		{``, "empty"},
		{`[]`, "JSON object"},
		{`{"Version":"2012-10-17"}`, "Statement: is missing"},
		{`{"Version":"2012-10-18","Statement":[]}`, "Version"},
		{`{"Statement":[]}`, "Statement: is empty"},
		{`{"Statement":[{"Effect":"allow","Action":"s3:*"}]}`, `Statement[0].Effect: must be "Allow" or "Deny"`},
		{`{"Statement":[{"Effect":"Allow"}]}`, "Statement[0].Action: is missing"},
		{`{"Statement":[{"Effect":"Allow","Action":"a","NotAction":"b"}]}`, "not both"},
		{`{"Statement":[{"Effect":"Allow","Action":[]}]}`, "Statement[0].Action: is an empty array"},
		{`{"Statement":[{"Effect":"Allow","Action":[1]}]}`, "must hold strings"},
		{`{"Statement":[{"Effect":"Allow","action":"s3:*"}]}`, `Statement[0].action: is not a statement element`},
		{`{"Statement":[{"Effect":"Allow","Effect":"Deny","Action":"s3:*"}]}`, `"Effect" appears twice`},
		{`{"Statement":[{"Effect":"Allow","Action":"s3:*","Principal":"me"}]}`, `Statement[0].Principal: as a string it can only be "*"`},
		{`{"Statement":[{"Effect":"Allow","Action":"s3:*","Principal":{"Aws":"1"}}]}`, `Statement[0].Principal.Aws: is not a principal type`},
		{`{"Statement":[{"Effect":"Allow","Action":"s3:*","Condition":{"StringEqualz":{"k":"v"}}}]}`, `Statement[0].Condition.StringEqualz: "StringEqualz" is not a condition operator`},
		{`{"Statement":[{"Effect":"Allow","Action":"s3:*","Condition":{"StringEquals":{"k":{"x":1}}}}]}`, `condition values are strings`},
		{`{"Statement":[{"Effect":"Allow","Action":"s3:*","Condition":{"StringEquals":{"aws:SourceIp":"a","AWS:sourceip":"b"}}}]}`, `appears twice under this operator`},
		{`{"Statement":[{"Effect":"Allow","Action":"s3:*","Condition":{"NullIfExists":{"k":"true"}}}]}`, `Null cannot take IfExists`},
		{`{"Statement":[{"Effect":"Allow","Action":"s3:*","Condition":{"Null":{"k":"yes"}}}]}`, `Null takes`},
		{`{"Statement":[{"Effect":"Allow","Action":"s3:*"}]} {}`, "more after"},
		{strings.Repeat("[", 40) + strings.Repeat("]", 40), "nested deeper"},
	} {
		_, err := iam.Parse([]byte(c.doc))
		if err == nil || !errors.Is(err, iam.ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%.60s) = %v, want an ErrInvalid naming %q", c.doc, err, c.want)
		}
	}
}

var role = iam.Principal{Account: "123456789012", ARN: "arn:aws:iam::123456789012:role/lakeport-access"}

func eval(t *testing.T, doc string, req iam.Request) iam.Decision {
	t.Helper()
	if req.Principal == (iam.Principal{}) {
		req.Principal = role
	}
	return iam.Evaluate(mustParse(t, doc), req).Decision
}

func TestActionsAndResources(t *testing.T) {
	put := iam.Request{Action: "s3:PutObject", Resource: "arn:aws:s3:::acme/a/b.parquet"}
	for _, c := range []struct {
		name, stmt string
		req        iam.Request
		want       iam.Decision
	}{
		// "The prefix and the action name are case insensitive."
		{"action case", `"Action":"S3:putobject","Resource":"arn:aws:s3:::acme/*"`, put, iam.Allowed},
		{"action wildcard", `"Action":"s3:Put*","Resource":"arn:aws:s3:::acme/*"`, put, iam.Allowed},
		{"action ?", `"Action":"s3:?utObject","Resource":"arn:aws:s3:::acme/*"`, put, iam.Allowed},
		{"other action", `"Action":"s3:GetObject*","Resource":"arn:aws:s3:::acme/*"`, put, iam.ImplicitDeny},
		{"NotAction excludes", `"NotAction":"s3:PutObject","Resource":"*"`, put, iam.ImplicitDeny},
		{"NotAction includes the rest", `"NotAction":"s3:Delete*","Resource":"*"`, put, iam.Allowed},
		// Resource ARNs are case-sensitive.
		{"resource case", `"Action":"s3:*","Resource":"arn:aws:s3:::ACME/*"`, put, iam.ImplicitDeny},
		{"bucket ARN is not the objects", `"Action":"s3:*","Resource":"arn:aws:s3:::acme"`, put, iam.ImplicitDeny},
		{"star in last part runs past slashes", `"Action":"s3:*","Resource":"arn:aws:s3:::ac*"`, put, iam.Allowed},
		// "If the * wildcard is the last character of a resource ARN segment,
		// it can expand to match beyond colon boundaries."
		{"star ends a short pattern", `"Action":"s3:*","Resource":"arn:aws:s3:*"`, put, iam.Allowed},
		{"star within a part stays in it", `"Action":"kms:*","Resource":"arn:aws:kms:*:123456789012:key/*"`,
			iam.Request{Action: "kms:Decrypt", Resource: "arn:aws:kms:eu-west-1:123456789012:key/k1"}, iam.Allowed},
		{"star within a part does not cross a colon", `"Action":"kms:*","Resource":"arn:aws:kms:*:key/*"`,
			iam.Request{Action: "kms:Decrypt", Resource: "arn:aws:kms:eu-west-1:123456789012:key/k1"}, iam.ImplicitDeny},
		{"NotResource", `"Action":"s3:*","NotResource":"arn:aws:s3:::acme/secret/*"`, put, iam.Allowed},
		{"NotResource excludes", `"Action":"s3:*","NotResource":"arn:aws:s3:::acme/a/*"`, put, iam.ImplicitDeny},
	} {
		if got := eval(t, `{"Statement":[{"Effect":"Allow",`+c.stmt+`}]}`, c.req); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

func TestDenyBeatsAllow(t *testing.T) {
	doc := `{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"},{"Sid":"NoDeletes","Effect":"Deny","Action":"s3:Delete*","Resource":"*"}]}`
	r := iam.Evaluate(mustParse(t, doc), iam.Request{Principal: role, Action: "s3:DeleteObject", Resource: "arn:aws:s3:::b/k"})
	if r.Decision != iam.ExplicitDeny || len(r.Denies) != 1 || r.Denies[0].Statement.Ref() != "NoDeletes" || len(r.Allows) != 1 {
		t.Fatalf("result = %+v", r)
	}
	if got := eval(t, doc, iam.Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k"}); got != iam.Allowed {
		t.Fatalf("GetObject: %s", got)
	}
	if got := eval(t, `{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`, iam.Request{Action: "s3:PutObject", Resource: "arn:aws:s3:::b/k"}); got != iam.ImplicitDeny {
		t.Fatalf("nothing allows it: %s", got)
	}
}

func TestPrincipals(t *testing.T) {
	assume := func(p iam.Principal) iam.Request {
		return iam.Request{Principal: p, Action: "sts:AssumeRole", Resource: "arn:aws:iam::123456789012:role/x"}
	}
	platform := iam.Principal{Account: "111122223333"} // only the account is known
	worker := iam.Principal{Account: "111122223333", ARN: "arn:aws:iam::111122223333:role/worker"}
	stmt := func(principal string) string {
		return `{"Statement":[{"Effect":"Allow","Principal":` + principal + `,"Action":"sts:AssumeRole"}]}`
	}
	for _, c := range []struct {
		principal string
		who       iam.Principal
		want      iam.PrincipalMatch
	}{
		{`{"AWS":"arn:aws:iam::111122223333:root"}`, platform, iam.ByAccount},
		{`{"AWS":"111122223333"}`, worker, iam.ByAccount},
		{`{"AWS":"arn:aws:iam::111122223333:role/worker"}`, worker, iam.ByARN},
		{`{"AWS":"arn:aws:iam::111122223333:role/other"}`, worker, iam.NoPrincipal},
		{`{"AWS":"arn:aws:iam::111122223333:role/other"}`, platform, iam.MaybeARN},
		{`{"AWS":"arn:aws:iam::999999999999:root"}`, platform, iam.NoPrincipal},
		{`"*"`, platform, iam.ByWildcard},
		{`{"AWS":"*"}`, worker, iam.ByWildcard},
		// "You cannot use a wildcard to match part of a principal name or ARN."
		{`{"AWS":"arn:aws:iam::111122223333:role/work*"}`, worker, iam.NoPrincipal},
		{`{"Service":"s3.amazonaws.com"}`, worker, iam.NoPrincipal},
	} {
		p := mustParse(t, stmt(c.principal))
		ex := iam.Explain(p.Statements[0], assume(c.who))
		if ex.Principal != c.want {
			t.Errorf("%s for %+v: %v, want %v", c.principal, c.who, ex.Principal, c.want)
		}
	}
	if iam.ByAccount.Direct() || !iam.ByARN.Direct() || !iam.ByWildcard.Direct() {
		t.Fatal("only a principal named by ARN or * is granted directly by a resource policy")
	}
	not := mustParse(t, `{"Statement":[{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:role/worker"},"Action":"*"}]}`)
	if d := iam.Evaluate(not, assume(worker)).Decision; d != iam.ImplicitDeny {
		t.Fatalf("NotPrincipal excludes the worker: %s", d)
	}
	if d := iam.Evaluate(not, assume(iam.Principal{Account: "999999999999", ARN: "arn:aws:iam::999999999999:role/x"})).Decision; d != iam.ExplicitDeny {
		t.Fatalf("NotPrincipal denies everyone else: %s", d)
	}
	if p := mustParse(t, stmt(`{"AWS":["arn:aws:iam::1:role/a*","*"]}`)); len(p.Statements[0].PartialWildcards()) != 1 || !p.Statements[0].TrustsEveryone() {
		t.Fatal("PartialWildcards / TrustsEveryone")
	}
}

// ctx is a context with unknown keys.
type ctx struct {
	iam.Keys
	unknown []string
}

func (c ctx) Key(k string) ([]string, iam.KeyState) {
	for _, u := range c.unknown {
		if strings.EqualFold(u, k) {
			return nil, iam.UnknownValue
		}
	}
	return c.Keys.Key(k)
}

func TestConditions(t *testing.T) {
	keys := iam.Keys{
		"sts:ExternalId":        {"lp-abc"},
		"aws:SecureTransport":   {"true"},
		"aws:PrincipalArn":      {"arn:aws:iam::123456789012:role/lakeport-access"},
		"s3:max-keys":           {"1000"},
		"aws:SourceIp":          {"203.0.113.7"},
		"aws:CurrentTime":       {"2026-06-01T12:00:00Z"},
		"aws:TagKeys":           {"team", "env"},
		"aws:username":          {"lakeport"},
		"aws:PrincipalTag/team": {"data"},
	}
	c := ctx{Keys: keys, unknown: []string{"aws:PrincipalOrgID"}}
	for _, tc := range []struct {
		cond string
		want iam.Tri
	}{
		{`"StringEquals":{"sts:ExternalId":"lp-abc"}`, iam.True},
		// "Condition key names are not case-sensitive"; values are, per operator.
		{`"StringEquals":{"STS:externalid":"lp-abc"}`, iam.True},
		{`"StringEquals":{"sts:ExternalId":"LP-ABC"}`, iam.False},
		{`"StringEqualsIgnoreCase":{"sts:ExternalId":"LP-ABC"}`, iam.True},
		{`"StringLike":{"sts:ExternalId":"lp-*"}`, iam.True},
		{`"StringLike":{"sts:ExternalId":"lp-ab?"}`, iam.True},
		// Several values of one key: OR; for a negated operator: NOR.
		{`"StringEquals":{"sts:ExternalId":["x","lp-abc"]}`, iam.True},
		{`"StringNotEquals":{"sts:ExternalId":["x","lp-abc"]}`, iam.False},
		{`"StringNotEquals":{"sts:ExternalId":["x","y"]}`, iam.True},
		// Several keys and operators: AND.
		{`"StringEquals":{"sts:ExternalId":"lp-abc","aws:username":"other"}`, iam.False},
		// A key absent from the request: false, true when negated.
		{`"StringEquals":{"aws:SourceVpce":"vpce-1"}`, iam.False},
		{`"StringNotEquals":{"aws:SourceVpce":"vpce-1"}`, iam.True},
		{`"ArnNotLike":{"aws:SourceArn":"arn:aws:s3:::x"}`, iam.True},
		// ...IfExists: true when absent, checked when present.
		{`"StringEqualsIfExists":{"aws:SourceVpce":"vpce-1"}`, iam.True},
		{`"StringEqualsIfExists":{"sts:ExternalId":"other"}`, iam.False},
		// Null: "true" means absent.
		{`"Null":{"aws:SourceVpce":"true"}`, iam.True},
		{`"Null":{"sts:ExternalId":"true"}`, iam.False},
		{`"Null":{"sts:ExternalId":"false"}`, iam.True},
		{`"Bool":{"aws:SecureTransport":"false"}`, iam.False},
		{`"Bool":{"aws:SecureTransport":"TRUE"}`, iam.True},
		{`"NumericLessThanEquals":{"s3:max-keys":"10"}`, iam.False},
		{`"NumericGreaterThan":{"s3:max-keys":"999"}`, iam.True},
		{`"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}`, iam.True},
		{`"IpAddress":{"aws:SourceIp":"203.0.113.8"}`, iam.False},
		{`"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","2001:db8::/32"]}`, iam.True},
		{`"DateLessThan":{"aws:CurrentTime":"2027-01-01T00:00:00Z"}`, iam.True},
		{`"DateGreaterThan":{"aws:CurrentTime":"1798761600"}`, iam.False},
		{`"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/lakeport-*"}`, iam.True},
		{`"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::123456789012:role/other"}`, iam.False},
		{`"StringEquals":{"aws:PrincipalTag/TEAM":"data"}`, iam.True},
		// Set operators over a multi-valued key.
		{`"ForAllValues:StringEquals":{"aws:TagKeys":["team","env","owner"]}`, iam.True},
		{`"ForAllValues:StringEquals":{"aws:TagKeys":["team"]}`, iam.False},
		{`"ForAnyValue:StringEquals":{"aws:TagKeys":["env"]}`, iam.True},
		{`"ForAnyValue:StringEquals":{"aws:TagKeys":["x"]}`, iam.False},
		// "If the key values in the request resolve to an empty data set ... ForAllValues
		// returns true, and ForAnyValue returns false."
		{`"ForAllValues:StringEquals":{"aws:RequestTag/x":["a"]}`, iam.True},
		{`"ForAnyValue:StringEquals":{"aws:RequestTag/x":["a"]}`, iam.False},
		// Policy variables resolve from the request.
		{`"StringEquals":{"sts:ExternalId":"${aws:username}"}`, iam.False},
		{`"StringLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/${aws:username}-access"}`, iam.True},
		// Unknown values make the condition unknown, negated or not.
		{`"StringEquals":{"aws:PrincipalOrgID":"o-1"}`, iam.Unknown},
		{`"StringNotEquals":{"aws:PrincipalOrgID":"o-1"}`, iam.Unknown},
		{`"Null":{"aws:PrincipalOrgID":"true"}`, iam.Unknown},
	} {
		p := mustParse(t, `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{`+tc.cond+`}}]}`)
		ex := iam.Explain(p.Statements[0], iam.Request{Principal: role, Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k", Context: c})
		if ex.Applies != tc.want {
			t.Errorf("%s: %v, want %v", tc.cond, ex.Applies, tc.want)
		}
	}
}

func TestUnknownMakesMaybe(t *testing.T) {
	doc := mustParse(t, `{"Statement":[{"Sid":"OrgOnly","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*","Condition":{"StringNotEquals":{"aws:PrincipalOrgID":"o-1"}}}]}`)
	r := iam.Evaluate(doc, iam.Request{Principal: role, Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k", Context: ctx{Keys: iam.Keys{}, unknown: []string{"aws:PrincipalOrgID"}}})
	if r.Decision != iam.ImplicitDeny || len(r.MaybeDenies) != 1 || r.MaybeDenies[0].Unknown[0].Key != "aws:PrincipalOrgID" {
		t.Fatalf("result = %+v", r)
	}
}

func TestAccounts(t *testing.T) {
	p := mustParse(t, `{"Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::999988887777:role/a","111122223333","arn:aws:iam::999988887777:root","*"]},"Action":"*"},
		{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"*"}]}`)
	if got := strings.Join(p.Accounts(iam.Allow), ","); got != "111122223333,999988887777" {
		t.Fatalf("Accounts = %s", got)
	}
}
