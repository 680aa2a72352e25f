// The hand-written entry encoder must match encoding/json byte for byte.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"
	"time"
	"unicode/utf8"
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

var entryRequestSeeds = []string{
	`{"name":"Ada","message":"Hello there"}`, ` { "message" : "hi" , "name" : "x" } `, "{\n\t\"message\": \"hi\"\r\n}",
	`{}`, `{"message":"hi","message":"again"}`, `{"message":"a \"quote\""}`, `{"message":"tab\there"}`,
	`{"Message":"case"}`, `{"message":null}`, `{"message":5}`, `{"message":"hi","admin":true}`, `{"message":"hi"}{"x":1}`,
	`{"message":"hi"} x`, `{"message":"hi",}`, `{"message":"hi"`, `["hi"]`, `null`, ``, `{"message":"é ü 日本語 <&>"}`,
}

// TestParsePlainEntryRequestAgreesWithEncodingJSON checks the seeds; the fuzz
// target below explores further.
func TestParsePlainEntryRequestAgreesWithEncodingJSON(t *testing.T) {
	accepted := 0
	for _, s := range entryRequestSeeds {
		if checkPlainEntryRequest(t, []byte(s)) {
			accepted++
		}
	}
	if accepted < 6 {
		t.Errorf("fast path accepted %d seeds, want at least the 6 plain ones", accepted)
	}
}

func checkPlainEntryRequest(t *testing.T, body []byte) bool {
	t.Helper()
	if !utf8.Valid(body) {
		return false
	}
	got, ok := parsePlainEntryRequest(body)
	if !ok {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var want entryRequest
	err := dec.Decode(&want)
	if err == nil {
		if _, terr := dec.Token(); !errors.Is(terr, io.EOF) {
			err = errors.New("data after the object")
		}
	}
	if err != nil {
		t.Errorf("parsePlainEntryRequest(%q) = %+v, but encoding/json rejects it: %v", body, got, err)
	} else if got != want {
		t.Errorf("parsePlainEntryRequest(%q) = %+v, encoding/json gives %+v", body, got, want)
	}
	return true
}

func FuzzParsePlainEntryRequest(f *testing.F) {
	for _, s := range entryRequestSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) { checkPlainEntryRequest(t, body) })
}
