package catalog

import (
	"fmt"
	"regexp"
)

// DefaultNamespacePrefix prefixes the namespace names made by [DefaultNamespace].
const DefaultNamespacePrefix = "lakeport_"

var (
	defaultNSNameRE = regexp.MustCompile(`^[a-z0-9]+(_[a-z0-9]+)*$`)
	defaultNSRE     = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
)

// DefaultNamespace is prefix + name + "__" + ns, e.g. lakeport_org_k3j2__stripe: the
// namespace (Glue database) of connector ns of organization name in a catalog every
// organization shares. query/athena names the same databases with it. It is
// one-to-one: a name (organization ID) has no "__" and does not end in "_", a
// namespace starts with a letter. Names outside those forms are refused rather than
// mangled into a name another organization could get.
func DefaultNamespace(prefix, name, ns string) (string, error) {
	if !defaultNSNameRE.MatchString(name) {
		return "", fmt.Errorf("%w: catalog name %q cannot name a Glue database: want lower-case letters and digits separated by single underscores", ErrInvalidName, name)
	}
	if !defaultNSRE.MatchString(ns) {
		return "", fmt.Errorf("%w: namespace %q cannot name a Glue database: want lower-case letters, digits and underscores, starting with a letter", ErrInvalidName, ns)
	}
	db := prefix + name + "__" + ns
	if len(db) > 255 {
		return "", fmt.Errorf("%w: Glue database name %s is longer than 255 characters", ErrInvalidName, db)
	}
	return db, nil
}

// Prefixed maps namespaces with [DefaultNamespace] and prefix (default
// [DefaultNamespacePrefix]): the mapping of catalogs every organization shares.
func Prefixed(prefix string) func(name, ns string) (string, error) {
	if prefix == "" {
		prefix = DefaultNamespacePrefix
	}
	return func(name, ns string) (string, error) { return DefaultNamespace(prefix, name, ns) }
}
