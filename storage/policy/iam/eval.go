package iam

// Request is one request to evaluate: who asks to do what to which resource,
// with which condition keys.
type Request struct {
	Principal Principal
	Action    string // e.g. "s3:PutObject"
	Resource  string // an ARN
	Context   Context
}

// Decision is the outcome of evaluating one policy, or several together.
type Decision string

const (
	Allowed      Decision = "Allow"
	ExplicitDeny Decision = "ExplicitDeny"
	ImplicitDeny Decision = "ImplicitDeny"
)

// Explanation says which parts of a statement match a request.
type Explanation struct {
	Statement Statement
	Principal PrincipalMatch // NoPrincipal when the statement does not name the caller
	Action    bool
	Resource  bool
	// Failed are the conditions that are false for the request; Unknown,
	// those that depend on context values lakeport cannot know.
	Failed  []Condition
	Unknown []Condition
	// Applies is the conjunction of all of the above.
	Applies Tri
}

// Explain matches one statement against a request, element by element.
// A statement without Principal or NotPrincipal (an identity policy's)
// applies to the caller it is attached to.
func Explain(st Statement, req Request) Explanation {
	ex := Explanation{Statement: st}
	principal := True
	switch {
	case st.Principal != nil:
		ex.Principal = matchPrincipals(st.Principal, req.Principal)
		switch ex.Principal {
		case NoPrincipal:
			principal = False
		case MaybeARN:
			principal = Unknown
		}
	case st.NotPrincipal != nil:
		// Everyone except those named.
		switch matchPrincipals(st.NotPrincipal, req.Principal) {
		case NoPrincipal:
			ex.Principal = ByWildcard
		case MaybeARN:
			ex.Principal, principal = MaybeARN, Unknown
		default:
			ex.Principal, principal = NoPrincipal, False
		}
	default:
		ex.Principal = ByARN
	}

	if st.Action != nil {
		ex.Action = anyMatch(st.Action, req.Action, actionMatches)
	} else {
		ex.Action = !anyMatch(st.NotAction, req.Action, actionMatches)
	}
	switch {
	case st.Resource != nil:
		ex.Resource = anyResource(st.Resource, req)
	case st.NotResource != nil:
		ex.Resource = !anyResource(st.NotResource, req)
	default:
		// No Resource: a trust policy's statements are about the role itself.
		ex.Resource = true
	}

	conds := True
	for _, c := range st.Conditions {
		switch c.Eval(req.Context) {
		case False:
			ex.Failed = append(ex.Failed, c)
			conds = False
		case Unknown:
			ex.Unknown = append(ex.Unknown, c)
			conds = and(conds, Unknown)
		}
	}
	ex.Applies = and(and(principal, tri(ex.Action && ex.Resource)), conds)
	return ex
}

func anyMatch(patterns []string, s string, match func(string, string) bool) bool {
	for _, p := range patterns {
		if match(p, s) {
			return true
		}
	}
	return false
}

// anyResource matches resource patterns, policy variables (${aws:username})
// resolved from the request context; a pattern whose variable cannot be
// resolved matches nothing.
func anyResource(patterns []string, req Request) bool {
	for _, p := range patterns {
		if p != "*" && containsVariable(p) {
			if req.Context == nil {
				continue
			}
			resolved, t := expandVariables(p, req.Context)
			if t != True {
				continue
			}
			p = resolved
		}
		if arnMatches(p, req.Resource) {
			return true
		}
	}
	return false
}

func containsVariable(s string) bool {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '$' && s[i+1] == '{' {
			return true
		}
	}
	return false
}

// Result is the evaluation of one policy for one request.
type Result struct {
	// Decision counts only statements that surely apply.
	Decision Decision
	// Denies and Allows are the statements that apply; MaybeDenies and
	// MaybeAllows those that apply depending on unknown context values.
	Denies, Allows           []Explanation
	MaybeDenies, MaybeAllows []Explanation
	// Others are the statements that do not apply (for explaining a
	// refusal: which Allow came close, and what it lacks).
	Others []Explanation
}

// Evaluate evaluates the request against one policy: an applicable Deny
// makes it ExplicitDeny; otherwise an applicable Allow makes it Allow;
// otherwise it is ImplicitDeny.
func Evaluate(p Policy, req Request) Result {
	if req.Context == nil {
		req.Context = Keys{}
	}
	var r Result
	for _, st := range p.Statements {
		ex := Explain(st, req)
		switch {
		case ex.Applies == True && st.Effect == Deny:
			r.Denies = append(r.Denies, ex)
		case ex.Applies == True:
			r.Allows = append(r.Allows, ex)
		case ex.Applies == Unknown && st.Effect == Deny:
			r.MaybeDenies = append(r.MaybeDenies, ex)
		case ex.Applies == Unknown:
			r.MaybeAllows = append(r.MaybeAllows, ex)
		default:
			r.Others = append(r.Others, ex)
		}
	}
	switch {
	case len(r.Denies) > 0:
		r.Decision = ExplicitDeny
	case len(r.Allows) > 0:
		r.Decision = Allowed
	default:
		r.Decision = ImplicitDeny
	}
	return r
}
