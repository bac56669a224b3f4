package syncer

import (
	"fmt"
	"strings"

	"github.com/lakeport/lakeport/protocol"
)

// DefaultCatalog configures every stream of a discovered catalog the way a data team
// usually wants it: incremental with dedup on the primary key when the source offers a
// cursor and a key, incremental append with a cursor but no key, and a full refresh
// that overwrites otherwise.
func DefaultCatalog(c *protocol.Catalog) *protocol.ConfiguredCatalog {
	out := &protocol.ConfiguredCatalog{}
	for _, s := range c.Streams {
		cs := protocol.ConfiguredStream{Stream: s, SyncMode: protocol.FullRefresh, DestinationSyncMode: protocol.Overwrite}
		incremental := s.Supports(protocol.Incremental) && (s.SourceDefinedCursor || len(s.DefaultCursorField) > 0)
		if incremental {
			cs.SyncMode, cs.CursorField = protocol.Incremental, s.DefaultCursorField
			cs.DestinationSyncMode = protocol.Append
			if len(s.SourceDefinedPrimaryKey) > 0 {
				cs.DestinationSyncMode, cs.PrimaryKey = protocol.AppendDedup, s.SourceDefinedPrimaryKey
			}
		}
		out.Streams = append(out.Streams, cs)
	}
	return out
}

// Select configures only the named streams of c, with modes as "stream" (defaults),
// "stream:full_refresh:overwrite", "stream:incremental:append" or
// "stream:incremental:append_dedup".
func Select(c *protocol.Catalog, specs []string) (*protocol.ConfiguredCatalog, error) {
	all := DefaultCatalog(c)
	if len(specs) == 0 {
		return all, nil
	}
	out := &protocol.ConfiguredCatalog{}
	for _, spec := range specs {
		name, rest, _ := strings.Cut(spec, ":")
		var cs *protocol.ConfiguredStream
		for i := range all.Streams {
			if all.Streams[i].Stream.Name == name {
				cs = &all.Streams[i]
			}
		}
		if cs == nil {
			return nil, fmt.Errorf("%w: stream %q is not offered by the source", ErrCatalog, name)
		}
		if rest != "" {
			sm, dm, ok := strings.Cut(rest, ":")
			if !ok {
				return nil, fmt.Errorf("%w: %q: give stream:sync_mode:destination_sync_mode, e.g. events:incremental:append", ErrCatalog, spec)
			}
			cs.SyncMode, cs.DestinationSyncMode = protocol.SyncMode(sm), protocol.DestinationSyncMode(dm)
			if cs.SyncMode != protocol.FullRefresh && cs.SyncMode != protocol.Incremental {
				return nil, fmt.Errorf("%w: %q: sync mode must be full_refresh or incremental", ErrCatalog, spec)
			}
			if !cs.Stream.Supports(cs.SyncMode) {
				return nil, fmt.Errorf("%w: stream %s does not support %s", ErrCatalog, name, cs.SyncMode)
			}
			switch cs.DestinationSyncMode {
			case protocol.Overwrite, protocol.Append:
			case protocol.AppendDedup:
				if len(cs.Stream.SourceDefinedPrimaryKey) == 0 {
					return nil, fmt.Errorf("%w: stream %s has no primary key, so append_dedup is not possible", ErrCatalog, name)
				}
				cs.PrimaryKey = cs.Stream.SourceDefinedPrimaryKey
			default:
				return nil, fmt.Errorf("%w: %q: destination sync mode must be overwrite, append or append_dedup", ErrCatalog, spec)
			}
		}
		out.Streams = append(out.Streams, *cs)
	}
	return out, nil
}
