package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/lakeport/lakeport/api"
	"github.com/lakeport/lakeport/catalog"
	_ "github.com/lakeport/lakeport/catalog/glue" // AWS Glue
	_ "github.com/lakeport/lakeport/catalog/rest" // an Iceberg REST catalog
	_ "github.com/lakeport/lakeport/catalog/sql"  // the embedded default
	"github.com/lakeport/lakeport/config"
	"github.com/lakeport/lakeport/connector"
	"github.com/lakeport/lakeport/health"
	"github.com/lakeport/lakeport/jobs"
	"github.com/lakeport/lakeport/maintain"
	"github.com/lakeport/lakeport/metrics"
	"github.com/lakeport/lakeport/migration"
	"github.com/lakeport/lakeport/netguard"
	"github.com/lakeport/lakeport/query"
	_ "github.com/lakeport/lakeport/query/athena" // the scale-out query engine
	_ "github.com/lakeport/lakeport/query/worker" // the embedded query engine, in worker processes
	"github.com/lakeport/lakeport/schedule"
	"github.com/lakeport/lakeport/secrets"
	"github.com/lakeport/lakeport/source"
	"github.com/lakeport/lakeport/storage"
	"github.com/lakeport/lakeport/store"
	"github.com/lakeport/lakeport/store/postgres"
	"github.com/lakeport/lakeport/store/sqlite"
	"github.com/lakeport/lakeport/syncer"
	"github.com/lakeport/lakeport/tenant"
	"github.com/lakeport/lakeport/web"
)

func newServeCmd(g *globals) *cobra.Command {
	return processCmd(g, "serve", "Run the lakeport server (API, sync workers) on its embedded defaults",
		func(ctx context.Context, cfg config.Config, log *slog.Logger) error { return serve(ctx, cfg, log, nil) })
}

func newWorkerCmd(g *globals) *cobra.Command {
	return processCmd(g, "worker", "Run sync workers only (no API), next to lakeport serve on one PostgreSQL (--database)", work)
}

