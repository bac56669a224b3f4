package storage

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lakeport/lakeport/netguard"
	"github.com/lakeport/lakeport/secrets"
	"github.com/lakeport/lakeport/store"
)

// Settings is where saved storage settings are kept (the metadata store).
type Settings interface {
	// StorageSetting returns the org's setting; an org that never saved one
	// gets Mode "managed".
	StorageSetting(ctx context.Context, orgID string) (store.StorageSetting, error)
	PutStorageSetting(ctx context.Context, s store.StorageSetting) error
}

// Identity is how this install reaches STS: its two principals, the platform (the
// API: Test connection, queries, cleanup) and the sync workers.
type Identity struct {
	// STSEndpoint overrides AWS's STS endpoint (tests: an httptest server).
	STSEndpoint string
	// STSRegion signs STS calls; empty: by the role's partition.
	STSRegion string
	// Credentials are the platform's; nil means the default AWS chain.
	Credentials aws.CredentialsProvider
	// WorkerRoleARN is the sync workers' role: the platform's credentials
	// assume it first, and its session then assumes the customer's role (a
	// role chain), so customers' trust policies name it. Empty: the workers
	// use the platform's credentials.
	WorkerRoleARN string
	// HTTPClient carries STS and S3 calls when not nil.
	HTTPClient *http.Client
	// Guard checks every connection to an S3-compatible endpoint an
	// organization chose (see package netguard); nil means a guard that
	// allows public addresses only.
	Guard *netguard.Guard
}

// Principal is who reaches an organization's bucket.
type Principal string

const (
	// Platform is the API process: Test connection's validation object,
	// owner markers, queries, cleanup.
	Platform Principal = "platform"
	// Workers are the sync workers: they write the tables.
	Workers Principal = "workers"
)

// WorkerSessionName names the workers' sessions of their own role.
const WorkerSessionName = "lakeport-workers"

// Saved is an organization's saved choice, with its secret opened.
type Saved struct {
	Mode    Mode
	Setting Setting // zero for managed
}

// Resolver turns organizations' saved settings into usable locations. It is the one
// door to where an organization's data lives: Test connection, syncs, queries,
// cleanup and health checks all reach storage through it. It is safe for concurrent
// use.
type Resolver struct {
	// Store keeps the saved settings.
	Store Settings
	// Secrets seals and opens the secret access key of a saved setting.
	Secrets *secrets.Box
	// DataDir holds the managed warehouse (DataDir/warehouse/<org-id>) unless
	// ManagedS3 puts it in the platform's bucket.
	DataDir   string
	ManagedS3 *ManagedS3
	// Identity is the platform's way to STS.
	Identity Identity
	// S3Options tune every S3 client of a customer bucket (tests point them
	// at a local server).
	S3Options []func(*s3.Options)
	Logger    *slog.Logger

	mu         sync.Mutex
	cache      map[string]cachedLocation // by principal and org ID
	workers    aws.CredentialsProvider   // the workers' role, assumed once for every org
	publicOnly *netguard.Guard           // the guard when Identity has none
}

type cachedLocation struct {
	key   string // the saved setting it was resolved for
	loc   Location
	until time.Time
}

// locationReuse is how long a location with static credentials is reused.
const locationReuse = 10 * time.Minute

// RenewMargin is how long before temporary credentials expire a location is
// resolved again: by Locate, and for a running sync by Renew.
const RenewMargin = 10 * time.Minute

// sealContext binds a sealed secret access key to its organization.
func sealContext(orgID string) string { return orgID + "/storage/secret_access_key" }

// Access is how the platform assumes an organization's role: with the org's
// external ID and a session name that names the org.
func (r *Resolver) Access(org store.Org) Access { return r.AccessAs(org, Platform) }

// AccessAs is how who assumes an organization's role. The workers sign their
// AssumeRole with their own role's session (see Identity.WorkerRoleARN).
func (r *Resolver) AccessAs(org store.Org, who Principal) Access {
	a := Access{ExternalID: org.ExternalID, SessionName: "lakeport-" + org.ID,
		STSEndpoint: r.Identity.STSEndpoint, STSRegion: r.Identity.STSRegion,
		Credentials: r.Identity.Credentials, HTTPClient: r.Identity.HTTPClient, Guard: r.guard()}
	if who == Workers && r.Identity.WorkerRoleARN != "" {
		a.Credentials = r.workerCredentials()
	}
	return a
}

