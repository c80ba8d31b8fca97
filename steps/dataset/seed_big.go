package dataset

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strconv"
)

// The big keys, written in pieces so that no single command holds the
// server for long: HSET of bigHashPiece fields per command, APPEND of
// bigStringPiece bytes per command, a few pieces per round trip.
const (
	bigHashFields    = 1000000
	bigHashPiece     = 1000
	bigHashPipe      = 20 // HSETs per round trip
	bigStringBytes   = 10 << 20
	bigStringPiece   = 256 << 10
	bigStringPipe    = 4 // pieces per round trip
	bigHashSuffix    = "big:hash"
	bigStringSuffix  = "big:string"
	bigKeysRNGStream = 0x626967
)

// seedBigKeys writes <prefix>big:hash (1 000 000 fields) and
// <prefix>big:string (10 MiB of binary data) into the first database, each
// when its type is selected. The hash is unlinked first (freed in the
// background), the string is replaced by its first piece.
func seedBigKeys(ctx context.Context, w *dbWriter, p seedPlan, sum *SeedSummary) error {
	rng := rand.New(rand.NewPCG(uint64(p.Seed), bigKeysRNGStream))
	db := p.DBs[0]
	if key := p.Prefix + bigHashSuffix; p.want[TypeHash] && p.keeps(key) {
		w.pipe(db).Unlink(ctx, key)
		for f := 0; f < bigHashFields; {
			// A new slice per command: the pipeline holds them until sent.
			args := make([]interface{}, 0, 2+2*bigHashPiece)
			args = append(args, "HSET", key)
			for end := f + bigHashPiece; f < end; f++ {
				field, value := "field:"+strconv.Itoa(f), randText(rng, 4, 16)
				sum.Bytes += int64(len(field) + len(value))
				args = append(args, field, value)
			}
			pipe := w.pipe(db)
			pipe.Do(ctx, args...)
			if pipe.Len() >= bigHashPipe {
				if err := w.send(db); err != nil {
					return fmt.Errorf("write %s: %w", key, err)
				}
			}
		}
		sum.Bytes += int64(len(key))
		sum.BigKeys = append(sum.BigKeys, SeedBigKey{Key: key, DB: db, Type: TypeHash, Len: bigHashFields})
	}
	if key := p.Prefix + bigStringSuffix; p.want[TypeString] && p.keeps(key) {
		for off := 0; off < bigStringBytes; off += bigStringPiece {
			piece := make([]byte, bigStringPiece)
			for i := 0; i < len(piece); i += 8 {
				binary.LittleEndian.PutUint64(piece[i:], rng.Uint64())
			}
			pipe := w.pipe(db)
			if off == 0 {
				pipe.Set(ctx, key, piece, 0)
			} else {
				pipe.Append(ctx, key, string(piece))
			}
			if pipe.Len() >= bigStringPipe {
				if err := w.send(db); err != nil {
					return fmt.Errorf("write %s: %w", key, err)
				}
			}
		}
		sum.Bytes += int64(len(key)) + bigStringBytes
		sum.BigKeys = append(sum.BigKeys, SeedBigKey{Key: key, DB: db, Type: TypeString, Len: bigStringBytes})
	}
	return nil
}