// processCmd is a command that runs a lakeport process with the install's settings.
func processCmd(g *globals, use, short string, run func(context.Context, config.Config, *slog.Logger) error) *cobra.Command {
	flags := config.FromEnv() // flag defaults, for --help
	configPath := os.Getenv("LAKEPORT_CONFIG")
	var trustedProxies []string
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// defaults < config file < LAKEPORT_* environment < flags
			cfg, err := config.Load(configPath)
			if err != nil {
				return err
			}
			var perr error
			cmd.Flags().Visit(func(f *pflag.Flag) {
				switch f.Name {
				case "addr":
					cfg.Addr = flags.Addr
				case "log-format":
					cfg.LogFormat = flags.LogFormat
				case "query-engine":
					cfg.QueryEngine = flags.QueryEngine
				case "aws-account-id":
					cfg.Platform.AccountID = flags.Platform.AccountID
				case "worker-principal-arn":
					cfg.Platform.WorkerPrincipalARN = flags.Platform.WorkerPrincipalARN
				case "worker-role-arn":
					cfg.WorkerRoleARN = flags.WorkerRoleARN
				case "sts-endpoint":
					cfg.STSEndpoint = flags.STSEndpoint
				case "sample":
					cfg.Sample = flags.Sample
				case "step-timeout":
					cfg.StepTimeout = flags.StepTimeout
				case "database":
					cfg.Database = flags.Database
				case "metrics-addr":
					cfg.MetricsAddr = flags.MetricsAddr
				case "secure-cookies":
					cfg.Console.SecureCookies = flags.Console.SecureCookies
				case "trusted-proxy":
					cfg.Console.TrustedProxies = nil
					for _, p := range trustedProxies {
						prefixes, err := config.ParseProxies(p)
						if err != nil {
							perr = fmt.Errorf("--trusted-proxy: %w", err)
						}
						cfg.Console.TrustedProxies = append(cfg.Console.TrustedProxies, prefixes...)
					}
				case "allow-private-networks":
					cfg.AllowPrivateNetworks = flags.AllowPrivateNetworks
				case "allow-source":
					cfg.Sources.Allow = flags.Sources.Allow
				case "manifests-dir":
					cfg.ManifestsDir = flags.ManifestsDir
				}
			})
			if perr != nil {
				return perr
			}
			if cmd.Flags().Changed("data-dir") || os.Getenv("LAKEPORT_DATA_DIR") != "" || configPath == "" {
				cfg.DataDir = g.dataDir
			}
			var h slog.Handler
			switch cfg.LogFormat {
			case "json":
				h = slog.NewJSONHandler(g.stderr, nil)
			case "text", "":
				h = slog.NewTextHandler(g.stderr, nil)
			default:
				return fmt.Errorf("--log-format must be text or json")
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			log := slog.New(h)
			slog.SetDefault(log) // for parts without a logger of their own (query workers)
			return run(ctx, cfg, log)
		},
	}
	f := cmd.Flags()
	f.StringVar(&configPath, "config", configPath, "config file (LAKEPORT_CONFIG); lakeport.example.yaml documents every setting")
	f.StringVar(&flags.Addr, "addr", flags.Addr, "address to listen on (LAKEPORT_ADDR)")
	f.StringVar(&flags.Database, "database", flags.Database, "metadata store: empty for SQLite in the data dir, or postgres://… shared by several processes (LAKEPORT_DATABASE_URL)")
	f.StringVar(&flags.LogFormat, "log-format", flags.LogFormat, "text or json (LAKEPORT_LOG_FORMAT)")
	f.StringVar(&flags.QueryEngine, "query-engine", flags.QueryEngine, "duckdb (embedded) or athena (LAKEPORT_QUERY_ENGINE)")
	f.StringVar(&flags.Platform.AccountID, "aws-account-id", flags.Platform.AccountID, "the platform's AWS account ID, a trusted principal in customers' trust policies (LAKEPORT_AWS_ACCOUNT_ID)")
	f.StringVar(&flags.Platform.WorkerPrincipalARN, "worker-principal-arn", flags.Platform.WorkerPrincipalARN, "the sync workers' IAM principal ARN (LAKEPORT_WORKER_PRINCIPAL_ARN); defaults to --worker-role-arn")
	f.StringVar(&flags.WorkerRoleARN, "worker-role-arn", flags.WorkerRoleARN, "the sync workers' own IAM role: the platform's credentials assume it, then it assumes each customer's role (LAKEPORT_WORKER_ROLE_ARN)")
	f.StringVar(&flags.STSEndpoint, "sts-endpoint", flags.STSEndpoint, "STS endpoint URL; empty for AWS's own (LAKEPORT_STS_ENDPOINT)")
	f.BoolVar(&flags.Sample, "sample", flags.Sample, "on first start, create the connector sample (built-in demo source) and sync it once (LAKEPORT_SAMPLE)")
	f.DurationVar(&flags.StepTimeout, "step-timeout", flags.StepTimeout, "time limit of each Test connection step (LAKEPORT_STEP_TIMEOUT)")
	f.StringArrayVar(&flags.Sources.Allow, "allow-source", flags.Sources.Allow,
		"an exec: or image: reference sources may run, exact or a glob like exec:/opt/airbyte/bin/* or image:airbyte/source-*; repeat it (LAKEPORT_SOURCES_ALLOW, comma-separated; sources.allow)")
	f.StringVar(&flags.MetricsAddr, "metrics-addr", flags.MetricsAddr, "address of the Prometheus /metrics listener, apart from the API's; off for none (LAKEPORT_METRICS_ADDR)")
	f.BoolVar(&flags.Console.SecureCookies, "secure-cookies", flags.Console.SecureCookies, "mark console cookies Secure: set it behind a TLS-terminating proxy (LAKEPORT_SECURE_COOKIES)")
	f.StringArrayVar(&trustedProxies, "trusted-proxy", nil, "a proxy (address or CIDR) whose X-Forwarded-For/-Proto the console believes; repeatable (LAKEPORT_TRUSTED_PROXIES, comma-separated)")
	f.BoolVar(&flags.AllowPrivateNetworks, "allow-private-networks", flags.AllowPrivateNetworks,
		"let organizations' S3-compatible endpoints be loopback, link-local or private addresses (LAKEPORT_ALLOW_PRIVATE_NETWORKS=1, network.allow_private)")
	f.StringVar(&flags.ManifestsDir, "manifests-dir", flags.ManifestsDir, "a folder of Airbyte declarative manifests: DIR/NAME/manifest.yaml or DIR/NAME.yaml becomes the source NAME (LAKEPORT_MANIFESTS_DIR)")
	return cmd
}

