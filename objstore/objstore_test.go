package objstore_test

import (
	"os"
	"testing"

	"github.com/lakeport/lakeport/objstore/objtest"
	"github.com/lakeport/lakeport/s3test"
)

func TestMain(m *testing.M) { os.Exit(s3test.Main(m)) }

func TestConformance(t *testing.T) {
	for _, be := range objtest.Backends() {
		t.Run(be.Name, func(t *testing.T) { objtest.Run(t, be.New) })
	}
}
