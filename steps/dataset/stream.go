package dataset

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// streamMeta is what a stream holds besides its entries. Fields a server
// does not report (before 7.0) are "".
type streamMeta struct {
	length       int64
	lastID       string // last-generated-id
	maxDeleted   string // max-deleted-entry-id (7.0+)
	entriesAdded string // entries-added (7.0+)
	groups       []groupMeta
}

// groupMeta is one consumer group. Idle and seen times are left out: they
// differ between a master and its replica and say nothing of the data.
type groupMeta struct {
	name          string
	lastDelivered string
	// entriesRead is "" when the server does not report it (before 7.0),
	// "nil" when it reports it unknown.
	entriesRead string
	// consumers, by name, with their pending counts; nil when there are
	// more than maxConsumersKept. consumersSum hashes them all.
	consumers    []consumerMeta
	consumersN   int64
	consumersSum digest
	// pendingN entries pending; pendingSum hashes every pending entry's
	// ID, consumer and delivery count.
	pendingN   int64
	pendingSum digest
	// pendingInfo is the pending count XINFO GROUPS gave, to size the
	// pipelines that read the entries; not compared.
	pendingInfo int64
}

type consumerMeta struct {
	name    string
	pending int64
}

// maxConsumersKept bounds the consumers a groupMeta lists by name.
const maxConsumersKept = 64

// parseStreamInfo reads the replies of XINFO STREAM and XINFO GROUPS. The
// consumers and pending entries come later (readGroupDetails).
func parseStreamInfo(stream, groups *redis.Cmd) (*streamMeta, error) {
	if err := stream.Err(); err != nil {
		return nil, err
	}
	if err := groups.Err(); err != nil {
		return nil, err
	}
	m, err := replyMap(stream.Val())
	if err != nil {
		return nil, fmt.Errorf("xinfo stream: %w", err)
	}
	sm := &streamMeta{lastID: replyText(m["last-generated-id"])}
	if sm.length, err = replyInt(m["length"]); err != nil {
		return nil, fmt.Errorf("xinfo stream length: %w", err)
	}
	if v, ok := m["max-deleted-entry-id"]; ok {
		sm.maxDeleted = replyText(v)
	}
	if v, ok := m["entries-added"]; ok {
		sm.entriesAdded = replyText(v)
	}
	gl, err := replyList(groups.Val())
	if err != nil {
		return nil, fmt.Errorf("xinfo groups: %w", err)
	}
	for _, g := range gl {
		gm, err := replyMap(g)
		if err != nil {
			return nil, fmt.Errorf("xinfo groups: %w", err)
		}
		meta := groupMeta{name: replyText(gm["name"]), lastDelivered: replyText(gm["last-delivered-id"])}
		meta.pendingInfo, _ = replyInt(gm["pending"])
		if v, ok := gm["entries-read"]; ok {
			meta.entriesRead = replyText(v)
			if v == nil {
				meta.entriesRead = "nil"
			}
		}
		sm.groups = append(sm.groups, meta)
	}
	slices.SortFunc(sm.groups, func(a, b groupMeta) int { return cmp.Compare(a.name, b.name) })
	return sm, nil
}

// groupRead is a consumer group whose details are being read.
type groupRead struct {
	rec     *keyRec
	key     string
	g       *groupMeta
	pending *seqHash
	next    string // start of the next XPENDING page; "" when done
}

// readGroupDetails reads, for every group, its consumers (XINFO CONSUMERS)
// and its pending entries (XPENDING, chunkElems at a time): the first page
// of every group in one pipeline, the next pages group by group.
func (r *reader) readGroupDetails(ctx context.Context, todo []groupRead) error {
	for start := 0; start < len(todo); {
		pipe := r.s.c.Pipeline()
		end := start
		type pair struct{ consumers, pending *redis.Cmd }
		var cmds []pair
		for n := int64(0); end < len(todo); end++ {
			gr := &todo[end]
			// Reply elements: four per pending entry, a few per consumer.
			e := 4*min(max(gr.g.pendingInfo, 1), chunkElems) + 16
			if n > 0 && n+e > batchElems {
				break
			}
			n += e
			cmds = append(cmds, pair{
				pipe.Do(ctx, "XINFO", "CONSUMERS", gr.key, gr.g.name),
				pipe.Do(ctx, "XPENDING", gr.key, gr.g.name, "-", "+", chunkElems),
			})
		}
		_, _ = pipe.Exec(ctx)
		for j, c := range cmds {
			gr := &todo[start+j]
			if err := gr.consumers(c.consumers); err != nil {
				return err
			}
			if err := gr.addPending(c.pending); err != nil {
				return err
			}
			for gr.next != "" && gr.rec.typ == TypeStream {
				cmd := r.s.c.Do(ctx, "XPENDING", gr.key, gr.g.name, gr.next, "+", chunkElems)
				if err := gr.addPending(cmd); err != nil {
					return err
				}
			}
			gr.g.pendingSum = gr.pending.digest("stream pending entries")
		}
		start = end
	}
	return nil
}

