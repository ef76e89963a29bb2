// Package dav is davd's protocol engine: an http.Handler that speaks HTTP/1.1 and WebDAV
// (RFC 4918 classes 1, 2 and 3, plus RFC 4331 quota properties) over four small seams —
// storage.Backend (content and namespace), props.Store (dead properties), lock.Manager (write
// locks) and access.Policy (who may do what). It knows nothing of disks, users or clusters;
// status codes exist only here (StatusOf is the one mapping from seam errors to statuses).
//
// Every request path and Destination is parsed once by davpath into a canonical Path, and the
// access check, the lock manager and the storage all see that same value.
//
// # Multistatus
//
// Everything that can fail a whole request (existence, Depth, the body, access to the target,
// locks, conditional headers) is checked before the first byte is written. After that the 207
// streams: each resource is one <D:response> assembled in a reused buffer; a failure while
// walking becomes its own <D:response>; the closing tag is always written. Memory does not grow
// with the size of a listing. DELETE, COPY and MOVE list only the members that failed.
//
// # Listing cache
//
// A Depth: 1 PROPFIND of a collection may be answered from a kept rendering (package
// dav/internal/listcache) instead of a walk. The rendering is keyed by the collection, the
// request's kind and property names, and the storage's ListVersion, which changes whenever
// anything the listing shows may have changed, by any means; writes through this handler drop
// the renderings they concern when they start and when they end. A rendering is never kept for
// principal's eyes other than those it was made for, so the cache is bypassed, and every entry
// rendered anew, whenever any of these holds:
//   - the principal may not read every member: the access policy is not access.AllowAll and
//     does not vouch, through access.WholeReader, that this principal reads everything (in
//     davd: a user with a rule of "none", or whose paths are resolved through symbolic links
//     because its rules differ). Members may then be hidden from it and not from others. Users
//     who read their whole scope share one engine's cache per scope; measured on 1,000 files
//     (4 properties, Basic authentication), such a user's Depth 1 PROPFIND went from about 300
//     to about 5,500 requests a second, the rate without users, when this bypass was narrowed
//     from "any users configured" to this;
//   - the lock manager holds any lock at all (lock.Counter says so; without a Counter, always),
//     because lockdiscovery shows timeouts that count down;
//   - the request has an If header, which may fail for some members only;
//   - a quota property is asked for (it changes with writes anywhere in the tree);
//   - the storage is no storage.ListVersioner, or cannot vouch for the collection.
//
// # Limitations and security
//
//   - Depth: infinity PROPFIND is answered (DefaultLimits; the zero Limits refuses it with 403
//     and propfind-finite-depth), bounded by Limits.MaxPropfindEntries (a 507 entry marks the
//     cut); the walk does not descend below symbolic links.
//   - Request bodies are parsed with encoding/xml tokens under a size cap (413), a nesting cap
//     and no DTD processing at all (400); the request URI and Destination are length-capped.
//   - Dot segments in any encoding (overlong UTF-8 forms included), NUL bytes, control
//     characters and an encoded slash inside a name are a 400, never resolved. Every other name
//     a Unix file system allows is served, a backslash and bytes that are not UTF-8 included:
//     hrefs percent-encode them byte for byte, and displayname shows a byte that is not UTF-8
//     as U+FFFD so the XML stays well-formed (davpath.checkName argues the rule). A Destination
//     on another host, port or prefix is a 502.
//   - Files whose type a browser would execute (HTML, SVG, XML, JavaScript) are served with
//     "Content-Security-Policy: sandbox" and nosniff, so uploaded content cannot act with the
//     origin of the browser view.
//   - PUT with Content-Range (RFC 9110 §14.5) splices the range into the old content and
//     writes the result through the storage's Put: atomic on every backend, at the price of a
//     copy of the untouched bytes; a range starting past the end is a 416 naming the size.
//   - Deliberate leniencies, for real clients: Lock-Token values without angle brackets
//     (Windows, npm webdav); a LOCK with a lockinfo body and an If header naming a lock the
//     principal holds is a refresh (npm webdav); a Destination whose host differs only by a
//     default port matches.
//   - Checksums (digest.go): OC-Checksum and Repr-Digest are verified on PUT as the body
//     streams; the digests davd keeps live in a dead property of its own namespace
//     (urn:x-davd:), stamped with the ETag they describe, never shown to clients nor settable.
//   - Locks are bound to the principal that created them: another principal cannot refresh,
//     unlock or submit the token.
//   - RFC 6578 sync-collection (sync.go) needs a syncstore.Store (Handler.Sync): tokens name
//     snapshots the store keeps a bounded number of per collection, principal and level, so an
//     expired token is a 403 valid-sync-token and the client resyncs in full (§3.2). A result
//     past Limits.MaxPropfindEntries (or the client's nresults) is cut with a 507
//     number-of-matches-within-limits response and a token covering only what was reported.
//     DAV:sync-token is not in allprop (§4.1).
package dav
