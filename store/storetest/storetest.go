// Package storetest is the conformance suite every store.Store implementation runs.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/lakeport/lakeport/store"
)

// Run exercises s. It expects an empty store.
func Run(t *testing.T, s store.Store) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)

	a := store.Org{ID: "org_a", Name: "acme", ExternalID: "ext-a", CreatedAt: now}
	b := store.Org{ID: "org_b", Name: "globex", ExternalID: "ext-b", CreatedAt: now}
	for _, o := range []store.Org{a, b} {
		if err := s.CreateOrg(ctx, o); err != nil {
			t.Fatalf("CreateOrg(%s): %v", o.Name, err)
		}
	}
	if err := s.CreateOrg(ctx, store.Org{ID: "org_c", Name: "acme", ExternalID: "ext-c", CreatedAt: now}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("CreateOrg with a taken name: got %v, want ErrConflict", err)
	}
	if n, err := s.CountOrgs(ctx); err != nil || n != 2 {
		t.Fatalf("CountOrgs = %d, %v; want 2", n, err)
	}
	got, err := s.OrgByName(ctx, "acme")
	if err != nil || got.ID != a.ID || got.ExternalID != a.ExternalID || !got.CreatedAt.Equal(now) {
		t.Fatalf("OrgByName(acme) = %+v, %v", got, err)
	}
	if _, err := s.Org(ctx, "org_missing"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Org(missing): got %v, want ErrNotFound", err)
	}

	tok := store.Token{ID: "tok_1", OrgID: a.ID, Role: store.RoleMember, Hash: []byte{1, 2, 3}, CreatedAt: now}
	if err := s.CreateToken(ctx, tok); err != nil {
		t.Fatalf("CreateToken: %v", err)
	}
	gt, err := s.TokenByHash(ctx, []byte{1, 2, 3})
	if err != nil || gt.ID != tok.ID || gt.OrgID != a.ID || gt.Role != store.RoleMember || gt.Operator {
		t.Fatalf("TokenByHash = %+v, %v", gt, err)
	}
	exp := store.Token{ID: "tok_2", OrgID: a.ID, Role: store.RoleAdmin, Hash: []byte{4, 5}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := s.CreateToken(ctx, exp); err != nil {
		t.Fatalf("CreateToken with an expiry: %v", err)
	}
	if gt, err := s.TokenByHash(ctx, []byte{4, 5}); err != nil || !gt.ExpiresAt.Equal(exp.ExpiresAt) {
		t.Fatalf("TokenByHash of an expiring token = %+v, %v", gt, err)
	}
	if !gt.ExpiresAt.IsZero() {
		t.Fatalf("a token without expiry reads back with one: %v", gt.ExpiresAt)
	}
	if _, err := s.TokenByHash(ctx, []byte{9}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("TokenByHash(unknown): got %v, want ErrNotFound", err)
	}
	runTokens(t, s, a.ID, b.ID)

	st, err := s.StorageSetting(ctx, a.ID)
	if err != nil || st.Mode != "managed" {
		t.Fatalf("StorageSetting before save = %+v, %v; want managed", st, err)
	}
	saved := store.StorageSetting{OrgID: a.ID, Mode: "customer_hosted", Bucket: "acme-lake", Region: "eu-west-1",
		RoleARN: "arn:aws:iam::123456789012:role/lakeport", ValidatedAt: now, UpdatedAt: now}
	if err := s.PutStorageSetting(ctx, saved); err != nil {
		t.Fatalf("PutStorageSetting: %v", err)
	}
	st, err = s.StorageSetting(ctx, a.ID)
	if err != nil || st.Bucket != "acme-lake" || st.Mode != "customer_hosted" || !st.ValidatedAt.Equal(now) {
		t.Fatalf("StorageSetting after save = %+v, %v", st, err)
	}
	if other, _ := s.StorageSetting(ctx, b.ID); other.Bucket != "" || other.Mode != "managed" {
		t.Fatalf("org B sees org A's setting: %+v", other)
	}
	saved.Mode, saved.Bucket = "managed", ""
	if err := s.PutStorageSetting(ctx, saved); err != nil {
		t.Fatalf("PutStorageSetting (update): %v", err)
	}
	if st, _ = s.StorageSetting(ctx, a.ID); st.Mode != "managed" || st.Bucket != "" {
		t.Fatalf("StorageSetting after switching back = %+v", st)
	}

	runConnectors(t, s, a.ID, b.ID)
}