// backend is what every lakeport process shares: the metadata store (and in it the job
// queue and, for the SQL catalog, the Iceberg catalog tables).
type backend interface {
	store.Store
	store.Schedules
	store.Health
	store.Maintenance
	store.Users
	store.Sessions
	store.SignInFailures
	store.Migrations
	DB() *sql.DB
}

// node is one lakeport process's share of the work: the store, the connectors service,
// the sync workers, the scheduler and the storage health checks.
type node struct {
	guard *netguard.Guard
	store backend
	svc   *connector.Service
	locs  *storage.Resolver
	box   *secrets.Box
	mets  *metrics.Metrics
	queue *jobs.Queue
}

// startNode opens the metadata store named by cfg.Database (SQLite in the data dir by
// default, or PostgreSQL) and starts the workers; stop ends them.
func startNode(ctx context.Context, cfg config.Config, log *slog.Logger) (n *node, stop func(), err error) {
	if err := cfg.CheckPrincipals(); err != nil {
		return nil, nil, err
	}
	// Everything this process creates (the database and its WAL, keys, tokens, the
	// warehouse's files, whatever libraries write) is for its own user only.
	restrictFileModes()
	if cfg.ManifestsDir != "" {
		if fi, err := os.Stat(cfg.ManifestsDir); err != nil || !fi.IsDir() {
			return nil, nil, fmt.Errorf("sources.manifests_dir (--manifests-dir, LAKEPORT_MANIFESTS_DIR) %s is not a folder: give a folder of DIR/NAME/manifest.yaml or DIR/NAME.yaml files", cfg.ManifestsDir)
		}
		source.Default.ManifestsDir = cfg.ManifestsDir
		log.Info("published manifests", "dir", cfg.ManifestsDir, "sources", source.Default.Manifests())
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("cannot create the data dir %s: %w", cfg.DataDir, err)
	}
	if fi, err := os.Stat(cfg.DataDir); err == nil && fi.Mode().Perm()&0o077 != 0 {
		log.Warn("the data dir is open to other users of this machine: it holds the secrets key, admin token and every organization's data; run chmod 700 on it",
			"data_dir", cfg.DataDir, "mode", fi.Mode().Perm().String())
	}
	if err := configureSources(cfg, log); err != nil {
		return nil, nil, err
	}
	key, err := secrets.LoadOrCreateKey(cfg.SecretKey, filepath.Join(cfg.DataDir, "secret.key"))
	if err != nil {
		return nil, nil, err
	}
	box, err := secrets.NewBox(key)
	if err != nil {
		return nil, nil, err
	}
	// Every connection to an endpoint an organization chose goes through one guard,
	// which also knows this process's own listeners.
	guard := netguard.New(cfg.AllowPrivateNetworks)
	guard.AddListenerString(cfg.Addr)
	// Manifest sources call the APIs a tenant's manifest names: through the guard too.
	source.Default.ManifestOptions.DialContext = guard.Dialer().DialContext
	n = &node{box: box, mets: metrics.New(nil), guard: guard}
	n.locs = &storage.Resolver{Secrets: box, DataDir: cfg.DataDir, Logger: log.With("component", "storage"),
		Identity: storage.Identity{STSEndpoint: cfg.STSEndpoint, STSRegion: cfg.STSRegion, WorkerRoleARN: cfg.WorkerRoleARN, Guard: guard}}
	if cfg.Managed != "" {
		m, err := storage.ParseManaged(cfg.Managed)
		if err != nil {
			return nil, nil, err
		}
		m.Region, m.Endpoint, m.AccessKeyID, m.SecretAccessKey = cfg.ManagedRegion, cfg.ManagedEndpoint, cfg.ManagedAccessKeyID, cfg.ManagedSecretAccessKey
		n.locs.ManagedS3 = &m
	}
	n.svc = &connector.Service{Secrets: box, Storage: n.locs, Logger: log, Metrics: n.mets, SyncOptions: syncer.Options{BatchRows: cfg.SyncBatchRows},
		RunPolicy:     connector.RunPolicy{LeaseTimeout: cfg.SyncLeaseTimeout, MaxPerOrg: cfg.SyncMaxPerOrg},
		MaxConnectors: cfg.MaxConnectors, MinScheduleInterval: cfg.MinScheduleInterval,
		Maintenance: maintenanceOptions(cfg.Maintenance)}
	dialect := "sqlite"
	qcfg := jobs.Config{Logger: log.With("component", "jobs"), SyncTimeout: cfg.SyncTimeout, RescueAfter: cfg.SyncRescueAfter}
	if strings.HasPrefix(cfg.Database, "postgres://") || strings.HasPrefix(cfg.Database, "postgresql://") {
		pg, err := postgres.Open(ctx, cfg.Database)
		if err != nil {
			return nil, nil, err
		}
		n.store, dialect = pg, "postgres"
		n.queue, err = jobs.OpenPostgres(ctx, pg.Pool(), n.svc.RunSync, qcfg)
		if err != nil {
			pg.Close()
			return nil, nil, err
		}
	} else {
		if cfg.Database != "" {
			return nil, nil, fmt.Errorf("database %q: give a postgres:// URL, or nothing for SQLite in the data dir", cfg.Database)
		}
		sq, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, "lakeport.db"))
		if err != nil {
			return nil, nil, err
		}
		n.store = sq
		n.queue, err = jobs.OpenSQLite(ctx, sq.DB(), n.svc.RunSync, qcfg)
		if err != nil {
			sq.Close()
			return nil, nil, err
		}
	}
	n.svc.Store, n.svc.Enqueue, n.locs.Store = n.store, n.queue.EnqueueSync, n.store
	n.svc.Catalog, err = catalog.New(ctx, cfg.Catalog, catalog.Settings{DB: n.store.DB(), Dialect: dialect, Props: cfg.CatalogSettings()})
	if err != nil {
		n.store.Close()
		return nil, nil, err
	}
	if err := n.queue.Start(ctx); err != nil {
		n.store.Close()
		return nil, nil, fmt.Errorf("start the job queue: %w", err)
	}
	// Syncs whose process is gone resume from their last committed state: at once for
	// SQLite, which one process owns (every running run was cut short by the last
	// stop); with PostgreSQL, those whose lease went stale, now and as leases lapse.
	if k, err := n.svc.Resume(ctx, dialect != "postgres"); err != nil {
		log.Warn("could not resume the syncs interrupted by the last stop", "err", err)
	} else if k > 0 {
		log.Info("resuming syncs interrupted by the last stop from their last committed state", "runs", k)
	}
	go n.svc.WatchLeases(ctx)
	sched := &schedule.Scheduler{Store: n.store, Start: n.svc.StartScheduled, Logger: log.With("component", "scheduler")}
	go sched.Run(ctx)
	if every := cfg.Maintenance.Every; every >= 0 {
		if every == 0 {
			every = config.DefaultMaintenanceEvery
		}
		upkeep := &schedule.Maintenance{Store: n.store, Start: n.svc.StartScheduledMaintenance, Every: every, Logger: log.With("component", "maintenance-scheduler")}
		go upkeep.Run(ctx)
	}
	checker := &health.Checker{Store: n.store, Storage: n.locs, Interval: cfg.HealthInterval, StepTimeout: cfg.StepTimeout, Platform: cfg.Platform,
		Metrics: n.mets, Logger: log.With("component", "storage-health")}
	go checker.Run(ctx)
	stop = func() {
		// Running syncs get time to finish; those that do not hand their run back and
		// resume from their last committed state (another process, or the next start).
		stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := n.queue.Stop(stopCtx); err != nil {
			log.Warn("sync workers did not stop in time; their jobs resume elsewhere from the last committed state", "err", err)
		}
		n.store.Close()
	}
	return n, stop, nil
}

