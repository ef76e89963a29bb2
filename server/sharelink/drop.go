package sharelink

import (
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"net/http"
	"strings"
)

// dropScript uploads the chosen or dropped files one by one with PUT under the page's own URL.
// A name already taken (412: the link never overwrites) is retried as "name (2).ext" and so on.
const dropScript = `"use strict";
const list = document.getElementById("done"), input = document.getElementById("files"), zone = document.getElementById("zone");
function say(text, cls) { const li = document.createElement("li"); li.textContent = text; if (cls) li.className = cls; list.append(li); return li; }
function variant(name, n) { if (n === 1) return name; const i = name.lastIndexOf("."); return i > 0 ? name.slice(0, i) + " (" + n + ")" + name.slice(i) : name + " (" + n + ")"; }
async function send(file) {
  for (let n = 1; n <= 20; n++) {
    const name = variant(file.name, n);
    const res = await fetch(location.pathname.replace(/\/?$/, "/") + encodeURIComponent(name), { method: "PUT", body: file, headers: { "X-Requested-With": "davd-webui" } });
    if (res.status === 412) continue;
    if (res.ok) { say("Sent " + name, "ok"); } else { say("Not sent: " + file.name + " (" + res.status + " " + (await res.text()).trim() + ")", "err"); }
    return;
  }
  say("Not sent: " + file.name + " (too many files of that name)", "err");
}
async function sendAll(files) { for (const f of files) await send(f); }
input.addEventListener("change", () => { sendAll([...input.files]); input.value = ""; });
zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
zone.addEventListener("dragleave", () => zone.classList.remove("over"));
zone.addEventListener("drop", (e) => { e.preventDefault(); zone.classList.remove("over"); sendAll([...e.dataTransfer.files].filter((f) => f.size > 0 || f.type !== "")); });
`

const dropStyle = `:root{color-scheme:light dark}body{font:16px/1.5 system-ui,sans-serif;max-width:36em;margin:10vh auto;padding:0 1em}
#zone{border:2px dashed #888;border-radius:12px;padding:2em;text-align:center}#zone.over{border-color:#2a7ae2;background:rgba(42,122,226,.08)}
label{font-weight:600;cursor:pointer;text-decoration:underline}input[type=file]{position:absolute;left:-9999px}input[type=file]:focus-visible+label{outline:2px solid #2a7ae2}
.ok{color:#1a7f37}.err{color:#c62828}`

func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// dropCSP allows the page's own script and style (by hash) and requests to its own origin.
var dropCSP = "default-src 'none'; script-src " + hash(dropScript) + "; style-src " + hash(dropStyle) +
	"; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

var dropPage = template.Must(template.New("drop").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Send files to {{.Name}}</title><style>{{.Style}}</style></head>
<body><main><h1>Send files to “{{.Name}}”</h1>
<p>Files you send here are added to the folder. You cannot see what it holds, and nothing there is replaced.</p>
<div id="zone"><input type="file" id="files" multiple><label for="files">Choose files</label> or drop them here.</div>
<ul id="done" aria-live="polite"></ul></main><script>{{.Script}}</script></body></html>
`))

func serveDropPage(w http.ResponseWriter, r *http.Request, name string) {
	if name == "" {
		name = "davd"
	}
	var b strings.Builder
	dropPage.Execute(&b, map[string]any{"Name": name, "Style": dropStyleCSS(), "Script": dropScriptJS()})
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", dropCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write([]byte(b.String()))
	}
}

func dropStyleCSS() template.CSS { return template.CSS(dropStyle) }
func dropScriptJS() template.JS  { return template.JS(dropScript) }
