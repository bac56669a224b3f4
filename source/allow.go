package source

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// AllowList is the operator's list of the programs sources may run: exec:
// and image: references, exact or with glob patterns (path.Match: "*"
// matches within one path segment), such as
//
//	exec:/opt/airbyte/bin/*     any program in that folder
//	image:airbyte/source-*      any tag of any airbyte/source-… image
//	exec:*                      every local program (a one-person laptop)
//	image:*                     every image
//
// Built-in sources need no listing. The zero AllowList allows no program.
type AllowList struct {
	entries []string
}

// The settings that hold the allow-list, named in every refusal.
const AllowSetting = "sources.allow (LAKEPORT_SOURCES_ALLOW, --allow-source)"

// ParseAllowList checks the operator's entries: each is exec: followed by an
// absolute path or "*", or image: followed by an image reference or "*", with
// valid glob syntax. Empty entries are skipped.
func ParseAllowList(entries []string) (AllowList, error) {
	var a AllowList
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		kind, pat, ok := strings.Cut(e, ":")
		var why string
		switch {
		case !ok || kind != "exec" && kind != "image":
			why = "must start with exec: or image:"
		case pat == "":
			why = "names nothing after " + kind + ":"
		case kind == "exec" && pat != "*" && !filepath.IsAbs(pat):
			why = "an exec: entry is an absolute path (or *), like exec:/opt/airbyte/bin/*"
		case kind == "exec" && pat != "*" && filepath.Clean(pat) != pat:
			why = fmt.Sprintf("is not a clean path; write exec:%s", filepath.Clean(pat))
		default:
			if _, err := path.Match(pat, ""); err != nil {
				why = "is not a valid glob pattern"
			}
		}
		if why != "" {
			return AllowList{}, fmt.Errorf("%w: %s entry %q %s", ErrInvalidAllowList, AllowSetting, e, why)
		}
		a.entries = append(a.entries, e)
	}
	return a, nil
}

// MustAllowList is ParseAllowList for entries known to be valid (tests); it panics otherwise.
func MustAllowList(entries ...string) AllowList {
	a, err := ParseAllowList(entries)
	if err != nil {
		panic(err)
	}
	return a
}

// Entries returns the entries, in the operator's order.
func (a AllowList) Entries() []string { return append([]string(nil), a.entries...) }

// match reports whether an entry of kind matches value.
func (a AllowList) match(kind, value string) bool {
	for _, e := range a.entries {
		k, pat, _ := strings.Cut(e, ":")
		if k != kind {
			continue
		}
		if pat == "*" {
			return true
		}
		if ok, _ := path.Match(pat, value); ok {
			return true
		}
	}
	return false
}

// resolveExec returns the program an exec: reference runs: its path made
// absolute and clean, and that path with every symbolic link resolved. Both
// must be on the list, so neither "/opt/airbyte/bin/../../../usr/bin/id" nor
// a link in an allowed folder that points elsewhere runs anything the
// operator did not name. The resolved path is the one executed.
func (a AllowList) resolveExec(ref, p string) (string, error) {
	if !filepath.IsAbs(p) {
		return "", a.refusal(ref, " (give the program's absolute path, exec:/path/to/program)")
	}
	clean := filepath.Clean(p)
	if !a.match("exec", clean) {
		return "", a.refusal(ref, "")
	}
	real, err := filepath.EvalSymlinks(clean)
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("source %s: the program cannot be found: %w", ref, err)
	}
	if err != nil {
		return "", fmt.Errorf("source %s: %w", ref, err)
	}
	if !a.match("exec", real) {
		return "", a.refusal(ref, fmt.Sprintf(" (%s resolves to %s, which the list does not name)", clean, real))
	}
	return real, nil
}

// checkImage refuses an image the list does not name.
func (a AllowList) checkImage(ref, image string) error {
	if a.match("image", image) {
		return nil
	}
	return a.refusal(ref, "")
}

func (a AllowList) refusal(ref, detail string) error {
	allowed := "nothing"
	if len(a.entries) > 0 {
		allowed = strings.Join(a.entries, ", ")
	}
	return fmt.Errorf("%w: %s%s: the programs sources may run are the operator's choice, set with %s; this install allows %s",
		ErrNotAllowed, ref, detail, AllowSetting, allowed)
}

// IsProgram reports whether ref names a program to run (exec: or image:),
// which only the operator's allow-list admits and only admins may choose.
func IsProgram(ref string) bool {
	return strings.HasPrefix(ref, "exec:") || strings.HasPrefix(ref, "image:")
}
