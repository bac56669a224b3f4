// Package s3test runs a real S3-compatible server (versitygw, posix backend)
// on a loopback port for integration tests, with helpers to create buckets,
// users, bucket owners and bucket policies.
//
// A test that needs a server calls Start (a server of its own) or Shared (one
// server for the whole test binary; the package's TestMain must call Main).
// When the versitygw binary cannot be found the test fails, it does not skip:
//
//	go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
package s3test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Version is the versitygw release these helpers are written against.
const Version = "v1.8.0"

// InstallCommand installs the versitygw binary the helpers need.
const InstallCommand = "go install github.com/versity/versitygw/cmd/versitygw@" + Version

// Region is the region the server runs in.
const Region = "us-east-1"

// startTimeout bounds how long Start waits for the server to answer.
const startTimeout = 15 * time.Second

// Server is a running versitygw.
type Server struct {
	// Endpoint is the server's base URL, like http://127.0.0.1:41234.
	Endpoint string
	// Region is the region the server expects in signatures.
	Region string
	// AccessKey and SecretKey are the root user's keys. Root bypasses
	// bucket policies.
	AccessKey, SecretKey string
	// Dir is the posix root: a bucket is a folder in it.
	Dir string

	bin  string
	cmd  *exec.Cmd
	done chan struct{}
	out  *syncBuffer
}

// Start starts a server of the test's own and stops it when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	dir := t.TempDir()
	s, err := start(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	return s
}

var shared struct {
	mu      sync.Mutex
	inMain  bool
	started bool
	srv     *Server
	err     error
	dir     string
}

// Main runs the package's tests and then stops the server Shared started.
// Use it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(s3test.Main(m)) }
func Main(m *testing.M) int {
	shared.mu.Lock()
	shared.inMain = true
	shared.mu.Unlock()

	code := m.Run()

	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.srv != nil {
		shared.srv.stop()
	}
	if shared.dir != "" {
		_ = os.RemoveAll(shared.dir)
	}
	return code
}

// Shared returns the server shared by every test of the binary, starting it
// on first use. Without Main in TestMain (nothing would stop a shared server)
// it falls back to Start. Tests sharing a server keep apart by using their
// own buckets and users (see NewBucket).
func Shared(t testing.TB) *Server {
	t.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.inMain {
		return Start(t)
	}
	if !shared.started {
		shared.started = true
		dir, err := os.MkdirTemp("", "s3test-")
		if err != nil {
			shared.err = err
		} else {
			shared.dir = dir
			shared.srv, shared.err = start(dir)
		}
	}
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.srv
}

// Binary returns the path of the versitygw binary: from PATH, $GOBIN or
// $(go env GOPATH)/bin. The error says how to install it.
func Binary() (string, error) {
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	var dirs []string
	if d := os.Getenv("GOBIN"); d != "" {
		dirs = append(dirs, d)
	}
	if out, err := exec.Command("go", "env", "GOBIN", "GOPATH").Output(); err == nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) > 0 && strings.TrimSpace(lines[0]) != "" {
			dirs = append(dirs, strings.TrimSpace(lines[0]))
		}
		if len(lines) > 1 {
			for _, p := range filepath.SplitList(strings.TrimSpace(lines[1])) {
				dirs = append(dirs, filepath.Join(p, "bin"))
			}
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, "go", "bin"))
	}
	for _, d := range dirs {
		p := filepath.Join(d, "versitygw")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("s3test: the versitygw binary (the S3 server these integration tests run against) "+
		"is not in PATH, $GOBIN or $(go env GOPATH)/bin (looked in %s); install it with: %s",
		strings.Join(dirs, ", "), InstallCommand)
}

func start(dir string) (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		s, err := startOnce(bin, dir, attempt)
		if err == nil {
			return s, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func startOnce(bin, dir string, attempt int) (*Server, error) {
	root := filepath.Join(dir, fmt.Sprintf("posix-%d", attempt))
	iam := filepath.Join(dir, fmt.Sprintf("iam-%d", attempt))
	for _, d := range []string{root, iam} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("s3test: %w", err)
		}
	}
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("s3test: find a free port: %w", err)
	}
	s := &Server{
		Endpoint:  "http://" + port,
		Region:    Region,
		AccessKey: "s3test-root",
		SecretKey: "s3test-root-secret-" + randomHex(8),
		Dir:       root,
		bin:       bin,
		done:      make(chan struct{}),
		out:       &syncBuffer{},
	}
	s.cmd = exec.Command(bin,
		"--access", s.AccessKey, "--secret", s.SecretKey,
		"--port", port, "--region", s.Region,
		"--iam-dir", iam, "--iam-cache-disable",
		"--health", "/lakeport-s3test-health", "--quiet",
		"posix", root)
	s.cmd.Env = serverEnv()
	s.cmd.Stdout = s.out
	s.cmd.Stderr = s.out
	// Kill the server with the test binary, even if nothing calls stop.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("s3test: start %s: %w", bin, err)
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }()

	if err := s.waitReady(); err != nil {
		s.stop()
		return nil, fmt.Errorf("s3test: versitygw on %s did not come up: %w; its output:\n%s", port, err, s.out.String())
	}
	return s, nil
}

