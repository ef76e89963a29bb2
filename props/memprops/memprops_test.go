package memprops_test

import (
	"testing"

	"github.com/davd/davd/dav/davtest"
	"github.com/davd/davd/props"
	"github.com/davd/davd/props/memprops"
)

func TestConformance(t *testing.T) {
	davtest.TestPropsStore(t, func(*testing.T) props.Store { return memprops.New(props.Limits{}) })
}
