package policy_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
	"go.yaml.in/yaml/v3"

	"github.com/lakeport/lakeport/storage/policy"
	"github.com/lakeport/lakeport/storage/policy/review"
)

const (
	platformAcct = "111122223333"
	workerARN    = "arn:aws:iam::111122223333:role/lakeport-sync-worker"
	externalID   = "lp-7f3a9c2e41d8"
	roleARN      = "arn:aws:iam::123456789012:role/lakeport-access"
	testBucket   = "acme-lake"
	testKey      = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
)

func setup(t *testing.T, key string) policy.Setup {
	t.Helper()
	perms, err := policy.Permissions("", testBucket, key)
	if err != nil {
		t.Fatal(err)
	}
	trust, err := policy.Trust("", platformAcct, workerARN, externalID)
	if err != nil {
		t.Fatal(err)
	}
	return policy.Setup{Bucket: testBucket, KMSKeyARN: key, Trust: trust, Permissions: perms}
}

func goldenBytes(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it):\n%s", name, got)
	}
}

// extracted are the three documents a generated configuration applies.
type extracted struct {
	trust, perms, bucket []byte
}

// reviewExtracted runs lakeport's review over the documents taken back out
// of a generated configuration: they must pass as the printed ones do.
func reviewExtracted(t *testing.T, x extracted, key string) {
	t.Helper()
	rep := review.Review(review.Input{RoleARN: roleARN, TrustPolicy: x.trust, PermissionPolicy: x.perms, BucketPolicy: x.bucket,
		KMSKeyARN: key, Platform: review.Platform{AccountID: platformAcct, WorkerPrincipalARN: workerARN}, ExternalID: externalID})
	if len(rep.Findings) > 0 || !rep.OK || rep.Bucket != testBucket {
		var b strings.Builder
		for _, f := range rep.Findings {
			fmt.Fprintf(&b, "  %s\n", f)
		}
		t.Fatalf("the generated documents fail lakeport's review (bucket %q):\n%s", rep.Bucket, b.String())
	}
}

func TestRenderJSON(t *testing.T) {
	for _, key := range []string{"", testKey} {
		out, err := policy.Render("json", setup(t, key))
		if err != nil {
			t.Fatal(err)
		}
		goldenBytes(t, map[string]string{"": "setup.json", testKey: "setup_kms.json"}[key], out)
		var doc struct {
			Bucket         string          `json:"bucket"`
			Trust          json.RawMessage `json:"trust_policy"`
			Perms          json.RawMessage `json:"permission_policy"`
			BucketSettings struct {
				BlockPublicAccess map[string]bool `json:"block_public_access"`
				ObjectOwnership   string          `json:"object_ownership"`
				Encryption        *struct {
					KMSKeyARN string `json:"kms_key_arn"`
				} `json:"default_encryption"`
				Policy json.RawMessage `json:"bucket_policy"`
			} `json:"bucket_settings"`
		}
		if err := json.Unmarshal(out, &doc); err != nil {
			t.Fatalf("the JSON does not parse: %v", err)
		}
		s := doc.BucketSettings
		if len(s.BlockPublicAccess) != 4 || slices.Contains(mapValues(s.BlockPublicAccess), false) || s.ObjectOwnership != "BucketOwnerEnforced" {
			t.Fatalf("bucket settings = %+v", s)
		}
		if (s.Encryption != nil) != (key != "") || (key != "" && s.Encryption.KMSKeyARN != key) {
			t.Fatalf("default encryption = %+v for key %q", s.Encryption, key)
		}
		reviewExtracted(t, extracted{doc.Trust, doc.Perms, doc.BucketSettings.Policy}, key)
	}
	if _, err := policy.Render("pulumi", setup(t, "")); err == nil || !strings.Contains(err.Error(), "json, terraform, cloudformation") {
		t.Fatalf("unknown format: %v", err)
	}
	bad := setup(t, "")
	bad.RoleName = "has space"
	if _, err := policy.Render("json", bad); err == nil || !strings.Contains(err.Error(), "role name") {
		t.Fatalf("bad role name: %v", err)
	}
}

