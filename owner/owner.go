// Package owner keeps connectors to their own prefixes of a warehouse.
//
// Each connector owns one namespace prefix "<ns>/" under the warehouse root.
// [Claim] writes an owner marker "<ns>/.lakeport-owner.json" naming the
// organization and connector before anything else is written there, and
// refuses a prefix another connector owns or that already holds objects
// lakeport did not write. [Cleanup] deletes a prefix only after reading its
// marker and finding this organization and connector in it; it deletes
// exactly the objects under "<ns>/" and the marker last, never anything
// else in the bucket.
package owner

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/lakeport/lakeport/names"
	"github.com/lakeport/lakeport/objstore"
)

// MarkerName is the owner marker's name inside a namespace prefix.
const MarkerName = ".lakeport-owner.json"

// MarkerVersion is the marker's "lakeport" field, naming its format.
const MarkerVersion = "owner-marker/v1"

// Marker says which connector owns a namespace prefix.
type Marker struct {
	OrgID         string    `json:"org_id"`
	ConnectorID   string    `json:"connector_id"`
	ConnectorName string    `json:"connector_name"`
	CreatedAt     time.Time `json:"created_at"`
	// Lakeport is MarkerVersion; Claim sets it.
	Lakeport string `json:"lakeport"`
}

// owns reports whether the marker names this organization and connector.
func (m Marker) owns(orgID, connectorID string) bool {
	return m.OrgID == orgID && m.ConnectorID == connectorID
}

// MarkerKey is the key of the namespace's owner marker.
func MarkerKey(ns string) string { return ns + "/" + MarkerName }

// CheckNamespace reports whether ns can be a connector's prefix: a name
// package names keeps as it is (names.Check): one path segment of ASCII
// letters, digits, '_', '-' and '.', not starting with "." (those names are
// lakeport's own, like .lakeport/), with no "..".
func CheckNamespace(ns string) error {
	if err := names.Check(ns); err != nil {
		return fmt.Errorf("%w %q: %w", ErrInvalidNamespace, ns, err)
	}
	return nil
}

// prefixOf is the namespace's prefix as a URL, for messages.
func prefixOf(b objstore.Bucket, ns string) string { return b.Location() + "/" + ns + "/" }

// Read returns the namespace's owner marker; objstore.IsNotFound(err) when
// there is none.
func Read(ctx context.Context, b objstore.Bucket, ns string) (Marker, error) {
	if err := CheckNamespace(ns); err != nil {
		return Marker{}, err
	}
	data, err := b.Get(ctx, MarkerKey(ns))
	if err != nil {
		return Marker{}, fmt.Errorf("owner: read the owner marker of %s: %w", prefixOf(b, ns), err)
	}
	var m Marker
	if err := json.Unmarshal(data, &m); err != nil || m.Lakeport != MarkerVersion {
		return Marker{}, &Error{Kind: ErrNotOwned, Location: prefixOf(b, ns), msg: fmt.Sprintf(
			"%s holds an owner marker lakeport cannot read (%s is not a %s marker): lakeport will not write to or delete this prefix; "+
				"choose another connector name, or check who wrote that file",
			prefixOf(b, ns), MarkerName, MarkerVersion)}
	}
	return m, nil
}

