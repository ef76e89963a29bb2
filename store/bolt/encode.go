package bolt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/davd/davd/davpath"
	"github.com/davd/davd/lock"
	"github.com/davd/davd/props"
)

// Format versions: the first byte of every value.
const (
	propsV1  = 1
	intentV1 = 1
	lockV1   = 1
)

var errCorrupt = errors.New("bolt: corrupt record")

// propKey returns the key of p in the props bucket: parent, NUL, base name.
func propKey(p davpath.Path) []byte {
	if p.IsRoot() {
		return []byte{0}
	}
	parent := p.Parent()
	base := p.Base()
	k := make([]byte, 0, len(parent)+1+len(base))
	k = append(k, parent...)
	k = append(k, 0)
	return append(k, base...)
}

// keyPath is the inverse of propKey.
func keyPath(k []byte) (davpath.Path, error) {
	for i, c := range k {
		if c != 0 {
			continue
		}
		if i == 0 {
			if len(k) != 1 {
				return "", errCorrupt
			}
			return davpath.Root, nil
		}
		return davpath.Path(k[:i]).Join(string(k[i+1:])), nil
	}
	return "", errCorrupt
}

// appendString appends a length-prefixed string.
func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// encodeProps encodes properties: version, count, then for each the namespace, local name,
// language and value, each length-prefixed.
func encodeProps(ps []props.Property) []byte {
	n := 1 + binary.MaxVarintLen32
	for _, p := range ps {
		n += 4*binary.MaxVarintLen32 + len(p.Name.Space) + len(p.Name.Local) + len(p.Lang) + len(p.Value)
	}
	b := make([]byte, 0, n)
	b = append(b, propsV1)
	b = binary.AppendUvarint(b, uint64(len(ps)))
	for _, p := range ps {
		b = appendString(b, p.Name.Space)
		b = appendString(b, p.Name.Local)
		b = appendString(b, p.Lang)
		b = binary.AppendUvarint(b, uint64(len(p.Value)))
		b = append(b, p.Value...)
	}
	return b
}

// reader decodes length-prefixed fields and remembers the first error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errCorrupt
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errCorrupt
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = errCorrupt
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.err = errCorrupt
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// decodeProps decodes a value of the props bucket. The result does not alias v (bbolt's memory
// is only valid inside its transaction): all values share one copy of it.
func decodeProps(v []byte) ([]props.Property, error) {
	if len(v) == 0 || v[0] != propsV1 {
		return nil, fmt.Errorf("%w: unknown properties format", errCorrupt)
	}
	r := reader{b: append([]byte(nil), v[1:]...)}
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)) { // each property takes at least 4 bytes
		return nil, errCorrupt
	}
	ps := make([]props.Property, 0, n)
	for range n {
		var p props.Property
		p.Name.Space = string(r.bytes())
		p.Name.Local = string(r.bytes())
		p.Lang = string(r.bytes())
		p.Value = r.bytes()
		if r.err != nil {
			return nil, r.err
		}
		ps = append(ps, p)
	}
	if len(r.b) != 0 {
		return nil, errCorrupt
	}
	return ps, nil
}

func encodeIntent(in props.Intent) []byte {
	b := []byte{intentV1, byte(in.Kind)}
	b = appendString(b, string(in.Src))
	return appendString(b, string(in.Dst))
}

func decodeIntent(v []byte) (props.Intent, error) {
	r := reader{b: v}
	if r.byte() != intentV1 {
		return props.Intent{}, fmt.Errorf("%w: unknown intent format", errCorrupt)
	}
	in := props.Intent{Kind: props.IntentKind(r.byte())}
	in.Src = davpath.Path(r.bytes())
	in.Dst = davpath.Path(r.bytes())
	if r.err != nil {
		return props.Intent{}, r.err
	}
	return in, nil
}

// encodeLock encodes everything but the token, which is the key.
func encodeLock(l lock.Lock) []byte {
	b := []byte{lockV1, byte(l.Depth), 0}
	if l.Shared {
		b[2] = 1
	}
	b = appendString(b, string(l.Root))
	b = appendString(b, string(l.Owner))
	b = appendString(b, l.Principal)
	b = binary.AppendVarint(b, int64(l.Timeout))
	if l.Expires.IsZero() {
		return append(b, 0)
	}
	b = append(b, 1)
	return binary.AppendVarint(b, l.Expires.UnixNano())
}

func decodeLock(token string, v []byte) (lock.Lock, error) {
	r := reader{b: v}
	if r.byte() != lockV1 {
		return lock.Lock{}, fmt.Errorf("%w: unknown lock format", errCorrupt)
	}
	l := lock.Lock{Token: token, Depth: lock.Depth(int8(r.byte())), Shared: r.byte() == 1}
	l.Root = davpath.Path(r.bytes())
	if owner := r.bytes(); len(owner) > 0 {
		l.Owner = append([]byte(nil), owner...)
	}
	l.Principal = string(r.bytes())
	l.Timeout = time.Duration(r.varint())
	if r.byte() == 1 {
		l.Expires = time.Unix(0, r.varint())
	}
	if r.err != nil {
		return lock.Lock{}, r.err
	}
	return l, nil
}
