// The hand-written entry encoder must match encoding/json byte for byte.
package main

import (
	"encoding/json"
	"testing"
	"time"
)

var jsonStringSeeds = []string{
	"", "plain", `quote " and backslash \`, "<script>alert(1)</script> & co",
	"line1\nline2\ttab\r\b\f", "\x00\x01\x1f\x7f", "é ü 日本語 🙂", "sep\u2028and\u2029",
	"bad utf-8 \xff\xfe end", "truncated \xe6\x97", "\u200b zero width",
}

func checkEntryEncoding(t *testing.T, e Entry) {
	t.Helper()
	want, err := json.Marshal(e)
	if err != nil {
		t.Skip("encoding/json refuses it:", err)
	}
	if got := appendEntryJSON(nil, e); string(got) != string(want) {
		t.Errorf("appendEntryJSON(%+q) =\n%s\nwant (encoding/json)\n%s", e, got, want)
	}
}

func TestAppendEntryJSONMatchesEncodingJSON(t *testing.T) {
	created := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	for _, s := range jsonStringSeeds {
		checkEntryEncoding(t, Entry{ID: "42", Name: s, Message: s, CreatedAt: created})
	}
	// Sub-second and non-UTC times too, though the store only writes whole UTC seconds.
	checkEntryEncoding(t, Entry{ID: "1", Name: "n", Message: "m", CreatedAt: time.Date(2024, 5, 6, 7, 8, 9, 120, time.FixedZone("x", 3600))})

}

func FuzzAppendEntryJSON(f *testing.F) {
	for _, s := range jsonStringSeeds {
		f.Add(s, s, int64(1714979289))
	}
	f.Fuzz(func(t *testing.T, name, message string, unix int64) {
		created := time.Unix(unix%253402300799, 0).UTC() // years 0001-9999, as encoding/json requires
		checkEntryEncoding(t, Entry{ID: "7", Name: name, Message: message, CreatedAt: created})
	})
}
