package config

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Sources is what the operator decides about source programs (exec: and image:)
// and the share of connectors each organization gets.
type Sources struct {
	// Allow lists the exec: and image: references sources may run: exact, or globs
	// such as exec:/opt/airbyte/bin/* and image:airbyte/source-*; exec:* trusts
	// every local program. Empty: none (built-in and manifest sources need no listing).
	Allow []string
	// Env is added to every program's environment ("KEY=value"); nothing else of
	// the server's environment is passed.
	Env []string
	// Path is the programs' PATH (empty: /usr/local/bin:/usr/bin:/bin).
	Path string
	// CPULimit and MemoryLimit bound each program (zero: 6h CPU time, 2 GiB).
	CPULimit    time.Duration
	MemoryLimit int64
	// CommandTimeout bounds spec, check and discover (zero: 5m).
	CommandTimeout time.Duration
	// ReadPaths are folders exec: programs may read besides the system folders
	// and their own (a virtualenv elsewhere, say).
	ReadPaths []string
	// ContainerNetwork is the engine's --network for image: sources (empty: the
	// engine's default); ContainerCPUs its --cpus (empty: 1).
	ContainerNetwork string
	ContainerCPUs    string
}

// Per-organization connector caps and their defaults.
const (
	DefaultMaxConnectors       = 50
	DefaultMinScheduleInterval = 5 * time.Minute
)

// sourcesFile is the sources: section of lakeport.yaml.
type sourcesFile struct {
	ManifestsDir     string            `yaml:"manifests_dir"`
	Allow            []string          `yaml:"allow"`
	Env              map[string]string `yaml:"env"`
	Path             string            `yaml:"path"`
	CPULimit         string            `yaml:"cpu_limit"`
	MemoryLimit      string            `yaml:"memory_limit"`
	CommandTimeout   string            `yaml:"command_timeout"`
	ReadPaths        []string          `yaml:"read_paths"`
	ContainerNetwork string            `yaml:"container_network"`
	ContainerCPUs    string            `yaml:"container_cpus"`
}

// connectorsFile is the connectors: section of lakeport.yaml.
type connectorsFile struct {
	MaxPerOrg           *int   `yaml:"max_per_org"`
	MinScheduleInterval string `yaml:"min_schedule_interval"`
}

func (f sourcesFile) apply(c *Config) error {
	if f.ManifestsDir != "" {
		c.ManifestsDir = f.ManifestsDir
	}
	if len(f.Allow) > 0 {
		c.Sources.Allow = f.Allow
	}
	if len(f.Env) > 0 {
		keys := make([]string, 0, len(f.Env))
		for k := range f.Env {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if k == "" || strings.ContainsAny(k, "=\x00") {
				return fmt.Errorf("sources.env: %q is not a variable name", k)
			}
			c.Sources.Env = append(c.Sources.Env, k+"="+f.Env[k])
		}
	}
	if f.Path != "" {
		c.Sources.Path = f.Path
	}
	if f.ReadPaths != nil {
		c.Sources.ReadPaths = f.ReadPaths
	}
	if f.ContainerNetwork != "" {
		c.Sources.ContainerNetwork = f.ContainerNetwork
	}
	if f.ContainerCPUs != "" {
		c.Sources.ContainerCPUs = f.ContainerCPUs
	}
	var err error
	if f.CPULimit != "" {
		if c.Sources.CPULimit, err = positiveDuration("sources.cpu_limit", f.CPULimit); err != nil {
			return err
		}
	}
	if f.CommandTimeout != "" {
		if c.Sources.CommandTimeout, err = positiveDuration("sources.command_timeout", f.CommandTimeout); err != nil {
			return err
		}
	}
	if f.MemoryLimit != "" {
		if c.Sources.MemoryLimit, err = ParseBytes(f.MemoryLimit); err != nil {
			return fmt.Errorf("sources.memory_limit: %w", err)
		}
	}
	return nil
}

func (f connectorsFile) apply(c *Config) error {
	if f.MaxPerOrg != nil {
		if *f.MaxPerOrg < 1 {
			return fmt.Errorf("connectors.max_per_org %d: give at least 1", *f.MaxPerOrg)
		}
		c.MaxConnectors = *f.MaxPerOrg
	}
	if f.MinScheduleInterval != "" {
		d, err := time.ParseDuration(f.MinScheduleInterval)
		if err != nil || d < 0 {
			return fmt.Errorf("connectors.min_schedule_interval %q: give a duration such as 5m (0 for no minimum)", f.MinScheduleInterval)
		}
		c.MinScheduleInterval = d
	}
	return nil
}

func positiveDuration(key, v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s %q: give a duration such as 5m", key, v)
	}
	return d, nil
}

// applySourcesEnv reads LAKEPORT_SOURCES_ALLOW (comma-separated) and the caps.
func applySourcesEnv(c *Config) {
	if v := os.Getenv("LAKEPORT_SOURCES_ALLOW"); v != "" {
		c.Sources.Allow = SplitList(v)
	}
	if n, err := strconv.Atoi(os.Getenv("LAKEPORT_MAX_CONNECTORS")); err == nil && n > 0 {
		c.MaxConnectors = n
	}
	if d, err := time.ParseDuration(os.Getenv("LAKEPORT_MIN_SCHEDULE_INTERVAL")); err == nil && d >= 0 {
		c.MinScheduleInterval = d
	}
}

// SplitList splits a comma-separated list, dropping empty entries.
func SplitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// ParseBytes reads a size such as 512MiB, 2GiB, 1GB or 1048576.
func ParseBytes(v string) (int64, error) {
	s := strings.TrimSpace(v)
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a size: give one such as 512MiB or 2GiB", v)
	}
	return n * mult, nil
}
