package postgres

import (
	"context"
	"fmt"

	"github.com/lakeport/lakeport/store"
)

var _ store.Users = (*Store)(nil)

func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO users (id, org_id, name, role, password_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		u.ID, u.OrgID, u.Name, string(u.Role), u.PasswordHash, u.CreatedAt.UTC())
	return wrap(err, fmt.Sprintf("create user %q", u.Name))
}

func (s *Store) UserByName(ctx context.Context, orgID, name string) (store.User, error) {
	var u store.User
	var role string
	err := s.pool.QueryRow(ctx, `SELECT id, org_id, name, role, password_hash, created_at FROM users WHERE org_id = $1 AND name = $2`, orgID, name).
		Scan(&u.ID, &u.OrgID, &u.Name, &role, &u.PasswordHash, &u.CreatedAt)
	u.Role = store.Role(role)
	u.CreatedAt = u.CreatedAt.UTC()
	return u, wrap(err, fmt.Sprintf("user %q", name))
}
