package share_test

import (
	"testing"

	"github.com/davd/davd/share"
	"github.com/davd/davd/share/sharetest"
)

func TestMem(t *testing.T) {
	sharetest.TestStore(t, func(*testing.T) share.Store { return share.NewMem() }, func(_ *testing.T, s share.Store) share.Store { return s })
}