// serverFolders are the folders of this server that no query answer shows: the
// data dir and the query workers' folder, as given and with links resolved.
func serverFolders(cfg config.Config) []string {
	var out []string
	for _, dir := range []string{cfg.DataDir, cfg.QueryProps["temp_dir"]} {
		if dir == "" {
			continue
		}
		if abs, err := filepath.Abs(dir); err == nil {
			out = append(out, abs)
			if real, err := filepath.EvalSymlinks(abs); err == nil && real != abs {
				out = append(out, real)
			}
		}
	}
	return out
}

// maintenanceOptions are table maintenance's settings from the install's.
func maintenanceOptions(m config.Maintenance) maintain.Options {
	return maintain.Options{TargetFileSize: m.TargetFileSize, Retention: m.SnapshotRetention, OrphanWindow: m.OrphanWindow, MetadataVersions: m.MetadataVersions}
}

// serve runs the server until ctx ends. ready, when not nil, receives the bound address.
func serve(ctx context.Context, cfg config.Config, log *slog.Logger, ready chan<- string) error {
	if err := cfg.CheckPrincipals(); err != nil { // fills in the workers' principal shown to admins
		return err
	}
	n, stop, err := startNode(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer stop()
	tokenPath, err := tenant.Bootstrap(ctx, n.store, cfg.DataDir)
	if err != nil {
		return err
	}
	if tokenPath != "" {
		log.Info("created organization "+tenant.DefaultOrg+" and its first admin; the admin's API token is in "+tokenPath+" (mode 0600)", "token_file", tokenPath)
	}
	if !cfg.Platform.Configured() {
		log.Warn("no platform AWS identity is configured: customer-hosted buckets with an IAM role need LAKEPORT_AWS_ACCOUNT_ID and LAKEPORT_WORKER_PRINCIPAL_ARN; S3-compatible endpoints with access keys work without them")
	}
	if tokenPath != "" && cfg.Sample {
		if err := startSample(ctx, n.store, n.svc, log); err != nil {
			log.Warn("could not set up the sample connector", "err", err)
		}
	}
	engine, err := query.Open(cfg.QueryEngine, cfg.QueryProps)
	if err != nil {
		return fmt.Errorf("query engine %q: %w", cfg.QueryEngine, err)
	}
	if c, ok := engine.(io.Closer); ok {
		defer c.Close() // the query worker processes
	}
	srv := &api.Server{Store: n.store, Secrets: n.box, Platform: cfg.Platform, Logger: log, Connectors: n.svc, Engine: engine, Metrics: n.mets,
		HidePaths: serverFolders(cfg),
		Ready:     func(ctx context.Context) error { return n.store.DB().PingContext(ctx) },
		Storage:   n.locs, StepTimeout: cfg.StepTimeout,
		Migrations: &migration.Service{Store: n.store, Storage: n.locs, Catalog: n.svc.Catalog, Logger: log.With("component", "migration")}}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w (is another lakeport running? choose another with --addr)", cfg.Addr, err)
	}
	n.guard.AddListener(ln.Addr())
	// The console at / acts through the same API handler as the CLI; no WriteTimeout,
	// since live sync progress is a long-lived stream.
	apiHandler := srv.Handler()
	console := web.New(web.Config{API: apiHandler, Store: n.store, Users: n.store, Sessions: n.store, SignInFailures: n.store, Secrets: n.box,
		SignIn: cfg.Console.SignIn, SecureCookies: cfg.Console.SecureCookies, TrustedProxies: cfg.Console.TrustedProxies, Logger: log})
	mux := http.NewServeMux()
	mux.Handle("/", console)
	for _, p := range []string{"/api/", "/healthz", "/readyz"} {
		mux.Handle(p, apiHandler)
	}
	servers := []*http.Server{{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}}
	listeners := []net.Listener{ln}
	// Metrics go on a listener of their own (loopback by default), never the API's: what
	// the install does is the operator's to see, not the network's.
	if cfg.MetricsAddr != "" && cfg.MetricsAddr != "off" {
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("cannot listen for metrics on %s: %w (choose another with --metrics-addr / LAKEPORT_METRICS_ADDR, or off)", cfg.MetricsAddr, err)
		}
		metricsMux := http.NewServeMux()
		metricsMux.Handle("/metrics", n.mets.Handler())
		servers = append(servers, &http.Server{Handler: metricsMux, ReadHeaderTimeout: 10 * time.Second})
		listeners = append(listeners, mln)
		n.guard.AddListener(mln.Addr()) // an organization's endpoint never reaches it either
		log.Info("lakeport serves metrics", "url", "http://"+mln.Addr().String()+"/metrics")
	}
	log.Info("lakeport is serving: console and API", "url", "http://"+ln.Addr().String(), "data_dir", cfg.DataDir)
	if ready != nil {
		ready <- ln.Addr().String()
	}
	errc := make(chan error, len(servers))
	for i, hs := range servers {
		go func() { errc <- hs.Serve(listeners[i]) }()
	}
	select {
	case err := <-errc:
		for _, hs := range servers {
			hs.Close()
		}
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, hs := range servers {
		if err := hs.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	log.Info("lakeport stopped")
	return nil
}

// work runs sync workers, the scheduler and storage health checks (no API) until ctx
// ends: `lakeport worker`, for scale-out next to `lakeport serve` on one PostgreSQL.
func work(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	_, stop, err := startNode(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer stop()
	log.Info("lakeport worker is running sync jobs", "database", redactURL(cfg.Database))
	<-ctx.Done()
	log.Info("lakeport worker stopping")
	return nil
}

func redactURL(u string) string {
	if u == "" {
		return "sqlite (data dir)"
	}
	if i := strings.Index(u, "@"); i > 0 {
		if j := strings.Index(u, "://"); j > 0 && j < i {
			return u[:j+3] + "…" + u[i:]
		}
	}
	return u
}

// startSample gives a new install something to look at: the connector "sample" of the
// default organization, synced once in the background.
func startSample(ctx context.Context, st store.Store, svc *connector.Service, log *slog.Logger) error {
	org, err := st.OrgByName(ctx, tenant.DefaultOrg)
	if err != nil {
		return err
	}
	if _, err := svc.Create(ctx, org, connector.CreateRequest{Name: "sample", Source: "sample", Streams: []string{"customers", "invoices", "events:incremental:append"}}); err != nil {
		return err
	}
	if _, err := svc.StartSync(ctx, org, "sample"); err != nil {
		return err
	}
	log.Info("created the connector sample (built-in demo data) and started its first sync; " +
		"try: lakeport connector list, lakeport tables, lakeport query \"SELECT status, count(*) FROM sample.invoices GROUP BY 1\"")
	return nil
}
