package trace

import (
	"sync"

	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/klauspost/compress/zstd"
)

// keptZstd is arrow-go's zstd codec with encoders that outlive garbage collections. It is
// registered in place of arrow-go's own for every program that writes through this package.
//
// arrow-go keeps its zstd encoders in a sync.Pool, which drops them at every collection, and
// a new encoder allocates and clears a history buffer of several megabytes on first use. A
// sweep of short simulations collects garbage every few hundred runs, so every part it
// closed paid for fresh encoders: two thirds of the cost of writing a runs file, about
// 2 µs per row, and a sixth of the cost of writing events. These encoders are kept in a list
// that the collector does not empty. The options are arrow-go's, so the files are byte for
// byte the same.
type keptZstd struct {
	compress.Codec // arrow-go's own, for decoding and streams

	mu   sync.Mutex
	free map[zstd.EncoderLevel][]*zstd.Encoder
}

func init() {
	orig, err := compress.GetCodec(compress.Codecs.Zstd)
	if err != nil {
		return
	}
	compress.RegisterCodec(compress.Codecs.Zstd, &keptZstd{Codec: orig, free: map[zstd.EncoderLevel][]*zstd.Encoder{}})
}

// maxKept bounds the idle encoders kept per level: one per goroutine that compresses at
// the same time is enough.
const maxKept = 8

func (z *keptZstd) EncodeLevel(dst, src []byte, level int) []byte {
	l := zstd.EncoderLevelFromZstd(level)
	if level == compress.DefaultCompressionLevel {
		l = zstd.SpeedDefault
	}
	z.mu.Lock()
	var enc *zstd.Encoder
	if list := z.free[l]; len(list) > 0 {
		enc = list[len(list)-1]
		z.free[l] = list[:len(list)-1]
	}
	z.mu.Unlock()
	if enc == nil {
		var err error
		enc, err = zstd.NewWriter(nil, zstd.WithZeroFrames(true), zstd.WithEncoderLevel(l),
			zstd.WithEncoderConcurrency(1), zstd.WithAllLitEntropyCompression(true))
		if err != nil {
			return z.Codec.EncodeLevel(dst, src, level)
		}
	}
	out := enc.EncodeAll(src, dst[:0])
	z.mu.Lock()
	if len(z.free[l]) < maxKept {
		z.free[l] = append(z.free[l], enc)
	}
	z.mu.Unlock()
	return out
}

// DecodeWithError keeps arrow-go's error-returning decoder reachable: compress.Decode looks
// for it on the registered codec, and embedding hides it.
func (z *keptZstd) DecodeWithError(dst, src []byte) ([]byte, error) {
	return compress.Decode(z.Codec, dst, src)
}
