package persist

import (
	"context"
	"os"
	"testing"
)

func TestFindLiveRootSmoke(t *testing.T) {
	if os.Getenv("PERSIST_LIVE") == "" {
		t.Skip("set PERSIST_LIVE=1 to print findings on /")
	}
	fs, err := Find(context.Background(), Options{Root: "/"})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		if f.Severity > Info {
			t.Log(f.String())
		}
	}
	t.Logf("%d findings", len(fs))
}
