// View: one version of the newest entries and its two renderings (the JSON API body
// and the HTML page), built once per version and shared by every request that reads
// that version.
package main

import (
	"bytes"
	"fmt"
	"html/template"
	"sync"
	"time"
)

// View is the newest entries (newest first) as of one version of the guestbook. It
// is immutable once made; its renderings are computed on first use.
type View struct {
	// Version identifies the stored data the view was read from; "" for a view that
	// no store caches.
	Version string
	Entries []Entry

	jsonOnce sync.Once
	json     []byte

	htmlOnce sync.Once
	html     []byte
	htmlErr  error
}

// NewView returns a view of entries, which must be newest first.
func NewView(version string, entries []Entry) *View {
	return &View{Version: version, Entries: entries}
}

// JSON is the body of GET /api/entries: {"entries":[...]} and a newline, the same
// bytes encoding/json would produce.
func (v *View) JSON() []byte {
	v.jsonOnce.Do(func() {
		b := make([]byte, 0, 64+len(v.Entries)*256)
		b = append(b, `{"entries":[`...)
		for i, e := range v.Entries {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendEntryJSON(b, e)
		}
		v.json = append(b, "]}\n"...)
	})
	return v.json
}

// HTML is the body of GET /.
func (v *View) HTML() ([]byte, error) {
	v.htmlOnce.Do(func() {
		var buf bytes.Buffer
		buf.Grow(4096 + len(v.Entries)*384)
		if err := indexTemplate.Execute(&buf, v.Entries); err != nil {
			v.htmlErr = fmt.Errorf("render index: %w", err)
			return
		}
		v.html = buf.Bytes()
	})
	return v.html, v.htmlErr
}

var indexTemplate = template.Must(template.New("index").Funcs(template.FuncMap{
	"rfc3339": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"human":   func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
}).Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Guestbook</title>
<style>
body { font-family: system-ui, sans-serif; margin: 0; background: #f6f7f9; color: #1d2330; }
main { max-width: 40rem; margin: 0 auto; padding: 1.5rem; }
form { display: grid; gap: .75rem; background: #fff; padding: 1rem; border-radius: .5rem; box-shadow: 0 1px 3px rgba(0,0,0,.1); }
label { display: grid; gap: .25rem; font-weight: 600; }
input, textarea { font: inherit; padding: .5rem; border: 1px solid #c5cad3; border-radius: .25rem; }
button { font: inherit; padding: .6rem; border: 0; border-radius: .25rem; background: #0b63ce; color: #fff; cursor: pointer; }
.entry { background: #fff; margin: 1rem 0; padding: .75rem 1rem; border-radius: .5rem; box-shadow: 0 1px 3px rgba(0,0,0,.08); }
.entry header { display: flex; justify-content: space-between; gap: 1rem; }
.entry time { color: #5b6474; font-size: .875rem; }
.entry p { margin: .5rem 0 0; white-space: pre-wrap; overflow-wrap: anywhere; }
.empty { color: #5b6474; }
</style>
</head>
<body>
<main>
<h1>Guestbook</h1>
<form method="post" action="/entries">
<label>Name <input name="name" maxlength="64" placeholder="anonymous" autocomplete="nickname"></label>
<label>Message <textarea name="message" maxlength="500" rows="4" required></textarea></label>
<button type="submit">Sign the guestbook</button>
</form>
<section aria-label="Entries">
{{- range .}}
<article class="entry">
<header><strong>{{.Name}}</strong> <time datetime="{{rfc3339 .CreatedAt}}">{{human .CreatedAt}}</time></header>
<p>{{.Message}}</p>
</article>
{{- else}}
<p class="empty">No entries yet. Be the first to sign!</p>
{{- end}}
</section>
</main>
</body>
</html>
`))
