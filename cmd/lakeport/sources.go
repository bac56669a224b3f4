package main

import (
	"log/slog"
	"path/filepath"
	"runtime"

	"github.com/lakeport/lakeport/config"
	"github.com/lakeport/lakeport/source"
	"github.com/lakeport/lakeport/source/sandbox"
)

// configureSources applies the operator's sources settings to the registry every
// connector opens its source from: which programs may run (sources.allow) and what
// they are given. Nothing of the server's own files is theirs: the data dir and the
// config file are denied even inside folders they may read.
func configureSources(cfg config.Config, log *slog.Logger) error {
	allow, err := source.ParseAllowList(cfg.Sources.Allow)
	if err != nil {
		return err
	}
	deny := []string{cfg.DataDir}
	if cfg.File != "" {
		deny = append(deny, cfg.File)
	}
	for i, p := range deny {
		if abs, err := filepath.Abs(p); err == nil {
			deny[i] = abs
		}
	}
	source.Default.Allow = allow
	source.Default.Options = source.ProcessOptions{
		Path: cfg.Sources.Path, Env: cfg.Sources.Env, CPU: cfg.Sources.CPULimit, Memory: cfg.Sources.MemoryLimit,
		CommandTimeout: cfg.Sources.CommandTimeout, Read: cfg.Sources.ReadPaths, Deny: deny,
		ContainerNetwork: cfg.Sources.ContainerNetwork, ContainerCPUs: cfg.Sources.ContainerCPUs,
	}
	if entries := allow.Entries(); len(entries) > 0 {
		log.Info("sources may run these programs (sources.allow)", "allow", entries)
		if runtime.GOOS == "linux" && sandbox.LandlockABI() == 0 {
			log.Warn("this kernel has no Landlock (Linux 5.13 or later): exec: sources run with limits and a clean environment, " +
				"but can read every file the server's user can, the data dir included; run lakeport as its own user, or use image: sources")
		}
	}
	return nil
}