// consumers reads an XINFO CONSUMERS reply.
func (gr *groupRead) consumers(cmd *redis.Cmd) error {
	if err := cmd.Err(); err != nil {
		if changedErr(err) || isNoGroup(err) {
			gr.rec.typ = typeChanged
			return nil
		}
		return fmt.Errorf("xinfo consumers %q %q: %w", gr.key, gr.g.name, err)
	}
	l, err := replyList(cmd.Val())
	if err != nil {
		return fmt.Errorf("xinfo consumers %q: %w", gr.key, err)
	}
	cs := make([]consumerMeta, 0, len(l))
	for _, c := range l {
		m, err := replyMap(c)
		if err != nil {
			return fmt.Errorf("xinfo consumers %q: %w", gr.key, err)
		}
		p, err := replyInt(m["pending"])
		if err != nil {
			return fmt.Errorf("xinfo consumers %q pending: %w", gr.key, err)
		}
		cs = append(cs, consumerMeta{name: replyText(m["name"]), pending: p})
	}
	slices.SortFunc(cs, func(a, b consumerMeta) int { return cmp.Compare(a.name, b.name) })
	h := newSeqHash()
	for _, c := range cs {
		h.part(c.name)
		h.elem(strconv.FormatInt(c.pending, 10))
	}
	gr.g.consumersN, gr.g.consumersSum = int64(len(cs)), h.digest("stream consumers")
	if len(cs) <= maxConsumersKept {
		gr.g.consumers = cs
	}
	return nil
}

// addPending adds a page of XPENDING's extended form ([id, consumer, idle,
// deliveries] per entry; idle left out) and sets the next page's start.
func (gr *groupRead) addPending(cmd *redis.Cmd) error {
	gr.next = ""
	if err := cmd.Err(); err != nil {
		if changedErr(err) || isNoGroup(err) {
			gr.rec.typ = typeChanged
			return nil
		}
		return fmt.Errorf("xpending %q %q: %w", gr.key, gr.g.name, err)
	}
	l, err := replyList(cmd.Val())
	if err != nil {
		return fmt.Errorf("xpending %q: %w", gr.key, err)
	}
	for _, e := range l {
		f, err := replyList(e)
		if err != nil || len(f) != 4 {
			return fmt.Errorf("xpending %q: entry %v", gr.key, e)
		}
		gr.pending.part(replyText(f[0]))
		gr.pending.part(replyText(f[1]))
		gr.pending.elem(replyText(f[3]))
		gr.g.pendingN++
	}
	if len(l) == chunkElems {
		last, _ := replyList(l[len(l)-1])
		if gr.next, err = nextID(replyText(last[0])); err != nil {
			return err
		}
	}
	return nil
}

// isNoGroup reports a consumer group deleted while it was read.
func isNoGroup(err error) bool {
	var rerr redis.Error
	return errors.As(err, &rerr) && strings.HasPrefix(rerr.Error(), "NOGROUP")
}

// streamDiff returns the first difference between the metadata of a stream
// on two sides, or "". Fields one side does not report are not compared.
func streamDiff(a, b *streamMeta, la, lb string) string {
	if a == nil || b == nil {
		return ""
	}
	if a.lastID != b.lastID {
		return fmt.Sprintf("stream last-generated-id %s vs %s", a.lastID, b.lastID)
	}
	if a.maxDeleted != "" && b.maxDeleted != "" && a.maxDeleted != b.maxDeleted {
		return fmt.Sprintf("stream max-deleted-entry-id %s vs %s", a.maxDeleted, b.maxDeleted)
	}
	if a.entriesAdded != "" && b.entriesAdded != "" && a.entriesAdded != b.entriesAdded {
		return fmt.Sprintf("stream entries-added %s vs %s", a.entriesAdded, b.entriesAdded)
	}
	i, j := 0, 0
	for i < len(a.groups) || j < len(b.groups) {
		switch {
		case j == len(b.groups) || (i < len(a.groups) && a.groups[i].name < b.groups[j].name):
			return fmt.Sprintf("stream group %q missing on %s", a.groups[i].name, lb)
		case i == len(a.groups) || b.groups[j].name < a.groups[i].name:
			return fmt.Sprintf("stream group %q missing on %s", b.groups[j].name, la)
		}
		if r := groupDiff(&a.groups[i], &b.groups[j], la, lb); r != "" {
			return r
		}
		i++
		j++
	}
	return ""
}

func groupDiff(a, b *groupMeta, la, lb string) string {
	name := fmt.Sprintf("stream group %q", a.name)
	switch {
	case a.lastDelivered != b.lastDelivered:
		return fmt.Sprintf("%s last-delivered-id %s vs %s", name, a.lastDelivered, b.lastDelivered)
	case a.entriesRead != "" && b.entriesRead != "" && a.entriesRead != b.entriesRead:
		return fmt.Sprintf("%s entries-read %s vs %s", name, a.entriesRead, b.entriesRead)
	case a.pendingN != b.pendingN || a.pendingSum != b.pendingSum:
		return fmt.Sprintf("%s pending entries differ (%d vs %d)", name, a.pendingN, b.pendingN)
	case a.consumersSum == b.consumersSum:
		return ""
	}
	if a.consumers != nil && b.consumers != nil {
		i, j := 0, 0
		for i < len(a.consumers) || j < len(b.consumers) {
			switch {
			case j == len(b.consumers) || (i < len(a.consumers) && a.consumers[i].name < b.consumers[j].name):
				return fmt.Sprintf("%s consumer %q missing on %s", name, a.consumers[i].name, lb)
			case i == len(a.consumers) || b.consumers[j].name < a.consumers[i].name:
				return fmt.Sprintf("%s consumer %q missing on %s", name, b.consumers[j].name, la)
			case a.consumers[i].pending != b.consumers[j].pending:
				return fmt.Sprintf("%s consumer %q pending %d vs %d", name, a.consumers[i].name, a.consumers[i].pending, b.consumers[j].pending)
			}
			i++
			j++
		}
	}
	return fmt.Sprintf("%s consumers differ (%d vs %d)", name, a.consumersN, b.consumersN)
}
