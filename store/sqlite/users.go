package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/lakeport/lakeport/store"
)

var _ store.Users = (*Store)(nil)

func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO users (id, org_id, name, role, password_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		u.ID, u.OrgID, u.Name, string(u.Role), u.PasswordHash, formatTime(u.CreatedAt))
	if isUnique(err) {
		return fmt.Errorf("sqlite: create user %q: %w", u.Name, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("sqlite: create user %q: %w", u.Name, err)
	}
	return nil
}

func (s *Store) UserByName(ctx context.Context, orgID, name string) (store.User, error) {
	var u store.User
	var role, created string
	err := s.db.QueryRowContext(ctx, `SELECT id, org_id, name, role, password_hash, created_at FROM users WHERE org_id = ? AND name = ?`, orgID, name).
		Scan(&u.ID, &u.OrgID, &u.Name, &role, &u.PasswordHash, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return u, fmt.Errorf("sqlite: user %q: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return u, fmt.Errorf("sqlite: user %q: %w", name, err)
	}
	u.Role = store.Role(role)
	u.CreatedAt = parseTime(created)
	return u, nil
}
