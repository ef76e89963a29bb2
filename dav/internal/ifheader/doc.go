// Package ifheader parses the WebDAV If request header (RFC 4918 §10.4)
// into a typed syntax tree.
//
// The package is pure: it knows nothing about locks, resources or ETags in
// storage. The engine evaluates the tree it returns. Parse accepts exactly the
// grammar of RFC 4918 §10.4.2:
//
//	If = "If" ":" ( 1*No-tag-list | 1*Tagged-list )
//	No-tag-list = List
//	Tagged-list = Resource-Tag 1*List
//	List = "(" 1*Condition ")"
//	Condition = ["Not"] (State-token | "[" entity-tag "]")
//	State-token = Coded-URL
//	Resource-Tag = "<" Simple-ref ">"
//
// Linear white space may appear between tokens but not inside a Coded-URL,
// a Resource-Tag or between the brackets and the entity-tag. "Not" is a
// quoted ABNF literal, so it is matched case-insensitively (RFC 5234 §2.3).
//
// To bound the work an untrusted client can cause, Parse rejects inputs
// longer than MaxLen bytes and headers with more than MaxConditions
// conditions.
package ifheader
