package source

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// DetectContainerEngine returns the path of the first of engines (default
// docker, podman) that is installed and whose engine answers. When none
// does, the error wraps ErrNoContainerEngine and says why each failed.
func DetectContainerEngine(ctx context.Context, engines ...string) (string, error) {
	if len(engines) == 0 {
		engines = []string{"docker", "podman"}
	}
	var why []string
	for _, name := range engines {
		path, err := exec.LookPath(name)
		if err != nil {
			why = append(why, name+" is not installed")
			continue
		}
		out, err := exec.CommandContext(ctx, path, "info", "--format", "{{json .}}").CombinedOutput()
		if err != nil {
			msg := strings.TrimSpace(string(out))
			if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
				msg = msg[i+1:]
			}
			if len(msg) > 200 {
				msg = msg[:200]
			}
			why = append(why, fmt.Sprintf("%s is installed but its engine does not answer (%v: %s)", name, err, msg))
			continue
		}
		return path, nil
	}
	return "", fmt.Errorf("%w (%s): start docker or podman, or run the connector as a local program with exec:/path/to/program",
		ErrNoContainerEngine, strings.Join(why, "; "))
}
