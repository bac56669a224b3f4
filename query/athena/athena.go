// Package athena is the scale-out query engine: SQL runs on Amazon Athena over
// the organization's Iceberg tables registered in AWS Glue, one Glue database
// per connector namespace of each organization.
//
// Athena can read every Glue database the engine's AWS identity may read, so
// the engine itself keeps each query inside the caller's organization: before
// anything is sent it checks the SQL (one read-only statement; see sql.go for
// the rules), refuses any table that is not in the list it was given, and
// rewrites connector.stream to the organization's Glue database. Give the
// engine an identity that can read lakeport's databases only (and, per
// organization, Lake Formation or IAM conditions where possible): the check
// here is the first wall, not the only one.
//
// The organization is taken from the context: callers wrap it with WithOrg.
package athena

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/athena"
	"github.com/aws/aws-sdk-go-v2/service/athena/types"

	"github.com/lakeport/lakeport/query"
)

// Config tunes the engine. Region, WorkGroup and OutputLocation are required
// (OutputLocation may be empty when the workgroup enforces its own).
type Config struct {
	Region    string
	WorkGroup string
	// OutputLocation is where Athena writes results: s3://bucket/prefix/.
	OutputLocation string
	// Catalog is the Athena data catalog (default "AwsDataCatalog").
	Catalog string
	// Database names the Glue database of one organization's connector
	// namespace. It must give different organizations different names.
	// Default: DefaultDatabase with DatabasePrefix.
	Database func(orgID, connector string) (string, error)
	// DatabasePrefix is the prefix of DefaultDatabase names (default "lakeport_").
	DatabasePrefix string
	// Credentials signs the requests; nil uses the SDK's default chain
	// (environment, shared files, instance or task role).
	Credentials aws.CredentialsProvider
	// Endpoint overrides Athena's endpoint (tests, VPC endpoints).
	Endpoint string
	// PollInitial is the first wait between status checks (default 100ms);
	// each wait doubles up to PollMax (default 2s).
	PollInitial, PollMax time.Duration
	// Limits bound each request (rows, time).
	query.Limits
	// PageSize is GetQueryResults' MaxResults (default and most 1000).
	PageSize int
}

func (c Config) withDefaults() Config {
	if c.Catalog == "" {
		c.Catalog = "AwsDataCatalog"
	}
	if c.DatabasePrefix == "" {
		c.DatabasePrefix = "lakeport_"
	}
	if c.Database == nil {
		prefix := c.DatabasePrefix
		c.Database = func(org, connector string) (string, error) { return DefaultDatabase(prefix, org, connector) }
	}
	if c.PollInitial <= 0 {
		c.PollInitial = 100 * time.Millisecond
	}
	if c.PollMax <= 0 {
		c.PollMax = 2 * time.Second
	}
	c.PollMax = max(c.PollMax, c.PollInitial)
	c.Limits = c.Limits.WithDefaults()
	if c.PageSize <= 0 || c.PageSize > 1000 {
		c.PageSize = 1000
	}
	return c
}

var (
	orgRE       = regexp.MustCompile(`^[a-z0-9]+(_[a-z0-9]+)*$`)
	connectorRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
)

// DefaultDatabase is prefix + org + "__" + connector, e.g.
// lakeport_org_k3j2__stripe. It is one-to-one: an organization ID has no
// "__" and does not end in "_", a connector name starts with a letter, so the
// first "__" after the prefix always splits the two. IDs or names outside
// those forms (lower-case letters, digits, underscores) are refused rather
// than mangled into a name another organization could also get.
func DefaultDatabase(prefix, orgID, connector string) (string, error) {
	if !orgRE.MatchString(orgID) {
		return "", fmt.Errorf("athena: organization ID %q cannot name a Glue database: want lower-case letters and digits separated by single underscores", orgID)
	}
	if !connectorRE.MatchString(connector) {
		return "", fmt.Errorf("athena: connector %q cannot name a Glue database: want lower-case letters, digits and underscores, starting with a letter", connector)
	}
	db := prefix + orgID + "__" + connector
	if len(db) > 255 {
		return "", fmt.Errorf("athena: Glue database name %s is longer than 255 characters", db)
	}
	return db, nil
}

// WithOrg is query.WithOrg: the engine needs the organization to name its Glue
// databases.
func WithOrg(ctx context.Context, orgID string) context.Context { return query.WithOrg(ctx, orgID) }

// OrgFrom is query.OrgFrom.
func OrgFrom(ctx context.Context) (string, bool) { return query.OrgFrom(ctx) }

// Engine runs read-only SQL on Athena. It is safe for concurrent use.
type Engine struct {
	cfg    Config
	client *athena.Client
}

