package sharelink

import (
	"strings"
	"testing"
)

// The drop page's CSP names its script and style by hash: they must be the ones it contains.
func TestDropPageCSP(t *testing.T) {
	if !strings.Contains(dropCSP, hash(dropScript)) || !strings.Contains(dropCSP, hash(dropStyle)) {
		t.Fatal(dropCSP)
	}
	var b strings.Builder
	dropPage.Execute(&b, map[string]any{"Name": "<x>", "Style": dropStyleCSS(), "Script": dropScriptJS()})
	page := b.String()
	if !strings.Contains(page, "<script>"+dropScript+"</script>") || !strings.Contains(page, "<style>"+dropStyle+"</style>") || strings.Contains(page, "<x>") {
		t.Errorf("page:\n%s", page)
	}
}
