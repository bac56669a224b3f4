package api_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/lakeport/lakeport/api"
	"github.com/lakeport/lakeport/client"
	"github.com/lakeport/lakeport/config"
	"github.com/lakeport/lakeport/store"
)

func TestTokenListAndRevokeScopes(t *testing.T) {
	e := newEnv(t, config.Platform{})
	ctx := context.Background()
	acme := e.newOrg(t, "acme")
	soon := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	m, err := acme.CreateTokenWith(ctx, api.CreateTokenRequest{Role: store.RoleMember, Name: "ann laptop", ExpiresAt: &soon})
	if err != nil || m.ID == "" || m.Name != "ann laptop" || m.ExpiresAt == nil || !m.ExpiresAt.Equal(soon) {
		t.Fatalf("create a named, expiring token = %+v, %v", m, err)
	}
	member := client.New(e.url, m.Token)
	me, _ := member.WhoAmI(ctx)
	if me.TokenID != m.ID {
		t.Fatalf("whoami token_id = %q, want %q", me.TokenID, m.ID)
	}
	mine, err := member.ListTokens(ctx)
	if err != nil || len(mine) != 1 || mine[0].ID != m.ID || !mine[0].Current || mine[0].ExpiresAt == nil || mine[0].LastUsedAt == nil || mine[0].Kind != "api" {
		t.Fatalf("a member's list = %+v, %v; want only its own token", mine, err)
	}
	all, err := acme.ListTokens(ctx)
	if err != nil || len(all) != 2 {
		t.Fatalf("acme's admin lists %+v, %v; want acme's two tokens", all, err)
	}
	adminID := ""
	for _, tk := range all {
		if tk.ID != m.ID {
			adminID = tk.ID
		}
	}
	// A member may not touch the admin's token; another org nothing of acme's.
	_, err = member.RevokeToken(ctx, adminID)
	wantCode(t, err, 404, "not_found")
	_, err = e.operator.RevokeToken(ctx, m.ID)
	wantCode(t, err, 404, "not_found")
	if ops, _ := e.operator.ListTokens(ctx); len(ops) != 1 {
		t.Fatalf("the operator's org lists %+v; want its one token, nothing of acme's", ops)
	}
	// The operator's token is the operator's to revoke, not another admin's of its org.
	other, err := e.operator.CreateToken(ctx, store.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	opMe, _ := e.operator.WhoAmI(ctx)
	_, err = client.New(e.url, other.Token).RevokeToken(ctx, opMe.TokenID)
	wantCode(t, err, 403, "operator_only")

	// Bad input names the field.
	past := time.Now().Add(-time.Hour)
	_, err = acme.CreateTokenWith(ctx, api.CreateTokenRequest{Role: store.RoleMember, ExpiresAt: &past})
	if e := wantCode(t, err, 400, "invalid_input"); len(e.Body.Fields) != 1 || e.Body.Fields[0].Field != "expires_at" {
		t.Fatalf("a past expiry: %+v", e.Body)
	}
	_, err = acme.CreateTokenWith(ctx, api.CreateTokenRequest{Role: store.RoleMember, Name: strings.Repeat("x", 101)})
	if e := wantCode(t, err, 400, "invalid_input"); len(e.Body.Fields) != 1 || e.Body.Fields[0].Field != "name" {
		t.Fatalf("a long name: %+v", e.Body)
	}

	if _, err := member.RevokeToken(ctx, m.ID); err != nil {
		t.Fatalf("a member revoking their own token: %v", err)
	}
	_, err = member.WhoAmI(ctx)
	wantCode(t, err, 401, "invalid_token")
}
