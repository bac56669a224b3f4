package store

import (
	"context"
	"time"
)

// User is a person who signs in to the web console with their organization's name, a
// user name and a password. A user belongs to one organization with one role; the
// console acts for them with a short-lived API token of that organization and role.
type User struct {
	ID           string
	OrgID        string
	Name         string // unique in its organization; another organization may have the same name
	Role         Role
	PasswordHash []byte // bcrypt; the password itself is never stored
	CreatedAt    time.Time
}

// Users keeps console users. It is separate from Store so that a Store without users
// (a backend that does not have them yet) still builds; the console takes it as an
// optional capability.
type Users interface {
	// CreateUser creates a user; ErrConflict when the organization has a user of that
	// name.
	CreateUser(ctx context.Context, u User) error
	// UserByName finds the organization's user by name; ErrNotFound when there is none.
	UserByName(ctx context.Context, orgID, name string) (User, error)
}
