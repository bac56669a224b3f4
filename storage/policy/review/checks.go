package review

import (
	"fmt"
	"slices"
	"strings"

	"github.com/lakeport/lakeport/storage/policy/iam"
)

// ---- trust policy ----

func (r *reviewer) assume(w who, externalID string) iam.Result {
	return iam.Evaluate(*r.trust, iam.Request{Principal: w.principal, Action: "sts:AssumeRole", Resource: r.in.RoleARN,
		Context: r.assumeRoleContext(w, externalID)})
}

func (r *reviewer) externalIDFix() string {
	return fmt.Sprintf(`use exactly "Condition": {"StringEquals": {"sts:ExternalId": %q}} in the statement that trusts lakeport (this organization's external ID: no wildcard, no IfExists)`, r.in.ExternalID)
}

// checkTrust evaluates lakeport's AssumeRole calls: as the platform and as
// the workers with this organization's external ID (must be allowed), with
// another organization's external ID or none (must be refused), and a
// stranger's with the right external ID (must be refused).
func (r *reviewer) checkTrust() {
	role := r.in.RoleARN
	for _, w := range []who{r.platform(), r.worker()} {
		r.check("trust policy: %s may call sts:AssumeRole on %s with this organization's external ID", w.name, role)
		res := r.assume(w, r.in.ExternalID)
		r.denyFindings(DocTrust, res.Denies, "sts:AssumeRole as "+w.name)
		r.maybeFindings(DocTrust, res, "sts:AssumeRole as "+w.name)

		if len(res.Denies) > 0 {
			continue
		}
		if res.Decision != iam.Allowed {
			r.trustRefused(w, res)
			continue
		}
		// It is allowed: is the external ID what allows it?
		for _, ext := range []string{otherExternalID, ""} {
			other := r.assume(w, ext)
			if other.Decision != iam.Allowed {
				continue
			}
			for _, ex := range other.Allows {
				r.externalIDNotEnforced(ex.Statement, ext == "")
			}
		}
	}
	r.check("trust policy: a request with another organization's external ID, or none, is refused (confused-deputy protection)")
	r.check("trust policy: no principal outside lakeport's can assume the role with the external ID (no Principal \"*\")")
	stranger := who{name: "any AWS account", principal: iam.Principal{Account: strangerAccount, ARN: "arn:" + r.partition + ":iam::" + strangerAccount + ":role/anyone"}}
	for _, ex := range r.assume(stranger, r.in.ExternalID).Allows {
		r.add(Finding{Code: CodePrincipalWildcard, Severity: SeverityError, Document: DocTrust, Statement: ex.Statement.Ref(),
			Message: "this statement trusts every AWS principal (Principal \"*\" or NotPrincipal): anyone in any AWS account who learns or guesses the external ID can assume the role and read and write your bucket — the confused-deputy problem the external ID alone does not solve",
			Fix:     fmt.Sprintf(`name only lakeport's principals: "Principal": {"AWS": [%q, %q]}`, r.platform().trustValue, r.worker().trustValue)})
	}
}

