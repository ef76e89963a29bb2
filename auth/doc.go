// Package auth is davd's authentication layer: a user table of bcrypt hashes (from the
// configuration file or an htpasswd file) and an HTTP Basic middleware that puts the
// authenticated principal into the request context with access.WithPrincipal.
//
// Security notes:
//   - Passwords are only ever compared through bcrypt, whose final comparison is constant-time.
//   - A request naming an unknown user is checked against a dummy hash of the same cost as the
//     configured ones, so the response time does not tell whether a user exists.
//   - A successful check is remembered as an HMAC (under a per-process random key) of the
//     credentials, compared in constant time, so clients that send Basic credentials on every
//     request (all of them) do not pay bcrypt each time. Failed checks are never cached.
//   - At most GOMAXPROCS bcrypt computations run at once, so a flood of wrong passwords cannot
//     take every core.
package auth
