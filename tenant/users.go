package tenant

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/lakeport/lakeport/auth"
	"github.com/lakeport/lakeport/store"
)

// MinPasswordLength is the shortest password CreateUser accepts.
const MinPasswordLength = 12

var (
	// ErrWeakPassword: a password under MinPasswordLength characters.
	ErrWeakPassword = fmt.Errorf("password: use at least %d characters", MinPasswordLength)
	// ErrInvalidUser: a user name or role that cannot be used.
	ErrInvalidUser = errors.New("invalid user")
)

// CreateUser adds a console user to org with role; the password is kept only as a
// bcrypt hash.
func CreateUser(ctx context.Context, users store.Users, orgID, name, password string, role store.Role) (store.User, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 || strings.ContainsAny(name, " \t\r\n") {
		return store.User{}, fmt.Errorf("%w: name: 1-100 characters without spaces (for example ann or ann@example.com)", ErrInvalidUser)
	}
	if !role.Valid() {
		return store.User{}, fmt.Errorf("%w: role %q: must be admin or member", ErrInvalidUser, role)
	}
	if len(password) < MinPasswordLength {
		return store.User{}, ErrWeakPassword
	}
	if len(password) > 72 {
		return store.User{}, fmt.Errorf("%w: password: at most 72 bytes (bcrypt's limit)", ErrInvalidUser)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return store.User{}, err
	}
	u := store.User{ID: auth.NewID("usr_"), OrgID: orgID, Name: name, Role: role, PasswordHash: hash, CreatedAt: time.Now().UTC()}
	return u, users.CreateUser(ctx, u)
}