// trustRefused explains why w cannot assume the role.
func (r *reviewer) trustRefused(w who, res iam.Result) {
	for _, ex := range res.MaybeAllows {
		if ex.Principal == iam.MaybeARN {
			r.add(Finding{Code: CodeMissingPrincipal, Severity: SeverityError, Document: DocTrust, Statement: ex.Statement.Ref(),
				Message: fmt.Sprintf("the trust policy names a principal in lakeport's account %s, but not the account itself: lakeport's platform calls come from its own credentials in that account, whose exact ARN is not fixed, so %s is not trusted", w.principal.Account, w.name),
				Fix:     fmt.Sprintf("add %q to the statement's Principal.AWS list", w.trustValue)})
			return
		}
	}
	if len(res.MaybeAllows) > 0 {
		return // reported by maybeFindings
	}
	var close []iam.Explanation
	for _, ex := range res.Others {
		if ex.Statement.Effect == iam.Allow && ex.Principal != iam.NoPrincipal {
			close = append(close, ex)
		}
	}
	if len(close) == 0 {
		target := "the statement that allows sts:AssumeRole"
		for _, st := range r.trust.Statements {
			if st.Effect == iam.Allow && st.Principal != nil && slices.ContainsFunc(st.Action, func(a string) bool { return strings.EqualFold(a, "sts:AssumeRole") }) {
				target = "statement " + st.Ref()
				break
			}
		}
		r.add(Finding{Code: CodeMissingPrincipal, Severity: SeverityError, Document: DocTrust,
			Message: fmt.Sprintf("no statement trusts %s: lakeport assumes the role both as its platform and as its sync workers, so syncs (or Test connection) would fail with AccessDenied on sts:AssumeRole", w.name),
			Fix:     fmt.Sprintf("add %q to Principal.AWS of %s", w.trustValue, target)})
		return
	}
	for _, ex := range close {
		ref := ex.Statement.Ref()
		switch {
		case !ex.Action:
			r.add(Finding{Code: CodeMissingAction, Severity: SeverityError, Document: DocTrust, Statement: ref,
				Message: fmt.Sprintf("this statement trusts lakeport's principals only for %s; lakeport calls sts:AssumeRole", actionList(ex.Statement)),
				Fix:     `set "Action": "sts:AssumeRole" in this statement`})
		case len(ex.Failed) > 0:
			for _, c := range ex.Failed {
				if strings.EqualFold(c.Key, "sts:ExternalId") {
					r.add(Finding{Code: CodeExternalIDMismatch, Severity: SeverityError, Document: DocTrust, Statement: ref,
						Message: fmt.Sprintf("the condition %s does not accept this organization's external ID %q, so lakeport (which always sends it) cannot assume the role", describeCondition(c), r.in.ExternalID),
						Fix:     r.externalIDFix()})
					continue
				}
				r.add(Finding{Code: CodeConditionUnmet, Severity: SeverityError, Document: DocTrust, Statement: ref,
					Message: fmt.Sprintf("lakeport's sts:AssumeRole cannot satisfy the condition %s: %s", describeCondition(c), keyReason(c.Key, r)),
					Fix:     "remove this condition from the statement that trusts lakeport (keep the sts:ExternalId condition)"})
			}
		}
	}
}

// externalIDNotEnforced reports an Allow that lets lakeport in with another
// organization's external ID (or none, when none is set).
func (r *reviewer) externalIDNotEnforced(st iam.Statement, none bool) {
	var ext []iam.Condition
	for _, c := range st.Conditions {
		if strings.EqualFold(c.Key, "sts:ExternalId") {
			ext = append(ext, c)
		}
	}
	f := Finding{Severity: SeverityError, Document: DocTrust, Statement: st.Ref(), Fix: r.externalIDFix()}
	switch {
	case len(ext) == 0:
		f.Code = CodeExternalIDMissing
		f.Message = "this statement lets lakeport's principals assume the role without checking the external ID: another organization on the same lakeport could point its storage at your role, and lakeport would read and write your bucket for it (confused deputy)"
	case slices.ContainsFunc(ext, isWildcardExternalID):
		r.lintExternalIDWildcard(st)
		return
	case none && slices.ContainsFunc(ext, func(c iam.Condition) bool { return c.IfExists() }):
		f.Code = CodeExternalIDMissing
		f.Message = fmt.Sprintf("the condition %s is IfExists: a request without an external ID passes it, so the external ID is not required", describeCondition(ext[0]))
	default:
		f.Code = CodeExternalIDMissing
		f.Message = fmt.Sprintf("the conditions on sts:ExternalId (%s) also accept an external ID other than this organization's, so they do not protect the role from other organizations on the same lakeport", describeConditions(ext))
	}
	r.add(f)
}

func isWildcardExternalID(c iam.Condition) bool {
	if !strings.EqualFold(c.Key, "sts:ExternalId") || c.Negated() || (c.Base() != "StringLike") {
		return false
	}
	return slices.ContainsFunc(c.Values, func(v string) bool { return strings.ContainsAny(v, "*?") })
}

