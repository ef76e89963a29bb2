package server

import (
	"crypto/tls"
	"fmt"
	"reflect"
	"strings"
	"time"
)

// Reload puts c in force for the requests that start from now on (issue 17 item 4): users,
// passwords, htpasswd, scopes, rules, anonymous access, options_unauthenticated, CORS, the
// login throttle, the engine's [limits] and the TLS certificate and key. Requests in flight
// finish under the configuration they started with, kept-alive connections stay open, and a
// request sees one configuration whole, never a mix.
//
// c is validated, its htpasswd file read and its certificate loaded before anything changes:
// when any of that fails, Reload returns the error and the configuration in force stays.
// Keys that cannot change while davd runs (listen, root, state, the lock limits, cluster
// mode…) keep their running values; Reload returns the ones c changes, for the caller to
// report as needing a restart.
func (in *Instance) Reload(c Config) (restart []string, err error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	next := in.cfg
	next.Users, next.Htpasswd, next.Anonymous = c.Users, c.Htpasswd, c.Anonymous
	next.OptionsUnauthenticated, next.QuotaBytes = c.OptionsUnauthenticated, c.QuotaBytes
	next.CORS, next.LoginThrottle, next.Limits.Limits = c.CORS, c.LoginThrottle, c.Limits.Limits
	var cert *tls.Certificate
	if in.cert.Load() != nil && c.TLS.Cert != "" {
		next.TLS.Cert, next.TLS.Key = c.TLS.Cert, c.TLS.Key
		pair, err := tls.LoadX509KeyPair(c.TLS.Cert, c.TLS.Key)
		if err != nil {
			return nil, fmt.Errorf("tls: cert/key: %w", err)
		}
		cert = &pair
	}
	if err := next.Validate(); err != nil {
		return nil, err
	}
	app, err := in.w.app(next)
	if err != nil {
		return nil, err
	}
	in.app.Store(&appHandler{app})
	if cert != nil {
		in.cert.Store(cert)
	}
	in.cfg = next
	return configDiff(next, c), nil
}

// configDiff lists the keys (dotted toml paths, as in the file) whose values differ in a and b.
func configDiff(a, b Config) []string {
	var keys []string
	diffStruct(reflect.ValueOf(a), reflect.ValueOf(b), "", &keys)
	return keys
}

func diffStruct(a, b reflect.Value, prefix string, keys *[]string) {
	t := a.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if name == "-" {
			continue
		}
		av, bv := a.Field(i), b.Field(i)
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			diffStruct(av, bv, prefix, keys) // embedded: its keys are the parent's
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[time.Time]() {
			diffStruct(av, bv, prefix+name+".", keys)
			continue
		}
		if !reflect.DeepEqual(av.Interface(), bv.Interface()) {
			*keys = append(*keys, prefix+name)
		}
	}
}