func runConnectors(t *testing.T, s store.Store, orgA, orgB string) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	c := store.Connector{ID: "con_1", OrgID: orgA, Name: "crm", Source: "sample", ConfigSealed: "v1:xx",
		Catalog: []byte(`{"streams":[]}`), Warehouse: "file:///tmp/w", StorageMode: "managed", CreatedAt: now, UpdatedAt: now}
	if err := s.CreateConnector(ctx, c); err != nil {
		t.Fatalf("CreateConnector: %v", err)
	}
	dup := c
	dup.ID = "con_2"
	if err := s.CreateConnector(ctx, dup); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("CreateConnector with a taken name: %v, want ErrConflict", err)
	}
	inB := c
	inB.ID, inB.OrgID = "con_3", orgB
	if err := s.CreateConnector(ctx, inB); err != nil {
		t.Fatalf("the same connector name in another org: %v", err)
	}
	got, err := s.Connector(ctx, orgA, "crm")
	if err != nil || got.ID != "con_1" || string(got.Catalog) != `{"streams":[]}` || !got.CreatedAt.Equal(now) {
		t.Fatalf("Connector = %+v, %v", got, err)
	}
	if _, err := s.ConnectorByID(ctx, orgB, "con_1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("org B reading org A's connector by ID: %v, want ErrNotFound", err)
	}
	if list, err := s.ListConnectors(ctx, orgA); err != nil || len(list) != 1 {
		t.Fatalf("ListConnectors = %d, %v", len(list), err)
	}
	// A manifest: connector keeps its manifest, whole.
	man := store.Connector{ID: "con_m", OrgID: orgA, Name: "gh", Source: "manifest:gh.yaml", ConfigSealed: "v1:yy",
		Manifest: "type: DeclarativeSource\nstreams: []\n# ünïcode, 'quotes'\n", Catalog: []byte(`{}`), CreatedAt: now, UpdatedAt: now}
	if err := s.CreateConnector(ctx, man); err != nil {
		t.Fatalf("CreateConnector with a manifest: %v", err)
	}
	if gm, err := s.Connector(ctx, orgA, "gh"); err != nil || gm.Manifest != man.Manifest {
		t.Fatalf("manifest read back %q, %v", gm.Manifest, err)
	}
	if list, _ := s.ListConnectors(ctx, orgA); len(list) != 2 || list[0].Manifest != "" || list[1].Manifest != man.Manifest {
		t.Fatalf("ListConnectors manifests: %+v", list)
	}
	if err := s.DeleteConnector(ctx, orgA, "con_m"); err != nil {
		t.Fatal(err)
	}
	got.Warehouse = "s3://acme-lake"
	if err := s.UpdateConnector(ctx, got); err != nil {
		t.Fatal(err)
	}
	if got, _ = s.ConnectorByID(ctx, orgA, "con_1"); got.Warehouse != "s3://acme-lake" {
		t.Fatalf("UpdateConnector did not stick: %+v", got)
	}
	wrongOrg := got
	wrongOrg.OrgID = orgB
	if err := s.UpdateConnector(ctx, wrongOrg); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UpdateConnector across orgs: %v, want ErrNotFound", err)
	}

	for i, st := range []string{store.RunSucceeded, store.RunFailed} {
		r := store.Run{ID: fmt.Sprintf("run_%d", i), OrgID: orgA, ConnectorID: "con_1", Status: store.RunQueued, CreatedAt: now.Add(time.Duration(i) * time.Second)}
		if err := s.CreateRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		r.Status, r.Records, r.Bytes, r.Streams, r.FinishedAt = st, 10, 100, []byte(`{"customers":10}`), now
		if err := s.UpdateRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	runs, err := s.Runs(ctx, orgA, "con_1", 10)
	if err != nil || len(runs) != 2 || runs[0].ID != "run_1" || runs[0].Status != store.RunFailed || runs[1].Records != 10 {
		t.Fatalf("Runs = %+v, %v (want newest first)", runs, err)
	}
	if _, err := s.Run(ctx, orgB, "run_0"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("org B reading org A's run: %v, want ErrNotFound", err)
	}
	if err := s.DeleteConnector(ctx, orgB, "con_1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("org B deleting org A's connector: %v, want ErrNotFound", err)
	}
	if err := s.DeleteConnector(ctx, orgA, "con_1"); err != nil {
		t.Fatal(err)
	}
	if runs, _ := s.Runs(ctx, orgA, "con_1", 10); len(runs) != 0 {
		t.Fatalf("runs survive their connector: %d", len(runs))
	}
}