// waitReady polls the health endpoint until it answers 200.
func (s *Server) waitReady() error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return errors.New("the process exited")
		default:
		}
		resp, err := client.Get(s.Endpoint + "/lakeport-s3test-health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("no answer within %s", startTimeout)
}

func (s *Server) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// serverEnv is the environment without the variables versitygw reads as
// flags, so the developer's shell cannot change the server.
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "VGW_"), strings.HasPrefix(k, "ROOT_"), strings.HasPrefix(k, "ADMIN_"),
			k == "LOGFILE", strings.HasPrefix(k, "AWS_"):
			continue
		}
		env = append(env, kv)
	}
	return env
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// Client returns an S3 client signed with the root user's keys.
func (s *Server) Client() *s3.Client { return s.ClientFor(s.AccessKey, s.SecretKey) }

// ClientFor returns an S3 client for the server signed with the given keys.
func (s *Server) ClientFor(accessKey, secretKey string) *s3.Client {
	return s3.New(s3.Options{
		Region:                     s.Region,
		BaseEndpoint:               aws.String(s.Endpoint),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		RetryMaxAttempts:           1,
	})
}

// NewBucket creates a bucket with a unique name starting with prefix
// (as root) and returns its name.
func (s *Server) NewBucket(t testing.TB, prefix string) string {
	t.Helper()
	if prefix == "" {
		prefix = "test"
	}
	name := strings.ToLower(prefix) + "-" + randomHex(6)
	if len(name) > 63 {
		name = name[len(name)-63:]
	}
	s.CreateBucket(t, name)
	return name
}

// CreateBucket creates a bucket owned by root.
func (s *Server) CreateBucket(t testing.TB, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("s3test: create bucket %s: %v", name, err)
	}
}

// CreateUser creates a user (role "user") with the given keys. A user
// reaches only the buckets it owns (ChangeBucketOwner) or a bucket policy
// grants it.
func (s *Server) CreateUser(t testing.TB, accessKey, secretKey string) {
	t.Helper()
	s.admin(t, "create-user", "--access", accessKey, "--secret", secretKey, "--role", "user")
}

// ChangeBucketOwner gives the bucket to the user with the given access key.
func (s *Server) ChangeBucketOwner(t testing.TB, bucket, ownerAccessKey string) {
	t.Helper()
	s.admin(t, "change-bucket-owner", "--bucket", bucket, "--owner", ownerAccessKey)
}

// PutBucketPolicy sets the bucket's policy (as root, which bypasses
// policies). Note that a policy locks out even the bucket's owner unless it
// names them.
func (s *Server) PutBucketPolicy(t testing.TB, bucket, policy string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.Client().PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String(bucket), Policy: aws.String(policy)}); err != nil {
		t.Fatalf("s3test: put policy on bucket %s: %v", bucket, err)
	}
}

// ObjectExists reports whether the bucket holds key (asked as root).
func (s *Server) ObjectExists(t testing.TB, bucket, key string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := s.Client().ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(key)})
	if err != nil {
		t.Fatalf("s3test: list %s in bucket %s: %v", key, bucket, err)
	}
	for _, o := range out.Contents {
		if aws.ToString(o.Key) == key {
			return true
		}
	}
	return false
}

// Keys lists every key in the bucket (asked as root).
func (s *Server) Keys(t testing.TB, bucket string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []string
	p := s3.NewListObjectsV2Paginator(s.Client(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("s3test: list bucket %s: %v", bucket, err)
		}
		for _, o := range page.Contents {
			out = append(out, aws.ToString(o.Key))
		}
	}
	return out
}

// admin runs a `versitygw admin` command as root.
func (s *Server) admin(t testing.TB, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	full := append([]string{"admin", "--access", s.AccessKey, "--secret", s.SecretKey,
		"--endpoint-url", s.Endpoint, "--region", s.Region}, args...)
	cmd := exec.CommandContext(ctx, s.bin, full...)
	cmd.Env = serverEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("s3test: versitygw admin %s: %v\n%s", args[0], err, out)
	}
}

// RandomKey returns a random key-like string with the given prefix, for
// access keys and secrets of test users.
func RandomKey(prefix string) string { return prefix + randomHex(8) }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// syncBuffer collects the server's output for error messages.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() > 1<<20 {
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
