package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/golang/snappy"
)

// A stored audit record is one of two forms:
//
//   - a batch (what Writer writes): snappyLines, then the Snappy block of the batch's
//     logs as JSON, one per line;
//   - one log as JSON (what earlier releases wrote, a record per entry under
//     "<batch id>/<entry id>"): it starts with '{'. Reader still reads these until
//     their retention ends.
const snappyLines = 0x01

// maxDecodedBatch bounds what one record may decode to: a batch is at most
// maxBatchBytes plus one entry (each field clipped), so anything larger is not ours.
const maxDecodedBatch = 4 << 20

// encodeBatch is the stored form of lines, the JSON logs of one batch.
func encodeBatch(lines []byte) []byte {
	out := make([]byte, 1+snappy.MaxEncodedLen(len(lines)))
	out[0] = snappyLines
	return out[:1+len(snappy.Encode(out[1:], lines))]
}

// errUndecodable is decodeRecord's answer for a value in neither form.
var errUndecodable = errors.New("audit: undecodable record")

// decodeRecord reads the logs of a stored record, in either form.
func decodeRecord(value []byte) ([]Log, error) {
	if len(value) > 0 && value[0] == '{' {
		var l Log
		if err := json.Unmarshal(value, &l); err != nil {
			return nil, fmt.Errorf("%w: %v", errUndecodable, err)
		}
		return []Log{l}, nil
	}
	if len(value) == 0 || value[0] != snappyLines {
		return nil, errUndecodable
	}
	n, err := snappy.DecodedLen(value[1:])
	if err != nil || n > maxDecodedBatch {
		return nil, fmt.Errorf("%w: batch of %d bytes (%v)", errUndecodable, n, err)
	}
	lines, err := snappy.Decode(make([]byte, n), value[1:])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUndecodable, err)
	}
	var logs []Log
	dec := json.NewDecoder(bytes.NewReader(lines))
	for {
		var l Log
		switch err := dec.Decode(&l); {
		case err == io.EOF:
			return logs, nil
		case err != nil:
			return nil, fmt.Errorf("%w: %v", errUndecodable, err)
		}
		logs = append(logs, l)
	}
}