var _ query.Engine = (*Engine)(nil)

// New returns an engine configured by cfg (zero fields take their defaults).
func New(cfg Config) (*Engine, error) {
	cfg = cfg.withDefaults()
	switch {
	case cfg.Region == "":
		return nil, errors.New("athena: region is required")
	case cfg.WorkGroup == "":
		return nil, errors.New("athena: workgroup is required")
	case cfg.OutputLocation != "" && !strings.HasPrefix(cfg.OutputLocation, "s3://"):
		return nil, fmt.Errorf("athena: output location %q: want s3://bucket/prefix/", cfg.OutputLocation)
	case cfg.DefaultMaxRows > cfg.MaxRows:
		return nil, fmt.Errorf("athena: default max rows %d is above max rows %d", cfg.DefaultMaxRows, cfg.MaxRows)
	}
	if cfg.Credentials == nil {
		awsCfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion(cfg.Region))
		if err != nil {
			return nil, fmt.Errorf("athena: AWS credentials: %w", err)
		}
		cfg.Credentials = awsCfg.Credentials
	}
	opts := athena.Options{Region: cfg.Region, Credentials: cfg.Credentials}
	if cfg.Endpoint != "" {
		opts.BaseEndpoint = aws.String(cfg.Endpoint)
	}
	return &Engine{cfg: cfg, client: athena.New(opts)}, nil
}

func init() {
	query.Register("athena", func(props map[string]string) (query.Engine, error) {
		cfg, err := ConfigFromProps(props)
		if err != nil {
			return nil, err
		}
		return New(cfg)
	})
}

// ConfigFromProps reads a Config from string properties: region, workgroup,
// output_location, catalog, database_prefix, endpoint, poll_initial,
// poll_max, default_max_rows, max_rows, default_timeout, max_timeout,
// page_size. Unknown keys are an error. Credentials are not properties: the
// factory registered as "athena" leaves them to the caller's Config; with
// ConfigFromProps alone set Credentials before New.
func ConfigFromProps(props map[string]string) (Config, error) {
	var c Config
	for k, v := range props {
		var err error
		switch k {
		case "region":
			c.Region = v
		case "workgroup":
			c.WorkGroup = v
		case "output_location":
			c.OutputLocation = v
		case "catalog":
			c.Catalog = v
		case "database_prefix":
			c.DatabasePrefix = v
		case "endpoint":
			c.Endpoint = v
		case "poll_initial":
			c.PollInitial, err = time.ParseDuration(v)
		case "poll_max":
			c.PollMax, err = time.ParseDuration(v)
		case "page_size":
			c.PageSize, err = strconv.Atoi(v)
		default:
			var known bool
			if known, err = c.Limits.Set(k, v); !known {
				return c, fmt.Errorf("athena: unknown setting %q", k)
			}
		}
		if err != nil {
			return c, fmt.Errorf("athena: setting %s: %w", k, err)
		}
	}
	return c, nil
}

// Query runs req over tables, the organization's (named in ctx by WithOrg).
// The result must be closed.
func (e *Engine) Query(ctx context.Context, tables []query.Table, req query.Request) (query.Result, error) {
	maxRows := req.MaxRows
	switch {
	case maxRows < 0:
		return nil, fmt.Errorf("%w: max rows %d is negative", query.ErrTooManyRows, maxRows)
	case maxRows == 0:
		maxRows = e.cfg.DefaultMaxRows
	case maxRows > e.cfg.MaxRows:
		return nil, fmt.Errorf("%w: asked for %d rows, the most a query may return is %d", query.ErrTooManyRows, maxRows, e.cfg.MaxRows)
	}
	timeout := req.Timeout
	if timeout <= 0 {
		timeout = e.cfg.DefaultTimeout
	}
	timeout = min(timeout, e.cfg.MaxTimeout)
	if strings.TrimSpace(req.SQL) == "" {
		return nil, &query.SQLError{Kind: "Parser", Message: "the query is empty", Err: query.ErrBadSQL}
	}
	org, ok := OrgFrom(ctx)
	if !ok {
		return nil, errors.New("athena: no organization in the context (wrap it with athena.WithOrg)")
	}
	sc, err := e.scope(org, tables)
	if err != nil {
		return nil, err
	}
	p, err := planQuery(req.SQL, sc)
	if err != nil {
		return nil, err
	}
	if p.local != nil {
		return newLocalResult(p.local, maxRows), nil
	}

	qctx, cancel := context.WithTimeout(ctx, timeout)
	res, err := e.run(qctx, p, req.SQL, maxRows)
	if err != nil {
		cancel()
		return nil, err
	}
	res.cancel = cancel
	return res, nil
}

