//go:build !unix

package bench

import "os"

// maxRSS is not measured here.
func maxRSS(*os.ProcessState) int64 { return 0 }

func selfMaxRSS() int64 { return 0 }

func selfCPU() float64 { return 0 }
