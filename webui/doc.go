// Package webui is the browser view of davd's collections: a single HTML page per collection
// (breadcrumbs, a sortable listing, upload, new folder, rename, delete, download) and the same
// listing as JSON for the page's own refreshes.
//
// The dav engine calls Wants on a GET or HEAD of a collection, after its access check, and if it
// reports true hands the request to UI.ServeCollection. The page changes nothing through this
// package: every action is a plain WebDAV request (PUT, MKCOL, MOVE, DELETE) sent by the page's
// script to the engine, so the engine's access policy, locks and preconditions apply to the
// browser exactly as to any other client. There is no form POST endpoint to forge.
//
// # Limitations and security
//
//   - Cross-site request forgery. Browsers re-send cached Basic credentials to any request aimed
//     at the server, so a state-changing HTML form would be forgeable from another site. The page
//     has none: it changes state only with PUT, MKCOL, MOVE and DELETE sent by fetch or
//     XMLHttpRequest. These methods are not CORS-safelisted ("simple") methods, so a page of
//     another origin cannot send them without a successful CORS preflight, and davd never answers
//     a preflight with Access-Control-Allow-* headers. As defence in depth every state-changing
//     request from the page also carries the non-safelisted header "X-Requested-With:
//     davd-webui", which on its own forces a preflight, and which the engine or a reverse proxy
//     may require of browsers. A PUT through a cross-origin form is impossible anyway (forms send
//     only GET and POST).
//   - Cross-site scripting. Resource names are attacker-chosen (anyone with write access names
//     files). They reach the page only through html/template, which escapes them for their
//     context (text, attribute, URL), and through the page's script, which writes them with
//     textContent and setAttribute, never innerHTML. The Content-Security-Policy allows only the
//     page's own inline script and style by SHA-256 hash, no other script or style, no plugins,
//     no base URI, no form targets and no framing, and requires Trusted Types, so even a future
//     innerHTML slip would throw instead of injecting markup.
//   - Uploaded active content. The page links to files by their own URL on the same origin. An
//     uploaded .html or .svg opened from there would run in the UI's origin, with the user's
//     credentials, unless served sandboxed; the dav engine answers GET of such files with
//     "Content-Security-Policy: sandbox" (GET of non-collections is its job, not this package's),
//     and the browser test checks that opening one runs nothing.
//   - No external assets. Script, style and icons are embedded with embed and inlined in the
//     page; the page loads nothing else (connect-src 'self' only for its own WebDAV requests).
//   - Memory. A listing is collected in memory before rendering so that folders can be placed
//     first and a failing listing still gets a proper status; memory grows with the number of
//     members of the one collection shown, never with the tree.
//   - HEAD. A HEAD request gets the headers of the page without listing the collection.
package webui