// scope checks the table list and names each connector's Glue database.
func (e *Engine) scope(org string, tables []query.Table) (scope, error) {
	sc := scope{tables: make(map[string]query.Table, len(tables)), dbs: map[string]string{}, order: tables}
	for _, t := range tables {
		if t.Schema == "" || t.Name == "" {
			return sc, fmt.Errorf("athena: table %q: schema and name are required", t.QualifiedName())
		}
		key := strings.ToLower(t.QualifiedName())
		if _, dup := sc.tables[key]; dup {
			return sc, fmt.Errorf("athena: table %s given twice", t.QualifiedName())
		}
		sc.tables[key] = t
		conn := strings.ToLower(t.Schema)
		if _, ok := sc.dbs[conn]; ok {
			continue
		}
		db, err := e.cfg.Database(org, t.Schema)
		if err != nil {
			return sc, err
		}
		if db == "" {
			return sc, fmt.Errorf("athena: no Glue database for connector %s", t.Schema)
		}
		sc.dbs[conn] = db
	}
	return sc, nil
}

// run starts the query, waits for it and reads the first page.
func (e *Engine) run(ctx context.Context, p *plan, orig string, maxRows int) (*result, error) {
	in := &athena.StartQueryExecutionInput{
		QueryString:           aws.String(p.sql),
		WorkGroup:             aws.String(e.cfg.WorkGroup),
		QueryExecutionContext: &types.QueryExecutionContext{Catalog: aws.String(e.cfg.Catalog)},
	}
	if p.database != "" {
		in.QueryExecutionContext.Database = aws.String(p.database)
	}
	if e.cfg.OutputLocation != "" {
		in.ResultConfiguration = &types.ResultConfiguration{OutputLocation: aws.String(e.cfg.OutputLocation)}
	}
	out, err := e.client.StartQueryExecution(ctx, in)
	if err != nil {
		if cerr := query.ContextError(ctx); cerr != nil {
			return nil, cerr
		}
		return nil, fmt.Errorf("%w: %w", query.ErrUnavailable, apiError("start query", err))
	}
	id := aws.ToString(out.QueryExecutionId)
	if id == "" {
		return nil, errors.New("athena: start query: no query execution ID in the answer")
	}
	exec, err := e.wait(ctx, id)
	if err != nil {
		return nil, err
	}
	st := exec.Status
	switch st.State {
	case types.QueryExecutionStateSucceeded:
	case types.QueryExecutionStateFailed:
		return nil, failure(id, st, p, orig)
	default: // CANCELLED by someone else
		return nil, fmt.Errorf("athena: query %s was cancelled outside lakeport: %s", id, aws.ToString(st.StateChangeReason))
	}
	r := &result{e: e, id: id, ctx: ctx, maxRows: maxRows, dml: exec.StatementType == types.StatementTypeDml}
	if err := r.fetch(true); err != nil {
		return nil, err
	}
	return r, nil
}

// wait polls the query's state with backoff until it is final. When ctx ends
// first, the query is stopped.
func (e *Engine) wait(ctx context.Context, id string) (*types.QueryExecution, error) {
	delay := e.cfg.PollInitial
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for {
		out, err := e.client.GetQueryExecution(ctx, &athena.GetQueryExecutionInput{QueryExecutionId: aws.String(id)})
		if err != nil {
			if cerr := query.ContextError(ctx); cerr != nil {
				return nil, e.stop(ctx, id, cerr)
			}
			return nil, apiError("get query execution "+id, err)
		}
		if out.QueryExecution == nil || out.QueryExecution.Status == nil {
			return nil, fmt.Errorf("athena: get query execution %s: no status in the answer", id)
		}
		switch out.QueryExecution.Status.State {
		case types.QueryExecutionStateSucceeded, types.QueryExecutionStateFailed, types.QueryExecutionStateCancelled:
			return out.QueryExecution, nil
		}
		timer.Reset(delay)
		select {
		case <-ctx.Done():
			return nil, e.stop(ctx, id, query.ContextError(ctx))
		case <-timer.C:
		}
		delay = min(2*delay, e.cfg.PollMax)
	}
}

// stop asks Athena to stop the query (ctx is already done) and returns cause.
func (e *Engine) stop(ctx context.Context, id string, cause error) error {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := e.client.StopQueryExecution(sctx, &athena.StopQueryExecutionInput{QueryExecutionId: aws.String(id)}); err != nil {
		return fmt.Errorf("%w (stopping Athena query %s failed too: %v)", cause, id, err)
	}
	return cause
}