func (r *reviewer) lintExternalIDWildcard(st iam.Statement) {
	for _, c := range st.Conditions {
		if isWildcardExternalID(c) {
			r.add(Finding{Code: CodeExternalIDWildcard, Severity: SeverityError, Document: DocTrust, Statement: st.Ref(),
				Message: fmt.Sprintf("the condition %s matches external IDs by wildcard: it accepts other organizations' IDs too, which defeats the external ID", describeCondition(c)),
				Fix:     r.externalIDFix()})
			return
		}
	}
}

func (r *reviewer) lintTrust() {
	for _, st := range r.trust.Statements {
		if st.HasResource {
			r.add(Finding{Code: CodeInvalidStatement, Severity: SeverityError, Document: DocTrust, Statement: st.Ref(),
				Message: "a trust policy statement has no Resource (it is about the role itself); IAM refuses this document",
				Fix:     "remove Resource/NotResource from this statement"})
		}
		if st.Principal == nil && st.NotPrincipal == nil {
			r.add(Finding{Code: CodeInvalidStatement, Severity: SeverityError, Document: DocTrust, Statement: st.Ref(),
				Message: "a trust policy statement must name who may assume the role (Principal); IAM refuses this document",
				Fix:     fmt.Sprintf(`add "Principal": {"AWS": [%q, %q]}`, r.platform().trustValue, r.worker().trustValue)})
		}
		r.lintPartialWildcards(DocTrust, st)
		if st.Effect == iam.Allow {
			r.lintExternalIDWildcard(st)
		}
	}
}

// ---- permission, bucket and key policies ----

func (r *reviewer) lintPartialWildcards(doc Document, st iam.Statement) {
	if bad := st.PartialWildcards(); len(bad) > 0 {
		r.add(Finding{Code: CodePartialWildcard, Severity: SeverityError, Document: doc, Statement: st.Ref(),
			Message: fmt.Sprintf("the principal %q has a wildcard inside it: IAM does not match part of a principal ARN with a wildcard (only \"*\" alone), so it names no one", bad[0]),
			Fix:     "name each principal exactly (lakeport's role, or lakeport's principals in a trust policy), or match ARNs with an ArnLike condition on aws:PrincipalArn"})
	}
}

func (r *reviewer) lintIdentity() {
	for _, st := range r.perm.Statements {
		if st.Principal != nil || st.NotPrincipal != nil {
			r.add(Finding{Code: CodeInvalidStatement, Severity: SeverityError, Document: DocPermission, Statement: st.Ref(),
				Message: "a permission policy (attached to the role) has no Principal: the role is the principal; IAM refuses this document",
				Fix:     "remove Principal/NotPrincipal from this statement"})
		}
		if !st.HasResource {
			r.add(Finding{Code: CodeInvalidStatement, Severity: SeverityError, Document: DocPermission, Statement: st.Ref(),
				Message: "this statement has no Resource; IAM refuses a permission policy statement without one",
				Fix:     fmt.Sprintf("add the Resource it is for (lakeport's: %s and %s/*)", r.bucketARNOr(), r.bucketARNOr())})
		}
	}
}

func (r *reviewer) bucketARNOr() string {
	if r.bucket == "" {
		return "arn:aws:s3:::BUCKET"
	}
	return r.bucketARN()
}

