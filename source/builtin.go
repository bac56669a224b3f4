package source

import "github.com/lakeport/lakeport/source/sample"

var _ InProcess = (*sample.Source)(nil)

func init() {
	Register("sample", func() Source { return FromInProcess("sample", sample.New()) })
}
