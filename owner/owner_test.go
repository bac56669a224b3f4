package owner_test

import (
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lakeport/lakeport/objstore"
	"github.com/lakeport/lakeport/objstore/objtest"
	"github.com/lakeport/lakeport/owner"
	"github.com/lakeport/lakeport/s3test"
)

func TestMain(m *testing.M) { os.Exit(s3test.Main(m)) }

// unrelated are objects in the same bucket that no cleanup of "crm" may touch.
var unrelated = []string{"other/data.parquet", "crm2/x", "crm.json", ".lakeport/validation.txt", "crm-old/crm/x"}

var hubspot = owner.Marker{OrgID: "org-1", ConnectorID: "conn-1", ConnectorName: "HubSpot"}

func claim(t *testing.T, b objstore.Bucket, ns string, m owner.Marker) {
	t.Helper()
	if err := owner.Claim(t.Context(), b, ns, m); err != nil {
		t.Fatalf("claim %s: %v", ns, err)
	}
}

func TestClaimThenCleanup(t *testing.T) {
	objtest.ForEach(t, func(t *testing.T, b objstore.Bucket) {
		objtest.MustPut(t, b, "not ours", unrelated...)
		claim(t, b, "crm", hubspot)
		tables := []string{"crm/contacts/metadata/00000-a.metadata.json", "crm/contacts/data/1.parquet", "crm/deals/data/2.parquet"}
		objtest.MustPut(t, b, "ours", tables...)

		n, err := owner.Cleanup(t.Context(), b, "crm", "org-1", "conn-1")
		if err != nil {
			t.Fatal(err)
		}
		if n != len(tables)+1 {
			t.Errorf("deleted %d objects, want %d (the tables and the marker)", n, len(tables)+1)
		}
		if got := objtest.Keys(t, b, "crm/"); len(got) != 0 {
			t.Errorf("left under crm/: %q", got)
		}
		want := slices.Sorted(slices.Values(unrelated))
		if got := objtest.Keys(t, b, ""); !slices.Equal(got, want) {
			t.Errorf("bucket after cleanup: %q, want the unrelated objects %q", got, want)
		}
		// The prefix is free again.
		claim(t, b, "crm", owner.Marker{OrgID: "org-1", ConnectorID: "conn-2"})
	})
}

func TestMarkerFormat(t *testing.T) {
	objtest.ForEach(t, func(t *testing.T, b objstore.Bucket) {
		at := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
		claim(t, b, "crm", owner.Marker{OrgID: "org-1", ConnectorID: "conn-1", ConnectorName: "HubSpot", CreatedAt: at})
		data, err := b.Get(t.Context(), "crm/.lakeport-owner.json")
		if err != nil {
			t.Fatal(err)
		}
		var raw map[string]string
		if err := json.Unmarshal(data, &raw); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"org_id": "org-1", "connector_id": "conn-1", "connector_name": "HubSpot",
			"created_at": "2025-03-04T05:06:07Z", "lakeport": "owner-marker/v1"}
		if len(raw) != len(want) {
			t.Errorf("marker %s, want exactly %v", data, want)
		}
		for k, v := range want {
			if raw[k] != v {
				t.Errorf("marker field %s = %q, want %q", k, raw[k], v)
			}
		}
	})
}

func TestReclaimBySameConnector(t *testing.T) {
	objtest.ForEach(t, func(t *testing.T, b objstore.Bucket) {
		claim(t, b, "crm", hubspot)
		first, err := owner.Read(t.Context(), b, "crm")
		if err != nil {
			t.Fatal(err)
		}
		objtest.MustPut(t, b, "ours", "crm/contacts/data/1.parquet")
		again := hubspot
		again.CreatedAt = first.CreatedAt.Add(time.Hour)
		claim(t, b, "crm", again)
		second, err := owner.Read(t.Context(), b, "crm")
		if err != nil {
			t.Fatal(err)
		}
		if !second.CreatedAt.Equal(first.CreatedAt) {
			t.Errorf("re-claim changed created_at from %v to %v", first.CreatedAt, second.CreatedAt)
		}
	})
}