func (r *reviewer) lintResourcePolicy(doc Document, p *iam.Policy) {
	for _, st := range p.Statements {
		if st.Principal == nil && st.NotPrincipal == nil {
			r.add(Finding{Code: CodeInvalidStatement, Severity: SeverityError, Document: doc, Statement: st.Ref(),
				Message: "a " + doc.Label() + " statement must name its Principal; AWS refuses this document",
				Fix:     fmt.Sprintf(`add "Principal": {"AWS": %q}`, r.in.RoleARN)})
		}
		if !st.HasResource {
			r.add(Finding{Code: CodeInvalidStatement, Severity: SeverityError, Document: doc, Statement: st.Ref(),
				Message: "this statement has no Resource; AWS refuses it", Fix: "add the Resource (a key policy uses \"*\"; a bucket policy the bucket's ARNs)"})
		}
		r.lintPartialWildcards(doc, st)
		if st.TrustsEveryone() && len(st.Conditions) == 0 {
			r.add(Finding{Code: CodePublicAccess, Severity: SeverityWarning, Document: doc, Statement: st.Ref(),
				Message: fmt.Sprintf("this statement allows %s to every principal, anonymous users included, with no condition", actionList(st)),
				Fix:     fmt.Sprintf("name the principals instead (lakeport needs only %s)", r.in.RoleARN)})
		}
	}
}

// checkAccounts reports a bucket or key policy that names principals of
// other accounts only: most often a role ARN with the wrong account.
func (r *reviewer) checkAccounts() {
	if r.roleAcct == "" {
		return
	}
	for _, d := range []struct {
		doc Document
		p   *iam.Policy
	}{{DocBucket, r.bucketPol}, {DocKeyPolicy, r.keyPol}} {
		if d.p == nil || slices.ContainsFunc(d.p.Statements, iam.Statement.TrustsEveryone) {
			continue
		}
		accts := d.p.Accounts(iam.Allow)
		if len(accts) == 0 || slices.Contains(accts, r.roleAcct) {
			continue
		}
		r.add(Finding{Code: CodeAccountMismatch, Severity: SeverityError, Document: d.doc,
			Message: fmt.Sprintf("the %s grants principals of account %s only, but the role %s is in account %s", d.doc.Label(), strings.Join(accts, ", "), r.in.RoleARN, r.roleAcct),
			Fix:     fmt.Sprintf("check the role ARN (its account ID is the 12 digits after \"iam::\"); if it is right, name %q in the %s", r.in.RoleARN, d.doc.Label())})
	}
	if r.keyARN != "" {
		if p := strings.SplitN(r.keyARN, ":", 6); len(p) == 6 && p[4] != r.roleAcct {
			r.check("KMS: the key is in account %s, the role in %s: both the key policy and the permission policy must allow the role", p[4], r.roleAcct)
		}
	}
}

// checkS3 evaluates every S3 request: allowed when the permission policy
// allows it or the bucket policy grants it to the role itself, and no Deny
// in either applies.
func (r *reviewer) checkS3() {
	docs := "permission policy"
	if r.bucketPol != nil {
		docs += " and bucket policy"
	}
	for _, n := range r.s3Needs() {
		r.check("%s: %s on %s — %s", docs, n.action, n.resource, n.what)
		req := iam.Request{Principal: r.role(), Action: n.action, Resource: n.resource, Context: r.s3Context(n)}
		id := iam.Evaluate(*r.perm, req)
		var bp iam.Result
		if r.bucketPol != nil {
			bp = iam.Evaluate(*r.bucketPol, req)
		}
		r.denyFindings(DocPermission, id.Denies, n.action+" on "+n.resource)
		r.denyFindings(DocBucket, bp.Denies, n.action+" on "+n.resource)
		if len(id.Denies)+len(bp.Denies) > 0 {
			continue
		}
		if id.Decision == iam.Allowed || slices.ContainsFunc(bp.Allows, func(ex iam.Explanation) bool { return ex.Principal.Direct() }) {
			r.maybeFindings(DocPermission, id, n.action+" on "+n.resource)
			r.maybeFindings(DocBucket, bp, n.action+" on "+n.resource)
			continue
		}
		if len(id.MaybeAllows)+len(bp.MaybeAllows) > 0 {
			r.maybeFindings(DocPermission, id, n.action+" on "+n.resource)
			r.maybeFindings(DocBucket, bp, n.action+" on "+n.resource)
			continue
		}
		r.refused(n, id, bp, CodeMissingAction)
	}
	r.check("%s: no Deny applies to any of these requests (NotAction and NotResource included; aws:SecureTransport denies spare lakeport, which uses TLS)", docs)
}

