package validation_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lakeport/lakeport/netguard"
	"github.com/lakeport/lakeport/s3test"
	"github.com/lakeport/lakeport/storage"
	"github.com/lakeport/lakeport/validation"
)

// TestGuardRefusesPrivateEndpoints: Test connection to an S3-compatible endpoint
// on loopback (the real versitygw, by address and by the name localhost) and to
// the cloud metadata address is refused before any connection, naming the
// operator setting; with private networks allowed the same bucket passes.
func TestGuardRefusesPrivateEndpoints(t *testing.T) {
	srv := s3test.Shared(t)
	bucket, ak, sk := userBucket(t, srv, "guard")
	good := keySetting(srv, bucket, ak, sk)
	byName := good
	byName.Endpoint = strings.Replace(good.Endpoint, "127.0.0.1", "localhost", 1)
	metadata := good
	metadata.Endpoint = "http://169.254.169.254"
	v6 := good
	v6.Endpoint = "http://[::1]:9000"

	deny := storage.Access{Guard: netguard.New(false)}
	for _, set := range []storage.Setting{good, byName, metadata, v6} {
		r := validation.Run(context.Background(), set, validation.Options{Access: deny, StepTimeout: 5 * time.Second})
		st := failedStep(t, r, validation.StepHeadBucket, validation.CauseEndpointNotAllowed)
		mustContain(t, "message", st.Message, set.Endpoint)
		mustContain(t, "hint", st.Hint, "network.allow_private")
	}
	if srv.ObjectExists(t, bucket, validation.ObjectKey) {
		t.Fatal("a refused test wrote the validation object")
	}

	allow := storage.Access{Guard: netguard.New(true)}
	for _, set := range []storage.Setting{good, byName} {
		r := validation.Run(context.Background(), set, validation.Options{Access: allow, StepTimeout: 5 * time.Second})
		if !r.OK {
			t.Fatalf("%s with private networks allowed: %s", set.Endpoint, dump(r))
		}
	}
}

// TestEndpointAnswersAreSummarized: an open port that is not S3 and a closed
// port read the same ("could not reach the endpoint"), and an S3 error's
// message from the endpoint never reaches the report.
func TestEndpointAnswersAreSummarized(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()
	notHTTP, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer notHTTP.Close()
	go func() {
		for {
			c, err := notHTTP.Accept()
			if err != nil {
				return
			}
			fmt.Fprint(c, "SSH-2.0-OpenSSH_9.6 internal-bastion.corp\r\n")
			c.Close()
		}
	}()
	const secret = "db-password=hunter2 internal-host=10.1.2.3"
	xml := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidRequest</Code><Message>%s</Message><RequestId>1</RequestId></Error>`, secret)
	}))
	defer xml.Close()

	allow := storage.Access{Guard: netguard.New(true)}
	run := func(endpoint string) validation.Step {
		set := storage.Setting{Bucket: "probe", Region: "us-east-1", Endpoint: endpoint, AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secretsecret"}
		r := validation.Run(context.Background(), set, validation.Options{Access: allow, StepTimeout: 5 * time.Second})
		for _, st := range r.Steps {
			if st.Status == validation.StatusFailed {
				return st
			}
		}
		t.Fatalf("%s: no failed step: %s", endpoint, dump(r))
		return validation.Step{}
	}
	c := run("http://" + closedAddr)
	o := run("http://" + notHTTP.Addr().String())
	strip := func(st validation.Step, addr string) string {
		return st.Cause + "|" + strings.ReplaceAll(st.Message, addr, "ADDR") + "|" + st.Hint
	}
	if strip(c, closedAddr) != strip(o, notHTTP.Addr().String()) {
		t.Errorf("an open and a closed port read differently:\nclosed: %+v\nopen:   %+v", c, o)
	}
	mustContain(t, "message", c.Message, "could not reach the endpoint")
	for _, st := range []validation.Step{c, o} {
		if strings.Contains(st.Message, "refused") || strings.Contains(st.Message, "SSH") || strings.Contains(st.Message, "malformed") {
			t.Errorf("the report echoes the connection's error: %q", st.Message)
		}
	}
	x := run(xml.URL)
	for _, s := range []string{x.Message, x.Hint} {
		if strings.Contains(s, "hunter2") || strings.Contains(s, "10.1.2.3") {
			t.Errorf("the endpoint's error message is echoed: %+v", x)
		}
	}
	if x.ErrorCode != "InvalidRequest" {
		t.Errorf("error code %q, want the endpoint's code kept", x.ErrorCode)
	}
}
