package dav_test

import (
	"strings"
	"testing"
)

// Regression tests named after the clients whose behaviour they pin down (../shared/FIELD.md §2).

func TestClientOfficeLockCycle(t *testing.T) {
	e := newEnv(t)
	e.put("/report.docx", "v1")
	// Office: LOCK on open, a body-less refresh with If and Timeout, PUT with the token, UNLOCK.
	tok := e.lock("/report.docx", hdr{"Timeout": "Second-180"}, exclusive)
	e.mustDo(200, "LOCK", "/report.docx", hdr{"If": "(<" + tok + ">)", "Timeout": "Second-180"}, "")
	e.mustDo(423, "PUT", "/report.docx", nil, "intruder")
	e.mustDo(204, "PUT", "/report.docx", hdr{"If": "<http://example.com/report.docx> (<" + tok + ">)"}, "v2")
	// Office sends its Win32 PROPPATCH without the token: refused while locked, as for any write.
	e.mustDo(423, "PROPPATCH", "/report.docx", nil, `<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:schemas-microsoft-com:"><D:set><D:prop><Z:Win32FileAttributes>00000020</Z:Win32FileAttributes></D:prop></D:set></D:propertyupdate>`)
	e.mustDo(204, "UNLOCK", "/report.docx", hdr{"Lock-Token": "<" + tok + ">"}, "")
	if _, b := e.get("/report.docx"); b != "v2" {
		t.Fatalf("content %q", b)
	}
	// Office uses HEAD on collections.
	e.mustDo(200, "HEAD", "/", nil, "")
}

func TestClientMiniRedirectorBareTokens(t *testing.T) {
	e := newEnv(t)
	e.put("/f", "x")
	tok := e.lock("/f", nil, exclusive)
	// DELETE with an untagged If and a token without angle brackets.
	e.mustDo(204, "DELETE", "/f", hdr{"If": "(" + tok + ")"}, "")
	e.put("/g", "x")
	tok = e.lock("/g", nil, exclusive)
	e.mustDo(204, "PUT", "/g", hdr{"If": "(Not <DAV:no-lock> " + tok + ")"}, "y")
	e.mustDo(204, "UNLOCK", "/g", hdr{"Lock-Token": tok}, "")
	// Still strict where the header is not a bare-token mistake.
	e.mustDo(400, "PUT", "/g", hdr{"If": "(nocolon)"}, "z")
}

func TestClientMiniRedirectorWin32OnCollection(t *testing.T) {
	e := newEnv(t)
	e.mustDo(201, "MKCOL", "/dir", nil, "")
	// golang/go#43929: Win32 PROPPATCH on a directory must not fail.
	w := e.mustDo(207, "PROPPATCH", "/dir/", nil, `<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:schemas-microsoft-com:"><D:set><D:prop><Z:Win32LastModifiedTime>Wed, 01 Jan 2020 10:00:00 GMT</Z:Win32LastModifiedTime><Z:Win32FileAttributes>00000010</Z:Win32FileAttributes></D:prop></D:set></D:propertyupdate>`)
	for n, c := range propStatus(t, w.Body.Bytes())["/dir/"] {
		if c != "200" {
			t.Errorf("%s: %s", n, c)
		}
	}
}

func TestClientFinderAppleDouble(t *testing.T) {
	e := newEnv(t)
	// AppleDouble and .DS_Store files are ordinary files.
	for _, p := range []string{"/._photo.jpg", "/.DS_Store"} {
		e.mustDo(201, "PUT", p, nil, "meta")
		if code, b := e.get(p); code != 200 || b != "meta" {
			t.Errorf("%s: %d %q", p, code, b)
		}
	}
	w := e.mustDo(207, "PROPFIND", "/", hdr{"Depth": "1"}, "")
	if !strings.Contains(w.Body.String(), "/._photo.jpg") {
		t.Error("AppleDouble file not listed")
	}
	// Finder asks for quota properties.
	w = e.mustDo(207, "PROPFIND", "/", hdr{"Depth": "0"}, `<D:propfind xmlns:D="DAV:"><D:prop><D:quota-available-bytes/><D:quota-used-bytes/><D:quota/><D:quotaused/></D:prop></D:propfind>`)
	st := propStatus(t, w.Body.Bytes())["/"]
	if st["quota-available-bytes"] != "200" || st["quota"] != "404" {
		t.Errorf("statuses %v", st)
	}
}

func TestClientSyncApps(t *testing.T) {
	e := newEnv(t)
	// Joplin, Zotero: plain 404 for missing files, also for PROPFIND and DELETE.
	for _, m := range []string{"GET", "PROPFIND", "DELETE"} {
		w := e.do(m, "/zotero/nonexistent.prop", hdr{"Depth": "0"}, "")
		if w.Code != 404 {
			t.Errorf("%s missing: %d", m, w.Code)
		}
	}
	// ETags are stable until the content changes.
	e.put("/lastsync.txt", "1")
	a := e.do("HEAD", "/lastsync.txt", nil, "").Header().Get("ETag")
	b := e.do("HEAD", "/lastsync.txt", nil, "").Header().Get("ETag")
	pf := e.mustDo(207, "PROPFIND", "/lastsync.txt", hdr{"Depth": "0"}, "").Body.String()
	if a == "" || a != b || !strings.Contains(pf, strings.ReplaceAll(a, `"`, "&#34;")) && !strings.Contains(pf, a) {
		t.Errorf("ETag unstable or not in PROPFIND: %q %q", a, b)
	}
	// Joplin's cache-busting If-None-Match never matches.
	e.mustDo(200, "GET", "/lastsync.txt", hdr{"If-None-Match": "JoplinIgnore-123"}, "")
	// Obsidian: dot-folders are listable; MKCOL on an existing one is 405 (not an error to hide).
	e.mustDo(201, "MKCOL", "/.obsidian", nil, "")
	e.mustDo(207, "PROPFIND", "/.obsidian", hdr{"Depth": "1"}, "")
}