// guard is Identity.Guard, or one that allows public addresses only.
func (r *Resolver) guard() *netguard.Guard {
	if r.Identity.Guard != nil {
		return r.Identity.Guard
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.publicOnly == nil {
		r.publicOnly = netguard.New(false)
	}
	return r.publicOnly
}

// WorkerRole is the role the workers assume before an organization's (empty: none).
func (r *Resolver) WorkerRole() string { return r.Identity.WorkerRoleARN }

// workerCredentials are the workers' role's, assumed with the platform's
// credentials and cached for every organization.
func (r *Resolver) workerCredentials() aws.CredentialsProvider {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.workers == nil {
		r.workers = cached(workerRoleProvider{role: r.Identity.WorkerRoleARN, a: Access{SessionName: WorkerSessionName,
			STSEndpoint: r.Identity.STSEndpoint, STSRegion: r.Identity.STSRegion,
			Credentials: r.Identity.Credentials, HTTPClient: r.Identity.HTTPClient}})
	}
	return r.workers
}

// Saved returns the organization's saved choice with its secret opened.
func (r *Resolver) Saved(ctx context.Context, org store.Org) (Saved, error) {
	st, err := r.Store.StorageSetting(ctx, org.ID)
	if err != nil {
		return Saved{}, err
	}
	return r.open(org, st)
}

// open is a stored setting with its secret opened.
func (r *Resolver) open(org store.Org, st store.StorageSetting) (Saved, error) {
	var err error
	set := Setting{Bucket: st.Bucket, Region: st.Region, RoleARN: st.RoleARN, KMSKeyARN: st.KMSKeyARN, Endpoint: st.Endpoint, AccessKeyID: st.AccessKeyID}
	if st.SecretAccessKeySealed != "" {
		if r.Secrets == nil {
			return Saved{}, errors.New("storage: no secrets box to open the saved secret access key")
		}
		if set.SecretAccessKey, err = r.Secrets.Open(st.SecretAccessKeySealed, sealContext(org.ID)); err != nil {
			return Saved{}, fmt.Errorf("storage: open the saved secret access key of organization %s: %w", org.ID, err)
		}
	}
	return Saved{Mode: Mode(st.Mode), Setting: set}, nil
}

// Save stores set as the organization's customer-hosted storage, its secret access
// key sealed; validatedAt is when Test connection passed for exactly set. The setting
// it replaces stays reachable by its root (see At), for connectors still bound there.
func (r *Resolver) Save(ctx context.Context, org store.Org, set Setting, validatedAt time.Time) (store.StorageSetting, error) {
	if r.Secrets == nil {
		return store.StorageSetting{}, errors.New("storage: no secrets box to seal the secret access key")
	}
	if err := r.remember(ctx, org); err != nil {
		return store.StorageSetting{}, err
	}
	sealed := ""
	if set.SecretAccessKey != "" {
		var err error
		if sealed, err = r.Secrets.Seal(set.SecretAccessKey, sealContext(org.ID)); err != nil {
			return store.StorageSetting{}, err
		}
	}
	now := time.Now().UTC()
	st := store.StorageSetting{OrgID: org.ID, Mode: string(ModeCustomerHosted), Bucket: set.Bucket, Region: set.Region,
		RoleARN: set.RoleARN, KMSKeyARN: set.KMSKeyARN, Endpoint: set.Endpoint, AccessKeyID: set.AccessKeyID,
		SecretAccessKeySealed: sealed, ValidatedAt: validatedAt.UTC(), UpdatedAt: now}
	if err := r.Store.PutStorageSetting(ctx, st); err != nil {
		return st, err
	}
	r.forget(org.ID)
	return st, r.remember(ctx, org)
}

// remember records the organization's saved setting by the root it reaches, so
// connectors bound there stay reachable after another is saved. A store without
// store.Migrations remembers nothing.
func (r *Resolver) remember(ctx context.Context, org store.Org) error {
	ms, ok := r.Store.(store.Migrations)
	if !ok {
		return nil
	}
	st, err := r.Store.StorageSetting(ctx, org.ID)
	if err != nil || Mode(st.Mode) != ModeCustomerHosted {
		return err // managed storage is found without a record
	}
	return ms.PutStorageLocation(ctx, store.StorageLocation{Root: rootOf(st.Bucket, ""), Setting: st})
}

// UseManaged switches the organization back to managed storage.
func (r *Resolver) UseManaged(ctx context.Context, org store.Org) (store.StorageSetting, error) {
	if err := r.remember(ctx, org); err != nil {
		return store.StorageSetting{}, err
	}
	st := store.StorageSetting{OrgID: org.ID, Mode: string(ModeManaged), UpdatedAt: time.Now().UTC()}
	if err := r.Store.PutStorageSetting(ctx, st); err != nil {
		return st, err
	}
	r.forget(org.ID)
	return st, nil
}

func (r *Resolver) forget(orgID string) {
	r.mu.Lock()
	for _, who := range []Principal{Platform, Workers} {
		delete(r.cache, string(who)+"/"+orgID)
	}
	r.mu.Unlock()
}

// Locate returns where the organization's data lives now, as the platform reaches
// it. A resolved location (for a customer bucket: an AssumeRole call) is reused by
// later calls — every query lists the organization's tables — until its credentials
// come near expiry or the saved setting changes.
func (r *Resolver) Locate(ctx context.Context, org store.Org) (Location, error) {
	return r.locate(ctx, org, Platform, false)
}

// LocateAs is Locate as who reaches it: the sync workers write through their own
// role chain.
func (r *Resolver) LocateAs(ctx context.Context, org store.Org, who Principal) (Location, error) {
	return r.locate(ctx, org, who, false)
}

// Fresh is LocateAs without reuse: new credentials now.
func (r *Resolver) Fresh(ctx context.Context, org store.Org, who Principal) (Location, error) {
	return r.locate(ctx, org, who, true)
}

func (r *Resolver) locate(ctx context.Context, org store.Org, who Principal, fresh bool) (Location, error) {
	saved, err := r.Saved(ctx, org)
	if err != nil {
		return Location{}, err
	}
	key := saved.key()
	now := time.Now()
	ckey := string(who) + "/" + org.ID
	r.mu.Lock()
	c, ok := r.cache[ckey]
	r.mu.Unlock()
	if !fresh && ok && c.key == key && now.Before(c.until) {
		return c.loc, nil
	}
	loc, err := r.ResolveAs(ctx, org, saved, who)
	if err != nil {
		return loc, err
	}
	until := now.Add(locationReuse)
	if !loc.Expires.IsZero() {
		until = loc.Expires.Add(-RenewMargin)
	}
	r.mu.Lock()
	if r.cache == nil {
		r.cache = map[string]cachedLocation{}
	}
	r.cache[ckey] = cachedLocation{key: key, loc: loc, until: until}
	r.mu.Unlock()
	return loc, nil
}

// key identifies a saved choice (the secret by its hash).
func (s Saved) key() string {
	set := s.Setting
	return fmt.Sprintf("%s|%s|%s|%s|%s|%s|%s|%x", s.Mode, set.Bucket, set.Region, set.RoleARN, set.Endpoint, set.AccessKeyID, set.KMSKeyARN,
		sha256.Sum256([]byte(set.SecretAccessKey)))
}

// Resolve returns the location of a saved choice (not necessarily the saved one: a
// migration resolves its target) as the platform reaches it, without reuse.
func (r *Resolver) Resolve(ctx context.Context, org store.Org, saved Saved) (Location, error) {
	return r.ResolveAs(ctx, org, saved, Platform)
}

// ResolveAs is Resolve as who reaches it.
func (r *Resolver) ResolveAs(ctx context.Context, org store.Org, saved Saved, who Principal) (Location, error) {
	var loc Location
	var err error
	if saved.Mode == ModeManaged && r.ManagedS3 != nil {
		loc, err = ResolveManagedS3(ctx, *r.ManagedS3, org.ID)
	} else {
		loc, err = Resolve(ctx, r.DataDir, org.ID, saved.Mode, saved.Setting, r.AccessAs(org, who), r.S3Options...)
	}
	loc.Principal = who
	return loc, err
}

// At returns the location at root as who reaches it: the organization's current
// storage, its managed warehouse, or an earlier storage it saved (a connector still
// bound there, being migrated). ErrUnknownLocation when no setting lakeport kept
// reaches root.
func (r *Resolver) At(ctx context.Context, org store.Org, root string, who Principal) (Location, error) {
	cur, err := r.LocateAs(ctx, org, who)
	if err != nil || cur.Root == root {
		return cur, err
	}
	if cur.Mode != ModeManaged {
		managed, err := r.ResolveAs(ctx, org, Saved{Mode: ModeManaged}, who)
		if err == nil && managed.Root == root {
			return managed, nil
		}
	}
	ms, ok := r.Store.(store.Migrations)
	if !ok {
		return Location{}, fmt.Errorf("%w %s: this metadata store keeps no earlier storage", ErrUnknownLocation, root)
	}
	l, err := ms.StorageLocation(ctx, org.ID, root)
	if errors.Is(err, store.ErrNotFound) {
		return Location{}, fmt.Errorf("%w %s: no storage setting this organization saved reaches it any more; save that storage again to reach it", ErrUnknownLocation, root)
	}
	if err != nil {
		return Location{}, err
	}
	saved, err := r.open(org, l.Setting)
	if err != nil {
		return Location{}, err
	}
	return r.ResolveAs(ctx, org, saved, who)
}

// Renew keeps a running sync's credentials fresh: until ctx ends it resolves the
// organization's location again RenewMargin before loc's credentials expire and
// hands the new one to apply (which gives the sync's lake the new properties). A
// location without expiring credentials needs nothing, and Renew returns at once.
func (r *Resolver) Renew(ctx context.Context, org store.Org, loc Location, apply func(Location) error) {
	if loc.Expires.IsZero() {
		return
	}
	for {
		wait := max(time.Until(loc.Expires.Add(-RenewMargin)), 5*time.Second)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		next, err := r.Fresh(ctx, org, loc.Principal)
		if err != nil {
			r.logger().Warn("could not renew the bucket credentials of a running sync; it fails at its next commit if they expire", "org", org.ID, "err", err)
			continue
		}
		if err := apply(next); err != nil {
			r.logger().Warn("could not apply renewed bucket credentials", "org", org.ID, "err", err)
			continue
		}
		loc = next
		r.logger().Info("renewed the bucket credentials of a running sync", "org", org.ID, "expires", loc.Expires)
	}
}

func (r *Resolver) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.Default()
}