func mapValues(m map[string]bool) []bool {
	var out []bool
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// tfSchema is the part of `terraform providers schema -json` (hashicorp/aws
// 5.100.0) for the resource types the configuration uses.
type tfBlock struct {
	Attributes map[string]struct {
		Required bool `json:"required"`
		Computed bool `json:"computed"`
		Optional bool `json:"optional"`
	} `json:"attributes"`
	BlockTypes map[string]struct {
		Block    tfBlock `json:"block"`
		MinItems int     `json:"min_items"`
	} `json:"block_types"`
}

func loadTFSchema(t *testing.T) map[string]tfBlock {
	raw, err := os.ReadFile("testdata/terraform-aws-schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Resources map[string]struct {
			Block tfBlock `json:"block"`
		} `json:"resource_schemas"`
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	out := map[string]tfBlock{}
	for k, v := range s.Resources {
		out[k] = v.Block
	}
	return out
}

// meta are the arguments Terraform takes on every resource.
var meta = []string{"count", "for_each", "depends_on", "provider", "lifecycle"}

// checkBlock checks a resource body's attributes and nested blocks against
// the provider's schema: every argument exists and is settable, every
// required one is set.
func checkBlock(t *testing.T, where string, body *hclsyntax.Body, schema tfBlock, isResource bool) {
	for name := range body.Attributes {
		if isResource && slices.Contains(meta, name) {
			continue
		}
		a, ok := schema.Attributes[name]
		if !ok {
			t.Errorf("%s: %q is not an argument of this resource type", where, name)
		} else if !a.Required && !a.Optional {
			t.Errorf("%s: %q is computed only; it cannot be set", where, name)
		}
	}
	for name, a := range schema.Attributes {
		if _, set := body.Attributes[name]; a.Required && !set {
			t.Errorf("%s: the required argument %q is missing", where, name)
		}
	}
	seen := map[string]int{}
	for _, b := range body.Blocks {
		bt, ok := schema.BlockTypes[b.Type]
		if !ok {
			t.Errorf("%s: %q is not a block of this resource type", where, b.Type)
			continue
		}
		seen[b.Type]++
		checkBlock(t, where+"."+b.Type, b.Body, bt.Block, false)
	}
	for name, bt := range schema.BlockTypes {
		if seen[name] < bt.MinItems {
			t.Errorf("%s: needs at least %d %q blocks", where, bt.MinItems, name)
		}
	}
}

func TestRenderTerraform(t *testing.T) {
	schema := loadTFSchema(t)
	for _, key := range []string{"", testKey} {
		out, err := policy.Render("terraform", setup(t, key))
		if err != nil {
			t.Fatal(err)
		}
		goldenBytes(t, map[string]string{"": "setup.tf", testKey: "setup_kms.tf"}[key], out)

		file, diags := hclsyntax.ParseConfig(out, "setup.tf", hcl.InitialPos)
		if diags.HasErrors() {
			t.Fatalf("the configuration is not valid HCL: %s", diags.Error())
		}
		body := file.Body.(*hclsyntax.Body)
		ctx := &hcl.EvalContext{Functions: map[string]function.Function{"jsonencode": stdlib.JSONEncodeFunc}}
		policyOf := func(b *hclsyntax.Block, attr string) []byte {
			v, diags := b.Body.Attributes[attr].Expr.Value(ctx)
			if diags.HasErrors() || v.Type() != cty.String {
				t.Fatalf("%s.%s: %s", b.Labels[0], attr, diags.Error())
			}
			return []byte(v.AsString())
		}
		var x extracted
		types := map[string]bool{}
		for _, b := range body.Blocks {
			if b.Type != "resource" {
				continue
			}
			typ := b.Labels[0]
			types[typ] = true
			s, ok := schema[typ]
			if !ok {
				t.Errorf("resource type %s is not in the hashicorp/aws provider's schema", typ)
				continue
			}
			checkBlock(t, typ, b.Body, s, true)
			switch typ {
			case "aws_iam_role":
				x.trust = policyOf(b, "assume_role_policy")
			case "aws_iam_role_policy":
				x.perms = policyOf(b, "policy")
			case "aws_s3_bucket_policy":
				x.bucket = policyOf(b, "policy")
			}
		}
		for _, want := range []string{"aws_s3_bucket", "aws_s3_bucket_public_access_block", "aws_s3_bucket_ownership_controls", "aws_s3_bucket_policy", "aws_iam_role", "aws_iam_role_policy"} {
			if !types[want] {
				t.Errorf("the configuration has no %s", want)
			}
		}
		if types["aws_s3_bucket_server_side_encryption_configuration"] != (key != "") {
			t.Errorf("default SSE-KMS configuration present = %v with key %q", types["aws_s3_bucket_server_side_encryption_configuration"], key)
		}
		reviewExtracted(t, x, key)
		if key != "" { // the larger configuration; one run is enough (it takes seconds)
			terraformValidate(t, out)
		}
	}
}

// terraformValidate runs `terraform validate` when terraform and a local
// mirror of the hashicorp/aws provider are on this machine (no network).
func terraformValidate(t *testing.T, config []byte) {
	t.Helper()
	bin, err := exec.LookPath("terraform")
	plugins := os.Getenv("LAKEPORT_TF_PLUGIN_DIR")
	if plugins == "" {
		plugins = "/opt/tf-plugins"
	}
	if _, perr := os.Stat(filepath.Join(plugins, "registry.terraform.io", "hashicorp", "aws")); err != nil || perr != nil {
		t.Logf("terraform validate not run: needs terraform on PATH and the hashicorp/aws provider in %s (LAKEPORT_TF_PLUGIN_DIR); the schema check above ran", plugins)
		return
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), config, 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) []byte {
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1", "TF_CLI_CONFIG_FILE=/dev/null")
		out, err := cmd.CombinedOutput()
		if err != nil && args[0] == "init" {
			t.Fatalf("terraform %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	run("init", "-backend=false", "-input=false", "-plugin-dir="+plugins)
	out := run("validate", "-json")
	var res struct {
		Valid       bool `json:"valid"`
		Diagnostics []struct {
			Severity, Summary, Detail string
		} `json:"diagnostics"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("terraform validate -json: %v\n%s", err, out)
	}
	if !res.Valid || len(res.Diagnostics) > 0 {
		t.Fatalf("terraform validate: valid=%v %+v", res.Valid, res.Diagnostics)
	}
}

func TestRenderCloudFormation(t *testing.T) {
	schemas := map[string]*jsonschema.Schema{}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft7)
	// The schemas' patterns are ECMA-262 regular expressions with \uXXXX
	// escapes, which Go writes \x{XXXX}.
	uEscape := regexp.MustCompile(`\\u([0-9A-Fa-f]{4})`)
	c.UseRegexpEngine(func(s string) (jsonschema.Regexp, error) {
		return regexp.Compile(uEscape.ReplaceAllString(s, `\x{$1}`))
	})
	for typ, file := range map[string]string{"AWS::IAM::Role": "aws-iam-role.json", "AWS::S3::Bucket": "aws-s3-bucket.json", "AWS::S3::BucketPolicy": "aws-s3-bucketpolicy.json"} {
		f, err := os.Open(filepath.Join("testdata", "cloudformation-schemas", file))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		// The provider schemas' own "$schema" is a URL this machine cannot
		// fetch; their keywords are draft-07.
		if m, ok := doc.(map[string]any); ok {
			delete(m, "$schema")
		}
		url := "file:///" + file
		if err := c.AddResource(url, doc); err != nil {
			t.Fatal(err)
		}
		s, err := c.Compile(url)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		schemas[typ] = s
	}
	for _, key := range []string{"", testKey} {
		out, err := policy.Render("cloudformation", setup(t, key))
		if err != nil {
			t.Fatal(err)
		}
		goldenBytes(t, map[string]string{"": "setup.yaml", testKey: "setup_kms.yaml"}[key], out)
		var tmpl struct {
			Version   string `yaml:"AWSTemplateFormatVersion"`
			Resources map[string]struct {
				Type       string         `yaml:"Type"`
				Properties map[string]any `yaml:"Properties"`
			} `yaml:"Resources"`
			Outputs map[string]any `yaml:"Outputs"`
		}
		if err := yaml.Unmarshal(out, &tmpl); err != nil {
			t.Fatalf("the template is not valid YAML: %v", err)
		}
		if tmpl.Version != "2010-09-09" || tmpl.Outputs["RoleArn"] == nil {
			t.Fatalf("template = %+v", tmpl)
		}
		var x extracted
		for name, r := range tmpl.Resources {
			s, ok := schemas[r.Type]
			if !ok {
				t.Errorf("%s: unexpected resource type %s", name, r.Type)
				continue
			}
			// JSON round trip: YAML decodes to the types JSON Schema knows.
			raw, _ := json.Marshal(r.Properties)
			props, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Validate(props); err != nil {
				t.Errorf("%s (%s) does not match CloudFormation's documented schema: %v", name, r.Type, err)
			}
			docJSON := func(v any) []byte {
				b, err := json.Marshal(v)
				if err != nil {
					t.Fatal(err)
				}
				return b
			}
			switch r.Type {
			case "AWS::IAM::Role":
				x.trust = docJSON(r.Properties["AssumeRolePolicyDocument"])
				x.perms = docJSON(r.Properties["Policies"].([]any)[0].(map[string]any)["PolicyDocument"])
			case "AWS::S3::BucketPolicy":
				x.bucket = docJSON(r.Properties["PolicyDocument"])
			case "AWS::S3::Bucket":
				_, hasEnc := r.Properties["BucketEncryption"]
				if r.Properties["BucketName"] != testBucket || hasEnc != (key != "") {
					t.Errorf("bucket properties = %v", r.Properties)
				}
			}
		}
		if len(tmpl.Resources) != 3 {
			t.Errorf("%d resources, want bucket, bucket policy and role", len(tmpl.Resources))
		}
		reviewExtracted(t, x, key)
		if key != "" {
			cfnLint(t, out)
		}
	}
}

// cfnLint runs cfn-lint (AWS's CloudFormation linter, offline) when it is
// installed.
func cfnLint(t *testing.T, template []byte) {
	bin, err := exec.LookPath("cfn-lint")
	if err != nil {
		t.Logf("cfn-lint not run: not on PATH; the schema check above ran")
		return
	}
	path := filepath.Join(t.TempDir(), "template.yaml")
	if err := os.WriteFile(path, template, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "--regions", "eu-west-1", "--", path).CombinedOutput()
	if err != nil {
		t.Fatalf("cfn-lint: %v\n%s", err, out)
	}
}
