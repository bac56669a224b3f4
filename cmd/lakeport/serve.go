package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/lakeport/lakeport/api"
	"github.com/lakeport/lakeport/config"
	"github.com/lakeport/lakeport/connector"
	"github.com/lakeport/lakeport/health"
	"github.com/lakeport/lakeport/jobs"
	"github.com/lakeport/lakeport/metrics"
	"github.com/lakeport/lakeport/query"
	_ "github.com/lakeport/lakeport/query/athena" // the scale-out query engine
	_ "github.com/lakeport/lakeport/query/duckdb" // the embedded query engine
	"github.com/lakeport/lakeport/schedule"
	"github.com/lakeport/lakeport/secrets"
	"github.com/lakeport/lakeport/storage"
	"github.com/lakeport/lakeport/store"
	"github.com/lakeport/lakeport/store/sqlite"
	"github.com/lakeport/lakeport/tenant"
)

func newServeCmd(g *globals) *cobra.Command {
	flags := config.FromEnv() // flag defaults, for --help
	configPath := os.Getenv("LAKEPORT_CONFIG")
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the lakeport server (API, sync workers) on its embedded defaults",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// defaults < config file < LAKEPORT_* environment < flags
			cfg, err := config.Load(configPath)
			if err != nil {
				return err
			}
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
				case "sts-endpoint":
					cfg.STSEndpoint = flags.STSEndpoint
				case "sample":
					cfg.Sample = flags.Sample
				case "step-timeout":
					cfg.StepTimeout = flags.StepTimeout
				}
			})
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
			return serve(ctx, cfg, slog.New(h), nil)
		},
	}
	f := cmd.Flags()
	f.StringVar(&configPath, "config", configPath, "config file (LAKEPORT_CONFIG); lakeport.example.yaml documents every setting")
	f.StringVar(&flags.Addr, "addr", flags.Addr, "address to listen on (LAKEPORT_ADDR)")
	f.StringVar(&flags.LogFormat, "log-format", flags.LogFormat, "text or json (LAKEPORT_LOG_FORMAT)")
	f.StringVar(&flags.QueryEngine, "query-engine", flags.QueryEngine, "duckdb (embedded) or athena (LAKEPORT_QUERY_ENGINE)")
	f.StringVar(&flags.Platform.AccountID, "aws-account-id", flags.Platform.AccountID, "the platform's AWS account ID, a trusted principal in customers' trust policies (LAKEPORT_AWS_ACCOUNT_ID)")
	f.StringVar(&flags.Platform.WorkerPrincipalARN, "worker-principal-arn", flags.Platform.WorkerPrincipalARN, "the sync workers' IAM principal ARN (LAKEPORT_WORKER_PRINCIPAL_ARN)")
	f.StringVar(&flags.STSEndpoint, "sts-endpoint", flags.STSEndpoint, "STS endpoint URL; empty for AWS's own (LAKEPORT_STS_ENDPOINT)")
	f.BoolVar(&flags.Sample, "sample", flags.Sample, "on first start, create the connector sample (built-in demo source) and sync it once (LAKEPORT_SAMPLE)")
	f.DurationVar(&flags.StepTimeout, "step-timeout", flags.StepTimeout, "time limit of each Test connection step (LAKEPORT_STEP_TIMEOUT)")
	return cmd
}

// serve runs the server until ctx ends. ready, when not nil, receives the bound address.
func serve(ctx context.Context, cfg config.Config, log *slog.Logger, ready chan<- string) error {
	if err := cfg.Platform.Check(); err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("cannot create the data dir %s: %w", cfg.DataDir, err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, "lakeport.db"))
	if err != nil {
		return err
	}
	defer st.Close()
	key, err := secrets.LoadOrCreateKey(cfg.SecretKey, filepath.Join(cfg.DataDir, "secret.key"))
	if err != nil {
		return err
	}
	box, err := secrets.NewBox(key)
	if err != nil {
		return err
	}
	tokenPath, err := tenant.Bootstrap(ctx, st, cfg.DataDir)
	if err != nil {
		return err
	}
	if tokenPath != "" {
		log.Info("created organization "+tenant.DefaultOrg+" and its first admin; the admin's API token is in "+tokenPath+" (mode 0600)", "token_file", tokenPath)
	}
	if !cfg.Platform.Configured() {
		log.Warn("no platform AWS identity is configured: customer-hosted buckets with an IAM role need LAKEPORT_AWS_ACCOUNT_ID and LAKEPORT_WORKER_PRINCIPAL_ARN; S3-compatible endpoints with access keys work without them")
	}
	if n, err := st.FailRunning(ctx, "lakeport stopped during this run; the next sync resumes from the last committed state"); err != nil {
		return err
	} else if n > 0 {
		log.Warn("marked runs interrupted by the last stop as failed", "runs", n)
	}
	mets := metrics.New(nil)
	svc := &connector.Service{Store: st, Secrets: box, DB: st.DB(), DataDir: cfg.DataDir, Logger: log, Metrics: mets,
		Access: func(o store.Org) storage.Access { return cfg.Access(o.ID, o.ExternalID) }}
	queue, err := jobs.Open(ctx, st.DB(), svc.RunSync, jobs.Config{Logger: log.With("component", "jobs")})
	if err != nil {
		return err
	}
	svc.Enqueue = queue.EnqueueSync
	if err := queue.Start(ctx); err != nil {
		return fmt.Errorf("start the job queue: %w", err)
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = queue.Stop(stopCtx)
	}()
	sched := &schedule.Scheduler{Store: st, Start: svc.StartScheduled, Logger: log.With("component", "scheduler")}
	go sched.Run(ctx)
	checker := &health.Checker{Store: st, Setting: svc.SavedSetting, Interval: cfg.HealthInterval, StepTimeout: cfg.StepTimeout,
		Metrics: mets, Logger: log.With("component", "storage-health")}
	go checker.Run(ctx)
	if tokenPath != "" && cfg.Sample {
		if err := startSample(ctx, st, svc, log); err != nil {
			log.Warn("could not set up the sample connector", "err", err)
		}
	}

	engine, err := query.Open(cfg.QueryEngine, cfg.QueryProps)
	if err != nil {
		return fmt.Errorf("query engine %q: %w", cfg.QueryEngine, err)
	}
	srv := &api.Server{Store: st, Secrets: box, Platform: cfg.Platform, Logger: log, Connectors: svc, Engine: engine, Metrics: mets,
		Ready:       func(ctx context.Context) error { return st.DB().PingContext(ctx) },
		STSEndpoint: cfg.STSEndpoint, STSRegion: cfg.STSRegion, StepTimeout: cfg.StepTimeout}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w (is another lakeport running? choose another with --addr)", cfg.Addr, err)
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	log.Info("lakeport is serving", "url", "http://"+ln.Addr().String(), "data_dir", cfg.DataDir)
	if ready != nil {
		ready <- ln.Addr().String()
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("lakeport stopped")
	return nil
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
