package owner

import "errors"

var (
	// ErrOwnedByAnother is wrapped when a namespace prefix's owner marker
	// names another organization or connector.
	ErrOwnedByAnother = errors.New("owner: prefix owned by another connector")
	// ErrNotOwned is wrapped when a namespace prefix has no owner marker of
	// lakeport's: Claim finds objects lakeport did not write there, or
	// Cleanup finds no marker.
	ErrNotOwned = errors.New("owner: prefix not owned by lakeport")
	// ErrInvalidNamespace is wrapped when a namespace name cannot be a
	// connector's prefix.
	ErrInvalidNamespace = errors.New("owner: invalid namespace")
	// ErrInvalidMarker is wrapped when a marker to write lacks its
	// organization or connector.
	ErrInvalidMarker = errors.New("owner: invalid marker")
)

// Error is a refusal that reaches a person: Error() says what was found and
// what to do; errors.Is matches Kind (ErrOwnedByAnother or ErrNotOwned).
type Error struct {
	Kind error
	// Location is the namespace prefix, like s3://bucket/crm/.
	Location string
	// Owner is the marker found, when there is one.
	Owner *Marker
	msg   string
}

func (e *Error) Error() string { return e.msg }
func (e *Error) Unwrap() error { return e.Kind }