func TestClaimOwnedByAnother(t *testing.T) {
	objtest.ForEach(t, func(t *testing.T, b objstore.Bucket) {
		claim(t, b, "crm", hubspot)
		for _, m := range []owner.Marker{
			{OrgID: "org-1", ConnectorID: "conn-2", ConnectorName: "Salesforce"},
			{OrgID: "org-2", ConnectorID: "conn-1", ConnectorName: "HubSpot"}, // same connector ID, other org
		} {
			err := owner.Claim(t.Context(), b, "crm", m)
			if !errors.Is(err, owner.ErrOwnedByAnother) {
				t.Fatalf("claim by %+v: %v, want ErrOwnedByAnother", m, err)
			}
			var oe *owner.Error
			if !errors.As(err, &oe) || oe.Owner == nil || oe.Owner.ConnectorID != "conn-1" {
				t.Errorf("error %#v does not carry the owner", err)
			}
			msg := err.Error()
			for _, s := range []string{b.Location() + "/crm/", `"HubSpot"`, "conn-1", "org-1", "choose another connector name"} {
				if !strings.Contains(msg, s) {
					t.Errorf("message %q does not name %q", msg, s)
				}
			}
		}
		if m, err := owner.Read(t.Context(), b, "crm"); err != nil || m.ConnectorID != "conn-1" || m.OrgID != "org-1" {
			t.Errorf("marker after refused claims: %+v, %v", m, err)
		}
	})
}

func TestClaimOverForeignObjects(t *testing.T) {
	objtest.ForEach(t, func(t *testing.T, b objstore.Bucket) {
		objtest.MustPut(t, b, "theirs", "crm/export/1.csv", "crm/export/2.csv", "crm/readme.txt")
		err := owner.Claim(t.Context(), b, "crm", hubspot)
		if !errors.Is(err, owner.ErrNotOwned) {
			t.Fatalf("claim over foreign objects: %v, want ErrNotOwned", err)
		}
		want := b.Location() + "/crm/ already holds 3 objects that lakeport did not write: choose another connector name or empty that prefix"
		if err.Error() != want {
			t.Errorf("message\n %q\nwant\n %q", err.Error(), want)
		}
		if _, err := owner.Read(t.Context(), b, "crm"); !objstore.IsNotFound(err) {
			t.Errorf("a refused claim left a marker: %v", err)
		}
	})
}

func TestClaimBesideNeighbours(t *testing.T) {
	objtest.ForEach(t, func(t *testing.T, b objstore.Bucket) {
		// Objects that only share the name's first letters are not in crm/.
		objtest.MustPut(t, b, "x", "crm2/x", "crm.json", "crmx")
		claim(t, b, "crm", hubspot)
	})
}

func TestCleanupRefusesAnotherOwner(t *testing.T) {
	objtest.ForEach(t, func(t *testing.T, b objstore.Bucket) {
		objtest.MustPut(t, b, "x", unrelated...)
		claim(t, b, "crm", hubspot)
		objtest.MustPut(t, b, "ours", "crm/contacts/data/1.parquet")
		before := objtest.Keys(t, b, "")
		for _, who := range [][2]string{{"org-1", "conn-2"}, {"org-2", "conn-1"}} {
			n, err := owner.Cleanup(t.Context(), b, "crm", who[0], who[1])
			if !errors.Is(err, owner.ErrOwnedByAnother) || n != 0 {
				t.Errorf("cleanup by %v: %d, %v; want 0, ErrOwnedByAnother", who, n, err)
			}
		}
		if after := objtest.Keys(t, b, ""); !slices.Equal(before, after) {
			t.Errorf("a refused cleanup deleted objects: before %q, after %q", before, after)
		}
	})
}

func TestCleanupRefusesWithoutMarker(t *testing.T) {
	objtest.ForEach(t, func(t *testing.T, b objstore.Bucket) {
		objtest.MustPut(t, b, "x", "crm/contacts/data/1.parquet", "crm/notes.txt")
		n, err := owner.Cleanup(t.Context(), b, "crm", "org-1", "conn-1")
		if !errors.Is(err, owner.ErrNotOwned) || n != 0 {
			t.Fatalf("cleanup without a marker: %d, %v; want 0, ErrNotOwned", n, err)
		}
		if !strings.Contains(err.Error(), "nothing was deleted") {
			t.Errorf("message %q does not say nothing was deleted", err)
		}
		if got := objtest.Keys(t, b, ""); len(got) != 2 {
			t.Errorf("objects left: %q", got)
		}
	})
}

