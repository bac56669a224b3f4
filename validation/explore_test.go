package validation

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/lakeport/lakeport/s3test"
)

func show(name string, out any, err error) {
	if err == nil {
		fmt.Printf("%s OK %+v\n", name, out)
		return
	}
	var ae smithy.APIError
	errors.As(err, &ae)
	var re *awshttp.ResponseError
	st := 0
	var hdr any
	if errors.As(err, &re) {
		st = re.HTTPStatusCode()
		hdr = re.Response.Header
	}
	fmt.Printf("%s ERR status=%d api=%v\n   err=%v\n   hdr=%v\n", name, st, ae, err, hdr)
}

func TestExplore(t *testing.T) {
	s := s3test.Start(t)
	b := s.NewBucket(t, "exp")
	ctx := context.Background()
	mk := func(region, ak, sk string) *s3.Client {
		return s3.New(s3.Options{Region: region, BaseEndpoint: aws.String(s.Endpoint), UsePathStyle: true,
			Credentials: credentials.NewStaticCredentialsProvider(ak, sk, ""), RetryMaxAttempts: 1})
	}
	good := mk("us-east-1", s.AccessKey, s.SecretKey)
	o, err := good.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(b)})
	show("head good", o, err)
	if o != nil { fmt.Println("region", aws.ToString(o.BucketRegion)) }
	_, err = good.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("nope-nope")})
	show("head missing", nil, err)
	_, err = good.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("nope-nope")})
	show("list missing", nil, err)
	badk := mk("us-east-1", "badkey", "badsecret")
	_, err = badk.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(b)})
	show("head badkey", nil, err)
	_, err = badk.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(b)})
	show("list badkey", nil, err)
	bads := mk("us-east-1", s.AccessKey, "badsecret")
	_, err = bads.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(b)})
	show("list badsecret", nil, err)
	wr := mk("eu-west-1", s.AccessKey, s.SecretKey)
	_, err = wr.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(b)})
	show("head wrongregion", nil, err)
	_, err = wr.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(b)})
	show("list wrongregion", nil, err)
	// put with default checksums
	_, err = good.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String(".lakeport/validation.txt"), Body: nil})
	show("put", nil, err)
	_, err = good.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b), Key: aws.String(".lakeport/none.txt")})
	show("delete missing", nil, err)
}
