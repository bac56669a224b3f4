package lake

import (
	"compress/flate"
	"sync"

	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/klauspost/compress/zstd"
)

// zstdWindow bounds the history of the zstd encoders that compress Parquet
// pages. arrow-go's codec uses klauspost/compress's default 8 MiB window, and
// each pooled encoder then keeps a 16 MiB history buffer however small the
// pages are (parquet/compress/zstd.go → zstd fastBase.ensureHist): with two
// or three encoders in use that was ~48 MiB, over a third of the sync's live
// heap. Pages are at most 1 MiB (data) and 2 MiB (dictionary) with iceberg's
// defaults, so a 2 MiB window compresses them alike.
const zstdWindow = 2 << 20

// smallZstd is arrow-go's zstd codec with smaller encoders for pages;
// decoding and streams are arrow-go's.
type smallZstd struct {
	zstdCodec
}

type zstdCodec interface {
	compress.ErrorCodec
	compress.StreamingCodec
}

var zstdPools sync.Map // zstd.EncoderLevel → *sync.Pool of *zstd.Encoder

func zstdEncoder(level zstd.EncoderLevel) (*zstd.Encoder, *sync.Pool) {
	p, _ := zstdPools.LoadOrStore(level, &sync.Pool{New: func() any {
		enc, err := zstd.NewWriter(nil, zstd.WithZeroFrames(true), zstd.WithEncoderLevel(level),
			zstd.WithEncoderConcurrency(1), zstd.WithAllLitEntropyCompression(true),
			zstd.WithWindowSize(zstdWindow), zstd.WithLowerEncoderMem(true))
		if err != nil {
			panic(err) // only for invalid options, which these are not
		}
		return enc
	}})
	pool := p.(*sync.Pool)
	return pool.Get().(*zstd.Encoder), pool
}

func (smallZstd) Encode(dst, src []byte) []byte {
	return smallZstd{}.EncodeLevel(dst, src, compress.DefaultCompressionLevel)
}

func (smallZstd) EncodeLevel(dst, src []byte, level int) []byte {
	l := zstd.SpeedDefault
	if level != flate.DefaultCompression {
		l = zstd.EncoderLevelFromZstd(level)
	}
	enc, pool := zstdEncoder(l)
	defer pool.Put(enc)
	return enc.EncodeAll(src, dst[:0])
}

func init() {
	c, err := compress.GetCodec(compress.Codecs.Zstd)
	if err != nil {
		return
	}
	if ec, ok := c.(zstdCodec); ok {
		compress.RegisterCodec(compress.Codecs.Zstd, smallZstd{ec})
	}
}