// runTokens: listing, naming, use, revoke (with the tokens minted from it) and expiry,
// each scoped to the organization.
func runTokens(t *testing.T, s store.Store, orgA, orgB string) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	named := store.Token{ID: "tok_n", OrgID: orgA, Role: store.RoleMember, Hash: []byte("n"), Name: "ci deploys", CreatedAt: now.Add(time.Second)}
	child := store.Token{ID: "tok_c", OrgID: orgA, Role: store.RoleMember, Hash: []byte("c"), ParentID: "tok_n", CreatedAt: now.Add(2 * time.Second), ExpiresAt: now.Add(time.Hour)}
	user := store.Token{ID: "tok_u", OrgID: orgA, Role: store.RoleAdmin, Hash: []byte("u"), UserID: "usr_x", CreatedAt: now.Add(3 * time.Second), ExpiresAt: now.Add(-time.Minute)}
	other := store.Token{ID: "tok_o", OrgID: orgB, Role: store.RoleAdmin, Hash: []byte("o"), CreatedAt: now}
	for _, tk := range []store.Token{named, child, user, other} {
		if err := s.CreateToken(ctx, tk); err != nil {
			t.Fatalf("CreateToken(%s): %v", tk.ID, err)
		}
	}
	got, err := s.TokenByHash(ctx, []byte("c"))
	if err != nil || got.ParentID != "tok_n" || got.UserID != "" || got.Owner() != "token:tok_n" {
		t.Fatalf("TokenByHash of a session token = %+v, %v", got, err)
	}
	if got, _ := s.TokenByHash(ctx, []byte("u")); got.UserID != "usr_x" || got.Owner() != "user:usr_x" {
		t.Fatalf("TokenByHash of a user's token = %+v", got)
	}
	list, err := s.ListTokens(ctx, orgA)
	if err != nil {
		t.Fatalf("ListTokens: %v", err)
	}
	var ids []string
	for _, tk := range list {
		ids = append(ids, tk.ID)
		if tk.OrgID != orgA {
			t.Fatalf("ListTokens(org A) returned %s of org %s", tk.ID, tk.OrgID)
		}
	}
	if fmt.Sprint(ids) != "[tok_1 tok_2 tok_n tok_c tok_u]" {
		t.Fatalf("ListTokens(org A) = %v, want oldest first without org B's", ids)
	}
	if list[2].Name != "ci deploys" || !list[2].LastUsedAt.IsZero() {
		t.Fatalf("named token lists as %+v", list[2])
	}

	used := now.Add(5 * time.Minute)
	if err := s.TouchToken(ctx, "tok_n", used); err != nil {
		t.Fatalf("TouchToken: %v", err)
	}
	if got, _ := s.TokenByHash(ctx, []byte("n")); !got.LastUsedAt.Equal(used) {
		t.Fatalf("LastUsedAt after TouchToken = %v, want %v", got.LastUsedAt, used)
	}

	// Another organization cannot revoke it: not found, and it still works.
	if err := s.RevokeToken(ctx, orgB, "tok_n"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("org B revoking org A's token: %v, want ErrNotFound", err)
	}
	if _, err := s.TokenByHash(ctx, []byte("n")); err != nil {
		t.Fatalf("after another org's revoke: %v", err)
	}
	if err := s.RevokeToken(ctx, orgA, "tok_missing"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("RevokeToken(missing): %v, want ErrNotFound", err)
	}
	// Revoking a token revokes the session tokens minted from it.
	if err := s.RevokeToken(ctx, orgA, "tok_n"); err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}
	for _, h := range []string{"n", "c"} {
		if _, err := s.TokenByHash(ctx, []byte(h)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("token %q after revoke: %v, want ErrNotFound", h, err)
		}
	}
	// Expired tokens go; unexpiring ones and other organizations' stay.
	if n, err := s.DeleteExpiredTokens(ctx, now); err != nil || n != 1 {
		t.Fatalf("DeleteExpiredTokens = %d, %v; want 1 (tok_u)", n, err)
	}
	if _, err := s.TokenByHash(ctx, []byte("u")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("expired token after DeleteExpiredTokens: %v", err)
	}
	for _, h := range []string{"o", string([]byte{1, 2, 3})} {
		if _, err := s.TokenByHash(ctx, []byte(h)); err != nil {
			t.Fatalf("token %q was deleted with the expired ones: %v", h, err)
		}
	}
}