// checkKMS evaluates the KMS calls S3 makes for the role. A key policy must
// allow them, either naming the role (or "*"), or naming the role's account
// so that the permission policy decides ("enables IAM policies"); for a key
// in another account, both the key policy and the permission policy.
func (r *reviewer) checkKMS() {
	keyAcct := ""
	if p := strings.SplitN(r.keyARN, ":", 6); len(p) == 6 {
		keyAcct = p[4]
	}
	if r.keyPol == nil {
		r.check("KMS: no key policy was given; the review assumes it enables IAM policies (AWS's default key policy does) and checks the permission policy alone")
	}
	for _, n := range r.kmsNeeds() {
		r.check("KMS: %s on %s — %s", n.action, n.resource, n.what)
		req := iam.Request{Principal: r.role(), Action: n.action, Resource: n.resource, Context: r.kmsContext(n)}
		id := iam.Evaluate(*r.perm, req)
		r.denyFindings(DocPermission, id.Denies, n.action+" on "+n.resource)
		var kp iam.Result
		if r.keyPol != nil {
			kp = iam.Evaluate(*r.keyPol, req)
			r.denyFindings(DocKeyPolicy, kp.Denies, n.action+" on "+n.resource)
		}
		if len(id.Denies)+len(kp.Denies) > 0 {
			continue
		}
		idOK := id.Decision == iam.Allowed
		keyDirect := slices.ContainsFunc(kp.Allows, func(ex iam.Explanation) bool { return ex.Principal.Direct() })
		keyAccount := slices.ContainsFunc(kp.Allows, func(ex iam.Explanation) bool { return ex.Principal == iam.ByAccount })
		var ok bool
		switch {
		case r.keyPol == nil:
			ok = idOK
		case keyAcct == r.roleAcct:
			ok = keyDirect || (keyAccount && idOK)
		default:
			ok = (keyDirect || keyAccount) && idOK
		}
		if ok {
			r.maybeFindings(DocPermission, id, n.action+" on "+n.resource)
			r.maybeFindings(DocKeyPolicy, kp, n.action+" on "+n.resource)
			continue
		}
		if len(id.MaybeAllows)+len(kp.MaybeAllows) > 0 {
			r.maybeFindings(DocPermission, id, n.action+" on "+n.resource)
			r.maybeFindings(DocKeyPolicy, kp, n.action+" on "+n.resource)
			continue
		}
		if r.keyPol != nil && !keyDirect && !keyAccount {
			r.keyPolicyRefuses(n, kp)
			if keyAcct == r.roleAcct {
				continue // the permission policy cannot help until the key policy allows
			}
		}
		if !idOK && (r.keyPol == nil || keyAccount || keyAcct != r.roleAcct) {
			r.refused(n, id, iam.Result{}, CodeKMSActionMissing)
		}
	}
}

func (r *reviewer) keyPolicyRefuses(n need, kp iam.Result) {
	f := Finding{Code: CodeKMSActionMissing, Severity: SeverityError, Document: DocKeyPolicy,
		Message: fmt.Sprintf("the key policy does not allow the role {details}: it neither names the role nor enables IAM policies for account %s", r.roleAcct),
		Fix: fmt.Sprintf(`add a statement allowing "kms:GenerateDataKey" and "kms:Decrypt" to "Principal": {"AWS": %q}, or keep the default statement that enables IAM policies ("Principal": {"AWS": "arn:%s:iam::%s:root"}, "Action": "kms:*")`,
			r.in.RoleARN, r.partition, r.roleAcct)}
	for _, ex := range kp.Others {
		if ex.Statement.Effect != iam.Allow || ex.Principal == iam.NoPrincipal || !ex.Resource {
			continue
		}
		if !ex.Action {
			f.Statement = ex.Statement.Ref()
			f.Message = fmt.Sprintf("this key policy statement allows the role %s, but not {details}", actionList(ex.Statement))
			f.Fix = "add kms:GenerateDataKey and kms:Decrypt to its Action"
		} else if len(ex.Failed) > 0 {
			f.Code = CodeConditionUnmet
			f.Statement = ex.Statement.Ref()
			f.Message = fmt.Sprintf("S3's {details} for the role cannot satisfy %s: %s", describeCondition(ex.Failed[0]), keyReason(ex.Failed[0].Key, r))
			f.Fix = "remove or correct this condition"
		}
		break
	}
	r.addDetail("keypol|"+f.Code+"|"+f.Statement, f, n.action+" ("+n.what+")")
}

