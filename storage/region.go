package storage

import (
	"fmt"
	"sort"
	"strings"
)

// awsRegions maps every AWS region a customer bucket can live in to its
// partition. Kept by hand from the AWS SDK's partitions.json (2026); the
// isolated (ISO) partitions are left out on purpose.
var awsRegions = map[string]string{
	"us-east-1": "aws", "us-east-2": "aws", "us-west-1": "aws", "us-west-2": "aws",
	"af-south-1": "aws",
	"ap-east-1":  "aws", "ap-east-2": "aws",
	"ap-south-1": "aws", "ap-south-2": "aws",
	"ap-northeast-1": "aws", "ap-northeast-2": "aws", "ap-northeast-3": "aws",
	"ap-southeast-1": "aws", "ap-southeast-2": "aws", "ap-southeast-3": "aws", "ap-southeast-4": "aws",
	"ap-southeast-5": "aws", "ap-southeast-6": "aws", "ap-southeast-7": "aws",
	"ca-central-1": "aws", "ca-west-1": "aws",
	"eu-central-1": "aws", "eu-central-2": "aws",
	"eu-west-1": "aws", "eu-west-2": "aws", "eu-west-3": "aws",
	"eu-south-1": "aws", "eu-south-2": "aws", "eu-north-1": "aws",
	"il-central-1": "aws",
	"me-south-1":   "aws", "me-central-1": "aws", "me-west-1": "aws",
	"mx-central-1": "aws",
	"sa-east-1":    "aws", "sa-west-1": "aws",

	"us-gov-east-1": "aws-us-gov", "us-gov-west-1": "aws-us-gov",
	"cn-north-1": "aws-cn", "cn-northwest-1": "aws-cn",
	"eusc-de-east-1": "aws-eusc",
}

// Regions returns the AWS regions CheckRegion accepts, sorted.
func Regions() []string {
	out := make([]string, 0, len(awsRegions))
	for r := range awsRegions {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// PartitionOf returns the AWS partition ("aws", "aws-us-gov", "aws-cn",
// "aws-eusc") of a known region, or "" when the region is not known.
func PartitionOf(region string) string { return awsRegions[region] }

// CheckRegion reports whether region is a known AWS region.
func CheckRegion(region string) error {
	if region == "" {
		return fmt.Errorf("required: give the AWS region the bucket was created in, like us-east-1 (the S3 console shows it next to the bucket's name)")
	}
	if _, ok := awsRegions[region]; ok {
		return nil
	}
	lower := strings.ToLower(strings.TrimSpace(region))
	if _, ok := awsRegions[lower]; ok {
		return fmt.Errorf("%q is not written as AWS writes regions: use %q", clip(region), lower)
	}
	if r, ok := regionFromName(lower); ok {
		return fmt.Errorf("%q is a region's name, not its code: use %q", clip(region), r)
	}
	// An availability zone (us-east-1a) is a common slip.
	if n := len(lower); n > 1 && lower[n-1] >= 'a' && lower[n-1] <= 'z' {
		if _, ok := awsRegions[lower[:n-1]]; ok {
			return fmt.Errorf("%q is an availability zone, not a region: use %q", clip(region), lower[:n-1])
		}
	}
	return fmt.Errorf("%q is not an AWS region lakeport knows: give the region code the bucket was created in, like us-east-1 or eu-west-1 "+
		"(for an S3-compatible server, also give its endpoint)", clip(region))
}

// CheckCompatibleRegion reports whether region can be sent to an
// S3-compatible server: any region-shaped string (lowercase letters, digits
// and hyphens, such as "us-east-1", "auto" or "garage").
func CheckCompatibleRegion(region string) error {
	if region == "" {
		return fmt.Errorf("required: give the region the S3-compatible server expects; most accept us-east-1, Cloudflare R2 uses auto")
	}
	if len(region) > 64 {
		return fmt.Errorf("is %d characters long, at most 64 allowed: give the region the server expects, like us-east-1", len(region))
	}
	for i := 0; i < len(region); i++ {
		c := region[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("%q may only have lowercase letters, digits and hyphens: give the region the server expects, like us-east-1", clip(region))
		}
	}
	if region[0] == '-' || region[len(region)-1] == '-' {
		return fmt.Errorf("%q must not begin or end with a hyphen: give the region the server expects, like us-east-1", region)
	}
	return nil
}

// regionFromName maps a few display names people paste to region codes.
func regionFromName(name string) (string, bool) {
	names := map[string]string{
		"n. virginia": "us-east-1", "us east (n. virginia)": "us-east-1", "virginia": "us-east-1",
		"ohio": "us-east-2", "us east (ohio)": "us-east-2",
		"oregon": "us-west-2", "us west (oregon)": "us-west-2",
		"n. california": "us-west-1", "ireland": "eu-west-1", "europe (ireland)": "eu-west-1",
		"frankfurt": "eu-central-1", "europe (frankfurt)": "eu-central-1",
		"london": "eu-west-2", "paris": "eu-west-3", "stockholm": "eu-north-1",
		"tokyo": "ap-northeast-1", "seoul": "ap-northeast-2", "singapore": "ap-southeast-1",
		"sydney": "ap-southeast-2", "mumbai": "ap-south-1", "sao paulo": "sa-east-1",
		"canada (central)": "ca-central-1", "calgary": "ca-west-1", "mexico (central)": "mx-central-1",
	}
	r, ok := names[name]
	return r, ok
}
