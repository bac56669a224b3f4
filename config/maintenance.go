package config

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Maintenance is table maintenance (package maintain): how often the scheduler runs
// it for each connector that synced since its last one, and its settings. Zero values
// mean the defaults below.
type Maintenance struct {
	// Every is the shortest time between two scheduled maintenance runs of one
	// connector (default DefaultMaintenanceEvery); negative turns scheduled
	// maintenance off (`lakeport connector maintain` still runs it).
	Every time.Duration
	// TargetFileSize is the data file size compaction aims at, in bytes.
	TargetFileSize int64
	// SnapshotRetention is how long snapshots are kept; the one holding a table's
	// latest source state, and those after it, always are.
	SnapshotRetention time.Duration
	// OrphanWindow spares unreferenced files younger than this; it must be longer
	// than SyncTimeout, since a running sync's written files are unreferenced until it
	// commits them.
	OrphanWindow time.Duration
	// MetadataVersions is how many previous metadata files a table keeps.
	MetadataVersions int
}

// Defaults of Maintenance (the maintain package's own defaults for the rest).
const (
	DefaultMaintenanceEvery = 24 * time.Hour
	minTargetFileSize       = 1 << 20
	minSnapshotRetention    = time.Hour
)

// Check reports a setting lakeport cannot run maintenance with, naming the setting and
// what to give instead. syncTimeout is the longest a sync may run.
func (m Maintenance) Check(syncTimeout time.Duration) error {
	if m.TargetFileSize != 0 && m.TargetFileSize < minTargetFileSize {
		return fmt.Errorf("maintenance.target_file_size (LAKEPORT_MAINTENANCE_TARGET_FILE_SIZE) %d bytes: give at least 1MiB, such as 128MiB", m.TargetFileSize)
	}
	if m.SnapshotRetention != 0 && m.SnapshotRetention < minSnapshotRetention {
		return fmt.Errorf("maintenance.snapshot_retention (LAKEPORT_MAINTENANCE_SNAPSHOT_RETENTION) %s: give at least 1h, such as 168h (a sync checks recent snapshots to learn whether its last commit landed)", m.SnapshotRetention)
	}
	if m.MetadataVersions < 0 {
		return fmt.Errorf("maintenance.metadata_versions (LAKEPORT_MAINTENANCE_METADATA_VERSIONS) %d: give how many previous metadata files a table keeps, at least 1", m.MetadataVersions)
	}
	if syncTimeout <= 0 {
		syncTimeout = 6 * time.Hour // jobs.DefaultSyncTimeout
	}
	if m.OrphanWindow != 0 && m.OrphanWindow <= syncTimeout {
		return fmt.Errorf("maintenance.orphan_window (LAKEPORT_MAINTENANCE_ORPHAN_WINDOW) %s must be longer than sync_timeout (%s): "+
			"a running sync's data files are unreferenced until it commits them, and would be taken for orphans; give e.g. 72h", m.OrphanWindow, syncTimeout)
	}
	return nil
}

// maintenanceFile is the maintenance section of lakeport.yaml.
type maintenanceFile struct {
	Every             string `yaml:"every"`
	TargetFileSize    string `yaml:"target_file_size"`
	SnapshotRetention string `yaml:"snapshot_retention"`
	OrphanWindow      string `yaml:"orphan_window"`
	MetadataVersions  int    `yaml:"metadata_versions"`
}

func (f maintenanceFile) apply(m *Maintenance) error {
	return setMaintenance(m, "maintenance.", func(key string) string {
		switch key {
		case "every":
			return f.Every
		case "target_file_size":
			return f.TargetFileSize
		case "snapshot_retention":
			return f.SnapshotRetention
		case "orphan_window":
			return f.OrphanWindow
		case "metadata_versions":
			if f.MetadataVersions != 0 {
				return strconv.Itoa(f.MetadataVersions)
			}
		}
		return ""
	})
}

// maintenanceEnv applies LAKEPORT_MAINTENANCE_* variables.
func maintenanceEnv(m *Maintenance) error {
	return setMaintenance(m, "LAKEPORT_MAINTENANCE_", func(key string) string {
		return os.Getenv("LAKEPORT_MAINTENANCE_" + strings.ToUpper(key))
	})
}

// setMaintenance sets the fields whose value get returns (by yaml key), naming
// prefix+key in errors.
func setMaintenance(m *Maintenance, prefix string, get func(key string) string) error {
	name := func(key string) string {
		if strings.HasPrefix(prefix, "LAKEPORT_") {
			return prefix + strings.ToUpper(key)
		}
		return prefix + key
	}
	if v := get("every"); v != "" {
		if v == "off" {
			m.Every = -1
		} else {
			d, err := time.ParseDuration(v)
			if err != nil || d < time.Minute {
				return fmt.Errorf("%s %q: give a duration of at least 1m such as 24h, or off", name("every"), v)
			}
			m.Every = d
		}
	}
	if v := get("target_file_size"); v != "" {
		n, err := ParseBytes(v)
		if err != nil {
			return fmt.Errorf("%s: %v", name("target_file_size"), err)
		}
		m.TargetFileSize = n
	}
	for _, f := range []struct {
		key string
		dst *time.Duration
	}{{"snapshot_retention", &m.SnapshotRetention}, {"orphan_window", &m.OrphanWindow}} {
		if v := get(f.key); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return fmt.Errorf("%s %q: give a duration such as 168h", name(f.key), v)
			}
			*f.dst = d
		}
	}
	if v := get("metadata_versions"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return fmt.Errorf("%s %q: give how many previous metadata files a table keeps, at least 1, such as 20", name("metadata_versions"), v)
		}
		m.MetadataVersions = n
	}
	return nil
}