// refused explains an allowed-by-nothing request: an Allow that covers the
// action but not lakeport's resource (too narrow), one whose condition
// lakeport cannot meet, or no Allow for the action at all.
func (r *reviewer) refused(n need, id, bp iam.Result, missingCode string) {
	sev := SeverityError
	if n.recommended {
		sev = SeverityWarning
	}
	type cand struct {
		doc Document
		ex  iam.Explanation
	}
	var cands []cand
	for _, ex := range id.Others {
		if ex.Statement.Effect == iam.Allow {
			cands = append(cands, cand{DocPermission, ex})
		}
	}
	for _, ex := range bp.Others {
		if ex.Statement.Effect == iam.Allow && ex.Principal.Direct() {
			cands = append(cands, cand{DocBucket, ex})
		}
	}
	for _, c := range cands {
		if c.ex.Action && c.ex.Resource && len(c.ex.Failed) > 0 {
			cond := c.ex.Failed[0]
			r.addDetail("cond|"+string(c.doc)+"|"+c.ex.Statement.Ref()+"|"+n.action, Finding{Code: CodeConditionUnmet, Severity: sev, Document: c.doc, Statement: c.ex.Statement.Ref(),
				Message: fmt.Sprintf("this statement allows %s only when %s, which lakeport's requests to {details} do not satisfy: %s", n.action, describeCondition(cond), keyReason(cond.Key, r)),
				Fix:     "remove that condition, or add a statement for lakeport's role without it"}, n.what)
			return
		}
	}
	for _, c := range cands {
		if c.ex.Action && !c.ex.Resource {
			r.addDetail("narrow|"+string(c.doc)+"|"+c.ex.Statement.Ref()+"|"+n.action, Finding{Code: CodeResourceTooNarrow, Severity: sev, Document: c.doc, Statement: c.ex.Statement.Ref(),
				Message: fmt.Sprintf("this statement allows %s only on %s, but lakeport needs it on {details}", n.action, resourceList(c.ex.Statement)),
				Fix:     fmt.Sprintf("make its Resource cover %s (%s)", n.resource, r.resourceAdvice(n))}, n.resource+" to "+n.what)
			return
		}
	}
	f := Finding{Code: missingCode, Severity: sev, Document: DocPermission,
		Message: fmt.Sprintf("no statement allows %s, which lakeport needs on {details}", n.action)}
	target := ""
	for _, c := range cands {
		if c.doc == DocPermission && c.ex.Resource && c.ex.Principal != iam.NoPrincipal && !slices.Contains(c.ex.Statement.Resource, "*") {
			target = c.ex.Statement.Ref()
			break
		}
	}
	if target != "" {
		f.Fix = fmt.Sprintf("add %q to the Action list of statement %s", n.action, target)
	} else {
		f.Fix = fmt.Sprintf("add a statement allowing %q on %q (%s)", n.action, n.resource, r.resourceAdvice(n))
	}
	r.addDetail("missing|"+missingCode+"|"+f.Statement+"|"+n.action, f, n.resource+" to "+n.what)
}

func (r *reviewer) resourceAdvice(n need) string {
	switch {
	case strings.HasPrefix(n.action, "kms:"):
		return "the bucket's KMS key ARN"
	case n.resource == r.bucketARN():
		return fmt.Sprintf("%s applies to the bucket ARN %s, not to %s/*", n.action, r.bucketARN(), r.bucketARN())
	}
	return fmt.Sprintf("lakeport writes under .lakeport/ and under each connector's own top-level prefix: use %s/*", r.bucketARN())
}

