package props_test

import (
	"errors"
	"testing"

	"github.com/davd/davd/props"
)

func TestApplyLimits(t *testing.T) {
	lim := props.Limits{MaxValueBytes: 4, MaxPropsBytes: 12}
	p := func(local, v string) props.Op {
		return props.Op{Prop: props.Property{Name: props.Name{Local: local}, Value: []byte(v)}}
	}
	for _, tc := range []struct {
		name string
		ops  []props.Op
		want error
	}{
		{"value at the limit", []props.Op{p("a", "1234")}, nil},
		{"value over the limit", []props.Op{p("a", "12345")}, props.ErrTooLarge},
		{"total at the limit", []props.Op{p("a", "1234"), p("bb", "1234")}, nil},
		{"total over the limit", []props.Op{p("a", "1234"), p("bbbb", "1234")}, props.ErrTooLarge},
		{"total over the limit only in between", []props.Op{p("a", "1234"), p("bbbb", "1234"), {Remove: true, Prop: props.Property{Name: props.Name{Local: "a"}}}}, nil},
		{"name without local part", []props.Op{p("", "1")}, props.ErrInvalidName},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := props.Apply(nil, tc.ops, lim)
			if !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
				t.Fatalf("Apply: %v, want %v", err, tc.want)
			}
			if err != nil && out != nil {
				t.Errorf("Apply returned %v with an error", out)
			}
		})
	}
}