// Claim makes the connector in m the owner of the namespace prefix by
// writing its marker (Lakeport set to MarkerVersion, CreatedAt to now when
// zero). Claiming a prefix the same organization and connector already own
// is fine and leaves the marker as it is.
//
// Claim refuses, writing nothing, when the marker names another
// organization or connector (ErrOwnedByAnother), or when the prefix has no
// marker but already holds objects (ErrNotOwned).
//
// Two connectors claiming one empty prefix at the same moment can both get
// past the checks; Claim reads the marker back after writing it and refuses
// when the other one's write won.
func Claim(ctx context.Context, b objstore.Bucket, ns string, m Marker) error {
	if err := CheckNamespace(ns); err != nil {
		return err
	}
	if m.OrgID == "" || m.ConnectorID == "" {
		return fmt.Errorf("%w: a marker needs an organization ID and a connector ID", ErrInvalidMarker)
	}
	loc := prefixOf(b, ns)
	existing, err := Read(ctx, b, ns)
	switch {
	case err == nil && existing.owns(m.OrgID, m.ConnectorID):
		return nil
	case err == nil:
		return ownedByAnother(loc, existing)
	case !objstore.IsNotFound(err):
		return err
	}

	n := 0
	if err := b.List(ctx, ns+"/", func(string) error { n++; return nil }); err != nil {
		return fmt.Errorf("owner: claim %s: %w", loc, err)
	}
	if n > 0 {
		return &Error{Kind: ErrNotOwned, Location: loc, msg: fmt.Sprintf(
			"%s already holds %d %s that lakeport did not write: choose another connector name or empty that prefix",
			loc, n, plural(n, "object", "objects"))}
	}

	m.Lakeport = MarkerVersion
	if m.CreatedAt.IsZero() {
		m.CreatedAt = time.Now().UTC()
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("owner: claim %s: %w", loc, err)
	}
	if err := b.Put(ctx, MarkerKey(ns), append(data, '\n')); err != nil {
		return fmt.Errorf("owner: claim %s: write the owner marker: %w", loc, err)
	}
	got, err := Read(ctx, b, ns)
	if err != nil {
		return fmt.Errorf("owner: claim %s: read the owner marker back: %w", loc, err)
	}
	if !got.owns(m.OrgID, m.ConnectorID) {
		return ownedByAnother(loc, got)
	}
	return nil
}

func ownedByAnother(loc string, owner Marker) error {
	return &Error{Kind: ErrOwnedByAnother, Location: loc, Owner: &owner, msg: fmt.Sprintf(
		"%s belongs to connector %q (ID %s) of organization %s, which claimed it on %s: "+
			"lakeport will not write to or delete another connector's prefix; choose another connector name, "+
			"or delete that connector first",
		loc, owner.ConnectorName, owner.ConnectorID, owner.OrgID, owner.CreatedAt.UTC().Format(time.RFC3339))}
}

// Cleanup deletes everything under the namespace prefix "<ns>/" when, and
// only when, its owner marker names this organization and connector; the
// marker goes last, so a cleanup that stops half way can run again. It
// returns how many objects it deleted, the marker included.
//
// Without a marker it refuses with ErrNotOwned; with another owner's marker
// with ErrOwnedByAnother. Either way it deletes nothing. Objects outside
// "<ns>/" ("<ns>2/...", "<ns>.json", other namespaces, .lakeport/) are never
// touched.
//
// Stop the connector's syncs first: an object written under the prefix
// after Cleanup has listed it stays.
func Cleanup(ctx context.Context, b objstore.Bucket, ns, orgID, connectorID string) (deleted int, err error) {
	if err := CheckNamespace(ns); err != nil {
		return 0, err
	}
	if orgID == "" || connectorID == "" {
		return 0, fmt.Errorf("%w: cleanup needs an organization ID and a connector ID", ErrInvalidMarker)
	}
	loc := prefixOf(b, ns)
	m, err := Read(ctx, b, ns)
	switch {
	case objstore.IsNotFound(err):
		return 0, &Error{Kind: ErrNotOwned, Location: loc, msg: fmt.Sprintf(
			"%s has no owner marker (%s), so lakeport cannot tell that it wrote what is there: nothing was deleted; "+
				"if the prefix is yours to remove, delete it in the bucket yourself", loc, MarkerName)}
	case err != nil:
		return 0, err
	case !m.owns(orgID, connectorID):
		return 0, ownedByAnother(loc, m)
	}

	marker := MarkerKey(ns)
	var keys []string
	err = b.List(ctx, ns+"/", func(k string) error {
		// The prefix ends with "/", so keys are exactly those under <ns>/;
		// check anyway: a wrong key here deletes someone's data.
		if k != marker && strings.HasPrefix(k, ns+"/") {
			keys = append(keys, k)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("owner: cleanup %s: %w", loc, err)
	}
	if err := b.Delete(ctx, keys...); err != nil {
		return 0, fmt.Errorf("owner: cleanup %s: %w (the owner marker stays; run the cleanup again)", loc, err)
	}
	if err := b.Delete(ctx, marker); err != nil {
		return len(keys), fmt.Errorf("owner: cleanup %s: delete the owner marker: %w", loc, err)
	}
	return len(keys) + 1, nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
