// Entry JSON without reflection: the write path encodes every accepted entry, so it
// appends bytes directly, producing exactly what encoding/json would (a fuzz test
// holds the two equal).
package main

import (
	"time"
	"unicode/utf8"
)

// appendEntryJSON appends e as encoding/json would marshal it.
func appendEntryJSON(dst []byte, e Entry) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendJSONString(dst, e.ID)
	dst = append(dst, ',')
	return appendEntryTail(dst, e.Name, e.Message, e.CreatedAt)
}

// appendEntryTail appends the fields that follow the id, with the closing brace. The
// store sends this part to Redis, whose write script prepends the id it assigns: the
// stored JSON is built without reflection and never decoded on the write path.
func appendEntryTail(dst []byte, name, message string, createdAt time.Time) []byte {
	dst = append(dst, `"name":`...)
	dst = appendJSONString(dst, name)
	dst = append(dst, `,"message":`...)
	dst = appendJSONString(dst, message)
	dst = append(dst, `,"createdAt":"`...)
	dst = createdAt.AppendFormat(dst, time.RFC3339Nano)
	return append(dst, `"}`...)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s quoted the way encoding/json does, HTML-safe: <, > and
// & as \u escapes, control characters escaped, invalid UTF-8 as U+FFFD, and U+2028
// and U+2029 escaped for JavaScript.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case c == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case c == '\u2028' || c == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// parsePlainEntryRequest parses the common shape of a POST /entries JSON body
// without reflection: one object whose members are "name" and "message" with
// strings free of escapes. It returns ok=false for anything else, valid or not,
// and the caller falls back to encoding/json, which then decides and explains.
// Whatever it accepts, encoding/json accepts with the same result (a fuzz test
// holds it to that). body must be valid UTF-8.
func parsePlainEntryRequest(body []byte) (req entryRequest, ok bool) {
	i := skipJSONSpace(body, 0)
	if i >= len(body) || body[i] != '{' {
		return entryRequest{}, false
	}
	i = skipJSONSpace(body, i+1)
	if i < len(body) && body[i] == '}' {
		return req, skipJSONSpace(body, i+1) == len(body)
	}
	for {
		key, next, ok := plainJSONString(body, i)
		if !ok {
			return entryRequest{}, false
		}
		i = skipJSONSpace(body, next)
		if i >= len(body) || body[i] != ':' {
			return entryRequest{}, false
		}
		value, next, ok := plainJSONString(body, skipJSONSpace(body, i+1))
		if !ok {
			return entryRequest{}, false
		}
		// Exact names only: encoding/json also matches them case-insensitively,
		// which the fallback handles.
		switch string(key) {
		case "name":
			req.Name = string(value)
		case "message":
			req.Message = string(value)
		default:
			return entryRequest{}, false
		}
		i = skipJSONSpace(body, next)
		if i >= len(body) {
			return entryRequest{}, false
		}
		switch body[i] {
		case ',':
			i = skipJSONSpace(body, i+1)
		case '}':
			return req, skipJSONSpace(body, i+1) == len(body)
		default:
			return entryRequest{}, false
		}
	}
}

// plainJSONString returns the contents of the JSON string starting at body[i] if
// it has no escapes and no control characters, and the index after its quote.
func plainJSONString(body []byte, i int) ([]byte, int, bool) {
	if i >= len(body) || body[i] != '"' {
		return nil, 0, false
	}
	for j := i + 1; j < len(body); j++ {
		switch c := body[j]; {
		case c == '"':
			return body[i+1 : j], j + 1, true
		case c == '\\' || c < 0x20:
			return nil, 0, false
		}
	}
	return nil, 0, false
}

// skipJSONSpace returns the index of the first non-whitespace byte from i on.
func skipJSONSpace(body []byte, i int) int {
	for i < len(body) {
		switch body[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}