// denyFindings reports each Deny that applies to a lakeport request.
func (r *reviewer) denyFindings(doc Document, denies []iam.Explanation, request string) {
	for _, ex := range denies {
		st := ex.Statement
		why := ""
		if st.NotAction != nil {
			why += fmt.Sprintf(" NotAction makes it deny every action except %s.", strings.Join(st.NotAction, ", "))
		}
		if st.NotResource != nil {
			why += fmt.Sprintf(" NotResource makes it deny every resource except %s.", strings.Join(st.NotResource, ", "))
		}
		for _, c := range st.Conditions {
			why += fmt.Sprintf(" Its condition %s holds for lakeport: %s.", describeCondition(c), strings.TrimSuffix(keyReason(c.Key, r), "."))
		}
		var fix string
		switch doc {
		case DocPermission:
			fix = "remove or narrow this Deny: it is in lakeport's own role's policy"
		case DocTrust:
			accts := []string{r.in.Platform.AccountID}
			if a := r.worker().principal.Account; a != "" && a != accts[0] {
				accts = append(accts, a)
			}
			fix = fmt.Sprintf(`exempt lakeport's principals: add "StringNotEquals": {"aws:PrincipalAccount": %s} to this Deny's Condition, or remove it`, jsonList(accts))
		default:
			fix = fmt.Sprintf(`exempt lakeport's role: add "ArnNotEquals": {"aws:PrincipalArn": %q} to this Deny's Condition (or add the role to an existing aws:PrincipalArn exception)`, r.in.RoleARN)
		}
		if hint := denyHint(st, r); hint != "" {
			fix = hint + "; or " + fix
		}
		r.addDetail("deny|"+string(doc)+"|"+st.Ref(), Finding{Code: CodeExplicitDeny, Severity: SeverityError, Document: doc, Statement: st.Ref(),
			Message: "this Deny applies to lakeport's {details}, and an explicit deny beats every Allow." + why,
			Fix:     fix}, request)
	}
}

// denyHint is a better fix than an exemption when lakeport can meet the
// Deny's intent itself.
func denyHint(st iam.Statement, r *reviewer) string {
	for _, c := range st.Conditions {
		if strings.HasPrefix(strings.ToLower(c.Key), "s3:x-amz-server-side-encryption") && r.keyARN == "" {
			return "give lakeport the bucket's KMS key (--kms-key-arn): it then sends x-amz-server-side-encryption: aws:kms with that key on every write"
		}
	}
	return ""
}

// maybeFindings reports statements that apply or not depending on values
// lakeport cannot know offline.
func (r *reviewer) maybeFindings(doc Document, res iam.Result, request string) {
	for _, list := range []struct {
		exs  []iam.Explanation
		verb string
	}{{res.MaybeDenies, "may deny"}, {res.MaybeAllows, "is the only statement that may allow"}} {
		if list.verb != "may deny" && (res.Decision == iam.Allowed || len(res.MaybeAllows) == 0) {
			continue
		}
		for _, ex := range list.exs {
			if ex.Principal == iam.MaybeARN && len(ex.Unknown) == 0 {
				continue // the platform's exact ARN: trustRefused reports it
			}
			var keys []string
			for _, c := range ex.Unknown {
				keys = append(keys, describeCondition(c)+" ("+keyReason(c.Key, r)+")")
			}
			if ex.Principal == iam.MaybeARN {
				keys = append(keys, "its Principal names a specific principal in the caller's account")
			}
			r.addDetail("maybe|"+list.verb+"|"+string(doc)+"|"+ex.Statement.Ref(), Finding{Code: CodeDependsOnUnknown, Severity: SeverityWarning, Document: doc, Statement: ex.Statement.Ref(),
				Message: fmt.Sprintf("this statement %s lakeport's {details}, depending on what the review cannot know offline: %s", list.verb, strings.Join(keys, "; ")),
				Fix:     "make sure the condition holds for lakeport's role (or exempt the role from it), then confirm with Test connection"}, request)
		}
	}
}
