package iam

import (
	"strings"
)

// glob reports whether s matches pattern, where "*" matches any run of
// characters (none included) and "?" any one character. With fold, letters
// compare case-insensitively. Iterative, so a hostile pattern cannot blow
// up: O(len(s)·len(pattern)) at worst.
func glob(pattern, s string, fold bool) bool {
	if fold {
		pattern, s = strings.ToLower(pattern), strings.ToLower(s)
	}
	p, i := 0, 0
	starP, starI := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			starP, starI = p, i
			p++
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case starP >= 0:
			starI++
			p, i = starP+1, starI
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// hasWildcard reports whether s holds "*" or "?".
func hasWildcard(s string) bool { return strings.ContainsAny(s, "*?") }

// actionMatches: "The prefix and the action name are case insensitive", and
// "*" or "?" may appear anywhere ("s3:Get*", "s3:*Object", "*").
func actionMatches(pattern, action string) bool { return glob(pattern, action, true) }

// arnMatches matches an ARN against an ARN pattern as IAM does for Resource
// and the Arn* condition operators: case-sensitive, wildcards work within
// each of the six colon-separated parts, and a "*" that ends the pattern's
// last part may run past colons ("arn:aws:s3:::*", "arn:aws:kms:*").
// The resource part (the sixth) keeps its own colons and slashes.
func arnMatches(pattern, arn string) bool {
	if pattern == "*" {
		return true
	}
	pp := strings.SplitN(pattern, ":", 6)
	ap := strings.SplitN(arn, ":", 6)
	for i, seg := range pp {
		last := i == len(pp)-1
		if last && strings.HasSuffix(seg, "*") {
			// The rest of the ARN, colons included.
			return i < len(ap) && glob(seg, strings.Join(ap[i:], ":"), false)
		}
		if i >= len(ap) || !glob(seg, ap[i], false) {
			return false
		}
	}
	return len(pp) == len(ap)
}

// Principal is who makes a request, as a resource-based policy sees it.
type Principal struct {
	// Account is the 12-digit account the principal belongs to.
	Account string
	// ARN is the principal's ARN as policies name it: for a role session,
	// the role's ARN (arn:aws:iam::111122223333:role/name). Empty when it is
	// not known (only the account is): a statement naming a specific ARN in
	// that account then "maybe" applies.
	ARN string
	// SessionARN is the role session's ARN
	// (arn:aws:sts::111122223333:assumed-role/name/session), when known.
	SessionARN string
}

// PrincipalMatch says how a statement's Principal names the caller.
type PrincipalMatch int

const (
	// NoPrincipal: the statement does not name the caller.
	NoPrincipal PrincipalMatch = iota
	// MaybeARN: the statement names a specific principal in the caller's
	// account, and the caller's own ARN is not known.
	MaybeARN
	// ByAccount: the statement names the caller's account (an account ID or
	// its root ARN). In a resource policy this delegates to the account: its
	// identity policies must allow the request too.
	ByAccount
	// ByARN: the statement names the caller itself (its ARN or session ARN).
	ByARN
	// ByWildcard: the statement names every principal ("*").
	ByWildcard
)

// Direct reports whether a resource policy statement matched this way grants
// access on its own (without an identity policy in the same account).
func (m PrincipalMatch) Direct() bool { return m == ByARN || m == ByWildcard }

// matchPrincipals says how the element names p (the best way, if several).
func matchPrincipals(ps *Principals, p Principal) PrincipalMatch {
	if ps.All {
		return ByWildcard
	}
	best := NoPrincipal
	for _, v := range ps.AWS {
		m := matchAWSPrincipal(v, p)
		if m > best { // a sure match beats a maybe
			best = m
		}
	}
	// Service, Federated and CanonicalUser principals never name an IAM
	// role session calling with its own credentials.
	return best
}

func matchAWSPrincipal(v string, p Principal) PrincipalMatch {
	if v == "*" {
		return ByWildcard
	}
	if hasWildcard(v) {
		// "You cannot use a wildcard to match part of a principal name or ARN."
		return NoPrincipal
	}
	if isAccountID(v) {
		if v == p.Account {
			return ByAccount
		}
		return NoPrincipal
	}
	parts := strings.SplitN(v, ":", 6)
	if len(parts) == 6 && parts[0] == "arn" && parts[2] == "iam" && parts[5] == "root" {
		if parts[4] == p.Account {
			return ByAccount
		}
		return NoPrincipal
	}
	if (p.ARN != "" && v == p.ARN) || (p.SessionARN != "" && v == p.SessionARN) {
		return ByARN
	}
	if p.ARN == "" && principalAccount(v) == p.Account && p.Account != "" {
		return MaybeARN
	}
	return NoPrincipal
}

// principalAccount is the account an AWS principal value names ("" if none).
func principalAccount(v string) string {
	if isAccountID(v) {
		return v
	}
	parts := strings.SplitN(v, ":", 6)
	if len(parts) == 6 && parts[0] == "arn" && (parts[2] == "iam" || parts[2] == "sts") && isAccountID(parts[4]) {
		return parts[4]
	}
	return ""
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// PartialWildcards returns the AWS principal values of the statement that
// hold a wildcard but are not "*": IAM refuses them ("You cannot use a
// wildcard to match part of a principal name or ARN").
func (s Statement) PartialWildcards() []string {
	var out []string
	for _, ps := range []*Principals{s.Principal, s.NotPrincipal} {
		if ps == nil {
			continue
		}
		for _, v := range ps.AWS {
			if v != "*" && hasWildcard(v) {
				out = append(out, v)
			}
		}
	}
	return out
}

// TrustsEveryone reports whether an Allow statement names every principal:
// "Principal": "*", {"AWS": "*"}, or a NotPrincipal.
func (s Statement) TrustsEveryone() bool {
	if s.Effect != Allow {
		return false
	}
	if s.NotPrincipal != nil {
		return true
	}
	if s.Principal == nil {
		return false
	}
	return s.Principal.All || containsString(s.Principal.AWS, "*")
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