func TestCleanupRefusesUnreadableMarker(t *testing.T) {
	objtest.ForEach(t, func(t *testing.T, b objstore.Bucket) {
		objtest.MustPut(t, b, `{"org_id":"org-1","connector_id":"conn-1"}`, "crm/.lakeport-owner.json") // no version
		objtest.MustPut(t, b, "x", "crm/data")
		if n, err := owner.Cleanup(t.Context(), b, "crm", "org-1", "conn-1"); !errors.Is(err, owner.ErrNotOwned) || n != 0 {
			t.Errorf("cleanup with an unreadable marker: %d, %v; want 0, ErrNotOwned", n, err)
		}
		if err := owner.Claim(t.Context(), b, "crm", hubspot); !errors.Is(err, owner.ErrNotOwned) {
			t.Errorf("claim with an unreadable marker: %v, want ErrNotOwned", err)
		}
		if got := objtest.Keys(t, b, ""); len(got) != 2 {
			t.Errorf("objects left: %q", got)
		}
	})
}

func TestCleanupOfMarkerOnly(t *testing.T) {
	objtest.ForEach(t, func(t *testing.T, b objstore.Bucket) {
		claim(t, b, "crm", hubspot)
		n, err := owner.Cleanup(t.Context(), b, "crm", "org-1", "conn-1")
		if err != nil || n != 1 {
			t.Fatalf("cleanup of a claimed, empty prefix: %d, %v; want 1, nil", n, err)
		}
		if n, err := owner.Cleanup(t.Context(), b, "crm", "org-1", "conn-1"); !errors.Is(err, owner.ErrNotOwned) || n != 0 {
			t.Errorf("second cleanup: %d, %v; want 0, ErrNotOwned", n, err)
		}
	})
}

func TestInvalidNamespaces(t *testing.T) {
	b, err := objstore.NewFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	objtest.MustPut(t, b, "x", "a/b", ".lakeport/validation.txt")
	for _, ns := range []string{"", "a/b", "a/", "/a", "..", "a..b", ".lakeport", ".hidden", `a\b`, "a\x00", strings.Repeat("n", 256)} {
		if err := owner.CheckNamespace(ns); !errors.Is(err, owner.ErrInvalidNamespace) {
			t.Errorf("CheckNamespace(%q) = %v, want ErrInvalidNamespace", ns, err)
		}
		if err := owner.Claim(t.Context(), b, ns, hubspot); !errors.Is(err, owner.ErrInvalidNamespace) {
			t.Errorf("Claim(%q) = %v, want ErrInvalidNamespace", ns, err)
		}
		if _, err := owner.Cleanup(t.Context(), b, ns, "org-1", "conn-1"); !errors.Is(err, owner.ErrInvalidNamespace) {
			t.Errorf("Cleanup(%q) = %v, want ErrInvalidNamespace", ns, err)
		}
	}
	for _, ns := range []string{"crm", "hubspot_prod", "a.b", "Sales-2024", "x"} {
		if err := owner.CheckNamespace(ns); err != nil {
			t.Errorf("CheckNamespace(%q) = %v, want nil", ns, err)
		}
	}
	if got := objtest.Keys(t, b, ""); len(got) != 2 {
		t.Errorf("objects left: %q", got)
	}
}

func TestClaimNeedsIDs(t *testing.T) {
	b, err := objstore.NewFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := owner.Claim(t.Context(), b, "crm", owner.Marker{OrgID: "org-1"}); !errors.Is(err, owner.ErrInvalidMarker) {
		t.Errorf("claim without a connector ID: %v", err)
	}
	if _, err := owner.Cleanup(t.Context(), b, "crm", "", "conn-1"); !errors.Is(err, owner.ErrInvalidMarker) {
		t.Errorf("cleanup without an org ID: %v", err)
	}
}
