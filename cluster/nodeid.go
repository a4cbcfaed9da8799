package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// NodeIDFile is the name of the file, in a node's data directory, that holds its node id.
const NodeIDFile = "node-id"

// FormatNodeID renders a node id as it is written to NodeIDFile, logged and used as the
// memberlist node name: 16 lower-case hex digits.
func FormatNodeID(id uint64) string { return fmt.Sprintf("%016x", id) }

// ParseNodeID parses FormatNodeID's output; zero is not a node id.
func ParseNodeID(s string) (uint64, error) {
	if len(s) != 16 {
		return 0, fmt.Errorf("node id %q: want 16 hex digits", s)
	}
	id, err := strconv.ParseUint(s, 16, 64)
	if err != nil {
		return 0, fmt.Errorf("node id %q: want 16 hex digits", s)
	}
	if id == 0 {
		return 0, errors.New("node id is zero")
	}
	return id, nil
}

// LoadOrCreateNodeID returns the node id persisted in dir/node-id, creating it on first
// start: a random non-zero 64-bit id drawn from rand, written to a temporary file
// (mode 0600), fsynced, renamed into place, and the directory fsynced. The id is this
// node's identity in the cluster for as long as its data directory lives (the raft
// server id of the replicated directory). An unreadable or malformed file is an error,
// never replaced: a node that silently took a new id would be a stranger to its cluster.
// created reports whether the file was created now.
func LoadOrCreateNodeID(dir string, rand io.Reader) (id uint64, created bool, err error) {
	path := filepath.Join(dir, NodeIDFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		id, perr := ParseNodeID(strings.TrimSpace(string(b)))
		if perr != nil {
			return 0, false, fmt.Errorf("%s is corrupt (%v): restore it from a backup, or remove it only if this node is not a member of a cluster", path, perr)
		}
		return id, false, nil
	case !errors.Is(err, fs.ErrNotExist):
		return 0, false, fmt.Errorf("read %s: %w", path, err)
	}
	var buf [8]byte
	for id == 0 {
		if _, err := io.ReadFull(rand, buf[:]); err != nil {
			return 0, false, fmt.Errorf("generate node id: %w", err)
		}
		id = binary.BigEndian.Uint64(buf[:])
	}
	if err := writeFileAtomic(dir, NodeIDFile, []byte(FormatNodeID(id)+"\n")); err != nil {
		return 0, false, fmt.Errorf("write %s: %w", path, err)
	}
	return id, true, nil
}

// writeFileAtomic writes dir/name through a temporary file in dir (mode 0600), fsyncs
// it, renames it into place and fsyncs dir, so a crash leaves either no file or the
// whole file. The caller holds the data directory (serve opens the store, whose lock
// excludes a second process, first).
func writeFileAtomic(dir, name string, data []byte) (err error) {
	f, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		_ = f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
